using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Abstrakt.Api;
using Abstrakt.Json;
using Abstrakt.Store;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Abstrakt.Engine
{
    /// <summary>
    /// The batch engine. Items go in through <see cref="AddAsync"/> (bounded, so a million-line input never sits
    /// in memory); results, failures and progress come out of <see cref="Events"/> as they happen. At most
    /// ThrottleLimit items are in flight; the client's rate gate is shared by all of them; retries follow the
    /// spec's classification (Polly); a journal makes it resumable. Paying once never depends on Idempotency-Key
    /// (docs/reliability.md): creates answer at once with a job id that is journaled, a resume re-attaches to it,
    /// and a create whose answer was lost is reported as OUTCOME_UNKNOWN rather than sent again.
    /// </summary>
    public sealed class BatchRun : IDisposable
    {
        private const string Cancelled = "JOB_CANCELLED";

        private readonly AbstraktClient _client;
        private readonly BatchOptions _options;
        private readonly IBatchStore _store;
        private readonly ISharedRateBudget? _budget;
        private readonly CancellationTokenSource _cts;
        private readonly CancellationTokenSource _consumerGone = new CancellationTokenSource();
        private readonly Channel<WorkItem> _input;
        private readonly Channel<BatchEvent> _events = Channel.CreateBounded<BatchEvent>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.Wait });
        private readonly ResiliencePipeline _pipeline;
        private readonly ConcurrentDictionary<string, (WorkItem Item, string JobId)> _unfinishedJobs = new ConcurrentDictionary<string, (WorkItem, string)>(StringComparer.Ordinal);
        // Ids the caller gave, with the index of the first item that had each: a repeat is that item's error.
        private readonly ConcurrentDictionary<string, string> _sourceStems = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, string> _stemOwners = new ConcurrentDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        private readonly ConcurrentDictionary<string, long> _givenIds = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        private readonly JobDurations _durations = new JobDurations();
        private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _imageFields = new ConcurrentDictionary<string, Lazy<Task<string>>>(StringComparer.OrdinalIgnoreCase);
        private readonly string _batchId;
        private readonly long _startTimestamp;
        private readonly long _answersAtStart;
        private long _accepted, _done, _failed, _unknown, _inFlight, _retries, _credits;
        private volatile bool _inputComplete;
        private volatile string? _lastPrompt;
        private BatchFatalException? _fatal;

        private BatchRun(AbstraktClient client, BatchOptions options, CancellationToken cancellationToken)
        {
            _client = client;
            _options = options;
            _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Concurrency = Math.Min(options.ThrottleLimit, options.PlanConcurrency ?? int.MaxValue);
            _input = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(Concurrency * 2) { SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
            if (options.OutputDirectory is not null)
            {
                PrepareOutputDirectory(options.OutputDirectory);
            }

            _store = BatchStores.Open(options, Concurrency);
            _batchId = _store.BatchId;
            // Stop-AbstraktBatch: as Ctrl+C, so the jobs this runner started are cancelled.
            _store.StopRequested.Register(() => _cts.Cancel());
            // One rate budget with the other runners on this key, for the batch's life.
            _budget = _store.RateBudget(client);
            if (_budget is not null)
            {
                client.Gate.Shared = _budget;
            }
            _pipeline = BuildPipeline();
            _startTimestamp = options.Time.GetTimestamp();
            _answersAtStart = client.Answers;

            var workers = Enumerable.Range(0, Concurrency).Select(_ => Task.Run(WorkerAsync)).ToArray();
            var ticker = Task.Run(TickAsync);
            Completion = FinishAsync(workers, ticker);
        }

        /// <summary>How many items run at once: ThrottleLimit, capped by the plan's concurrency.</summary>
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
            if (client is null)
            {
                throw new ArgumentNullException(nameof(client));
            }

            if (options is null)
            {
                throw new ArgumentNullException(nameof(options));
            }

            options.Validate();
            return new BatchRun(client, options, cancellationToken);
        }

        /// <summary>Runs a whole batch over an input sequence and yields its events (a convenience over Start).</summary>
        /// <param name="client">The client.</param>
        /// <param name="options">The options.</param>
        /// <param name="items">The items, read lazily.</param>
        /// <param name="cancellationToken">Stops the batch.</param>
        /// <returns>The events; throws <see cref="BatchFatalException"/> at the end of a doomed batch.</returns>
        public static async IAsyncEnumerable<BatchEvent> RunAsync(AbstraktClient client, BatchOptions options, IEnumerable<WorkItem> items, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            using var run = Start(client, options, cancellationToken);
            var feeder = Task.Run(async () =>
            {
                try
                {
                    foreach (var item in items)
                    {
                        await run.AddAsync(item, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                    // The batch stopped; nothing more to feed.
                }
                finally
                {
                    run.CompleteInput();
                }
            });

            await foreach (var e in run.Events.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return e;
            }

            await feeder.ConfigureAwait(false);
            await run.Completion.ConfigureAwait(false);
        }

        /// <summary>Adds an item; waits while the engine's input is full (backpressure).</summary>
        /// <param name="item">The item.</param>
        /// <param name="cancellationToken">Stops waiting.</param>
        /// <returns>A task that ends when the item is queued.</returns>
        public async ValueTask AddAsync(WorkItem item, CancellationToken cancellationToken = default)
        {
            if (!TryAdd(item))
            {
                // TryAdd has noted a given id already.
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _cts.Token);
                await _input.Writer.WriteAsync(item, linked.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _accepted);
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
            var signals = new List<Task> { _events.Reader.WaitToReadAsync().AsTask(), Completion };
            if (wantRoom)
            {
                signals.Add(_input.Writer.WaitToWriteAsync().AsTask());
            }

            return Task.WhenAny(signals);
        }

        /// <summary>Adds an item if the input has room.</summary>
        /// <param name="item">The item.</param>
        /// <returns>False when the input is full (or the batch has stopped).</returns>
        public bool TryAdd(WorkItem item)
        {
            if (item is null)
            {
                throw new ArgumentNullException(nameof(item));
            }

            if (_cts.IsCancellationRequested)
            {
                return false;
            }

            // In input order (one writer), so "first" is the earlier item whatever order the workers take them in.
            if (item.IdGiven)
            {
                _givenIds.GetOrAdd(item.Id, item.Index);
            }

            ClaimSourceStem(item);

            if (!_input.Writer.TryWrite(item))
            {
                return false;
            }

            Interlocked.Increment(ref _accepted);
            return true;
        }

        /// <summary>
        /// Gives an image item its output name, in input order: its source's file name, or, when an earlier item of the batch
        /// has that name already (IMG.png from two folders), the name and the start of its content hash, so no output is
        /// lost to another. File names are compared without case, as Windows and macOS do.
        /// </summary>
        private void ClaimSourceStem(WorkItem item)
        {
            if (OutputFiles.SourceStemOf(item) is not string stem || _sourceStems.ContainsKey(item.Id))
            {
                return;
            }

            var owner = _stemOwners.GetOrAdd(stem, item.Id);
            _sourceStems[item.Id] = owner == item.Id ? stem : stem + "-" + (item.Image!.Sha256 ?? item.Id).Substring(0, 8);
        }

        private string? SourceStemFor(WorkItem item) => _sourceStems.TryGetValue(item.Id, out var stem) ? stem : null;

        /// <summary>Says that no more items will come; the batch ends when the queued ones are done.</summary>
        public void CompleteInput()
        {
            _inputComplete = true;
            _input.Writer.TryComplete();
        }

        /// <summary>Stops the batch (as Ctrl+C does).</summary>
        public void Cancel() => _cts.Cancel();

        /// <summary>The batch's progress now.</summary>
        /// <returns>A snapshot.</returns>
        public BatchProgress Snapshot()
        {
            var elapsed = _options.Time.GetElapsedTime(_startTimestamp);
            var done = Interlocked.Read(ref _done);
            var failed = Interlocked.Read(ref _failed);
            var accepted = Interlocked.Read(ref _accepted);
            // A shared batch's runner cannot know its share in advance.
            long? total = _store.Shared ? null : _inputComplete ? accepted : _options.ExpectedTotal is long expected ? Math.Max(expected, accepted) : null;
            var finished = done + failed;
            return new BatchProgress
            {
                Total = total,
                Done = done,
                Failed = failed,
                OutcomeUnknown = Interlocked.Read(ref _unknown),
                InFlight = Interlocked.Read(ref _inFlight),
                WaitingOnRateLimit = _client.RateLimitWaiting,
                Retries = Interlocked.Read(ref _retries),
                CreditsUsed = Interlocked.Read(ref _credits),
                Elapsed = elapsed,
                ItemsPerMinute = elapsed.TotalMinutes > 0 ? finished / elapsed.TotalMinutes : 0,
                Remaining = total is long t && finished > 0 ? TimeSpan.FromTicks((long)(elapsed.Ticks * (double)(t - finished) / finished)) : null,
                LastPrompt = _lastPrompt,
            };
        }

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

        private static void PrepareOutputDirectory(string directory)
        {
            if (File.Exists(directory))
            {
                throw new ArgumentException($"The output directory '{directory}' is a file.", nameof(directory));
            }

            try
            {
                Directory.CreateDirectory(directory);
                var probe = Path.Combine(directory, ".abstrakt-write-test-" + Guid.NewGuid().ToString("N"));
                File.WriteAllBytes(probe, Array.Empty<byte>());
                File.Delete(probe);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"The output directory '{directory}' cannot be written: {ex.Message}", nameof(directory), ex);
            }
        }

        private ResiliencePipeline BuildPipeline()
        {
            var builder = new ResiliencePipelineBuilder { TimeProvider = _options.Time };
            builder.AddTimeout(new TimeoutStrategyOptions { Timeout = _options.ItemTimeout });
            if (_options.MaxRetry > 0)
            {
                builder.AddRetry(new RetryStrategyOptions
                {
                    ShouldHandle = args => new ValueTask<bool>(args.Outcome.Exception is AbstraktApiException { Kind: ErrorKind.Retryable } ex && !HintPastDeadline(args.Context, ex)),
                    MaxRetryAttempts = _options.MaxRetry,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = _options.RetryBaseDelay,
                    MaxDelay = TimeSpan.FromSeconds(30),
                    DelayGenerator = args =>
                    {
                        var ex = args.Outcome.Exception as AbstraktApiException;
                        // A 429 already paused the shared rate gate for every worker: no extra wait here.
                        TimeSpan? delay = ex?.Code == ErrorCodes.RateLimited || ex?.StatusCode == 429 ? TimeSpan.Zero : ex?.RetryAfter;
                        return new ValueTask<TimeSpan?>(delay);
                    },
                    OnRetry = args =>
                    {
                        Interlocked.Increment(ref _retries);
                        if (args.Context.Properties.TryGetValue(ItemKey, out var item) && args.Outcome.Exception is AbstraktApiException ex)
                        {
                            Note(item, $"retry {args.AttemptNumber + 1} of {_options.MaxRetry} in {args.RetryDelay.TotalSeconds:0.##} s after {ex.Code}: {ex.Message}");
                        }

                        return default;
                    },
                });
            }

            return builder.Build();
        }

        private static readonly ResiliencePropertyKey<WorkItem> ItemKey = new ResiliencePropertyKey<WorkItem>("abstrakt.item");
        private static readonly ResiliencePropertyKey<long> StartedKey = new ResiliencePropertyKey<long>("abstrakt.started");

        /// <summary>True when the server asks for a wait that ends past the item's deadline: fail now, with the server's reason.</summary>
        private bool HintPastDeadline(ResilienceContext context, AbstraktApiException ex)
        {
            if (ex.RetryAfter is not TimeSpan hint || !context.Properties.TryGetValue(StartedKey, out var started))
            {
                return false;
            }

            var left = _options.ItemTimeout - _options.Time.GetElapsedTime(started);
            if (hint < left)
            {
                return false;
            }

            if (context.Properties.TryGetValue(ItemKey, out var item))
            {
                Note(item, $"not retrying: the server asked to wait {hint.TotalSeconds:0.#} s, past the item's deadline ({left.TotalSeconds:0.#} s left)");
            }

            return true;
        }

        private async Task WorkerAsync()
        {
            var token = _cts.Token;
            try
            {
                while (!token.IsCancellationRequested && await _store.NextAsync(_input.Reader, token).ConfigureAwait(false) is { } work)
                {
                    await ProcessAsync(work.Item, work.Prior, token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Stopping: dispatch ends at once.
            }
            catch (Exception ex)
            {
                // ProcessAsync reports every item's failure itself; reaching here is a bug. End the batch, never hang it.
                FailUnexpected(ex);
            }
        }

        private async Task ProcessAsync(WorkItem item, JournalEntry? prior, CancellationToken token)
        {
            var state = new ItemState(_options.Time.GetTimestamp());
            if (_options.TraceRequests)
            {
                // Flows into every request this item makes, retries and polls included.
                AbstraktClient.CurrentTrace.Value = message => Note(item, message);
            }

            Interlocked.Increment(ref _inFlight);
            var context = ResilienceContextPool.Shared.Get(token);
            context.Properties.Set(ItemKey, item);
            context.Properties.Set(StartedKey, state.Started);
            try
            {
                if (item.IdGiven && _givenIds.TryGetValue(item.Id, out var first) && first != item.Index)
                {
                    // Not journaled: the journal keys records by id, and this one would overwrite the first item's.
                    var duplicate = new AbstraktApiException(ErrorCodes.DuplicateId, $"Item {item.Index} has the id '{item.Id}', which item {first} of this batch already has; ids must be unique, so it was not run.");
                    await FailAsync(item, state, duplicate, journal: false).ConfigureAwait(false);
                    return;
                }

                if (!await ResumeAsync(item, prior, state).ConfigureAwait(false))
                {
                    return;
                }

                var result = await _pipeline.ExecuteAsync((ctx, s) => new ValueTask<ItemCompleted>(AttemptAsync(item, s, ctx.CancellationToken)), context, state).ConfigureAwait(false);
                if (!result.Submitted && !await RecordAsync(item, s => s.CompletedAsync(result)).ConfigureAwait(false))
                {
                    Note(item, "another runner of the shared batch finished this item first; its result stands");
                    return;
                }

                Interlocked.Increment(ref _done);
                Interlocked.Add(ref _credits, result.CreditsUsed);
                await EmitAsync(result).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Stopped mid-item: the job, if created, is cancelled in FinishAsync or left to resume.
            }
            catch (TimeoutRejectedException ex)
            {
                await FailAsync(item, state, new AbstraktApiException(ErrorCodes.Deadline, $"The item did not finish within {_options.ItemTimeout.TotalSeconds:0.#} s.", null, null, ex) { JobId = state.JobId }).ConfigureAwait(false);
            }
            catch (AbstraktApiException ex) when (ex.Kind == ErrorKind.BatchFatal && !(ex.Code == ErrorCodes.ModelNotFound && item.Model is not null && !string.Equals(item.Model, _options.DefaultModel, StringComparison.OrdinalIgnoreCase)))
            {
                Fail(new BatchFatalException(ex.Message, ex));
            }
            catch (AbstraktApiException ex) when (ex.Code == ErrorCodes.Transport && _client.Answers == _answersAtStart)
            {
                // Retries spent and not one request of the batch answered: failing every item the same way
                // would only be slower and noisier. The item stays unfinished in the journal for a resume.
                var endpoint = _client.Options.Endpoint.GetLeftPart(UriPartial.Authority);
                Fail(new BatchFatalException($"Cannot reach {endpoint}: {ex.Message} No request of this batch was answered.", new AbstraktApiException(ErrorCodes.Unreachable, $"Cannot reach {endpoint}.", null, ex.Request, ex)));
            }
            catch (AbstraktApiException ex)
            {
                await FailAsync(item, state, ex).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Anything else (a full disk, a file in the way, a bug) is this item's failure, or the batch's end.
                var failure = LocalFailure.For(item, ex);
                if (failure.Kind == ErrorKind.BatchFatal)
                {
                    Fail(new BatchFatalException(failure.Message, failure));
                }
                else
                {
                    await FailAsync(item, state, failure).ConfigureAwait(false);
                }
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
                Interlocked.Decrement(ref _inFlight);
                _lastPrompt = item.Prompt;
            }
        }

        /// <summary>Applies what the store knows of the item; false when nothing is left to do.</summary>
        private async Task<bool> ResumeAsync(WorkItem item, JournalEntry? entry, ItemState state)
        {
            if (entry is not null)
            {
                // An image item is found by its content (its id), wherever the file now sits: no position to compare.
                var byContent = item.Image is not null && !item.IdGiven;
                if (!byContent && (entry.Id != item.Id || entry.Prompt != item.Prompt || !SameJson(entry.InputJson, item.InputJson) || !string.Equals(entry.Model, item.Model, StringComparison.OrdinalIgnoreCase)))
                {
                    var what = entry.Prompt != item.Prompt ? $"prompt '{Short(entry.Prompt)}' in the journal, '{Short(item.Prompt)}' now"
                        : !string.Equals(entry.Model, item.Model, StringComparison.OrdinalIgnoreCase) ? $"model '{entry.Model}' in the journal, '{item.Model}' now"
                        : entry.Id != item.Id ? $"id '{entry.Id}' in the journal, '{item.Id}' now"
                        : $"input {entry.InputJson} in the journal, {item.InputJson} now";
                    Fail(new BatchFatalException($"The input differs from the journal at item {item.Index}: {what}.", new JournalException("resume input differs", "JournalDiffers")));
                    return false;
                }

                switch (entry.State)
                {
                    case "completed":
                        Interlocked.Increment(ref _done);
                        await EmitAsync(new ItemCompleted { Item = item, Model = item.Model ?? _options.DefaultModel, JobId = entry.JobId ?? string.Empty, Urls = entry.Urls, Files = entry.Files, CreditsUsed = entry.Credits, FromJournal = true }).ConfigureAwait(false);
                        return false;
                    // An unknown outcome is sent again only when asked for by name: -RetryFailed is not enough.
                    case "failed" when entry.ErrorCode == ErrorCodes.OutcomeUnknown ? !_options.ResubmitUnknown : !_options.RetryFailed:
                        await ReportAsync(new ItemFailed { Item = item, Error = new AbstraktApiException(entry.ErrorCode ?? ErrorCodes.Transport, "(from the journal) " + entry.ErrorMessage), Attempts = 0 }).ConfigureAwait(false);
                        return false;
                    case "sent" when !_options.ResubmitUnknown:
                        // The batch ended (a crash, say) with a create on the wire: a job may exist that no one can name.
                        await FailAsync(item, state, Unknown("the batch ended before the create was answered", null)).ConfigureAwait(false);
                        return false;
                    case "sending" when !_options.ResubmitUnknown:
                        // A runner of a shared batch sent (or was about to send) a create and died before it recorded the job id.
                        await FailAsync(item, state, Unknown("a runner that stopped had sent the create and never recorded its job id", null)).ConfigureAwait(false);
                        return false;
                    case "created":
                        state.JobId = entry.JobId;
                        state.Resubmissions = entry.Resubmissions;
                        return true;
                    case "cancelled":
                        state.Resubmissions = entry.Resubmissions + 1;
                        return true;
                    default:
                        state.Resubmissions = entry.Resubmissions;
                        return true;
                }
            }

            await RecordAsync(item, s => s.AcceptedAsync(item)).ConfigureAwait(false);
            return true;
        }

        /// <summary>
        /// Before paying for a job: a source-named output already in the folder (a re-run without -Force) would be refused
        /// after the download, so refuse it now. Only for a new job: a re-attached one may have written that file itself.
        /// </summary>
        private void RefuseATakenOutput(WorkItem item)
        {
            if (_options.OutputDirectory is string directory && !_options.Force && SourceStemFor(item) is string stem
                && OutputFiles.ExistingSourceOutput(directory, stem) is string taken)
            {
                throw new AbstraktApiException(ErrorCodes.OutputExists, $"The output '{taken}' already exists; nothing was sent (add -Force to replace it).");
            }
        }

        /// <summary>One attempt: create (or re-attach), wait for the job to end, download its outputs.</summary>
        private async Task<ItemCompleted> AttemptAsync(WorkItem item, ItemState state, CancellationToken token)
        {
            state.Attempts++;
            Inject(ItemStage.Create, item);
            var model = item.Model ?? _options.DefaultModel;
            JobInfo job;
            if (state.JobId is not null)
            {
                try
                {
                    job = await _client.WaitForJobAsync(state.JobId, token).ConfigureAwait(false);
                }
                catch (AbstraktApiException ex) when (ex.Code == ErrorCodes.JobNotFound)
                {
                    // Expired or unknown: its output was never received, so submit again under a new key.
                    Note(item, $"job {state.JobId} is gone ({ex.Code}); submitting again");
                    Forget(item, state, resubmit: true);
                    job = await CreateAsync(item, model, state, token).ConfigureAwait(false);
                }
            }
            else
            {
                RefuseATakenOutput(item);
                job = await CreateAsync(item, model, state, token).ConfigureAwait(false);
            }

            Inject(ItemStage.Wait, item);
            if (!job.IsTerminal && _options.WebhookUrl is not null && _options.Webhooks is null)
            {
                // Submit-only: a receiver elsewhere collects the result; the journal has the job id.
                _unfinishedJobs.TryRemove(item.Id, out _);
                return new ItemCompleted { Item = item, Model = job.ModelId ?? model, JobId = job.JobId, Attempts = state.Attempts, Duration = _options.Time.GetElapsedTime(state.Started), Submitted = true };
            }

            if (!job.IsTerminal && _options.Webhooks is { } inbox)
            {
                job = await inbox.WaitAsync(job.JobId, _options.WebhookWait, token).ConfigureAwait(false) ?? job;
                if (!job.IsTerminal)
                {
                    Note(item, $"no webhook for job {job.JobId} within {_options.WebhookWait.TotalSeconds:0.#} s; polling");
                }
            }

            if (!job.IsTerminal)
            {
                var firstPoll = _durations.FirstPoll(job.ModelId ?? model);
                Note(item, $"job {job.JobId} is {job.Status.ToString().ToLowerInvariant()}; polling in {firstPoll.TotalSeconds:0.##} s");
                await _options.Time.Delay(firstPoll, token).ConfigureAwait(false);
                job = await _client.WaitForJobAsync(job.JobId, token).ConfigureAwait(false);
            }

            _durations.Observe(job.ModelId ?? model, job.Duration);

            if (job.Status != JobStatus.Completed)
            {
                var code = job.Status == JobStatus.Cancelled ? Cancelled : job.ErrorCode ?? ErrorCodes.InferenceFailed;
                var failure = new AbstraktApiException(code, job.ErrorMessage ?? $"The job ended {job.Status.ToString().ToLowerInvariant()}.") { JobId = job.JobId };
                Forget(item, state, resubmit: failure.Kind == ErrorKind.Retryable);
                throw failure;
            }

            _unfinishedJobs.TryRemove(item.Id, out _);
            var files = _options.OutputDirectory is null ? Array.Empty<string>() : await OutputFiles.DownloadAsync(_client, _options.OutputDirectory, OutputFiles.NameFor(item, SourceStemFor(item), _options.Force), job, _options.AllowPrivateOutputHost, stage => Inject(stage, item), token).ConfigureAwait(false);
            return new ItemCompleted
            {
                Item = item,
                Model = job.ModelId ?? model,
                JobId = job.JobId,
                Urls = job.Outputs.Select(o => o.Url).ToList(),
                Files = files,
                Attempts = state.Attempts,
                Duration = _options.Time.GetElapsedTime(state.Started),
                CreditsUsed = job.CreditsUsed ?? 0,
            };
        }

        private async Task<JobInfo> CreateAsync(WorkItem item, string model, ItemState state, CancellationToken token)
        {
            var input = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (item.Prompt.Length > 0)
            {
                input[model.IndexOf("tts", StringComparison.OrdinalIgnoreCase) >= 0 && !item.Input.ContainsKey("prompt") ? "text" : "prompt"] = item.Prompt;
            }

            foreach (var pair in item.Input)
            {
                input[pair.Key] = pair.Value;
            }

            if (item.Image is not null)
            {
                input[await ImageFieldAsync(model, token).ConfigureAwait(false)] = item.Image;
            }

            // Same item, same key. Sent but never relied on (the real service may ignore it); a service that honours
            // it dedupes a create retried after an unknown outcome. The canonical input in it keeps two inputs apart.
            // A header holds ASCII only: an id such as 'café' goes in as its hash.
            var key = _batchId + ":" + HeaderSafe(item.Id) + ":" + CanonicalHash(model, input) + (state.Resubmissions > 0 ? ":" + state.Resubmissions : string.Empty);
            // sync:false: the job id comes back at once and is recorded before any wait, so a stop can cancel the job
            // and a resume (or another runner) re-attaches to it. "sent" is recorded as the request goes on the wire (not
            // while it waits for the rate limit), so only a crash mid-create leaves an unknown outcome to a resume. A
            // shared store also records the create before it is sent, and checks this runner still owns the item.
            if (_store.Shared && !await RecordAsync(item, s => s.SendingAsync(item, state.Resubmissions)).ConfigureAwait(false))
            {
                throw new OperationCanceledException("Another runner owns this item now.");
            }

            var resubmissions = state.Resubmissions;
            using var guard = new CreateGuard(token, _consumerGone.Token);
            var request = new RunRequest
            {
                Model = model, Input = input, IdempotencyKey = key, WebhookUrl = _options.WebhookUrl, Sync = _options.SyncCreates && !_store.Shared,
                Sending = () =>
                {
                    guard.Sending();
                    Record(item, store => store.Sent(item, resubmissions));
                },
            };
            JobInfo job;
            try
            {
                job = await _client.RunAsync(request, guard.Token).ConfigureAwait(false);
            }
            catch (AbstraktApiException ex) when (ex.OutcomeUnknown && !_options.ResubmitUnknown)
            {
                throw Unknown(ex.Message, ex);
            }
            catch (AbstraktApiException ex) when (!ex.OutcomeUnknown)
            {
                // Answered, or refused before anything was sent: no job exists unnamed.
                Record(item, store => store.Unsent(item));
                throw;
            }

            state.JobId = job.JobId;
            await RecordAsync(item, s => s.CreatedAsync(item, job.JobId, state.Resubmissions)).ConfigureAwait(false);
            if (!job.IsTerminal)
            {
                _unfinishedJobs[item.Id] = (item, job.JobId);
            }

            return job;
        }

        /// <summary>The field a model takes its image in, read once per model and batch from its input schema.</summary>
        private Task<string> ImageFieldAsync(string model, CancellationToken token) =>
            _imageFields.GetOrAdd(model, m => new Lazy<Task<string>>(async () =>
            {
                try
                {
                    var info = await _client.GetModelAsync(m, token).ConfigureAwait(false);
                    return ImageField.From(info.InputSchema) ?? ImageField.Default;
                }
                catch (AbstraktApiException ex)
                {
                    // Asked again next time; a retryable failure retries the item, any other lets the run itself
                    // answer (an unknown model, or a wrong field the service rejects).
                    _imageFields.TryRemove(m, out _);
                    if (ex.Kind == ErrorKind.Retryable)
                    {
                        throw;
                    }

                    return ImageField.Default;
                }
            })).Value;

        private void Forget(WorkItem item, ItemState state, bool resubmit)
        {
            _unfinishedJobs.TryRemove(item.Id, out _);
            if (resubmit)
            {
                state.JobId = null;
                state.Resubmissions++;
            }
        }

        private static AbstraktApiException Unknown(string why, AbstraktApiException? cause) => new AbstraktApiException(
            ErrorCodes.OutcomeUnknown,
            $"The create's answer was lost ({why}): the service may have made a billed job that cannot be named, so the item was not sent again. -ResubmitUnknown sends it again.",
            cause?.StatusCode,
            cause?.Request,
            cause);

        /// <summary>Reports a failed item.</summary>
        private async Task FailAsync(WorkItem item, ItemState state, AbstraktApiException error, bool journal = true)
        {
            if (_unfinishedJobs.TryRemove(item.Id, out var running))
            {
                // The item gives up on a job that is still running (its deadline passed, its polls kept failing): left
                // alone it would finish and be billed for nothing. Cancelled jobs are not charged.
                using var budget = new CancellationTokenSource(CancelBudget);
                await CancelRemoteAsync(item, running.JobId, budget.Token).ConfigureAwait(false);
            }
            try
            {
                if (journal && !await RecordAsync(item, s => s.FailedAsync(item, error.Code, error.Message)).ConfigureAwait(false))
                {
                    Note(item, "another runner of the shared batch finished this item first; its outcome stands");
                    return;
                }
            }
            catch (Exception ex)
            {
                // The failure cannot be journaled: the item stays unfinished there, so a resume runs it again.
                if (LocalFailure.For(item, ex) is { Kind: ErrorKind.BatchFatal } fatal)
                {
                    Fail(new BatchFatalException(fatal.Message, fatal));
                }
            }

            await ReportAsync(new ItemFailed { Item = item, Error = error, Attempts = state.Attempts }).ConfigureAwait(false);
        }

        /// <summary>Counts a failure, live or from the journal, and hands it to the consumer.</summary>
        private ValueTask ReportAsync(ItemFailed failed)
        {
            Interlocked.Increment(ref _failed);
            if (failed.Error.Code == ErrorCodes.OutcomeUnknown)
            {
                Interlocked.Increment(ref _unknown);
            }

            return EmitAsync(failed);
        }

        /// <summary>Writes one record of an item to the store (a test may inject a fault first); false when the store did not take it.</summary>
        /// <summary>Writes one synchronous record for an item (a test may inject a fault first).</summary>
        private void Record(WorkItem item, Action<IBatchStore> write)
        {
            if (_store.Description is not null)
            {
                Inject(ItemStage.Journal, item);
            }

            write(_store);
        }

        private Task<bool> RecordAsync(WorkItem item, Func<IBatchStore, Task<bool>> write)
        {
            if (_store.Description is not null)
            {
                Inject(ItemStage.Journal, item);
            }

            return write(_store);
        }

        private void Inject(ItemStage stage, WorkItem item) => _options.FaultInjection?.Invoke(stage, item);

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
                    await CancelUnfinishedJobsAsync().ConfigureAwait(false);
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

        /// <summary>How long cancelling remote jobs may take, so a stop or a failure never waits on a slow service.</summary>
        private static readonly TimeSpan CancelBudget = TimeSpan.FromSeconds(1.5);

        /// <summary>Cancels the remote jobs this batch created and did not see finish (cancelled jobs are not charged).</summary>
        private async Task CancelUnfinishedJobsAsync()
        {
            using var budget = new CancellationTokenSource(CancelBudget);
            await Task.WhenAll(_unfinishedJobs.Values.Select(p => CancelRemoteAsync(p.Item, p.JobId, budget.Token))).ConfigureAwait(false);
        }

        /// <summary>Cancels one remote job whose id is known (a create on the wire at the stop was let finish, so its id is).</summary>
        private async Task CancelRemoteAsync(WorkItem item, string jobId, CancellationToken token)
        {
            try
            {
                // A cancel can lose the race with completion: only the service's word makes it cancelled.
                // Otherwise the journal keeps the job as created, so a resume re-attaches to it instead of paying twice.
                var after = await _client.CancelJobAsync(jobId, token).ConfigureAwait(false);
                if (after.Status == JobStatus.Cancelled)
                {
                    await _store.CancelledAsync(item, jobId).ConfigureAwait(false);
                }
            }
            catch (Exception)
            {
                // Best effort (a failed request, a full disk): the journal still has the job id, so a resume re-attaches to it.
            }
        }

        // Two paths into the one bounded channel: notes and progress snapshots may be dropped when the consumer
        // lags (a newer one follows); results and failures, live or replayed, wait for room and are never lost.
        private void Note(WorkItem item, string message) => _events.Writer.TryWrite(new ItemNote { Item = item, Message = message });

        private ValueTask EmitAsync(BatchEvent e) => _events.Writer.WriteAsync(e, _consumerGone.Token);

        private static bool SameJson(string a, string b)
        {
            if (string.Equals(a, b, StringComparison.Ordinal))
            {
                return true;
            }

            using var x = JsonDocument.Parse(a);
            using var y = JsonDocument.Parse(b);
            return JsonValues.ToUtf8(JsonValues.ToPlain(x.RootElement)).SequenceEqual(JsonValues.ToUtf8(JsonValues.ToPlain(y.RootElement)));
        }

        /// <summary>A hash of what is sent: the model and the input with its keys in ordinal order.</summary>
        private static string CanonicalHash(string model, Dictionary<string, object?> input) =>
            WorkItem.Hash(model + "\n" + System.Text.Encoding.UTF8.GetString(JsonValues.ToUtf8(new SortedDictionary<string, object?>(input, StringComparer.Ordinal))), 8);

        /// <summary>An id as it may stand in a header: itself when plain printable ASCII, else a hash of it.</summary>
        private static string HeaderSafe(string id) =>
            id.All(c => c > ' ' && c < 127 && c != ':') ? id : "h" + WorkItem.Hash(id, 8);

        private static string Short(string text) => text.Length <= 40 ? text : text.Substring(0, 40) + "…";

        private sealed class ItemState
        {
            public ItemState(long started) => Started = started;

            public long Started { get; }
            public string? JobId { get; set; }
            public int Resubmissions { get; set; }
            public int Attempts { get; set; }
        }
    }
}
