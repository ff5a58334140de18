using System;
using System.Collections.Generic;

namespace Abstrakt.Store
{
    /// <summary>A shared batch as its store sees it now.</summary>
    public sealed class BatchStatus
    {
        /// <summary>The batch's name.</summary>
        public string Name { get; init; } = string.Empty;

        /// <summary>The batch's id (part of every idempotency key).</summary>
        public string BatchId { get; init; } = string.Empty;

        /// <summary>The batch's default model.</summary>
        public string Model { get; init; } = string.Empty;

        /// <summary>True once every item is in.</summary>
        public bool Loaded { get; init; }

        /// <summary>Items in the store.</summary>
        public long Total { get; init; }

        /// <summary>Items completed.</summary>
        public long Done { get; init; }

        /// <summary>Items failed (not counting <see cref="OutcomeUnknown"/>).</summary>
        public long Failed { get; init; }

        /// <summary>Items whose create a dead runner sent without recording the job id.</summary>
        public long OutcomeUnknown { get; init; }

        /// <summary>Items claimed under a live lease.</summary>
        public long InFlight { get; init; }

        /// <summary>Items not finished and not claimed (including a dead runner's, until its leases end).</summary>
        public long Waiting => Total - Done - Failed - OutcomeUnknown - InFlight;

        /// <summary>Credits charged for completed items.</summary>
        public long CreditsUsed { get; init; }

        /// <summary>When Stop-AbstraktBatch last asked the runners to stop, if ever.</summary>
        public DateTimeOffset? StopRequestedAt { get; init; }

        /// <summary>Every runner that joined the batch.</summary>
        public IReadOnlyList<RunnerStatus> Runners { get; internal set; } = Array.Empty<RunnerStatus>();
    }

    /// <summary>One runner of a shared batch.</summary>
    public sealed class RunnerStatus
    {
        /// <summary>The runner's id: host, process id and a random tail.</summary>
        public string Runner { get; init; } = string.Empty;

        /// <summary>The machine.</summary>
        public string Host { get; init; } = string.Empty;

        /// <summary>The process.</summary>
        public int ProcessId { get; init; }

        /// <summary>When it joined.</summary>
        public DateTimeOffset StartedAt { get; init; }

        /// <summary>When it last renewed its leases.</summary>
        public DateTimeOffset LastSeen { get; init; }

        /// <summary>True when it ended cleanly (a killed runner never says so).</summary>
        public bool Ended { get; init; }

        /// <summary>Items it completed.</summary>
        public long Done { get; init; }

        /// <summary>Items it failed.</summary>
        public long Failed { get; init; }

        /// <summary>Items it holds under a live lease.</summary>
        public long InFlight { get; init; }

        /// <summary>Credits charged for the items it completed.</summary>
        public long CreditsUsed { get; init; }
    }
}
