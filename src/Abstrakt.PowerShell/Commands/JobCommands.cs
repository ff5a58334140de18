using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using Abstrakt.Api;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Submits a job without waiting for it; returns the job to pass to Wait-AbstraktJob later.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Submit, "AbstraktJob")]
    [OutputType(typeof(AbstraktJob))]
    public sealed class SubmitAbstraktJobCommand : ApiCmdletBase
    {
        /// <summary>The prompt.</summary>
        [Parameter(Position = 0, ValueFromPipeline = true)]
        public string? Prompt { get; set; }

        /// <summary>The model.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string Model { get; set; } = "flux-schnell";

        /// <summary>Other model inputs.</summary>
        [Parameter]
        public Hashtable? Input { get; set; }

        /// <summary>Where the service posts the finished job.</summary>
        [Parameter]
        public Uri? WebhookUrl { get; set; }

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            var input = ModelInput.From(Input);

            if (!string.IsNullOrEmpty(Prompt))
            {
                input["prompt"] = Prompt;
            }

            var request = new RunRequest { Model = Model, Input = input, Sync = false, WebhookUrl = WebhookUrl, IdempotencyKey = Guid.NewGuid().ToString("N") };
            if (TryCall(t => Client.RunAsync(request, t), Prompt, out var job))
            {
                WriteObject(new AbstraktJob(job));
            }
        }
    }

    /// <summary>
    /// <para type="synopsis">Gets a job's status and outputs.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "AbstraktJob")]
    [OutputType(typeof(AbstraktJob))]
    public sealed class GetAbstraktJobCommand : ApiCmdletBase
    {
        /// <summary>The job id.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] JobId { get; set; } = Array.Empty<string>();

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            foreach (var id in JobId)
            {
                if (TryCall(t => Client.GetJobAsync(id, t), id, out var job))
                {
                    WriteObject(new AbstraktJob(job));
                }
            }
        }
    }

    /// <summary>
    /// <para type="synopsis">Waits for jobs to end, polling from 0.5 s up to 5 s.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Wait, "AbstraktJob")]
    [OutputType(typeof(AbstraktJob))]
    public sealed class WaitAbstraktJobCommand : ApiCmdletBase
    {
        /// <summary>The job id.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] JobId { get; set; } = Array.Empty<string>();

        /// <summary>How long to wait for each job, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 600;

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            foreach (var id in JobId)
            {
                var ok = TryCall(
                    async t =>
                    {
                        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(t);
                        deadline.CancelAfter(TimeSpan.FromSeconds(TimeoutSec));
                        try
                        {
                            return await Client.WaitForJobAsync(id, deadline.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (!t.IsCancellationRequested)
                        {
                            throw new AbstraktApiException(ErrorCodes.Deadline, $"Job {id} did not end within {TimeoutSec} s.") { JobId = id };
                        }
                    },
                    id,
                    out var job);
                if (ok)
                {
                    WriteObject(new AbstraktJob(job));
                }
            }
        }
    }

    /// <summary>
    /// <para type="synopsis">Cancels pending or processing jobs; cancelled jobs are not charged.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "AbstraktJob", SupportsShouldProcess = true)]
    [OutputType(typeof(AbstraktJob))]
    public sealed class StopAbstraktJobCommand : ApiCmdletBase
    {
        /// <summary>The job id.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] JobId { get; set; } = Array.Empty<string>();

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            foreach (var id in JobId)
            {
                if (ShouldProcess(id, "Cancel abstrakt job") && TryCall(t => Client.CancelJobAsync(id, t), id, out var job))
                {
                    WriteObject(new AbstraktJob(job));
                }
            }
        }
    }

    /// <summary>
    /// <para type="synopsis">Lists the models the service runs, or one model with its input schema.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "AbstraktModel", DefaultParameterSetName = "List")]
    [OutputType(typeof(AbstraktModel))]
    public sealed class GetAbstraktModelCommand : ApiCmdletBase
    {
        /// <summary>One model's id.</summary>
        [Parameter(ParameterSetName = "One", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string? Id { get; set; }

        /// <summary>Only this category: image, video, audio.</summary>
        [Parameter(ParameterSetName = "List")]
        public string? Category { get; set; }

        /// <summary>Only models matching this text.</summary>
        [Parameter(ParameterSetName = "List")]
        public string? Search { get; set; }

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            if (Id is not null)
            {
                if (TryCall(t => Client.GetModelAsync(Id, t), Id, out var model))
                {
                    var result = new AbstraktModel(model);
                    ModelCompleter.Remember(new[] { result });
                    WriteObject(result);
                }

                return;
            }

            if (TryCall(async t => { var list = new List<ModelInfo>(); await foreach (var m in Client.ListModelsAsync(Category, Search, t)) { list.Add(m); } return list; }, null, out var models))
            {
                var results = models.ConvertAll(m => new AbstraktModel(m));
                ModelCompleter.Remember(results);
                WriteObject(results, enumerateCollection: true);
            }
        }
    }
}
