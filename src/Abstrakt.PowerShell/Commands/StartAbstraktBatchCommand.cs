using System;
using System.Collections;
using System.Collections.Generic;
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
    [Cmdlet(VerbsLifecycle.Start, "AbstraktBatch", SupportsShouldProcess = true, DefaultParameterSetName = JournalSet)]
    [OutputType(typeof(AbstraktResult))]
    public sealed class StartAbstraktBatchCommand : BatchCmdletBase
    {
        private const string JournalSet = "Journal";
        private const string StoreSet = "Store";
        private long _whatIfItems;

        /// <summary>A prompt string, or an object with Prompt and optional Model, ImageSize, NumImages, Seed, Id. Optional with -Store: a runner may join a batch loaded elsewhere.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = JournalSet)]
        [Parameter(Position = 0, ValueFromPipeline = true, ParameterSetName = StoreSet)]
        [AllowNull]
        [AllowEmptyString]
        public PSObject? InputObject { get; set; }

        /// <summary>The model for items that name none.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string Model { get; set; } = "flux-schnell";

        /// <summary>A JSON-lines journal that records every item's life, so the batch can be resumed.</summary>
        [Parameter(ParameterSetName = JournalSet)]
        [ValidateNotNullOrEmpty]
        public string? JournalPath { get; set; }

        /// <summary>Continue the batch recorded in -JournalPath: completed items are not run again.</summary>
        [Parameter(ParameterSetName = JournalSet)]
        public SwitchParameter Resume { get; set; }

        /// <summary>With -Resume, run again the items the journal records as failed.</summary>
        [Parameter(ParameterSetName = JournalSet)]
        public SwitchParameter RetryFailed { get; set; }

        /// <summary>A PostgreSQL batch store (an Npgsql connection string or a postgres:// URL) that every runner of the batch shares.</summary>
        [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
        [ValidateNotNullOrEmpty]
        public string? Store { get; set; }

        /// <summary>The shared batch's name in -Store: runners given the same name share its items.</summary>
        [Parameter(Mandatory = true, ParameterSetName = StoreSet)]
        [ValidateNotNullOrEmpty]
        public string? BatchName { get; set; }

        /// <summary>Seconds a runner's claim on items lasts unless renewed: a dead runner's items are taken over after this.</summary>
        [Parameter(ParameterSetName = StoreSet)]
        [ValidateRange(2, 3600)]
        public int LeaseSec { get; set; } = 30;

        /// <summary>The account's plan: the engine never runs more items at once than the plan allows, and paces to its rate.</summary>
        [Parameter]
        public SandboxTier? Tier { get; set; }

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

        private Abstrakt.Webhooks.WebhookListener? _listener;

        /// <inheritdoc/>
        protected override string Activity => "abstrakt batch (" + Model + ")";

        /// <inheritdoc/>
        protected override string DefaultModel => Model;

        private bool WhatIfOnly => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter s && s.IsPresent;

        /// <inheritdoc/>
        protected override void BeginProcessing()
        {
            if (Resume && JournalPath is null)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Resume needs -JournalPath."), ErrorIds.ResumeNeedsJournal, ErrorCategory.InvalidArgument, null));
            }

            if (WebhookListener is not null && WebhookUrl is null)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("-WebhookListener receives what the service posts to -WebhookUrl: pass -WebhookUrl too."), ErrorIds.WebhookListenerNeedsUrl, ErrorCategory.InvalidArgument, null));
            }

            if (!WhatIfOnly)
            {
                StartBatch();
            }
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
                        new ArgumentException($"-WebhookListener needs the webhook secret to verify deliveries: pass -WebhookSecret or set ${WebhookSecretVariable}."),
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
                    ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.WebhookListenerFailed, ErrorCategory.ResourceUnavailable, WebhookListener));
                }

                options.Webhooks = inbox;
                WriteVerbose($"Receiving webhooks on {_listener!.Prefix}.");
            }

            options.JournalPath = JournalPath is null ? null : GetUnresolvedProviderPathFromPSPath(JournalPath);
            options.Store = Store;
            options.BatchName = BatchName;
            options.LeaseTime = TimeSpan.FromSeconds(LeaseSec);
            options.Resume = Resume;
            options.RetryFailed = RetryFailed;
            if (Tier is SandboxTier tier)
            {
                options.PlanConcurrency = SandboxServer.Concurrency(tier);
            }
        }

        /// <summary>The environment variable holding the webhook secret.</summary>
        public const string WebhookSecretVariable = "ABSTRAKT_WEBHOOK_SECRET";

        /// <inheritdoc/>
        private protected override void Release() => _listener?.Dispose();

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            // A runner given no input joins a shared batch loaded elsewhere.
            if (Store is not null && !MyInvocation.BoundParameters.ContainsKey(nameof(InputObject)))
            {
                return;
            }

            if (!PipelineItem.TryRead(InputObject, NextIndex, out var prompt, out var model, out var input, out var id, out var rejection))
            {
                // Reported and skipped, never dropped silently; the index stays the input's position.
                SkipIndex();
                WriteError(rejection!);
                return;
            }

            if (WhatIfOnly)
            {
                _whatIfItems++;
                return;
            }

            Submit(prompt, model, input, id, InputObject);
        }

        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            if (WhatIfOnly)
            {
                var credits = ModelCompleter.CreditsOf(Model);
                ShouldProcess($"{_whatIfItems} items on {Model}" + (credits is int c ? $", about {c * _whatIfItems} credits ({c} per output)" : string.Empty), "Start-AbstraktBatch");
                return;
            }

            FinishBatch();
        }
    }
}
