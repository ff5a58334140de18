using System;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Abstrakt.Api;
using Abstrakt.Engine;

namespace Abstrakt.Store
{
    /// <summary>
    /// Where a batch's items and their lives are kept: the journal file of one runner (or nothing), or a
    /// PostgreSQL batch that many runners share. The engine asks it for work and tells it what happened.
    /// Every write returns false when the store did not take it (another runner owns or finished the item).
    /// </summary>
    internal interface IBatchStore : IDisposable
    {
        /// <summary>The batch's id; part of every idempotency key, so a resumed or shared batch reuses its keys.</summary>
        string BatchId { get; }

        /// <summary>What the store is, for verbose output (never a password); null when there is none.</summary>
        string? Description { get; }

        /// <summary>True when a resume found nothing to resume.</summary>
        bool ResumedNothing { get; }

        /// <summary>
        /// True for a store other runners read: a create is recorded before it is sent and submitted with
        /// sync:false, so its job id is stored before anyone waits on the job.
        /// </summary>
        bool Shared { get; }

        /// <summary>Cancelled when someone asked every runner of the batch to stop.</summary>
        CancellationToken StopRequested { get; }

        /// <summary>The next item to run and what the store knows of it; null when there is no more work.</summary>
        /// <param name="input">The items this runner was given.</param>
        /// <param name="cancellationToken">Stops waiting.</param>
        /// <returns>The work, or null.</returns>
        ValueTask<StoredWork?> NextAsync(ChannelReader<WorkItem> input, CancellationToken cancellationToken);

        /// <summary>An item seen for the first time.</summary>
        Task<bool> AcceptedAsync(WorkItem item);

        /// <summary>A create is about to be sent (shared stores only).</summary>
        Task<bool> SendingAsync(WorkItem item, int resubmissions);

        /// <summary>A create is going on the wire now (past the rate limit): until it is answered, its outcome is unknown to a resume.</summary>
        /// <remarks>Synchronous: it runs inside the client's send. A shared store recorded the create already (<see cref="SendingAsync"/>).</remarks>
        void Sent(WorkItem item, int resubmissions);

        /// <summary>A create was answered with an error, or refused before anything was sent: no job exists unnamed.</summary>
        void Unsent(WorkItem item);

        /// <summary>The plan's rate budget shared with the other runners on the client's key; null for a store of one runner.</summary>
        ISharedRateBudget? RateBudget(AbstraktClient client);

        /// <summary>A job was created for the item.</summary>
        Task<bool> CreatedAsync(WorkItem item, string jobId, int resubmissions);

        /// <summary>The item completed; false when another runner had finished it.</summary>
        Task<bool> CompletedAsync(ItemCompleted result);

        /// <summary>The item failed; false when another runner had finished it.</summary>
        Task<bool> FailedAsync(WorkItem item, string code, string message);

        /// <summary>The item's job was cancelled when the batch stopped (it is resubmitted later).</summary>
        Task<bool> CancelledAsync(WorkItem item, string jobId);
    }

    /// <summary>An item to run, with what the store knew of it (null: nothing).</summary>
    internal sealed class StoredWork
    {
        public StoredWork(WorkItem item, JournalEntry? prior)
        {
            Item = item;
            Prior = prior;
        }

        public WorkItem Item { get; }

        public JournalEntry? Prior { get; }
    }

    /// <summary>Opens the store that <see cref="BatchOptions"/> name.</summary>
    internal static class BatchStores
    {
        public static IBatchStore Open(BatchOptions options, int concurrency) =>
            options.Store is not null
                ? PostgresBatchStore.Open(options.Store, options.BatchName!, options.DefaultModel, options.LeaseTime, concurrency, options.Time)
                : JournalStore.Open(options.JournalPath, options.Resume, options.DefaultModel);
    }
}
