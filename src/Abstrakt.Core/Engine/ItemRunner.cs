using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;
using Abstrakt.Store;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Abstrakt.Engine
{
    /// <summary>What one item's run ends in: a result or a failure to report, the batch's end, both, or nothing (stopped, or another runner finished it).</summary>
    internal readonly struct ItemOutcome
    {
        public static readonly ItemOutcome Nothing = default;

        public ItemOutcome(BatchEvent? result, BatchFatalException? fatal = null)
        {
            Result = result;
            Fatal = fatal;
        }

        /// <summary>An <see cref="ItemCompleted"/> or an <see cref="ItemFailed"/>, live or from the store; null when there is nothing to report.</summary>
        public BatchEvent? Result { get; }

        /// <summary>A failure that ends the whole batch, or null.</summary>
        public BatchFatalException? Fatal { get; }
    }

    /// <summary>
    /// Runs one item's attempts: what the store knew of it, then create (or re-attach), a webhook or polls until its job
    /// ends, and the downloads, retried under one Polly pipeline with the item's deadline. Paying once never depends on
    /// Idempotency-Key (docs/reliability.md): the job id is recorded before any wait, a resume re-attaches to it, and a
    /// create whose answer was lost is reported as OUTCOME_UNKNOWN rather than sent again. One instance serves every
    /// worker of a batch; it keeps the jobs still running, so a stop can cancel them.
    /// </summary>
    internal sealed class ItemRunner
    {
        private const string Cancelled = "JOB_CANCELLED";

        /// <summary>How long cancelling remote jobs may take, so a stop or a failure never waits on a slow service.</summary>
        private static readonly TimeSpan CancelBudget = TimeSpan.FromSeconds(1.5);

        /// <summary>How long a create that waits for its result may still answer after a stop (then its outcome is unknown).</summary>
        private static readonly TimeSpan SyncCreateGrace = TimeSpan.FromSeconds(0.5);

        private static readonly ResiliencePropertyKey<WorkItem> ItemKey = new ResiliencePropertyKey<WorkItem>("abstrakt.item");
        private static readonly ResiliencePropertyKey<long> StartedKey = new ResiliencePropertyKey<long>("abstrakt.started");

        private readonly AbstraktClient _client;
        private readonly BatchOptions _options;
        private readonly IBatchStore _store;
        private readonly OutputDownloader _outputs;
        private readonly Action<WorkItem, string> _note;
        private readonly CancellationToken _consumerGone;
        private readonly ResiliencePipeline _pipeline;
        private readonly FailureClassifier _classifier;
        private readonly ResumeDecider _resume;
        private readonly ModelInputMapper _inputs;
        private readonly JobDurations _durations = new JobDurations();
        private readonly Func<int> _queued;
        private readonly ConcurrentDictionary<string, (WorkItem Item, string JobId)> _unfinishedJobs = new ConcurrentDictionary<string, (WorkItem, string)>(StringComparer.Ordinal);
        // Ids the caller gave, and image items' content ids, with the index of the first item that had each: a repeat is
        // that item's error (the journal keys records by id; the same image, prompt and inputs again is the same work).
        private readonly ConcurrentDictionary<string, long> _uniqueIds = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        private long _retries;
        private long _awaitingResult;

        /// <param name="client">The client.</param>
        /// <param name="options">The batch's options.</param>
        /// <param name="store">Where the items' lives are recorded.</param>
        /// <param name="outputs">The batch's output folder.</param>
        /// <param name="note">Tells the consumer what happens to an item (verbose).</param>
        /// <param name="consumerGone">Cancelled when no one reads the batch's events any more: a create on the wire is abandoned then too.</param>
        /// <param name="queued">How many of the batch's items wait to start.</param>
        public ItemRunner(AbstraktClient client, BatchOptions options, IBatchStore store, OutputDownloader outputs, Action<WorkItem, string> note, CancellationToken consumerGone, Func<int> queued)
        {
            _queued = queued;
            _client = client;
            _options = options;
            _store = store;
            _outputs = outputs;
            _note = note;
            _consumerGone = consumerGone;
            _classifier = new FailureClassifier(options, client);
            _resume = new ResumeDecider(options.RetryFailed, options.ResubmitUnknown);
            _inputs = new ModelInputMapper(client);
            _pipeline = BuildPipeline();
        }

        /// <summary>Retries so far, over every item.</summary>
        public long Retries => Interlocked.Read(ref _retries);

        /// <summary>Creates on the wire now that wait for their result (sync:true): a stop cannot cancel their jobs.</summary>
        public long CreatesAwaitingResult => Interlocked.Read(ref _awaitingResult);

        /// <summary>
        /// Takes note of an item as it enters the batch, in input order (one writer), so "first" is the earlier item whatever
        /// order the workers take them in: its given id, and the output name it takes from its source.
        /// </summary>
        /// <param name="item">The item.</param>
        public void Claim(WorkItem item)
        {
            if (MustBeUnique(item))
            {
                _uniqueIds.GetOrAdd(item.Id, item.Index);
            }

            _outputs.ClaimSourceStem(item);
        }

        /// <summary>A given id, or an image item's content id: another item of the batch may not have it too.</summary>
        private static bool MustBeUnique(WorkItem item) => item.IdGiven || item.Image is not null;

        /// <summary>Runs one item to its end.</summary>
        /// <param name="item">The item.</param>
        /// <param name="prior">What the store knew of it; null when nothing.</param>
        /// <param name="token">The batch's stop.</param>
        /// <returns>What to report.</returns>
        public async Task<ItemOutcome> RunAsync(WorkItem item, JournalEntry? prior, CancellationToken token)
        {
            var state = new ItemState(_options.Time.GetTimestamp());
            if (_options.TraceRequests)
            {
                // Flows into every request this item makes, retries and polls included.
                Api.Handlers.TracingHandler.Sink.Value = message => _note(item, message);
            }

            var context = ResilienceContextPool.Shared.Get(token);
            context.Properties.Set(ItemKey, item);
            context.Properties.Set(StartedKey, state.Started);
            try
            {
                if (MustBeUnique(item) && _uniqueIds.TryGetValue(item.Id, out var first) && first != item.Index)
                {
                    // Not run, nor journaled: the journal keys records by id, and this one would overwrite the first item's.
                    var duplicate = new AbstraktApiException(ErrorCodes.DuplicateId, item.IdGiven
                        ? $"Item {item.Index} has the id '{item.Id}', which item {first} of this batch already has; ids must be unique, so it was not run."
                        : $"Item {item.Index} sends the same image, prompt and inputs as item {first}, so it was not run: the same work is not paid for twice. Item {first}'s result, output or error, stands for both; change an input (such as Seed) to run this one on its own.");
                    return new ItemOutcome(new ItemFailed { Item = item, Error = duplicate });
                }

                var decision = _resume.Decide(item, prior);
                switch (decision.Action)
                {
                    case ResumeAction.InputDiffers:
                        return new ItemOutcome(null, new BatchFatalException(decision.Reason!, new JournalException("resume input differs", "JournalDiffers")));
                    case ResumeAction.ReplayCompleted:
                        return new ItemOutcome(new ItemCompleted { Item = item, Model = item.Model ?? _options.DefaultModel, JobId = prior!.JobId ?? string.Empty, Urls = prior.Urls, Files = prior.Files, CreditsUsed = prior.Credits, FromJournal = true });
                    case ResumeAction.ReplayFailed:
                        return new ItemOutcome(new ItemFailed { Item = item, Error = new AbstraktApiException(prior!.ErrorCode ?? ErrorCodes.Transport, "(from the journal) " + prior.ErrorMessage), Attempts = 0 });
                    case ResumeAction.OutcomeUnknown:
                        return await FailAsync(item, state, Unknown(decision.Reason!, null)).ConfigureAwait(false);
                    case ResumeAction.Fresh:
                        await RecordAsync(item, s => s.AcceptedAsync(item)).ConfigureAwait(false);
                        break;
                }

                state.JobId = decision.JobId;
                state.Resubmissions = decision.Resubmissions;
                var result = await _pipeline.ExecuteAsync((ctx, s) => new ValueTask<ItemCompleted>(AttemptAsync(item, s, ctx.CancellationToken)), context, state).ConfigureAwait(false);
                if (!result.Submitted && !await RecordAsync(item, s => s.CompletedAsync(result)).ConfigureAwait(false))
                {
                    _note(item, "another runner of the shared batch finished this item first; its result stands");
                    return ItemOutcome.Nothing;
                }

                return new ItemOutcome(result);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Stopped mid-item: the job, if created, is cancelled by CancelUnfinishedJobsAsync or left to resume.
                return ItemOutcome.Nothing;
            }
            catch (TimeoutRejectedException ex)
            {
                return await FailAsync(item, state, new AbstraktApiException(ErrorCodes.Deadline, $"The item did not finish within {_options.ItemTimeout.TotalSeconds:0.#} s.", null, null, ex) { JobId = state.JobId }).ConfigureAwait(false);
            }
            catch (AbstraktApiException ex)
            {
                return await FailOrEndAsync(item, state, ex).ConfigureAwait(false);
            }
            catch (Exception ex) when (token.IsCancellationRequested && ex is HttpRequestException or IOException)
            {
                // The network failed as the stop came (the client wraps such a failure only while not stopping): stopped,
                // not a local fault (a download cut as a stop came was reported as a file that could not be written).
                return ItemOutcome.Nothing;
            }
            catch (Exception ex)
            {
                // Anything else (a full disk, a file in the way, a bug) is this item's failure, or the batch's end.
                return await FailOrEndAsync(item, state, LocalFailure.For(item, ex)).ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
        }

        /// <summary>Cancels the remote jobs this batch created and did not see finish (cancelled jobs are not charged).</summary>
        /// <returns>A task that ends when every cancel was answered or the budget ran out.</returns>
        public async Task CancelUnfinishedJobsAsync()
        {
            using var budget = new CancellationTokenSource(CancelBudget);
            await Task.WhenAll(_unfinishedJobs.Values.Select(p => CancelRemoteAsync(p.Item, p.JobId, budget.Token))).ConfigureAwait(false);
        }

        private ResiliencePipeline BuildPipeline()
        {
            var builder = new ResiliencePipelineBuilder { TimeProvider = _options.Time };
            builder.AddTimeout(new TimeoutStrategyOptions { Timeout = _options.ItemTimeout });
            if (_options.MaxRetry > 0)
            {
                builder.AddRetry(CallRetry.Strategy(_options.MaxRetry, _options.RetryBaseDelay, (context, ex) => !HintPastDeadline(context, ex), args =>
                {
                    Interlocked.Increment(ref _retries);
                    if (args.Context.Properties.TryGetValue(ItemKey, out var item) && args.Outcome.Exception is AbstraktApiException ex)
                    {
                        _note(item, CallRetry.Describe(args, _options.MaxRetry, ex));
                    }

                    return default;
                }));
            }

            return builder.Build();
        }

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
                _note(item, $"not retrying: the server asked to wait {hint.TotalSeconds:0.#} s, past the item's deadline ({left.TotalSeconds:0.#} s left)");
            }

            return true;
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
                    _note(item, $"job {state.JobId} is gone ({ex.Code}); submitting again");
                    Forget(item, state, resubmit: true);
                    job = await CreateAsync(item, model, state, token).ConfigureAwait(false);
                }
            }
            else
            {
                _outputs.RefuseTakenOutput(item);
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
                    _note(item, $"no webhook for job {job.JobId} within {_options.WebhookWait.TotalSeconds:0.#} s; polling");
                }
            }

            if (!job.IsTerminal)
            {
                var firstPoll = _durations.FirstPoll(job.ModelId ?? model);
                _note(item, $"job {job.JobId} is {job.Status.ToString().ToLowerInvariant()}; polling in {firstPoll.TotalSeconds:0.##} s");
                await _options.Time.Delay(firstPoll, token).ConfigureAwait(false);
                job = await _client.WaitForJobAsync(job.JobId, token).ConfigureAwait(false);
            }

            _durations.Observe(job.ModelId ?? model, job.Duration);

            if (job.Status != JobStatus.Completed)
            {
                var code = job.Status == JobStatus.Cancelled ? Cancelled : job.ErrorCode ?? ErrorCodes.InferenceFailed;
                var failure = new AbstraktApiException(code, job.ErrorMessage ?? $"The job ended {job.Status.ToString().ToLowerInvariant()}.") { JobId = job.JobId };
                // A job that failed in a passing way (or was cancelled elsewhere) is resubmitted under a new key.
                Forget(item, state, resubmit: FailureClassifier.IsRetryable(failure));
                throw failure;
            }

            _unfinishedJobs.TryRemove(item.Id, out _);
            var files = await _outputs.DownloadAsync(item, job, token).ConfigureAwait(false);
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
            var input = await _inputs.InputForAsync(item, model, token).ConfigureAwait(false);
            var key = ModelInputMapper.IdempotencyKey(_store.BatchId, item, model, input, state.Resubmissions);
            // sync:false: the job id comes back at once and is recorded before any wait, so a stop can cancel the job
            // and a resume (or another runner) re-attaches to it. Where the rate limit's requests are scarce, a create
            // that waits for its result does the work of two requests in one; its price is that a stop during it leaves
            // an unknown outcome, which is reported, never resubmitted unasked (docs/reliability.md). A shared store
            // always records job ids first: other runners take over its items. "sent" is recorded as the request goes
            // on the wire (not while it waits for the rate limit), so only a stop or crash mid-create leaves an unknown
            // outcome to a resume. A shared store also records the create before it is sent, and checks this runner
            // still owns the item.
            if (_store.Shared && !await RecordAsync(item, s => s.SendingAsync(item, state.Resubmissions)).ConfigureAwait(false))
            {
                throw new OperationCanceledException("Another runner owns this item now.");
            }

            var resubmissions = state.Resubmissions;
            using var guard = new CreateGuard(token, _consumerGone, SyncCreateGrace, _options.Time);
            var awaitingResult = false;
            var request = new RunRequest
            {
                Model = model, Input = input, IdempotencyKey = key, WebhookUrl = _options.WebhookUrl,
                Sync = _options.CreateWait == CreateWait.Always && !_store.Shared,
                SyncWhenRequestsScarce = _options.CreateWait == CreateWait.WhenRequestsScarce && !_store.Shared,
                Queued = _queued,
                Sending = waitsForResult =>
                {
                    guard.Sending(waitsForResult);
                    if (waitsForResult && !awaitingResult)
                    {
                        awaitingResult = true;
                        Interlocked.Increment(ref _awaitingResult);
                    }

                    Record(item, store => store.Sent(item, resubmissions));
                },
            };
            JobInfo job;
            try
            {
                job = await _client.RunAsync(request, guard.Token).ConfigureAwait(false);
            }
            catch (AbstraktApiException ex) when (_classifier.IsLostCreate(ex))
            {
                throw Unknown(ex.Message, ex);
            }
            catch (AbstraktApiException ex) when (!ex.OutcomeUnknown)
            {
                // Answered, or refused before anything was sent: no job exists unnamed.
                Record(item, store => store.Unsent(item));
                throw;
            }
            finally
            {
                if (awaitingResult)
                {
                    Interlocked.Decrement(ref _awaitingResult);
                }
            }

            state.JobId = job.JobId;
            await RecordAsync(item, s => s.CreatedAsync(item, job.JobId, state.Resubmissions)).ConfigureAwait(false);
            if (!job.IsTerminal)
            {
                _unfinishedJobs[item.Id] = (item, job.JobId);
            }

            return job;
        }

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

        /// <summary>The item's last failure: the batch's end when it dooms every item, else the item's failure.</summary>
        private async Task<ItemOutcome> FailOrEndAsync(WorkItem item, ItemState state, AbstraktApiException error) =>
            _classifier.BatchFatalFor(item, error) is { } fatal ? new ItemOutcome(null, fatal) : await FailAsync(item, state, error).ConfigureAwait(false);

        /// <summary>Records a failed item (cancelling its job if it still runs) and returns it to report.</summary>
        private async Task<ItemOutcome> FailAsync(WorkItem item, ItemState state, AbstraktApiException error)
        {
            if (_unfinishedJobs.TryRemove(item.Id, out var running))
            {
                // The item gives up on a job that is still running (its deadline passed, its polls kept failing): left
                // alone it would finish and be billed for nothing. Cancelled jobs are not charged.
                using var budget = new CancellationTokenSource(CancelBudget);
                await CancelRemoteAsync(item, running.JobId, budget.Token).ConfigureAwait(false);
            }

            BatchFatalException? fatal = null;
            try
            {
                if (!await RecordAsync(item, s => s.FailedAsync(item, error.Code, error.Message)).ConfigureAwait(false))
                {
                    _note(item, "another runner of the shared batch finished this item first; its outcome stands");
                    return ItemOutcome.Nothing;
                }
            }
            catch (Exception ex)
            {
                // The failure cannot be journaled: the item stays unfinished there, so a resume runs it again.
                fatal = _classifier.BatchFatalFor(item, LocalFailure.For(item, ex));
            }

            return new ItemOutcome(new ItemFailed { Item = item, Error = error, Attempts = state.Attempts }, fatal);
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

        /// <summary>Writes one synchronous record for an item (a test may inject a fault first).</summary>
        private void Record(WorkItem item, Action<IBatchStore> write)
        {
            InjectBeforeRecord(item);
            write(_store);
        }

        /// <summary>Writes one record for an item (a test may inject a fault first); false when the store did not take it.</summary>
        private Task<bool> RecordAsync(WorkItem item, Func<IBatchStore, Task<bool>> write)
        {
            InjectBeforeRecord(item);
            return write(_store);
        }

        private void InjectBeforeRecord(WorkItem item)
        {
            if (_store.Description is not null)
            {
                Inject(ItemStage.Journal, item);
            }
        }

        private void Inject(ItemStage stage, WorkItem item) => _options.FaultInjection?.Invoke(stage, item);

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
