using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Security;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.PowerShell.Session;
using Abstrakt.Webhooks;
using Abstrakt.PowerShell.Output;
using Abstrakt.Sandbox;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Runs a batch of prompts: throttled, retried, resumable, streaming results as they complete.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "AbstraktBatch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Pipeline")]
    [OutputType(typeof(AbstraktResult))]
    public sealed class StartAbstraktBatchCommand : BatchCmdletBase
    {
        /// <summary>A prompt string, or an object with Prompt (or Text) and optional Model, ImageSize, NumImages, Seed, Id (or Name), Image (or Path, ImageUrl); an array is one item per element.</summary>
        [Parameter(ParameterSetName = "Pipeline", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Parameter(ParameterSetName = JoinSet, Position = 0, ValueFromPipeline = true)]
        [AllowNull]
        [AllowEmptyString]
        public PSObject? InputObject { get; set; }

        /// <summary>A file of items: .csv (a header row), .jsonl (a JSON object or string per line), else one prompt per line. Counted first, so progress shows a percentage and time left.</summary>
        [Parameter(ParameterSetName = "File", Mandatory = true)]
        [Parameter(ParameterSetName = JoinSet)]
        [ValidateNotNullOrEmpty]
        public string? InputFile { get; set; }

        /// <summary>Image files to run, one item each; wildcards are expanded.</summary>
        [Parameter(ParameterSetName = "Path", Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Path { get; set; }

        /// <summary>Image files to run, one item each, taken exactly as written (no wildcards).</summary>
        [Parameter(ParameterSetName = "LiteralPath", Mandatory = true)]
        [Alias("PSPath")]
        [ValidateNotNullOrEmpty]
        public string[]? LiteralPath { get; set; }

        /// <summary>The prompt of items that carry none: images from the pipeline or -Path, for a model such as image-to-image.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Prompt { get; set; }

        /// <summary>How many items the pipeline will bring, so progress shows a percentage and time left before the input ends.</summary>
        [Parameter(ParameterSetName = "Pipeline")]
        [ValidateRange(1, long.MaxValue)]
        public long? TotalCount { get; set; }

        /// <summary>The model for items that name none.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string Model { get; set; } = "flux-schnell";

        /// <summary>A PostgreSQL batch store (an Npgsql connection string or a postgres:// URL) that every runner of the batch shares. Input is optional: a runner given none works on items loaded elsewhere.</summary>
        [Parameter(ParameterSetName = JoinSet, Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string? Store { get; set; }

        /// <summary>The shared batch's name in -Store: runners given the same name share its items.</summary>
        [Parameter(ParameterSetName = JoinSet, Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string? BatchName { get; set; }

        /// <summary>Seconds a runner's claim on shared items lasts unless renewed: a dead runner's items are taken over after this.</summary>
        [Parameter]
        [ValidateRange(2, 3600)]
        public int LeaseSec { get; set; } = 30;

        /// <summary>A JSON-lines journal that records every item's life, so the batch can be resumed.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? JournalPath { get; set; }

        /// <summary>Continue the batch recorded in -JournalPath: completed items are not run again.</summary>
        [Parameter]
        public SwitchParameter Resume { get; set; }

        /// <summary>With -Resume, run again the items the journal records as failed.</summary>
        [Parameter]
        public SwitchParameter RetryFailed { get; set; }

        /// <summary>Send again the items whose create may have reached the service but whose answer was lost (OutcomeUnknown): the service may bill them twice.</summary>
        [Parameter]
        public SwitchParameter ResubmitUnknown { get; set; }

        /// <summary>The account's plan: the engine never runs more items at once than the plan's documented concurrency.</summary>
        [Parameter]
        public AbstraktPlan? Tier { get; set; }

        /// <summary>Submit every item with this webhook URL; the service posts each finished job there.</summary>
        [Parameter]
        [ValidateNotNull]
        public Uri? WebhookUrl { get; set; }

        /// <summary>A local HttpListener prefix that receives the deliveries made to -WebhookUrl.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? WebhookListener { get; set; }

        /// <summary>The secret deliveries are signed with. Default: the sandbox's, or $env:ABSTRAKT_WEBHOOK_SECRET.</summary>
        [Parameter]
        public SecureString? WebhookSecret { get; set; }

        /// <summary>Seconds to wait for a job's delivery before polling it instead.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int WebhookWaitSec { get; set; } = 120;

        private const string JoinSet = "Join";
        private Abstrakt.Webhooks.WebhookListener? _listener;
        private string? _inputPath;
        private long? _expected;

        /// <inheritdoc/>
        protected override string Activity => "abstrakt batch (" + Model + ")";

        /// <summary>Replace existing files when outputs are named after their source images; without it such an item fails instead.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <inheritdoc/>
        private protected override bool ReplaceOutputs => Force;

        /// <inheritdoc/>
        protected override string DefaultModel => Model;

        /// <inheritdoc/>
        protected override void BeginProcessing()
        {
            if (Resume && JournalPath is null)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Resume needs -JournalPath."), ErrorIds.ResumeNeedsJournal, ErrorCategory.InvalidArgument, null));
            }

            if (Store is not null && (JournalPath is not null || (InputFile is not null && MyInvocation.BoundParameters.ContainsKey(nameof(InputObject)))))
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Store takes the place of -JournalPath, and its input is the pipeline or -InputFile, not both."), ErrorIds.StoreConflict, ErrorCategory.InvalidArgument, null));
            }

            if (WebhookListener is not null && WebhookUrl is null)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("-WebhookListener receives what the service posts to -WebhookUrl: pass -WebhookUrl too."), ErrorIds.WebhookListenerNeedsUrl, ErrorCategory.InvalidArgument, null));
            }

            if (InputFile is not null)
            {
                _inputPath = GetUnresolvedProviderPathFromPSPath(InputFile);
                if (!File.Exists(_inputPath))
                {
                    ThrowTerminatingError(new ErrorRecord(new FileNotFoundException($"No input file at {_inputPath}."), ErrorIds.InputFileNotFound, ErrorCategory.ObjectNotFound, InputFile));
                }

                _expected = Engine.InputFile.Count(_inputPath);
                WriteVerbose($"{_expected} items in {_inputPath}.");
            }

            StartBatch();
        }

        /// <inheritdoc/>
        private protected override void Configure(BatchOptions options, AbstraktConnection connection)
        {
            options.WebhookUrl = WebhookUrl;
            options.WebhookWait = TimeSpan.FromSeconds(WebhookWaitSec);
            if (WebhookListener is not null)
            {
                var secret = WebhookSecret is not null ? new Secret(SecureText.Reveal(WebhookSecret))
                    : connection.Sandbox?.WebhookSecret
                    ?? (Environment.GetEnvironmentVariable(WebhookSecretVariable) is { Length: > 0 } fromEnv ? new Secret(fromEnv) : null);
                if (secret is null)
                {
                    ThrowTerminatingError(new ErrorRecord(
                        new ArgumentException($"-WebhookListener needs the webhook secret to verify deliveries: pass -WebhookSecret or set $env:{WebhookSecretVariable}."),
                        ErrorIds.WebhookSecretMissing,
                        ErrorCategory.InvalidArgument,
                        null));
                }

                var inbox = new WebhookInbox(secret!);
                try
                {
                    _listener = new Abstrakt.Webhooks.WebhookListener(WebhookListener, inbox);
                }
                catch (ArgumentException ex)
                {
                    ThrowTerminatingError(ErrorRecords.Argument(ex, ErrorIds.WebhookListenerFailed, ErrorCategory.ResourceUnavailable, WebhookListener));
                }

                options.Webhooks = inbox;
                WriteVerbose($"Receiving webhooks on {_listener!.Prefix}.");
            }

            options.ExpectedTotal = _expected ?? TotalCount;
            options.JournalPath = JournalPath is null ? null : GetUnresolvedProviderPathFromPSPath(JournalPath);
            options.Store = Store;
            options.BatchName = BatchName;
            options.LeaseTime = TimeSpan.FromSeconds(LeaseSec);
            options.Resume = Resume;
            options.RetryFailed = RetryFailed;
            options.ResubmitUnknown = ResubmitUnknown;
            if (Tier is AbstraktPlan tier)
            {
                options.PlanConcurrency = Plans.Concurrency(tier);
            }
        }

        /// <summary>The environment variable holding the webhook secret.</summary>
        public const string WebhookSecretVariable = "ABSTRAKT_WEBHOOK_SECRET";

        /// <inheritdoc/>
        private protected override void Release() => _listener?.Dispose();

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            if (_inputPath is not null)
            {
                foreach (var record in Engine.InputFile.Read(_inputPath))
                {
                    if (Stopping)
                    {
                        return;
                    }

                    if (record is InputFileError error)
                    {
                        Reject(ErrorIds.InvalidInput, $"{InputFile}, {error}", PSObject.AsPSObject(error));
                    }
                    else
                    {
                        Read(record is null ? null : PSObject.AsPSObject(record));
                    }
                }
            }
            else if (Path is not null || LiteralPath is not null)
            {
                foreach (var file in ImageReference.Files(this, Path, LiteralPath))
                {
                    Read(PSObject.AsPSObject(new FileInfo(file)));
                }
            }
            else if (ParameterSetName != JoinSet || MyInvocation.BoundParameters.ContainsKey(nameof(InputObject)))
            {
                // (A shared runner given no input works on items loaded elsewhere.)
                foreach (var item in ItemReader.Items(InputObject))
                {
                    Read(item);
                }
            }
        }

        /// <inheritdoc/>
        protected override void EndProcessing() => FinishBatch();

        /// <summary>Reads one item and submits it; reports and skips (never drops silently) what cannot be an item.</summary>
        private void Read(PSObject? obj)
        {
            if (obj?.BaseObject is not null && !ImageReference.IsFile(obj))
            {
                WarnUnboundColumns(obj, ItemReader.Binds, "Prompt (or Text), Model, Id (or Name), ImageSize, NumImages, Seed, Image (or Path, ImageUrl)");
            }

            if (ItemReader.Check(obj, NextIndex, out var rejection, images: this, imagePrompt: Prompt) is { } item)
            {
                Submit(item.Prompt, item.Model, item.Input, item.Id, obj, item.Source);
            }
            else
            {
                SkipIndex();
                WriteError(rejection!);
            }
        }

        private void Reject(string errorId, string message, PSObject? obj)
        {
            SkipIndex();
            WriteError(ItemReader.Rejection(errorId, message, obj));
        }
    }
}
