using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Api
{
    /// <summary>What one response said about the rate limit; any part may be missing.</summary>
    internal readonly struct RateHeaders
    {
        public RateHeaders(int? limit, int? remaining, DateTimeOffset? reset, bool refused = false)
        {
            Limit = limit;
            Remaining = remaining;
            Reset = reset;
            Refused = refused;
        }

        /// <summary><c>X-RateLimit-Limit</c>: requests per window.</summary>
        public int? Limit { get; }

        /// <summary><c>X-RateLimit-Remaining</c>: requests left in the window when the server counted this one.</summary>
        public int? Remaining { get; }

        /// <summary><c>X-RateLimit-Reset</c>: when the window next moves (whole seconds on the real service).</summary>
        public DateTimeOffset? Reset { get; }

        /// <summary>The request was refused for the rate limit (HTTP 429): the server did not count it.</summary>
        public bool Refused { get; }
    }

    /// <summary>A request let through the gate: its place in send order and when it went.</summary>
    internal readonly struct RateTicket
    {
        public RateTicket(long sequence, DateTimeOffset sentAt)
        {
            Sequence = sequence;
            SentAt = sentAt;
        }

        public long Sequence { get; }

        public DateTimeOffset SentAt { get; }
    }

    /// <summary>
    /// The rate limit of one endpoint, shared by every request a client sends (so by every worker of a batch), and
    /// driven only by what responses say. While the server's window has not moved (now before <c>Reset</c>), the
    /// gate spends the lowest <c>Remaining</c> answered for that window, less the requests still unanswered (answers
    /// come back out of order), so a batch goes as fast as the window allows and then waits for the reset. Once the
    /// reset has passed it does not guess how much came back (all of it for a fixed window, a slot at a time for a
    /// sliding one): it sends one probe and reads the answer, or, when the probe is slow, lets through what its own
    /// log of sends over the learnt window proves free. Where a Reset in whole seconds hides a sliding window's freed
    /// slot, it may try one request on a guessed whole-second window (<see cref="EarlySlot"/>). A 429 pauses everyone
    /// until the longest hint. A plan may seed the first requests, before any answer; nothing else is assumed.
    /// </summary>
    internal sealed class RateGate
    {
        /// <summary>
        /// Hints beyond this are absurd (the docs name no window over an hour): clamp them. An hour's window announced a
        /// little late and rounded up to the second is not absurd: cut to the hour, its reset would come too early.
        /// </summary>
        internal static readonly TimeSpan MaxWait = TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1);

        /// <summary>A reset already past (a server rounding down, clock skew) means "soon", not "now, again and again".</summary>
        private static readonly TimeSpan MinResetAhead = TimeSpan.FromMilliseconds(50);

        /// <summary>Answers with the same reset within this are the same window (parsing rounds to the millisecond).</summary>
        private static readonly TimeSpan SameReset = TimeSpan.FromMilliseconds(1);

        /// <summary>Slack on the learnt window for jitter between our clock and the server's counting.</summary>
        private static readonly TimeSpan MinMargin = TimeSpan.FromMilliseconds(50);

        private const double WindowMargin = 0.02;

        /// <summary>Guess a whole-second window only when waiting for the Reset would take a quarter longer.</summary>
        private const double WorthGuessing = 1.25;
        private const int MaxLimit = 100_000;

        /// <summary>Before any answer, one request at a time, and one more when none has answered for this long.</summary>
        internal static readonly TimeSpan FirstAnswerPatience = TimeSpan.FromSeconds(2);

        /// <summary>A waiter re-checks at least this often, whatever it waits for.</summary>
        private static readonly TimeSpan MaxNap = TimeSpan.FromSeconds(1);

        private readonly object _lock = new object();
        private readonly TimeProvider _time;
        /// <summary>When recent requests were answered: by then the server had counted them (the own log).</summary>
        private readonly Queue<DateTimeOffset> _counted = new Queue<DateTimeOffset>();
        private TaskCompletionSource<bool> _changed = NewSignal();
        private readonly TaskCompletionSource<bool> _firstOver = NewSignal();
        private long _sent;
        private int _seedLeft;
        private int? _limit;
        /// <summary>The longest Reset less send time answered: the window or more once a request opened one (see <see cref="Learn"/>).</summary>
        private TimeSpan? _learntWindow;
        /// <summary>
        /// Whether the own log holds every request the window counts: not before an answer showed a request alone in
        /// its window. A batch that starts in a window another client filled (a resume right after a stopped batch,
        /// in another runspace) learns a window of a second from the first answers (the oldest of the other's
        /// requests frees first), and its own log, which holds none of them, let bursts into the full window (a
        /// user's try: 8 to 11 requests refused on the resume; the model server: 736 of 1,536).
        /// </summary>
        private bool _ownLogComplete;
        private readonly Dictionary<long, DateTimeOffset> _unanswered = new Dictionary<long, DateTimeOffset>();
        private bool _known;
        private bool _unannounced;
        private int _remaining;
        private DateTimeOffset _resetAt;
        private DateTimeOffset _announced;
        /// <summary>The window is longer than this: every answer's Reset, less the second it may be rounded up by, came after it counted.</summary>
        private TimeSpan _longerThan;
        private Guess _guess;
        private TimeSpan _guessed;
        private long _guessProbe;
        private int _guessesRefused;
        private DateTimeOffset _noGuessUntil;
        private DateTimeOffset _pausedUntil;
        private DateTimeOffset _lastShortAt = DateTimeOffset.MinValue;
        private int _waiting;

        /// <summary>Creates a gate.</summary>
        /// <param name="time">The clock.</param>
        /// <param name="seedRequests">Requests let through before any answer has told the limit (from a plan); 0 sends one probe first.</param>
        public RateGate(TimeProvider time, int seedRequests = 0)
        {
            _time = time;
            _seedLeft = Math.Max(0, seedRequests);
        }

        /// <summary>A budget shared with other runners on the same key, while a shared batch runs; null otherwise.</summary>
        public ISharedRateBudget? Shared { get; set; }

        /// <summary>Ends when the first request is over, answered (with or without a limit) or not: what it could tell is known.</summary>
        public Task FirstRequestOver => _firstOver.Task;

        /// <summary>Requests now waiting on the rate limit.</summary>
        public int Waiting => Volatile.Read(ref _waiting);

        /// <summary>The requests-per-window limit the server announced, once seen.</summary>
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

        /// <summary>
        /// The window length learnt from <c>Reset</c> less send time, the longest seen: the window itself for a sliding
        /// one, up to a second more where the server rounds its reset up to whole seconds; the whole seconds a request
        /// sent early proved, once one did.
        /// </summary>
        public TimeSpan? Window
        {
            get
            {
                lock (_lock)
                {
                    return _guess == Guess.Confirmed ? _guessed : _learntWindow;
                }
            }
        }

        /// <summary>Where the gate stands on sending before a whole-second Reset (see <see cref="EarlySlot"/>).</summary>
        private enum Guess
        {
            Untried,
            Probing,
            Confirmed,
        }

        /// <summary>True while the window's requests are what limits the client (see <see cref="ScarceWith"/>, with nothing queued).</summary>
        public bool RequestsScarce => ScarceWith(0);

        /// <summary>
        /// True while the window's requests are what limits the batch: a request had to wait for the window (or a 429's
        /// pause) within the last window, or the window has not enough left for the requests that want one now (waiting
        /// here, or <paramref name="queued"/> behind them) to be created and polled, two each at least. A request that
        /// can do the work of two (a create that waits for its result instead of being polled) is then worth choosing.
        /// Counting one each, 60 items under a limit of 20 at the default ThrottleLimit let an early create be polled,
        /// and the 61st request took a fourth window (a user's try). Before any answer, true for the first request
        /// only: the limit is unknown, and a request that proves not to fit the window costs a whole window, where
        /// waiting for the first answer costs one job's time.
        /// </summary>
        /// <param name="queued">Requests not at the gate yet that will soon want one: a batch's items still to start.</param>
        /// <returns>Whether requests are scarce.</returns>
        public bool ScarceWith(int queued)
        {
            lock (_lock)
            {
                if (!_known)
                {
                    return !_unannounced && _sent <= 1;
                }

                var now = _time.GetUtcNow();
                var recently = _learntWindow ?? TimeSpan.FromMinutes(1);
                return now - _lastShortAt < recently + Margin(recently) || Budget() < 2 * (Volatile.Read(ref _waiting) + (long)queued);
            }
        }

        /// <summary>Waits until a request may be sent, and counts it as sent.</summary>
        /// <param name="cancellationToken">Cancels the wait.</param>
        /// <returns>The ticket to hand back to <see cref="Observe"/> with the answer.</returns>
        public async Task<RateTicket> WaitTurnAsync(CancellationToken cancellationToken)
        {
            var counted = false;
            RateTicket taken;
            try
            {
                while (true)
                {
                    Task changed;
                    TimeSpan wait;
                    lock (_lock)
                    {
                        if (TryTake(out taken, out wait))
                        {
                            break;
                        }

                        changed = _changed.Task;
                    }

                    if (!counted)
                    {
                        counted = true;
                        Interlocked.Increment(ref _waiting);
                    }

                    // Wake on the deadline, or earlier when an answer or a pause changes what is known.
                    using var nap = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var delay = _time.Delay(wait < MaxNap ? wait : MaxNap, nap.Token);
                    await Task.WhenAny(delay, changed).ConfigureAwait(false);
                    nap.Cancel();
                    cancellationToken.ThrowIfCancellationRequested();
                }

                // This process's turn has come; other runners on the key may hold the next ones.
                if (Shared is { } shared)
                {
                    await shared.WaitTurnAsync(Limit, Window ?? TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
                }

                return taken;
            }
            finally
            {
                if (counted)
                {
                    Interlocked.Decrement(ref _waiting);
                }
            }
        }

        /// <summary>Takes a turn if one is free now; otherwise says how long to wait at most.</summary>
        /// <param name="ticket">The turn taken.</param>
        /// <param name="wait">How long until a turn may be free, when none is now.</param>
        /// <returns>Whether a turn was taken (and counted as sent).</returns>
        internal bool TryTake(out RateTicket ticket, out TimeSpan wait)
        {
            lock (_lock)
            {
                var now = _time.GetUtcNow();
                wait = Admit(now);
                if (wait > TimeSpan.Zero)
                {
                    ticket = default;
                    return false;
                }

                _unanswered[++_sent] = now;
                ticket = new RateTicket(_sent, now);
                return true;
            }
        }

        /// <summary>
        /// Takes in what an answer said. Call it for every ticket, with null when no answer came; again after the
        /// headers is harmless (the pacing handler calls it once more when the request is over).
        /// </summary>
        /// <param name="ticket">The request's ticket.</param>
        /// <param name="headers">The answer's rate headers; null when the request got no answer.</param>
        public void Observe(RateTicket ticket, RateHeaders? headers)
        {
            lock (_lock)
            {
                if (_unanswered.TryGetValue(ticket.Sequence, out var sentAt))
                {
                    _unanswered.Remove(ticket.Sequence);
                    CountedBy(_time.GetUtcNow());
                    if (headers is null && _known && InWindow(sentAt))
                    {
                        // Over with no answer (aborted at a stop, cut, timed out): the server may well have counted it,
                        // so its slot stays spent. Given back, a stop's aborted creates let the next batch send as many
                        // into a full window, and all were refused (a user's try: 8 to 10 of 68 to 70).
                        _remaining = Math.Max(0, _remaining - 1);
                    }
                }

                var movedOn = headers is RateHeaders h && Learn(ticket, h);
                Judge(ticket, headers, movedOn);
                _firstOver.TrySetResult(true);

                Signal();
            }
        }

        /// <summary>
        /// Logs a request as counted by the server at the latest now, when its answer (or its failure) came. Its send
        /// time would be earlier than the server's count by however long the request took to get there (long on a
        /// loaded machine), and a slot released by send time could still be taken on the server.
        /// </summary>
        private void CountedBy(DateTimeOffset answeredAt)
        {
            _counted.Enqueue(answeredAt);
            while (_counted.Count > Math.Max(64, (_limit ?? 0) * 2))
            {
                _counted.Dequeue();
            }
        }

        /// <summary>Pauses every request until <paramref name="delay"/> from now (a 429's hint), at most <see cref="MaxWait"/>.</summary>
        /// <param name="delay">The server's longest hint.</param>
        public void Pause(TimeSpan delay)
        {
            Shared?.Pause(delay);
            lock (_lock)
            {
                var until = _time.GetUtcNow() + (delay > MaxWait ? MaxWait : delay);
                if (until > _pausedUntil)
                {
                    _pausedUntil = until;
                }

                Signal();
            }
        }

        /// <summary>Takes in one answer's headers.</summary>
        /// <returns>Whether the answer told of a later state of the window than any before it.</returns>
        private bool Learn(RateTicket ticket, RateHeaders h)
        {
            if (h.Limit is int limit && limit > 0)
            {
                _limit = Math.Min(limit, MaxLimit);
            }

            if (h.Remaining is not int remaining || h.Reset is not DateTimeOffset announced)
            {
                // A server (or a proxy's error page) that announces no window: only its 429s slow us down.
                _unannounced |= !_known;
                return false;
            }

            var now = _time.GetUtcNow();
            // For the request that opened a window (the first ever, a probe after a reset), reset less send time is the
            // window at least; for any other it may be far less (a sliding window frees the oldest slot, counted long
            // before). So the learnt window is the longest seen, and never forgets it: one learnt from the last few
            // answers only, under creates that wait seconds for their result, shrank to 3 s of a 5 s sliding window
            // and the own log released a burst into it (found by a user's try). An absurd reset says nothing about it;
            // one already past does (a window shorter than a job: a 1 s window and creates that wait 1.2 s).
            var sinceSent = announced - ticket.SentAt;
            if (sinceSent > TimeSpan.Zero && announced <= now + MaxWait && (_learntWindow is null || sinceSent > _learntWindow))
            {
                _learntWindow = sinceSent;
            }

            // Counted alone in its window: nothing of another client's was left in it, so from now on the own log
            // holds every request the window counts (another client on the key aside) and may vouch for slots.
            _ownLogComplete |= _limit is int perWindow && remaining >= perWindow - 1 && !h.Refused;

            if (announced <= now && announced > ticket.SentAt)
            {
                // The window moved while this request was out (a create that waited seconds for its result): its count
                // is of a window gone, and spending it refuses a burst. Only that the window moved is news; what came
                // back, the probe or the own log will tell.
                if (!_known || announced > _announced + SameReset)
                {
                    _known = true;
                    _announced = announced;
                    _resetAt = announced;
                    _remaining = 0;
                }
                else if (announced >= _announced - SameReset && remaining < _remaining)
                {
                    // The window that just reset, answered late: its count still says how much of it was used.
                    _remaining = Math.Max(0, remaining);
                }

                return true;
            }

            var reset = announced > now + MaxWait ? now + MaxWait : announced < now + MinResetAhead ? now + MinResetAhead : announced;
            remaining = Math.Min(Math.Max(0, remaining), _limit ?? MaxLimit);
            // A window is known by the reset announced for it: one answered just before that reset (so waited for at
            // least MinResetAhead) is the same window still, with its count. A reset already past ("soon") is each time
            // a new state.
            var movedOn = !_known || announced > _announced + SameReset || (announced < now && reset > _resetAt + SameReset);
            if (movedOn)
            {
                _known = true;
                _announced = announced;
                _resetAt = reset;
                _remaining = remaining;
            }
            else if (announced >= _announced - SameReset && remaining < _remaining)
            {
                // The same window, answered out of order: the server's count only grows, so the lowest left is the latest.
                _remaining = remaining;
            }

            // Counted by now, and announced at most a second late: the window is longer than that reset less a second
            // from now. A clamped reset says nothing about it.
            if (reset == announced && reset - TimeSpan.FromSeconds(1) - now > _longerThan)
            {
                _longerThan = reset - TimeSpan.FromSeconds(1) - now;
            }

            return movedOn;
        }

        /// <summary>
        /// What is left of the window now: the lowest count the server answered for it, less every request still
        /// unanswered (it may have been counted after that answer). Those sent long before the window began are not in it.
        /// </summary>
        private long Budget()
        {
            var unanswered = 0;
            foreach (var sentAt in _unanswered.Values)
            {
                unanswered += InWindow(sentAt) ? 1 : 0;
            }

            return _remaining - unanswered;
        }

        /// <summary>Whether a request sent then may count in the window now known (sent after the learnt window began).</summary>
        private bool InWindow(DateTimeOffset sentAt) => _learntWindow is not TimeSpan window || sentAt > _resetAt - window - Margin(window);

        private static TimeSpan Margin(TimeSpan window) => TimeSpan.FromTicks(Math.Max(MinMargin.Ticks, (long)(window.Ticks * WindowMargin)));

        /// <summary>Zero or less: send now (and the send is counted). Otherwise: how long to wait at most.</summary>
        private TimeSpan Admit(DateTimeOffset now)
        {
            if (now < _pausedUntil)
            {
                _lastShortAt = now;
                return _pausedUntil - now;
            }

            if (!_known)
            {
                if (_unannounced || _seedLeft > 0)
                {
                    _seedLeft = Math.Max(0, _seedLeft - 1);
                    return TimeSpan.Zero;
                }

                // One request at a time until an answer tells the limit (woken by that answer); a first request that
                // takes long (a create that waits for its job) lets another through now and then.
                var lastSent = DateTimeOffset.MinValue;
                foreach (var sentAt in _unanswered.Values)
                {
                    lastSent = sentAt > lastSent ? sentAt : lastSent;
                }

                return _unanswered.Count == 0 ? TimeSpan.Zero : lastSent + FirstAnswerPatience - now;
            }

            if (now < _resetAt)
            {
                if (Budget() > 0)
                {
                    return TimeSpan.Zero;
                }

                var early = EarlySlot(now);
                if (early <= now)
                {
                    return TimeSpan.Zero;
                }

                _lastShortAt = now;
                return (early < _resetAt ? early : _resetAt) - now;
            }

            // The window has moved since the last answer: what came back is unknown. Other runners' requests are not in
            // our own log, so with them only the probe's answer tells.
            var freeAt = Shared is not null ? DateTimeOffset.MaxValue : FreeInOwnLog(now, _guess == Guess.Confirmed ? _guessed : _learntWindow);
            // Free by our own log, or the probe: one request on the reset's word that the window moved, besides what
            // the last answer left. Any request still out past that has taken the probe's place: a guess sent before
            // the reset (users' tries: a probe after it, with creates waiting seconds for their result, was refused),
            // or the slot the own log freed first (at the default ThrottleLimit, a probe after it was refused).
            if (freeAt <= now || Budget() >= 0)
            {
                return TimeSpan.Zero;
            }

            _lastShortAt = now;
            return freeAt - now;
        }

        /// <summary>
        /// When our own sends prove a slot free: fewer than the limit within the learnt window (with a margin). Safe for a
        /// sliding window (the learnt one is never shorter) and for a fixed one (which, once reset, is wholly free).
        /// </summary>
        private DateTimeOffset FreeInOwnLog(DateTimeOffset now, TimeSpan? learnt)
        {
            if (_limit is not int limit || learnt is not TimeSpan window || !_ownLogComplete)
            {
                return DateTimeOffset.MaxValue;
            }

            var span = window + Margin(window);
            var recent = new List<DateTimeOffset>();
            foreach (var counted in _counted)
            {
                if (counted > now - span)
                {
                    recent.Add(counted);
                }
            }

            // Requests still unanswered may be counted at any moment: they hold their slots until answered (an answer
            // wakes the waiters). The logged ones are in time order: a slot is free once all but limit - 1 - unanswered
            // of them have left the window.
            var free = limit - _unanswered.Count;
            if (free <= 0)
            {
                return now + MaxNap;
            }

            return recent.Count < free ? now : recent[recent.Count - free] + span;
        }

        /// <summary>
        /// When a request may go before the Reset of a full window. A server that rounds Reset up to whole seconds
        /// announces a sliding window's slot up to a second after it frees: for a 1 s window, every round then takes
        /// two. So when that second is a large part of the wait, the gate guesses the window is the fewest whole
        /// seconds the answers allow, and sends one request when its own log says the guess frees a slot. Accepted,
        /// the guess paces from then on by the own log; refused (a 429, whose hint is honoured), the gate does not
        /// guess again for a while (<see cref="Judge"/>). A fixed window the batch started part-way through looks the
        /// same for one window, so such a window costs one 429 now and then. Not with other runners on the key: the
        /// own log is ours alone.
        /// </summary>
        private DateTimeOffset EarlySlot(DateTimeOffset now)
        {
            if (Shared is not null)
            {
                return DateTimeOffset.MaxValue;
            }

            if (_guess == Guess.Confirmed)
            {
                return FreeInOwnLog(now, _guessed);
            }

            // Only into a window known full: the server's last word was none left, and nothing sent since is unanswered.
            // Let into a window that had room, a request proves nothing.
            if (_guess != Guess.Untried || now < _noGuessUntil || _remaining > 0 || Budget() < 0 || _learntWindow is not TimeSpan learnt)
            {
                return DateTimeOffset.MaxValue;
            }

            var guess = TimeSpan.FromSeconds(Math.Max(1, Math.Floor(_longerThan.TotalSeconds) + 1));
            if (learnt.Ticks < WorthGuessing * (guess + Margin(guess)).Ticks)
            {
                return DateTimeOffset.MaxValue;
            }

            var at = FreeInOwnLog(now, guess);
            if (at <= now)
            {
                _guess = Guess.Probing;
                _guessed = guess;
                _guessProbe = _sent + 1;
            }

            return at;
        }

        /// <summary>
        /// What an answer says of the guess: the request sent on it was let into the same full window (a slot had
        /// freed: the window slides), or any was refused under it. One that found the window moved on (a fixed window
        /// that reset as it went) or got no answer proves nothing either way. A refusal (which may be another client's
        /// traffic on the key as well as a wrong guess) stops guessing for 8 learnt windows, twice as long each time.
        /// </summary>
        private void Judge(RateTicket ticket, RateHeaders? headers, bool movedOn)
        {
            var refused = headers?.Refused == true;
            if (_guess == Guess.Probing && ticket.Sequence == _guessProbe)
            {
                _guess = !refused && headers is { Remaining: not null } && !movedOn ? Guess.Confirmed : Guess.Untried;
            }
            else if (_guess == Guess.Confirmed && (refused || _longerThan >= _guessed))
            {
                _guess = Guess.Untried;
            }
            else
            {
                return;
            }

            if (refused)
            {
                var learnt = _learntWindow ?? _guessed;
                var pause = TimeSpan.FromTicks(learnt.Ticks * (8L << Math.Min(_guessesRefused++, 16)));
                _noGuessUntil = _time.GetUtcNow() + (pause > MaxWait ? MaxWait : pause);
            }
        }

        private void Signal()
        {
            var changed = _changed;
            _changed = NewSignal();
            changed.TrySetResult(true);
        }

        private static TaskCompletionSource<bool> NewSignal() => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
