using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Abstrakt.Engine;

namespace Abstrakt.Store
{
    /// <summary>
    /// The embedded store: items come from this runner's input, and their lives go to a JSON-lines journal
    /// (or nowhere, without -JournalPath). One runner per journal (the journal's OS lock).
    /// </summary>
    internal sealed class JournalStore : IBatchStore
    {
        private static readonly Task<bool> Done = Task.FromResult(true);
        private readonly Journal? _journal;

        private JournalStore(Journal? journal, bool resume)
        {
            _journal = journal;
            BatchId = journal?.BatchId ?? System.Guid.NewGuid().ToString("N");
            ResumedNothing = resume && journal?.IsNew == true;
        }

        public string BatchId { get; }

        public string? Description => _journal is null ? null : "journal " + _journal.Path;

        public bool ResumedNothing { get; }

        public bool Shared => false;

        public CancellationToken StopRequested => CancellationToken.None;

        /// <summary>Opens the journal at <paramref name="path"/>, or no journal when it is null.</summary>
        public static JournalStore Open(string? path, bool resume, string defaultModel) =>
            new JournalStore(path is null ? null : Journal.Open(path, resume, defaultModel), resume);

        public async ValueTask<StoredWork?> NextAsync(ChannelReader<WorkItem> input, CancellationToken cancellationToken)
        {
            while (await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (input.TryRead(out var item))
                {
                    return new StoredWork(item, Lookup(item));
                }
            }

            return null;
        }

        public Api.ISharedRateBudget? RateBudget(Api.AbstraktClient client) => null;

        /// <summary>
        /// What the journal knows of an item: by index (the item last accepted there), or for an image item by its id
        /// (its content), wherever the file now sits. Read back from the journal file as the item comes up.
        /// </summary>
        private JournalEntry? Lookup(WorkItem item)
        {
            if (_journal is null)
            {
                return null;
            }

            var byContent = item.Image is not null && !item.IdGiven;
            return byContent ? _journal.ById(item.Id) : _journal.ByIndex(item.Index);
        }

        public Task<bool> AcceptedAsync(WorkItem item) => Write(j => j.Accepted(item));

        // The journal's runner is the only one: it records "sent" as the create goes on the wire (Sent).
        public Task<bool> SendingAsync(WorkItem item, int resubmissions) => Done;

        public void Sent(WorkItem item, int resubmissions) => _journal?.Sent(item.Id, resubmissions);

        public void Unsent(WorkItem item) => _journal?.Unsent(item.Id);

        public Task<bool> CreatedAsync(WorkItem item, string jobId, int resubmissions) => Write(j => j.Created(item.Id, jobId, resubmissions));

        public Task<bool> CompletedAsync(ItemCompleted result) => Write(j => j.Completed(result));

        public Task<bool> FailedAsync(WorkItem item, string code, string message) => Write(j => j.Failed(item.Id, code, message));

        public Task<bool> CancelledAsync(WorkItem item, string jobId) => Write(j => j.Cancelled(item.Id, jobId));

        public void Dispose() => _journal?.Dispose();

        private Task<bool> Write(System.Action<Journal> write)
        {
            if (_journal is not null)
            {
                write(_journal);
            }

            return Done;
        }
    }
}
