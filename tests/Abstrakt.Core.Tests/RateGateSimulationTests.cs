using Abstrakt.Api;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Abstrakt.Core.Tests;

/// <summary>
/// The rate gate against a model of a strict server on a fake clock: a fixed or sliding window of any length, Reset
/// in whole Unix seconds rounded up (as the service documents), requests counted when they arrive. Every batch start
/// phase within a second is tried, so a result does not hang on where the clock happened to be.
/// </summary>
public sealed class RateGateSimulationTests
{
    private readonly ITestOutputHelper _output;

    public RateGateSimulationTests(ITestOutputHelper output) => _output = output;

    /// <summary>A window server: counts a request at its arrival and answers like the sandbox and the service do.</summary>
    private sealed class WindowServer
    {
        private readonly Queue<DateTimeOffset> _log = new();
        private readonly int _limit;
        private readonly TimeSpan _window;
        private readonly bool _sliding;
        private DateTimeOffset _fixedStart;
        private int _fixedCount;

        public WindowServer(int limit, TimeSpan window, bool sliding)
        {
            _limit = limit;
            _window = window;
            _sliding = sliding;
        }

        /// <summary>Another client's requests, <paramref name="count"/> spread evenly over <paramref name="over"/> before now.</summary>
        public void CountOthers(DateTimeOffset now, int count, TimeSpan over)
        {
            for (var i = count; i > 0; i--)
            {
                Count(now - TimeSpan.FromTicks(over.Ticks * i / (count + 1)));
            }
        }

