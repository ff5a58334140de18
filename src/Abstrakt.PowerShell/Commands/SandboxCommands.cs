using System;
using System.Management.Automation;
using Abstrakt.PowerShell.Output;
using Abstrakt.PowerShell.Session;
using Abstrakt.Sandbox;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Starts the local abstrakt sandbox on 127.0.0.1 and connects the session to it.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "AbstraktSandbox")]
    [OutputType(typeof(AbstraktSandbox))]
    public sealed class StartAbstraktSandboxCommand : PSCmdlet
    {
        /// <summary>The plan: Free, Pro, Business or Unlimited.</summary>
        [Parameter]
        public SandboxTier Tier { get; set; } = SandboxTier.Pro;

        /// <summary>Multiplies every model's latency; 0 answers at once.</summary>
        [Parameter]
        [ValidateRange(0.0, 100.0)]
        public double LatencyScale { get; set; } = 1;

        /// <summary>Requests per rate-limit window, in place of the plan's; the plan still sets concurrency and credits.</summary>
        [Parameter]
        [ValidateRange(1, 100000)]
        public int RequestsPerWindow { get; set; }

        /// <summary>The rate-limit window in seconds (before -TimeScale); the plan's limit applies per window.</summary>
        [Parameter]
        [ValidateRange(0.001, 86400.0)]
        public double RateWindowSec { get; set; } = 60;

        /// <summary>Sliding (a slot frees a window after its request) or Fixed (clock-aligned windows that reset whole).</summary>
        [Parameter]
        public RateWindowMode RateWindowMode { get; set; } = RateWindowMode.Sliding;

        /// <summary>Ignore Idempotency-Key, as the real service may: every create makes a new, billed job.</summary>
        [Parameter]
        public SwitchParameter IgnoreIdempotencyKey { get; set; }

        /// <summary>Shrinks the rate-limit window and retention (0.01: a minute lasts 0.6 s).</summary>
        [Parameter]
        [ValidateRange(0.0001, 100.0)]
        public double TimeScale { get; set; } = 1;

        /// <summary>Seconds a synchronous run waits before answering 202.</summary>
        [Parameter]
        [ValidateRange(0.0, 3600.0)]
        public double SyncTimeoutSec { get; set; } = 55;

        /// <summary>Share of API requests answered 500 or 503 (0 to 1).</summary>
        [Parameter]
        [ValidateRange(0.0, 1.0)]
        public double TransientErrorRate { get; set; }

        /// <summary>Share of API requests done, then answered with a response cut mid-body (0 to 1): a create's job exists, unnamed.</summary>
        [Parameter]
        [ValidateRange(0.0, 1.0)]
        public double CutConnectionRate { get; set; }

        /// <summary>Share of jobs that end failed with INFERENCE_FAILED (0 to 1).</summary>
        [Parameter]
        [ValidateRange(0.0, 1.0)]
        public double InferenceFailureRate { get; set; }

        /// <summary>Seeds the fault injection, so a run can be reproduced.</summary>
        [Parameter]
        public int Seed { get; set; } = 1;

        /// <summary>The port; 0 picks a free one.</summary>
        [Parameter]
        [ValidateRange(0, 65535)]
        public int Port { get; set; }

        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            SandboxServer sandbox;
            try
            {
                sandbox = Start();
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                ThrowTerminatingError(new ErrorRecord(
                    new InvalidOperationException($"The sandbox cannot listen on 127.0.0.1:{Port}: {ex.Message} Choose another -Port, or leave it out for a free one.", ex),
                    ErrorIds.SandboxPortUnavailable,
                    ErrorCategory.ResourceUnavailable,
                    Port));
                return;
            }

            AbstraktSession.SetSandbox(sandbox);
            AbstraktSession.SetConnection(AbstraktSession.ConnectToSandbox(sandbox, owns: false));
            WriteVerbose($"Sandbox listening on {sandbox.Uri} ({Tier}); the session is connected to it.");
            WriteObject(new AbstraktSandbox(sandbox));
        }

        private SandboxServer Start() =>
            SandboxServer.Start(new SandboxOptions
            {
                Tier = Tier,
                RequestsPerWindow = MyInvocation.BoundParameters.ContainsKey(nameof(RequestsPerWindow)) ? RequestsPerWindow : null,
                LatencyScale = LatencyScale,
                TimeScale = TimeScale,
                RateWindow = TimeSpan.FromSeconds(RateWindowSec),
                RateWindowMode = RateWindowMode,
                IgnoreIdempotencyKey = IgnoreIdempotencyKey,
                SyncTimeout = TimeSpan.FromSeconds(SyncTimeoutSec),
                Seed = Seed,
                Port = Port,
                Faults = new SandboxFaults { TransientErrorRate = TransientErrorRate, CutConnectionRate = CutConnectionRate, InferenceFailureRate = InferenceFailureRate },
            });
    }

    /// <summary>
    /// <para type="synopsis">Stops the session's local sandbox.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "AbstraktSandbox")]
    [OutputType(typeof(void))]
    public sealed class StopAbstraktSandboxCommand : PSCmdlet
    {
        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            if (AbstraktSession.Sandbox is null)
            {
                WriteVerbose("No sandbox is running in this session.");
                return;
            }

            AbstraktSession.SetSandbox(null);
        }
    }
}
