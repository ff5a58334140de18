using System;
using System.Threading;
using Abstrakt.Api;

namespace Abstrakt.Engine
{
    /// <summary>A batch's counts as its input and workers report them, read at any moment as a <see cref="BatchProgress"/>.</summary>
    internal sealed class BatchCounters
    {
        private readonly TimeProvider _time;
        private readonly long _startTimestamp;
        private long _accepted, _done, _failed, _unknown, _inFlight, _credits;
        private volatile bool _inputComplete;
        private volatile string? _lastPrompt;

        /// <param name="time">The clock the batch's elapsed time and rate are read on.</param>
        public BatchCounters(TimeProvider time)
        {
            _time = time;
            _startTimestamp = time.GetTimestamp();
        }

        /// <summary>An item entered the input.</summary>
        public void Accepted() => Interlocked.Increment(ref _accepted);

        /// <summary>No more items will come: the total is what was accepted.</summary>
        public void InputComplete() => _inputComplete = true;

        /// <summary>Whether the input has ended (no more items will come).</summary>
        public bool InputEnded => _inputComplete;

        /// <summary>A worker took an item.</summary>
        public void Started() => Interlocked.Increment(ref _inFlight);

        /// <summary>A worker is done with an item, whatever came of it.</summary>
        /// <param name="item">The item.</param>
        public void Ended(WorkItem item)
        {
            Interlocked.Decrement(ref _inFlight);
            _lastPrompt = item.Prompt;
        }

        /// <summary>An item's result or failure, live or from the journal, as it is handed to the consumer.</summary>
        /// <param name="result">An <see cref="ItemCompleted"/> or an <see cref="ItemFailed"/>.</param>
        public void Reported(BatchEvent result)
        {
            if (result is ItemCompleted completed)
            {
                Interlocked.Increment(ref _done);
                // A result from the journal was paid for, and counted, by the run that made it.
                Interlocked.Add(ref _credits, completed.FromJournal ? 0 : completed.CreditsUsed);
            }
            else if (result is ItemFailed failed)
            {
                Interlocked.Increment(ref _failed);
                Interlocked.Add(ref _unknown, failed.Error.Code == ErrorCodes.OutcomeUnknown ? 1 : 0);
            }
        }

        /// <summary>The counts now, with the rate and the time left.</summary>
        /// <param name="totalKnowable">False for a runner of a shared batch, which cannot know its share in advance.</param>
        /// <param name="expectedTotal">The total the caller announced before the input ended, if any.</param>
        /// <param name="waitingOnRateLimit">Requests held back by the rate limit now.</param>
        /// <param name="retries">Retries so far.</param>
        /// <param name="createsAwaitingResult">Creates on the wire now that wait for their result.</param>
        /// <returns>A snapshot.</returns>
        public BatchProgress Snapshot(bool totalKnowable, long? expectedTotal, int waitingOnRateLimit, long retries, long createsAwaitingResult = 0)
        {
            var elapsed = _time.GetElapsedTime(_startTimestamp);
            var done = Interlocked.Read(ref _done);
            var failed = Interlocked.Read(ref _failed);
            var accepted = Interlocked.Read(ref _accepted);
            long? total = !totalKnowable ? null : _inputComplete ? accepted : expectedTotal is long expected ? Math.Max(expected, accepted) : null;
            var finished = done + failed;
            return new BatchProgress
            {
                Total = total,
                Done = done,
                Failed = failed,
                OutcomeUnknown = Interlocked.Read(ref _unknown),
                InFlight = Interlocked.Read(ref _inFlight),
                CreatesAwaitingResult = createsAwaitingResult,
                WaitingOnRateLimit = waitingOnRateLimit,
                Retries = retries,
                CreditsUsed = Interlocked.Read(ref _credits),
                Elapsed = elapsed,
                ItemsPerMinute = elapsed.TotalMinutes > 0 ? finished / elapsed.TotalMinutes : 0,
                Remaining = total is long t && finished > 0 ? TimeSpan.FromTicks((long)(elapsed.Ticks * (double)(t - finished) / finished)) : null,
                LastPrompt = _lastPrompt,
            };
        }
    }
}
