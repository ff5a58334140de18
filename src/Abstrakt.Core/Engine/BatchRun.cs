using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Abstrakt.Api;
using Abstrakt.Store;

namespace Abstrakt.Engine
{
    /// <summary>
    /// The batch engine's scheduler. Items go in through <see cref="AddAsync"/> (bounded, so a million-line input never
    /// sits in memory); results, failures and progress come out of <see cref="Events"/> as they happen. At most
    /// ThrottleLimit items are in flight, each run by the <see cref="ItemRunner"/> (attempts, retries, the journal's
    /// word); the client's rate gate is shared by all of them. This type counts, reports and ends the batch.
    /// </summary>
    public sealed class BatchRun : IDisposable
    {
        private readonly AbstraktClient _client;
        private readonly BatchOptions _options;
        private readonly IBatchStore _store;
        private readonly ISharedRateBudget? _budget;
        private readonly CancellationTokenSource _cts;
        private readonly CancellationTokenSource _consumerGone = new CancellationTokenSource();
        private readonly Channel<WorkItem> _input;
        private readonly Channel<BatchEvent> _events = Channel.CreateBounded<BatchEvent>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.Wait });
        private readonly ItemRunner _items;
        private readonly BatchCounters _counters;
        private BatchFatalException? _fatal;
        private int _planNoted;

        private BatchRun(AbstraktClient client, BatchOptions options, CancellationToken cancellationToken)
        {
            _client = client;
            _options = options;
            _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Concurrency = Math.Min(options.ThrottleLimit, options.PlanConcurrency ?? int.MaxValue);
            _input = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(Concurrency * 2) { SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
            var outputs = new OutputDownloader(client, options);
            _store = BatchStores.Open(options, Concurrency);
            // Stop-AbstraktBatch: as Ctrl+C, so the jobs this runner started are cancelled.
            _store.StopRequested.Register(() => _cts.Cancel());
            // One rate budget with the other runners on this key, for the batch's life.
            _budget = _store.RateBudget(client);
            if (_budget is not null)
            {
                client.Gate.Shared = _budget;
            }

            _items = new ItemRunner(client, options, _store, outputs, Note, _consumerGone.Token, Queued);
            _counters = new BatchCounters(options.Time);

            var workers = Enumerable.Range(0, Concurrency).Select(index => Task.Run(() => WorkerAsync(index))).ToArray();
            var ticker = Task.Run(TickAsync);
            Completion = FinishAsync(workers, ticker);
        }

        /// <summary>How many workers the batch starts: ThrottleLimit, capped by the plan's concurrency when known at the start; a plan learnt from the first answer stops the workers beyond it (see <see cref="WithinPlan"/>).</summary>
        public int Concurrency { get; }

        /// <summary>Results, failures, notes and progress, as they happen. Completes when the batch ends.</summary>
        public ChannelReader<BatchEvent> Events => _events.Reader;

        /// <summary>Ends when the batch ends; faults with <see cref="BatchFatalException"/> when the batch was doomed.</summary>
        public Task Completion { get; }

        /// <summary>Where the batch is kept (a journal, or a shared store without its password); null when nowhere.</summary>
        public string? StoreDescription => _store.Description;

        /// <summary>True when the batch is shared with other runners through a store.</summary>
        public bool Shared => _store.Shared;

        /// <summary>True when asked to resume but the journal was missing or empty, so the batch started from the beginning.</summary>
        public bool ResumedNothing => _store.ResumedNothing;

        /// <summary>True when every runner of a shared batch was asked to stop (Stop-AbstraktBatch) and this one did.</summary>
        public bool StoppedByRequest => _store.StopRequested.IsCancellationRequested;

        /// <summary>Starts a batch.</summary>
        /// <param name="client">The client (its rate gate is shared by all workers).</param>
        /// <param name="options">The options; validated here.</param>
        /// <param name="cancellationToken">Stops the batch: dispatch ends, in-flight requests and remote jobs are cancelled.</param>
        /// <returns>The running batch.</returns>
        /// <exception cref="JournalException">The journal cannot be used.</exception>
        /// <exception cref="ArgumentException">An option is out of range or the output directory is unusable.</exception>
        public static BatchRun Start(AbstraktClient client, BatchOptions options, CancellationToken cancellationToken = default)
        {
            _ = client ?? throw new ArgumentNullException(nameof(client));
            (options ?? throw new ArgumentNullException(nameof(options))).Validate();
            return new BatchRun(client, options, cancellationToken);
        }

        /// <summary>Runs a whole batch over an input sequence and yields its events (a convenience over Start).</summary>
        /// <param name="client">The client.</param>
        /// <param name="options">The options.</param>
        /// <param name="items">The items, read lazily.</param>
        /// <param name="cancellationToken">Stops the batch.</param>
        /// <returns>The events; throws <see cref="BatchFatalException"/> at the end of a doomed batch.</returns>
        public static IAsyncEnumerable<BatchEvent> RunAsync(AbstraktClient client, BatchOptions options, IEnumerable<WorkItem> items, CancellationToken cancellationToken = default) =>
            BatchFeeder.RunAsync(client, options, items, cancellationToken);

        /// <summary>Adds an item; waits while the engine's input is full (backpressure).</summary>
        /// <param name="item">The item.</param>
        /// <param name="cancellationToken">Stops waiting.</param>
        /// <returns>A task that ends when the item is queued.</returns>
        public async ValueTask AddAsync(WorkItem item, CancellationToken cancellationToken = default)
        {
            if (!TryAdd(item))
            {
                // TryAdd has claimed the item's id and output name already.
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cts.Token);
                await _input.Writer.WriteAsync(item, linked.Token).ConfigureAwait(false);
                _counters.Accepted();
            }
        }

        /// <summary>
        /// A task that ends when the pipeline side has something to do: an event to read, room in the input, or the
        /// batch over. One signal to wait on instead of polling (the cmdlet's Process and End wait on it).
        /// </summary>
        /// <param name="wantRoom">Whether room in the input counts (Process waits for it; End does not).</param>
        /// <returns>The task; it never faults.</returns>
        public Task WhenReadyAsync(bool wantRoom)
        {
            var events = _events.Reader.WaitToReadAsync().AsTask();
            return wantRoom ? Task.WhenAny(events, Completion, _input.Writer.WaitToWriteAsync().AsTask()) : Task.WhenAny(events, Completion);
        }

        /// <summary>Adds an item if the input has room.</summary>
        /// <param name="item">The item.</param>
        /// <returns>False when the input is full (or the batch has stopped).</returns>
        public bool TryAdd(WorkItem item)
        {
            _ = item ?? throw new ArgumentNullException(nameof(item));
            if (_cts.IsCancellationRequested)
            {
                return false;
            }

            _items.Claim(item);
            if (!_input.Writer.TryWrite(item))
            {
                return false;
            }

            _counters.Accepted();
            return true;
        }

        /// <summary>Says that no more items will come; the batch ends when the queued ones are done.</summary>
        public void CompleteInput()
        {
            _counters.InputComplete();
            _input.Writer.TryComplete();
        }

        /// <summary>Stops the batch (as Ctrl+C does).</summary>
        public void Cancel() => _cts.Cancel();

        /// <summary>The batch's progress now.</summary>
        /// <returns>A snapshot.</returns>
        public BatchProgress Snapshot() => _counters.Snapshot(totalKnowable: !_store.Shared, _options.ExpectedTotal, _client.RateLimitWaiting, _items.Retries, _items.CreatesAwaitingResult);

        /// <inheritdoc/>
        public void Dispose()
        {
            // The consumer may have stopped reading (Select-Object -First 3): unblock workers waiting to emit.
            _consumerGone.Cancel();
            _cts.Cancel();
            try
            {
                Completion.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
                // The outcome was reported through Completion already.
            }

            _store.Dispose();
            _cts.Dispose();
            _consumerGone.Dispose();
        }

        // One loop per worker, one async state machine per item (ItemRunner's): reporting lives here, not in another layer.
        private async Task WorkerAsync(int index)
        {
            var token = _cts.Token;
            try
            {
                if (index > 0 && LearnsPlan && _client.RateLimit is null)
                {
                    // The plan is learnt from the first answer: until then one item runs (or another each time the
                    // gate would let one more through without an answer). An input that ends first needs no answer (a
                    // resume whose items the journal all replays sent nothing, and waited 2 s per worker for one).
                    // (A shared batch's work is in its store, not in this input.)
                    using var patience = CancellationTokenSource.CreateLinkedTokenSource(token);
                    var wakes = new List<Task> { _client.Gate.FirstRequestOver, _options.Time.Delay(TimeSpan.FromTicks(RateGate.FirstAnswerPatience.Ticks * index), patience.Token) };
                    if (!_store.Shared)
                    {
                        wakes.Add(_input.Reader.Completion);
                    }

                    await Task.WhenAny(wakes).ConfigureAwait(false);
                    patience.Cancel();
                }

                while (!token.IsCancellationRequested && WithinPlan(index) && await _store.NextAsync(_input.Reader, token).ConfigureAwait(false) is { } work)
                {
                    _counters.Started();
                    try
                    {
                        var outcome = await _items.RunAsync(work.Item, work.Prior, token).ConfigureAwait(false);
                        if (outcome.Fatal is not null)
                        {
                            Fail(outcome.Fatal);
                        }

                        if (outcome.Result is not null)
                        {
                            _counters.Reported(outcome.Result);
                            await EmitAsync(outcome.Result).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        _counters.Ended(work.Item);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Stopping (or the consumer has gone: Dispose stops the batch too): dispatch ends at once.
            }
            catch (Exception ex)
            {
                // The item runner reports every item's failure itself; reaching here is a bug. End the batch, never hang it.
                FailUnexpected(ex);
            }
        }

        /// <summary>Whether the plan's concurrency is to be learnt from the answers (not known when the batch started).</summary>
        private bool LearnsPlan => _options.ConcurrencyForLimit is not null && _options.PlanConcurrency is null;

        /// <summary>Whether the worker with this index runs, under the plan's concurrency learnt from the answers (it only lowers).</summary>
        private bool WithinPlan(int index)
        {
            if (!LearnsPlan || _client.RateLimit is not int limit || _options.ConcurrencyForLimit!(limit) is not int cap || cap >= Concurrency)
            {
                return true;
            }

            if (Interlocked.Exchange(ref _planNoted, 1) == 0)
            {
                _events.Writer.TryWrite(new BatchNote { Message = $"The service reports a limit of {limit} requests per window: at most {cap} at once, as its batching guide recommends for that plan." });
            }

            return index < cap;
        }

        /// <summary>
        /// Items that will soon want a request: those queued, and while more may come (a pipeline still feeding the
        /// batch), a full input's worth. A batch larger than the window is then short of requests from its first.
        /// </summary>
        private int Queued() => (_input.Reader.CanCount ? _input.Reader.Count : 0) + (_counters.InputEnded ? 0 : 2 * Concurrency);

        private void FailUnexpected(Exception ex) =>
            Fail(new BatchFatalException("The batch stopped on an unexpected error: " + ex.Message, new AbstraktApiException(ErrorCodes.Unexpected, ex.Message, null, null, ex)));

        private void Fail(BatchFatalException fatal)
        {
            Interlocked.CompareExchange(ref _fatal, fatal, null);
            _cts.Cancel();
        }

        private async Task TickAsync()
        {
            try
            {
                while (!_cts.IsCancellationRequested)
                {
                    await _options.Time.Delay(_options.ProgressInterval, _cts.Token).ConfigureAwait(false);
                    _events.Writer.TryWrite(Snapshot());
                }
            }
            catch (OperationCanceledException)
            {
                // The batch ended.
            }
        }

        private async Task FinishAsync(Task[] workers, Task ticker)
        {
            try
            {
                await Task.WhenAll(workers).ConfigureAwait(false);
                var stoppedByCaller = _cts.IsCancellationRequested && _fatal is null;
                _cts.Cancel();
                await ticker.ConfigureAwait(false);
                if (stoppedByCaller)
                {
                    await _items.CancelUnfinishedJobsAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                FailUnexpected(ex);
            }
            finally
            {
                // Whatever happened, the consumer's stream ends: a reader must never wait forever.
                _events.Writer.TryWrite(Snapshot());
                if (_budget is not null && ReferenceEquals(_client.Gate.Shared, _budget))
                {
                    _client.Gate.Shared = null;
                }

                _store.Dispose();
                _events.Writer.TryComplete(_fatal);
            }

            if (_fatal is not null)
            {
                throw _fatal;
            }
        }

        // Two paths into the one bounded channel: notes and progress snapshots may be dropped when the consumer
        // lags (a newer one follows); results and failures, live or replayed, wait for room and are never lost.
        private void Note(WorkItem item, string message) => _events.Writer.TryWrite(new ItemNote { Item = item, Message = message });

        private ValueTask EmitAsync(BatchEvent e) => _events.Writer.WriteAsync(e, _consumerGone.Token);
    }
}
