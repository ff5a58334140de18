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
    [Cmdlet(VerbsLifecycle.Invoke, "AbstraktImage", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Prompt")]
    [OutputType(typeof(AbstraktResult))]
    public sealed class InvokeAbstraktImageCommand : BatchCmdletBase
    {
        private HashSet<string>? _bindable;
        private string _defaultModel = "flux-schnell";
        private string? _commandLineId;
        private string[] _commandLinePrompt = System.Array.Empty<string>();

        /// <summary>The prompts.</summary>
        [Parameter(ParameterSetName = "Prompt", Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Parameter(ParameterSetName = "Path")]
        [Parameter(ParameterSetName = "LiteralPath")]
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
        [ValidateWhenGiven(ImageSizes.Square, ImageSizes.SquareHd, ImageSizes.Portrait, ImageSizes.Landscape)]
        [ArgumentCompleter(typeof(ImageSizes))]
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

        /// <summary>The source image for an image model (image-to-image, an upscaler): a local file, sent inline, or an http(s) URL.</summary>
        [Parameter(ParameterSetName = "Prompt", ValueFromPipelineByPropertyName = true)]
        [Alias("ImageUrl")]
        [EmptyAsNull]
        public string? Image { get; set; }

        /// <summary>Image files to run, one item each; wildcards are expanded.</summary>
        [Parameter(ParameterSetName = "Path", Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Path { get; set; }

        /// <summary>Image files to run, one item each, taken exactly as written.</summary>
        [Parameter(ParameterSetName = "LiteralPath", Mandatory = true)]
        [Alias("PSPath")]
        [ValidateNotNullOrEmpty]
        public string[]? LiteralPath { get; set; }

        /// <summary>The pipeline object, kept so columns that bind to nothing are reported.</summary>
        [Parameter(ValueFromPipeline = true, DontShow = true)]
        public PSObject? InputObject { get; set; }

        /// <inheritdoc/>
        protected override string Activity => "abstrakt images (" + _defaultModel + ")";

        /// <summary>Replace existing files when outputs are named after their source images; without it such an item fails instead.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc/>
        private protected override bool ReplaceOutputs => Force;

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

            _commandLineId = Id;
            _commandLinePrompt = Prompt;
            _bindable = new HashSet<string>(
                MyInvocation.MyCommand.Parameters.Values
                    .Where(p => p.Attributes.OfType<ParameterAttribute>().Any(a => a.ValueFromPipelineByPropertyName))
                    .SelectMany(p => p.Aliases.Prepend(p.Name)),
                System.StringComparer.OrdinalIgnoreCase) { "Path" };
            StartBatch();
        }

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            if (InputObject?.BaseObject is System.IO.FileSystemInfo piped)
            {
                // The binder also made the file its path as -Prompt and its Name -Id: only the command line's count.
                SubmitImage(_commandLinePrompt.FirstOrDefault() ?? string.Empty, Model ?? _defaultModel, Options(), _commandLineId, piped.FullName, piped);
                return;
            }

            if (Path is not null || LiteralPath is not null)
            {
                var files = ImageReference.Files(this, Path, LiteralPath).ToList();
                foreach (var file in files)
                {
                    SubmitImage(Prompt.FirstOrDefault() ?? string.Empty, Model ?? _defaultModel, Options(), files.Count == 1 ? _commandLineId : null, file, file);
                }

                return;
            }

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

            var input = Options();
            foreach (var pair in table?.Input ?? new Dictionary<string, object?>())
            {
                input[pair.Key] = pair.Value;
            }

            var image = Image ?? table?.Image ?? (InputObject is not null && ItemReader.IsRow(InputObject) ? ItemReader.ImageOf(InputObject) : null);
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
                SubmitImage(prompt, model, input, id, image, (object?)InputObject ?? prompt);
            }
        }

        /// <summary>The inputs the parameters give every item.</summary>
        private Dictionary<string, object?> Options()
        {
            var input = new Dictionary<string, object?>();
            if (ImageSize is not null)
            {
                // Validated without case, as PowerShell users type; the service knows the lowercase names only.
                input["image_size"] = ImageSize.ToLowerInvariant();
            }

            if (NumImages is int n)
            {
                input["num_images"] = n;
            }

            if (Seed is long s)
            {
                input["seed"] = s;
            }

            return input;
        }

        private void SubmitImage(string prompt, string model, Dictionary<string, object?> input, string? id, string? image, object? target)
        {
            if (TryImage(image, target, out var source))
            {
                Submit(prompt, model, input, id, target, source);
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
