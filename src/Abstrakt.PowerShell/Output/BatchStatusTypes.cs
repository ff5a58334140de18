using System;
using System.Linq;
using Abstrakt.Store;

namespace Abstrakt.PowerShell.Output
{
    /// <summary>A shared batch's counts (Get-AbstraktBatch, Import-AbstraktBatch, Stop-AbstraktBatch).</summary>
    public sealed class AbstraktBatchInfo
    {
        internal AbstraktBatchInfo(BatchStatus status)
        {
            Name = status.Name;
            BatchId = status.BatchId;
            Model = status.Model;
            Loaded = status.Loaded;
            Total = status.Total;
            Done = status.Done;
            Failed = status.Failed;
            OutcomeUnknown = status.OutcomeUnknown;
            InFlight = status.InFlight;
            Waiting = status.Waiting;
            CreditsUsed = status.CreditsUsed;
            StopRequestedAt = status.StopRequestedAt;
            Runners = status.Runners.Select(r => new AbstraktBatchRunner(r)).ToArray();
        }

        /// <summary>The batch's name.</summary>
        public string Name { get; }

        /// <summary>The batch's id (part of every idempotency key).</summary>
        public string BatchId { get; }

        /// <summary>The default model.</summary>
        public string Model { get; }

        /// <summary>True once every item is in.</summary>
        public bool Loaded { get; }

        /// <summary>Items in the batch.</summary>
        public long Total { get; }

        /// <summary>Items completed.</summary>
        public long Done { get; }

        /// <summary>Items failed (not counting OutcomeUnknown).</summary>
        public long Failed { get; }

        /// <summary>Items whose create a dead runner sent without recording the job id.</summary>
        public long OutcomeUnknown { get; }

        /// <summary>Items claimed by a live runner.</summary>
        public long InFlight { get; }

        /// <summary>Items not finished and not claimed.</summary>
        public long Waiting { get; }

        /// <summary>Credits charged for completed items.</summary>
        public long CreditsUsed { get; }

        /// <summary>When Stop-AbstraktBatch last asked the runners to stop.</summary>
        public DateTimeOffset? StopRequestedAt { get; }

        /// <summary>Every runner that joined.</summary>
        public AbstraktBatchRunner[] Runners { get; }
    }

    /// <summary>One runner of a shared batch.</summary>
    public sealed class AbstraktBatchRunner
    {
        internal AbstraktBatchRunner(RunnerStatus runner)
        {
            Runner = runner.Runner;
            Host = runner.Host;
            ProcessId = runner.ProcessId;
            StartedAt = runner.StartedAt;
            LastSeen = runner.LastSeen;
            Ended = runner.Ended;
            Done = runner.Done;
            Failed = runner.Failed;
            InFlight = runner.InFlight;
            CreditsUsed = runner.CreditsUsed;
        }

        /// <summary>The runner's id: host, process id and a random tail.</summary>
        public string Runner { get; }

        /// <summary>The machine.</summary>
        public string Host { get; }

        /// <summary>The process.</summary>
        public int ProcessId { get; }

        /// <summary>When it joined.</summary>
        public DateTimeOffset StartedAt { get; }

        /// <summary>When it last renewed its leases.</summary>
        public DateTimeOffset LastSeen { get; }

        /// <summary>True when it ended cleanly (a killed runner never does).</summary>
        public bool Ended { get; }

        /// <summary>Items it completed.</summary>
        public long Done { get; }

        /// <summary>Items it failed.</summary>
        public long Failed { get; }

        /// <summary>Items it holds now.</summary>
        public long InFlight { get; }

        /// <summary>Credits for the items it completed.</summary>
        public long CreditsUsed { get; }
    }
}
