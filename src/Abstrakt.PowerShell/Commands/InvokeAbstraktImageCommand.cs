using System.Collections.Generic;
using System.Management.Automation;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Generates images from one or more prompts.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "AbstraktImage")]
    [OutputType(typeof(AbstraktResult))]
    public sealed class InvokeAbstraktImageCommand : BatchCmdletBase
    {
        /// <summary>The prompts.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNullOrEmpty]
        public string[] Prompt { get; set; } = System.Array.Empty<string>();

        /// <summary>The image model.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string Model { get; set; } = "flux-schnell";

        /// <summary>square, square_hd, portrait_4_3 or landscape_16_9.</summary>
        [Parameter]
        [ValidateSet("square", "square_hd", "portrait_4_3", "landscape_16_9")]
        public string? ImageSize { get; set; }

        /// <summary>Images per prompt (1 to 4).</summary>
        [Parameter]
        [ValidateRange(1, 4)]
        public int? NumImages { get; set; }

        /// <summary>A seed, for reproducible images.</summary>
        [Parameter]
        public long? Seed { get; set; }

        /// <inheritdoc/>
        protected override string Activity => "abstrakt images (" + Model + ")";

        /// <inheritdoc/>
        protected override string DefaultModel => Model;

        /// <inheritdoc/>
        protected override void BeginProcessing() => StartBatch();

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            var input = new Dictionary<string, object?>();
            if (ImageSize is not null)
            {
                input["image_size"] = ImageSize;
            }

            if (NumImages is int n)
            {
                input["num_images"] = n;
            }

            if (Seed is long s)
            {
                input["seed"] = s;
            }

            foreach (var prompt in Prompt)
            {
                if (string.IsNullOrWhiteSpace(prompt))
                {
                    SkipIndex();
                    WriteError(new ErrorRecord(new System.ArgumentException("A prompt is empty."), ErrorIds.EmptyPrompt, ErrorCategory.InvalidArgument, prompt));
                    continue;
                }

                Submit(prompt, null, input, null, prompt);
            }
        }

        /// <inheritdoc/>
        protected override void EndProcessing() => FinishBatch();
    }
}
