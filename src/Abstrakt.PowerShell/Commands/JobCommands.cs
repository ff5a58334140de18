using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Submits a job without waiting for it; returns the job to pass to Wait-AbstraktJob later.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Submit, "AbstraktJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Prompt")]
    [OutputType(typeof(AbstraktJob))]
    public sealed class SubmitAbstraktJobCommand : ApiCmdletBase
    {
        private readonly Dictionary<string, string> _imageFields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        private string? _commandLinePrompt;

        /// <summary>The prompt.</summary>
        [Parameter(ParameterSetName = "Prompt", Position = 0, ValueFromPipeline = true)]
        [Parameter(ParameterSetName = "Path")]
        [Parameter(ParameterSetName = "LiteralPath")]
        public string? Prompt { get; set; }

        /// <summary>The source image for an image model: a local file, sent inline, or an http(s) URL.</summary>
        [Parameter(ParameterSetName = "Prompt")]
        [Alias("ImageUrl")]
        [ValidateNotNullOrEmpty]
        public string? Image { get; set; }

        /// <summary>Image files, one job each; wildcards are expanded.</summary>
        [Parameter(ParameterSetName = "Path", Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Path { get; set; }

        /// <summary>Image files, one job each, taken exactly as written.</summary>
        [Parameter(ParameterSetName = "LiteralPath", Mandatory = true)]
        [Alias("PSPath")]
        [ValidateNotNullOrEmpty]
        public string[]? LiteralPath { get; set; }

        /// <summary>The model.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string Model { get; set; } = "flux-schnell";

        /// <summary>The piped object, so a file from Get-ChildItem is an image rather than its path as a prompt.</summary>
        [Parameter(ValueFromPipeline = true, DontShow = true)]
        public PSObject? InputObject { get; set; }

        /// <summary>Other model inputs.</summary>
        [Parameter]
        public Hashtable? Input { get; set; }

        /// <summary>Where the service posts the finished job.</summary>
        [Parameter]
        public Uri? WebhookUrl { get; set; }

        /// <inheritdoc/>
        protected override void BeginProcessing() => _commandLinePrompt = Prompt;

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            if (InputObject?.BaseObject is FileSystemInfo file)
            {
                // The binder also turned the file into its path as -Prompt: the prompt is only what the command line gave.
                Prompt = _commandLinePrompt;
                SubmitOne(file.FullName, file);
                return;
            }

            if (Path is null && LiteralPath is null)
            {
                SubmitOne(Image, Image ?? Prompt);
                return;
            }

            foreach (var path in ImageReference.Files(this, Path, LiteralPath))
            {
                SubmitOne(path, path);
            }
        }

        private void SubmitOne(string? imageReference, object? target)
        {
            var input = ModelInput.From(Input);
            if (!string.IsNullOrEmpty(Prompt))
            {
                input["prompt"] = Prompt;
            }

            if (imageReference is not null)
            {
                try
                {
                    var image = ImageReference.Resolve(this, imageReference);
                    if (ImageFieldOf(Model, target) is not string field)
                    {
                        return;
                    }

                    input[field] = image;
                }
                catch (ImageInputException ex)
                {
                    WriteError(ImageReference.Error(ex, target));
                    return;
                }
            }

            if (!ShouldProcess(imageReference ?? Prompt ?? Model, CostEstimate.Describe(Model, CostEstimate.Outputs(input))))
            {
                return;
            }

            var request = new RunRequest { Model = Model, Input = input, Sync = false, WebhookUrl = WebhookUrl, IdempotencyKey = Guid.NewGuid().ToString("N") };
            if (TryCall(t => Client.RunAsync(request, t), target, out var job, Model))
            {
                WriteObject(new AbstraktJob(job));
            }
        }

        /// <summary>The model's image field from its input schema, asked once per model per call (not under -WhatIf: nothing is sent).</summary>
        private string? ImageFieldOf(string model, object? target)
        {
            if (_imageFields.TryGetValue(model, out var known) || WhatIf)
            {
                return known ?? ImageField.Default;
            }

            if (!TryCall(t => Client.GetModelAsync(model, t), target, out var info, model))
            {
                return null;
            }

            return _imageFields[model] = ImageField.From(info.InputSchema) ?? ImageField.Default;
        }

        private bool WhatIf => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter s && s.IsPresent;
    }

    /// <summary>The job cmdlets that take job ids (Get, Wait, Stop): one request per id, one job object out.</summary>
    public abstract class JobIdCmdletBase : ApiCmdletBase
    {
        /// <summary>The job id.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] JobId { get; set; } = Array.Empty<string>();

        /// <summary>Whether to make the call for this id (Stop asks ShouldProcess).</summary>
        /// <param name="id">The job id.</param>
        /// <returns>True to call.</returns>
        private protected virtual bool ShouldCall(string id) => true;

        /// <summary>The request for one job id.</summary>
        /// <param name="id">The job id.</param>
        /// <param name="cancellationToken">Stops the request (Ctrl+C).</param>
        /// <returns>The job as the service answers.</returns>
        private protected abstract Task<JobInfo> CallAsync(string id, CancellationToken cancellationToken);

        /// <summary>Whether the answer is what was asked for (Stop: the job is cancelled); writes the error when not.</summary>
        /// <param name="job">The job as the service answered.</param>
        /// <returns>True to write the job.</returns>
        private protected virtual bool Accept(JobInfo job) => true;

        /// <summary>The object written for a job (Get and Wait download its outputs first, with -OutputDirectory).</summary>
        /// <param name="job">The job.</param>
        /// <returns>The job object.</returns>
        private protected virtual AbstraktJob Output(JobInfo job) => new AbstraktJob(job);

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            foreach (var id in JobId)
            {
                Process(id);
            }
        }

        /// <summary>One job id: the call, then the job object or an error.</summary>
        /// <param name="id">The job id.</param>
        private protected virtual void Process(string id)
        {
            if (ShouldCall(id) && TryCall(t => CallAsync(id, t), id, out var job) && Accept(job))
            {
                WriteObject(Output(job));
            }
        }
    }

    /// <summary>Get- and Wait-AbstraktJob: job cmdlets that can save a completed job's outputs, named as a batch names them.</summary>
    public abstract class JobOutputCmdletBase : JobIdCmdletBase
    {
        private string? _directory;

        /// <summary>Downloads a completed job's outputs into this folder.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? OutputDirectory { get; set; }

        /// <inheritdoc/>
        protected override void BeginProcessing()
        {
            if (OutputDirectory is null)
            {
                return;
            }

            _directory = GetUnresolvedProviderPathFromPSPath(OutputDirectory);
            try
            {
                Directory.CreateDirectory(_directory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.InvalidOutputDirectory, ErrorCategory.WriteError, OutputDirectory));
            }
        }

        private protected override AbstraktJob Output(JobInfo job)
        {
            if (_directory is null || job.Status != JobStatus.Completed)
            {
                return new AbstraktJob(job);
            }

            var stem = OutputFiles.Slug(job.ModelId ?? "job");
            return new AbstraktJob(job, TryCall(t => OutputFiles.DownloadAsync(Client, _directory, stem, job, allowPrivateHost: false, t), job.JobId, out var files) ? files : null);
        }
    }

    /// <summary>
    /// <para type="synopsis">Gets a job's status and outputs.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "AbstraktJob")]
    [OutputType(typeof(AbstraktJob))]
    public sealed class GetAbstraktJobCommand : JobOutputCmdletBase
    {
        private protected override Task<JobInfo> CallAsync(string id, CancellationToken cancellationToken) => Client.GetJobAsync(id, cancellationToken);
    }

    /// <summary>
    /// <para type="synopsis">Waits for jobs to end, polling from 0.5 s up to 5 s.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Wait, "AbstraktJob")]
    [OutputType(typeof(AbstraktJob))]
    public sealed class WaitAbstraktJobCommand : JobOutputCmdletBase
    {
        private const int ActivityId = 0x4ab6;
        private readonly LatestJob _latest = new LatestJob();
        private readonly System.Diagnostics.Stopwatch _clock = new System.Diagnostics.Stopwatch();
        private string _waitingFor = string.Empty;
        private int _count;
        private bool _progressShown;

        /// <summary>How long to wait for each job, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 600;

        private protected override async Task<JobInfo> CallAsync(string id, CancellationToken cancellationToken)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(TimeoutSec));
            try
            {
                return await Client.WaitForJobAsync(id, _latest, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new AbstraktApiException(ErrorCodes.Deadline, $"Job {id} did not end within {TimeoutSec} s.") { JobId = id };
            }
        }

        private protected override void Process(string id)
        {
            _count++;
            _waitingFor = id;
            _latest.Job = null;
            _clock.Restart();
            base.Process(id);
        }

        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            if (_progressShown)
            {
                WriteProgress(new ProgressRecord(ActivityId, "Waiting for abstrakt jobs", "Done") { RecordType = ProgressRecordType.Completed });
            }
        }

        /// <summary>Shows the job waited for, its state and the time waited.</summary>
        private protected override void Waiting()
        {
            _progressShown = true;
            var state = _latest.Job?.Status.ToString().ToLowerInvariant() ?? "submitted";
            WriteProgress(new ProgressRecord(ActivityId, "Waiting for abstrakt jobs", $"Job {_count}: {_waitingFor} is {state}, {_clock.Elapsed.TotalSeconds:0} s")
            {
                SecondsRemaining = -1,
            });
        }

        /// <summary>Keeps the last state a poll reported; read on the pipeline thread.</summary>
        private sealed class LatestJob : IProgress<JobInfo>
        {
            private volatile JobInfo? _job;

            public JobInfo? Job
            {
                get => _job;
                set => _job = value;
            }

            public void Report(JobInfo value) => _job = value;
        }
    }

    /// <summary>
    /// <para type="synopsis">Cancels pending or processing jobs; cancelled jobs are not charged.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "AbstraktJob", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(AbstraktJob))]
    public sealed class StopAbstraktJobCommand : JobIdCmdletBase
    {
        private protected override bool ShouldCall(string id) => ShouldProcess(id, "Cancel abstrakt job");

        private protected override bool Accept(JobInfo job)
        {
            if (job.Status == JobStatus.Cancelled)
            {
                return true;
            }

            var record = new ErrorRecord(
                new InvalidOperationException($"Job {job.JobId} already ended ({job.Status.ToString().ToLowerInvariant()}): only pending or processing jobs can be cancelled."),
                ErrorIds.JobNotCancellable,
                ErrorCategory.InvalidOperation,
                job.JobId);
            WriteError(record);
            return false;
        }

        private protected override Task<JobInfo> CallAsync(string id, CancellationToken cancellationToken) => Client.CancelJobAsync(id, cancellationToken);
    }

    /// <summary>
    /// <para type="synopsis">Lists the models the service runs, or gets models by id (wildcards allowed) with their input schema.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "AbstraktModel", DefaultParameterSetName = "List")]
    [OutputType(typeof(AbstraktModel))]
    public sealed class GetAbstraktModelCommand : ApiCmdletBase
    {
        private List<AbstraktModel>? _catalogue;

        /// <summary>Model ids; wildcards match the catalogue.</summary>
        [Parameter(ParameterSetName = "One", Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string[]? Id { get; set; }

        /// <summary>Only this category: image, video, audio.</summary>
        [Parameter(ParameterSetName = "List")]
        [ValidateSet("image", "image-editing", "video", "audio", IgnoreCase = true)]
        public string? Category { get; set; }

        /// <summary>Only models matching this text.</summary>
        [Parameter(ParameterSetName = "List")]
        public string? Search { get; set; }

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            if (Id is null)
            {
                if (List(Category, Search) is { } all)
                {
                    WriteObject(all, enumerateCollection: true);
                }

                return;
            }

            foreach (var id in Id)
            {
                if (WildcardPattern.ContainsWildcardCharacters(id))
                {
                    var pattern = new WildcardPattern(id, WildcardOptions.IgnoreCase);
                    _catalogue ??= List(null, null);
                    WriteObject(_catalogue?.Where(m => pattern.IsMatch(m.Id)), enumerateCollection: true);
                }
                else if (TryCall(t => Client.GetModelAsync(id, t), id, out var model, id))
                {
                    var result = new AbstraktModel(model);
                    ModelCompleter.Remember(new[] { result });
                    WriteObject(result);
                }
            }
        }

        private List<AbstraktModel>? List(string? category, string? search)
        {
            if (!TryCall(async t => { var list = new List<ModelInfo>(); await foreach (var m in Client.ListModelsAsync(category, search, t)) { list.Add(m); } return list; }, null, out var models))
            {
                return null;
            }

            var results = models.ConvertAll(m => new AbstraktModel(m));
            ModelCompleter.Remember(results);
            return results;
        }
    }
}
