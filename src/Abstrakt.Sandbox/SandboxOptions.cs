using System;
using Abstrakt.Api;

namespace Abstrakt.Sandbox
{
    /// <summary>The sandbox's plans: the service's documented ones (<see cref="Plans"/>), and none.</summary>
    public enum SandboxTier
    {
        /// <summary>10 requests per window, 2 concurrent jobs.</summary>
        Free,

        /// <summary>100 requests per window, 10 concurrent jobs.</summary>
        Pro,

        /// <summary>1000 requests per window, 50 concurrent jobs.</summary>
        Business,

        /// <summary>No limits, for local benchmarks.</summary>
        Unlimited,
    }

    /// <summary>How the sandbox counts requests in its rate-limit window.</summary>
    public enum RateWindowMode
    {
        /// <summary>A log of the last window's requests: a slot frees when its request is a window old.</summary>
        Sliding,

        /// <summary>A counter per window aligned to the clock (a multiple of the window since the Unix epoch): all slots free at once.</summary>
        Fixed,
    }

    /// <summary>How the sandbox behaves. Change fault rates at run time through <see cref="SandboxServer.Faults"/>.</summary>
    public sealed class SandboxOptions
    {
        /// <summary>The plan the issued key is on.</summary>
        /// <value>The default value is <see cref="SandboxTier.Pro"/>.</value>
        public SandboxTier Tier { get; set; } = SandboxTier.Pro;

        /// <summary>Requests per rate window instead of the plan's (benchmarks of a given limit); null keeps the plan's.</summary>
        public int? RequestsPerWindow { get; set; }

        /// <summary>The rate-limit window, before <see cref="TimeScale"/>; the plan's limit applies per window.</summary>
        /// <value>The default value is one minute.</value>
        public TimeSpan RateWindow { get; set; } = TimeSpan.FromMinutes(1);

        /// <summary>Whether the window slides or is fixed.</summary>
        /// <value>The default value is <see cref="Sandbox.RateWindowMode.Sliding"/>.</value>
        public RateWindowMode RateWindowMode { get; set; } = RateWindowMode.Sliding;

        /// <summary>Ignore the Idempotency-Key header, as the real service may: every create makes a new job.</summary>
        public bool IgnoreIdempotencyKey { get; set; }

        /// <summary>Multiplies every model's latency: 0 answers at once (tests), 1 is realistic.</summary>
        /// <value>The default value is 1.</value>
        public double LatencyScale { get; set; } = 1;

        /// <summary>When set, every job takes exactly this long, whatever the model (benchmarks).</summary>
        public TimeSpan? FixedLatency { get; set; }

        /// <summary>
        /// Shrinks the rate-limit window and retention: 0.01 makes a one-minute window 0.6 s. A time-scaled sandbox sends
        /// <c>X-RateLimit-Reset</c> in scaled seconds (fractions of a real one); otherwise in whole seconds, rounded up.
        /// </summary>
        /// <value>The default value is 1.</value>
        public double TimeScale { get; set; } = 1;

        /// <summary>How long a synchronous run waits before answering 202.</summary>
        /// <value>The default value is 55 seconds.</value>
        public TimeSpan SyncTimeout { get; set; } = TimeSpan.FromSeconds(55);

        /// <summary>Seeds every random choice (faults, failures), so a run can be reproduced.</summary>
        /// <value>The default value is 1.</value>
        public int Seed { get; set; } = 1;

        /// <summary>The port on 127.0.0.1; 0 picks a free one.</summary>
        public int Port { get; set; }

        /// <summary>Credits on the issued key.</summary>
        /// <value>The default value is 1,000,000.</value>
        public long Credits { get; set; } = 1_000_000;

        /// <summary>Fault injection, changeable while the sandbox runs.</summary>
        public SandboxFaults Faults { get; set; } = new SandboxFaults();

        /// <summary>The clock the sandbox keeps time on: job durations, rate windows, retention, the sync wait, webhook retries.</summary>
        /// <value>The default value is <see cref="TimeProvider.System"/>; a test gives a fake one, so no test sleeps.</value>
        public TimeProvider Time { get; set; } = TimeProvider.System;
    }

    /// <summary>Reproducible fault injection: each rate is a share of requests or jobs, from 0 to 1.</summary>
    public sealed class SandboxFaults
    {
        /// <summary>API requests answered 500 (an HTML page) or 503 (MODEL_UNAVAILABLE) before doing anything.</summary>
        public double TransientErrorRate { get; set; }

        /// <summary>API requests processed, then answered with a response cut mid-body.</summary>
        public double CutConnectionRate { get; set; }

        /// <summary>API requests processed, then answered only after <see cref="TimeoutDelay"/> (past the client's timeout).</summary>
        public double TimeoutRate { get; set; }

        /// <summary>How long a timed-out response is held.</summary>
        /// <value>The default value is 10 seconds.</value>
        public TimeSpan TimeoutDelay { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>API requests processed, then answered 200 with a body that is not JSON.</summary>
        public double MalformedRate { get; set; }

        /// <summary>Jobs that end failed with INFERENCE_FAILED.</summary>
        public double InferenceFailureRate { get; set; }

        /// <summary>Jobs that end failed with PROVIDER_FAILURE.</summary>
        public double ProviderFailureRate { get; set; }

        /// <summary>Jobs that end failed with TIMEOUT (the model took too long).</summary>
        public double JobTimeoutRate { get; set; }

        /// <summary>Deliver every webhook twice.</summary>
        public bool WebhookDuplicate { get; set; }

        /// <summary>Hold each webhook delivery a random time up to this long, so deliveries arrive out of order.</summary>
        public TimeSpan WebhookShuffle { get; set; }

        /// <summary>Share of webhook deliveries never sent (lost), for polling fallback.</summary>
        public double WebhookDropRate { get; set; }
    }
}
