using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Generates images from one or more prompts.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "AbstraktImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(AbstraktResult))]
    public sealed class InvokeAbstraktImageCommand : BatchCmdletBase
    {
        private HashSet<string>? _bindable;
        private string _defaultModel = "flux-schnell";

        /// <summary>The prompts.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Text")]
        [AllowEmptyString]
        public string[] Prompt { get; set; } = System.Array.Empty<string>();

        /// <summary>The image model; an empty cell means the cmdlet's.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [EmptyAsNull]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string? Model { get; set; } = "flux-schnell";

        /// <summary>square, square_hd, portrait_4_3 or landscape_16_9; an empty cell means the model's default.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [EmptyAsNull]
        [ValidateWhenGiven("square", "square_hd", "portrait_4_3", "landscape_16_9")]
        public string? ImageSize { get; set; }

        /// <summary>Images per prompt (1 to 4); an empty cell means one.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [EmptyAsNull]
        [ValidateWhenGiven(1, 4)]
        public int? NumImages { get; set; }

        /// <summary>A seed, for reproducible images.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [EmptyAsNull]
        public long? Seed { get; set; }

        /// <summary>The item's id: names it in errors and output files, kept across re-runs.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("Name")]
        [EmptyAsNull]
        public string? Id { get; set; }

        /// <summary>A source image URL, for image-to-image models.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("Path", "ImageUrl")]
        [EmptyAsNull]
        public string? Image { get; set; }

        /// <summary>The pipeline object, kept so columns that bind to nothing are reported.</summary>
        [Parameter(ValueFromPipeline = true, DontShow = true)]
        public PSObject? InputObject { get; set; }

        /// <inheritdoc/>
        protected override string Activity => "abstrakt images (" + _defaultModel + ")";

        /// <inheritdoc/>
        protected override string DefaultModel => _defaultModel;

        /// <inheritdoc/>
        protected override void BeginProcessing()
        {
            _defaultModel = Model ?? _defaultModel;
            if (ModelCompleter.WrongKind(_defaultModel, "image", MyInvocation.MyCommand.Name) is string wrong)
            {
                ThrowTerminatingError(new ErrorRecord(new System.ArgumentException(wrong), ErrorIds.WrongModelKind, ErrorCategory.InvalidArgument, _defaultModel));
            }

            _bindable = new HashSet<string>(
                MyInvocation.MyCommand.Parameters.Values
                    .Where(p => p.Attributes.OfType<ParameterAttribute>().Any(a => a.ValueFromPipelineByPropertyName))
                    .SelectMany(p => p.Aliases.Prepend(p.Name)),
                System.StringComparer.OrdinalIgnoreCase);
            StartBatch();
        }

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            WarnUnboundColumns(InputObject, _bindable!.Contains, string.Join(", ", _bindable!));

            // The binder does not bind a hashtable's keys by name: read them as Start-AbstraktBatch does.
            ItemFields? table = null;
            if (InputObject?.BaseObject is IDictionary)
            {
                try
                {
                    table = ItemReader.Read(InputObject);
                }
                catch (PSInvalidCastException ex)
                {
                    Refuse(ErrorIds.InvalidInput, "A pipeline item has a value of the wrong type: " + ex.Message);
                    return;
                }
            }
            else if (InputObject is not null && ItemReader.IsRow(InputObject) && !ItemReader.HasPrompt(InputObject))
            {
                // Without a Prompt column the binder turned the whole row into the prompt text: refuse rather than pay for it.
                Refuse(ErrorIds.EmptyPrompt, "A pipeline item has no prompt: give it a Prompt (or Text) column.");
                return;
            }

            var model = table?.Model ?? Model ?? _defaultModel;
            if (ModelCompleter.WrongKind(model, "image", MyInvocation.MyCommand.Name) is string wrong)
            {
                Refuse(ErrorIds.WrongModelKind, wrong);
                return;
            }

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

            if (!string.IsNullOrEmpty(Image))
            {
                input["image_url"] = Image;
            }

            foreach (var pair in table?.Input ?? new Dictionary<string, object?>())
            {
                input[pair.Key] = pair.Value;
            }

            var prompts = table is null ? Prompt : new[] { table.Prompt };
            var givenId = table?.Id ?? Id;
            var number = 0;
            foreach (var prompt in prompts)
            {
                number++;
                if (string.IsNullOrWhiteSpace(prompt))
                {
                    SkipIndex();
                    WriteError(new ErrorRecord(new System.ArgumentException("A prompt is empty."), ErrorIds.EmptyPrompt, ErrorCategory.InvalidArgument, (object?)InputObject ?? prompt));
                    continue;
                }

                var id = string.IsNullOrWhiteSpace(givenId) || prompts.Length == 1 ? givenId : $"{givenId}-{number}";
                Submit(prompt, model, input, id, (object?)InputObject ?? prompt);
            }
        }

        private void Refuse(string errorId, string message)
        {
            SkipIndex();
            WriteError(new ErrorRecord(new System.ArgumentException(message), errorId, ErrorCategory.InvalidArgument, InputObject));
        }

        /// <inheritdoc/>
        protected override void EndProcessing() => FinishBatch();
    }
}