        public (RateHeaders Headers, TimeSpan? RetryAfter) Count(DateTimeOffset now)
        {
            int used;
            DateTimeOffset reset;
            if (_sliding)
            {
                while (_log.Count > 0 && _log.Peek() <= now - _window)
                {
                    _log.Dequeue();
                }

                used = _log.Count + 1;
                if (used <= _limit)
                {
                    _log.Enqueue(now);
                }

                reset = _log.Peek() + _window;
            }
            else
            {
                var start = DateTimeOffset.UnixEpoch.AddTicks((now - DateTimeOffset.UnixEpoch).Ticks / _window.Ticks * _window.Ticks);
                if (start != _fixedStart)
                {
                    _fixedStart = start;
                    _fixedCount = 0;
                }

                used = _fixedCount + 1;
                _fixedCount = Math.Min(used, _limit);
                reset = start + _window;
            }

            var wholeSeconds = DateTimeOffset.FromUnixTimeSeconds((long)Math.Ceiling((reset - DateTimeOffset.UnixEpoch).TotalSeconds));
            var refused = used > _limit;
            var headers = new RateHeaders(_limit, Math.Max(0, _limit - used), wholeSeconds, refused);
            return (headers, refused ? TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling((reset - now).TotalSeconds))) : null);
        }
    }

    /// <summary>GATE_TRACE=1 writes every send and count to the test output: how a pacing fault is found.</summary>
    private static bool Trace => Environment.GetEnvironmentVariable("GATE_TRACE") == "1";

    private sealed record Outcome(TimeSpan Elapsed, int Requests, int Refused);

    /// <summary>
    /// Runs <paramref name="items"/> requests through <paramref name="gate"/>, at most <paramref name="concurrency"/> at a
    /// time, each taking <paramref name="toServer"/> to arrive and as long again to be answered, after
    /// <paramref name="jobTime"/> when it is let in (a create that waits for its result); a refused one pauses the
    /// gate by its hint (as the client does) and is sent again.
    /// </summary>
    private Outcome Run(FakeTimeProvider time, RateGate gate, WindowServer server, int items, int concurrency, Func<TimeSpan> toServer, Func<TimeSpan>? jobTime = null)
    {
        var start = time.GetUtcNow();
        var events = new PriorityQueue<Action, DateTimeOffset>();
        int left = items, inFlight = 0, requests = 0, refused = 0, done = 0;
        var last = start;
        while (done < items)
        {
            var now = time.GetUtcNow();
            var wait = TimeSpan.MaxValue;
            while (left > 0 && inFlight < concurrency)
            {
                if (!gate.TryTake(out var ticket, out wait))
                {
                    break;
                }

                left--;
                inFlight++;
                requests++;
                if (Trace)
                {
                    _output.WriteLine($"  send {(now - start).TotalSeconds:0.000} #{ticket.Sequence}");
                }

                events.Enqueue(() =>
                {
                    var (headers, retryAfter) = server.Count(time.GetUtcNow());
                    if (Trace)
                    {
                        _output.WriteLine($"  count {(time.GetUtcNow() - start).TotalSeconds:0.000} #{ticket.Sequence} rem {headers.Remaining} reset {(headers.Reset!.Value - start).TotalSeconds:0.000}{(retryAfter is null ? "" : " REFUSED")}");
                    }

                    events.Enqueue(() =>
                    {
                        inFlight--;
                        gate.Observe(ticket, headers);
                        if (retryAfter is TimeSpan hint)
                        {
                            gate.Pause(hint);
                            refused++;
                            left++;
                        }
                        else
                        {
                            done++;
                            last = time.GetUtcNow();
                        }
                    }, time.GetUtcNow() + (retryAfter is null && jobTime is not null ? jobTime() : TimeSpan.Zero) + toServer());
                }, now + toServer());
            }

            var next = events.TryPeek(out _, out var at) ? at : DateTimeOffset.MaxValue;
            if (wait != TimeSpan.MaxValue && left > 0 && inFlight < concurrency && now + wait < next)
            {
                next = now + wait;
            }

            Assert.True(next != DateTimeOffset.MaxValue, "the run stalled: nothing in flight and the gate gave no time to wait");
            time.Advance(next > now ? next - now : TimeSpan.Zero);
            while (events.TryPeek(out var due, out var dueAt) && dueAt <= time.GetUtcNow())
            {
                events.Dequeue();
                due();
            }
        }

        return new Outcome(last - start, requests, refused);
    }

    /// <summary>
    /// The done-when of issue 14 on the model server, from every start phase: 60 items (200 in some rows), 20 requests per
    /// window, told nothing. Within 1.3 of the window-derived ideal and at most 2% of a run's requests refused;
    /// requests take 1 to 40 ms each way, from a seeded generator. A sliding window of no whole seconds defeats the
    /// gate's whole-second guess (one 429, then it paces by the rounded Resets): within 1.6 there.
    /// </summary>
    [Theory]
    [InlineData(1.0, true, 1.3, 60, 50)]
    [InlineData(1.0, false, 1.3, 60, 50)]
    [InlineData(2.0, true, 1.3, 60, 50)]
    [InlineData(5.0, true, 1.3, 60, 50)]
    [InlineData(5.0, false, 1.3, 60, 50)]
    [InlineData(60.0, true, 1.3, 60, 50)]
    [InlineData(60.0, false, 1.3, 60, 50)]
    [InlineData(3600.0, true, 1.3, 60, 50)]
    [InlineData(3600.0, false, 1.3, 60, 50)]
    [InlineData(1.5, true, 1.6, 60, 50)]
    // As Start-AbstraktBatch runs under a limit of 20: 10 at once (the plan guide), so the window is seldom known full.
    [InlineData(1.0, true, 1.3, 60, 10)]
    [InlineData(2.0, false, 1.3, 200, 10)]
    [InlineData(5.0, false, 1.3, 60, 10)]
    [InlineData(5.0, true, 1.3, 200, 10)]
    public void Gate_ItemsUnderAnUnannouncedWindow_NearTheIdealFromAnyStartPhase(double windowSec, bool sliding, double most, int items, int concurrency)
        => RunPhases(windowSec, sliding, most, items, concurrency, null);

    /// <summary>
    /// Creates that wait for their result, as at the sandbox's default latency (found by a user's try, where 10 creates
    /// were let into a full 5 s sliding window at once): each answer comes 1.2 s after the server counted its request.
    /// At most 2% refused, as without the wait. The ideal holds the first answer's wait (one request goes before any
    /// answer) and the last round's job, or is the concurrency's where that binds. Within 1.5 of it: a probe after a
    /// reset is answered a job later, and the rounds of a sliding window stretch by that (docs/benchmarks.md).
    /// </summary>
    [Theory]
    [InlineData(5.0, true, 60, 50, 1.5)]
    [InlineData(5.0, false, 60, 50, 1.5)]
    [InlineData(5.0, true, 60, 10, 1.5)]
    [InlineData(5.0, false, 60, 10, 1.5)]
    [InlineData(1.0, true, 60, 10, 1.5)]
    [InlineData(1.0, false, 60, 10, 1.5)]
    // A window shorter than the job: every answer comes after its window ended, so only the own log paces, a job
    // and a window after each count (it went one request at a time, 75 s, before the stale answers taught the window).
    [InlineData(1.0, false, 60, 50, 1.7)]
    [InlineData(60.0, true, 60, 10, 1.5)]
    public void Gate_CreatesThatWaitForTheirResult_FewRefusedFromAnyStartPhase(double windowSec, bool sliding, int items, int concurrency, double most)
        => RunPhases(windowSec, sliding, most, items, concurrency, TimeSpan.FromSeconds(1.2));

    /// <summary>
    /// A batch started as another one on the key stops (a resume right after a stop, in another runspace): the window
    /// already holds that batch's requests, spread over it. The gate learns of them only from the counts; its own log
    /// must not vouch for their slots until an answer shows a request alone in its window (a user's try: 8 to 11 refused
    /// on the resume; here 736 of 1,536 before). At most 2% refused. Pacing then goes by the counts and a probe after
    /// each reset, slower with creates that wait for their result: within 5 of an ideal that leaves the other's
    /// requests out, a bound against a stall, not a pace.
    /// </summary>
    [Theory]
    [InlineData(5.0, true, 12, 0.0)]
    [InlineData(5.0, true, 19, 0.0)]
    [InlineData(5.0, true, 12, 1.2)]
    [InlineData(5.0, false, 12, 1.2)]
    [InlineData(1.0, true, 15, 0.0)]
    public void Gate_AWindowPartlyFullOfAnotherClientsRequests_FewRefused(double windowSec, bool sliding, int others, double jobSec)
        => RunPhases(windowSec, sliding, 5.0, 60, 10, jobSec > 0 ? TimeSpan.FromSeconds(jobSec) : null, others);

    private void RunPhases(double windowSec, bool sliding, double most, int items, int concurrency, TimeSpan? job, int others = 0)
    {
        const int limit = 20;
        var window = TimeSpan.FromSeconds(windowSec);
        var jobs = job ?? TimeSpan.Zero;
        var byWindow = window * ((items + limit - 1) / limit - 1) + 2 * jobs;
        var byConcurrency = jobs * (1 + (items - 1 + concurrency - 1) / concurrency);
        var ideal = byWindow > byConcurrency ? byWindow : byConcurrency;
        var failures = new List<string>();
        for (var run = 0; run < 20; run++)
        {
            // Start phases spread over the window and over the second, where a whole-second Reset rounds.
            var phase = TimeSpan.FromMilliseconds(run * (windowSec * 50 + 37) + 7);
            var random = new Random(run);
            var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero) + phase);
            Func<TimeSpan>? jobTime = job is TimeSpan j ? () => j + TimeSpan.FromMilliseconds(random.Next(20)) : null;

            var server = new WindowServer(limit, window, sliding);
            server.CountOthers(time.GetUtcNow(), others, window);
            var o = Run(time, new RateGate(time), server, items, concurrency, () => TimeSpan.FromMilliseconds(1 + random.Next(40)), jobTime);

            var ratio = o.Elapsed / ideal;
            _output.WriteLine($"start {phase.TotalSeconds:0.000} s: {o.Elapsed.TotalSeconds:0.000} s, ratio {ratio:0.00}, {o.Refused} of {o.Requests} refused");
            if (ratio > most || o.Refused > 0.02 * o.Requests)
            {
                failures.Add($"started {phase.TotalSeconds:0.000} s in: {ratio:0.00} of the ideal, {o.Refused} of {o.Requests} refused");
            }
        }

        Assert.Empty(failures);
    }
}
