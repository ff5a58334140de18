using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Api
{
    /// <summary>
    /// The rate limit of one endpoint, shared by every request a client sends (so by every worker of a
    /// batch): a 429 pauses them all until the server's longest hint has passed, and when the plan's rate
    /// is known the gate paces requests with a sliding window so they stay under it instead of bouncing off.
    /// </summary>
    internal sealed class RateGate
    {
        // Spacing slack over the window, so clock and network jitter never push a request over the limit:
        // 2% of the window (1.2 s of a real minute), and never less than jitter itself, which does not
        // shrink with the window.
        private const double WindowMargin = 0.02;
        private static readonly TimeSpan MinMargin = TimeSpan.FromMilliseconds(50);

        private readonly object _lock = new object();
        private readonly TimeProvider _time;
        private readonly TimeSpan _windowWithMargin;
        private readonly Queue<DateTimeOffset> _recentSends = new Queue<DateTimeOffset>();
        private DateTimeOffset _pausedUntil;
        private int? _limit;
        private readonly bool _limitFixed;
        private int _waiting;

        public RateGate(TimeProvider time, TimeSpan window, int? requestsPerWindow)
        {
            _time = time;
            _windowWithMargin = window + TimeSpan.FromTicks(Math.Max(MinMargin.Ticks, (long)(window.Ticks * WindowMargin)));
            _limit = requestsPerWindow;
            _limitFixed = requestsPerWindow.HasValue;
        }

        /// <summary>A budget shared with other runners on the same key, while a shared batch runs; null otherwise.</summary>
        public ISharedRateBudget? Shared { get; set; }

        /// <summary>Requests now waiting on the rate limit.</summary>
        public int Waiting => Volatile.Read(ref _waiting);

        /// <summary>The requests-per-window limit in force, when known.</summary>
        public int? Limit
        {
            get
            {
                lock (_lock)
                {
                    return _limit;
                }
            }
        }

        /// <summary>Waits until a request may be sent, and counts it as sent.</summary>
        public async Task WaitTurnAsync(CancellationToken cancellationToken)
        {
            var counted = false;
            try
            {
                while (true)
                {
                    TimeSpan wait;
                    lock (_lock)
                    {
                        var now = _time.GetUtcNow();
                        wait = NextSlot(now) - now;
                        if (wait <= TimeSpan.Zero)
                        {
                            _recentSends.Enqueue(now);
                            break;
                        }
                    }

                    if (!counted)
                    {
                        counted = true;
                        Interlocked.Increment(ref _waiting);
                    }

                    await _time.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                // This process's turn has come; other runners on the key may hold the next ones.
                if (Shared is { } shared)
                {
                    await shared.WaitTurnAsync(Limit, _windowWithMargin, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                if (counted)
                {
                    Interlocked.Decrement(ref _waiting);
                }
            }
        }

        /// <summary>Pauses every request until <paramref name="delay"/> from now (a 429's hint).</summary>
        public void Pause(TimeSpan delay)
        {
            Shared?.Pause(delay);
            lock (_lock)
            {
                var until = _time.GetUtcNow() + delay;
                if (until > _pausedUntil)
                {
                    _pausedUntil = until;
                }
            }
        }

        /// <summary>Learns the plan's limit from <c>X-RateLimit-Limit</c>, unless the caller fixed it.</summary>
        public void ObserveLimit(int limit)
        {
            lock (_lock)
            {
                if (!_limitFixed && limit > 0)
                {
                    _limit = limit;
                }
            }
        }

        private DateTimeOffset NextSlot(DateTimeOffset now)
        {
            var next = _pausedUntil;
            if (_limit is int limit)
            {
                var span = _windowWithMargin;
                while (_recentSends.Count > 0 && _recentSends.Peek() <= now - span)
                {
                    _recentSends.Dequeue();
                }

                while (_recentSends.Count > limit)
                {
                    _recentSends.Dequeue();
                }

                if (_recentSends.Count >= limit)
                {
                    // The oldest of the last `limit` sends must leave the window first.
                    var oldest = _recentSends.Peek();
                    var free = oldest + span;
                    if (free > next)
                    {
                        next = free;
                    }
                }
            }
            else
            {
                // Unknown limit: remember only a bounded history.
                while (_recentSends.Count > 1000)
                {
                    _recentSends.Dequeue();
                }
            }

            return next;
        }
    }
}
