using Abstrakt.Api;
using Microsoft.Extensions.Time.Testing;

namespace Abstrakt.Core.Tests;

/// <summary>The rate gate on a fake clock: what it lets through is decided by the answers' headers alone.</summary>
public sealed class RateGateTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private static RateTicket? Turn(RateGate gate) => gate.TryTake(out var ticket, out _) ? ticket : null;

    private static int Turns(RateGate gate, int most)
    {
        var given = 0;
        while (given < most && Turn(gate) is not null)
        {
            given++;
        }

        return given;
    }

    private RateHeaders Answer(int limit, int remaining, TimeSpan resetIn) => new(limit, remaining, _time.GetUtcNow() + resetIn);

    /// <summary>A gate whose first request (its probe) was answered with these headers.</summary>
    private RateGate AfterProbe(int limit, int remaining, TimeSpan resetIn)
    {
        var gate = new RateGate(_time);
        gate.Observe(Turn(gate)!.Value, Answer(limit, remaining, resetIn));
        return gate;
    }

    /// <summary>No turn until <paramref name="held"/> has passed on the clock, then one.</summary>
    private void AssertHeldFor(RateGate gate, TimeSpan held)
    {
        Assert.Null(Turn(gate));
        _time.Advance(held - TimeSpan.FromTicks(1));
        Assert.Null(Turn(gate));
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.NotNull(Turn(gate));
    }

    [Fact]
    public void WaitTurn_BeforeAnyAnswer_SendsOneProbeAlone()
    {
        var gate = new RateGate(_time);

        var probe = Turn(gate);

        Assert.NotNull(probe);
        Assert.Null(Turn(gate));
        gate.Observe(probe!.Value, Answer(20, 19, TimeSpan.FromSeconds(5)));
        Assert.NotNull(Turn(gate));
    }

    [Fact]
    public void WaitTurn_PlanSeed_LetsTheSeedGoBeforeAnyAnswer()
    {
        var gate = new RateGate(_time, seedRequests: 3);

        Assert.Equal(3, Turns(gate, 10));
    }

    [Fact]
    public void WaitTurn_AfterTheReset_TheFirstRequestTheOwnLogFrees_IsTheProbe()
    {
        // 2 per 5 s: the opener at 0 and another at 1 s fill the window.
        var gate = AfterProbe(2, 1, TimeSpan.FromSeconds(5));
        _time.Advance(TimeSpan.FromSeconds(1));
        gate.Observe(Turn(gate)!.Value, Answer(2, 0, TimeSpan.FromSeconds(4)));
        _time.Advance(TimeSpan.FromSeconds(4.2)); // past the reset, and past the opener's slot by the own log

        Assert.NotNull(Turn(gate)); // the opener's slot
        Assert.Null(Turn(gate)); // no probe besides: that request took the slot the reset announced
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(Turn(gate)); // the second slot, by the own log
    }

    [Fact]
    public void WaitTurn_SpendsTheRemainingBudgetThenProbesAtTheReset()
    {
        var gate = new RateGate(_time);
        var probe = Turn(gate)!.Value;
        gate.Observe(probe, Answer(5, 4, TimeSpan.FromSeconds(10)));
        var burst = Enumerable.Range(0, 4).Select(_ => Turn(gate)).ToList();
        foreach (var ticket in burst)
        {
            gate.Observe(ticket!.Value, Answer(5, 0, TimeSpan.FromSeconds(10)));
        }

        Assert.All(burst, t => Assert.NotNull(t));
        Assert.Null(Turn(gate));
        _time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Null(Turn(gate));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        var next = Turn(gate);
        Assert.NotNull(next);
        Assert.Null(Turn(gate)); // one probe until its answer says what came back
        gate.Observe(next!.Value, Answer(5, 4, TimeSpan.FromSeconds(10)));
        Assert.Equal(4, Turns(gate, 10));
        Assert.Equal(5, gate.Limit);
        Assert.Equal(TimeSpan.FromSeconds(10), gate.Window);
    }

    /// <summary>A probe answered "10 per window, 9 left", then three more sent and not yet answered.</summary>
    private (RateGate Gate, List<RateTicket> Sent) ThreeSentAfterAProbe()
    {
        var gate = AfterProbe(10, 9, TimeSpan.FromSeconds(5));
        return (gate, Enumerable.Range(0, 3).Select(_ => Turn(gate)!.Value).ToList());
    }

    [Fact]
    public void Observe_AnswersOutOfOrder_SpendWhatTheLowestCountLeaves()
    {
        var (gate, sent) = ThreeSentAfterAProbe();

        // The server counted the third first and the first last: 6 left after all four.
        gate.Observe(sent[2], Answer(10, 8, TimeSpan.FromSeconds(5)));
        gate.Observe(sent[1], Answer(10, 7, TimeSpan.FromSeconds(5)));
        gate.Observe(sent[0], Answer(10, 6, TimeSpan.FromSeconds(5)));

        Assert.Equal(6, Turns(gate, 20));
    }

    [Fact]
    public void Observe_UnansweredRequests_AreCountedAgainstTheBudget()
    {
        var (gate, sent) = ThreeSentAfterAProbe();

        // The last one sent is answered first; the two before it may reach the server after it.
        gate.Observe(sent[2], Answer(10, 8, TimeSpan.FromSeconds(5)));

        Assert.Equal(6, Turns(gate, 20));
    }

    [Fact]
    public void Observe_AbsurdlyDistantReset_WaitsAtMostAnHourAndAMinute()
    {
        var gate = AfterProbe(10, 0, TimeSpan.FromDays(30));

        AssertHeldFor(gate, TimeSpan.FromMinutes(61));
        Assert.Null(gate.Window); // a clamped reset tells nothing about the window
    }

    [Fact]
    public void Observe_ResetAlreadyPast_ProbesAgainOnlyAfterAnAnswer()
    {
        var gate = AfterProbe(10, 0, TimeSpan.FromSeconds(-10));

        AssertHeldFor(gate, TimeSpan.FromMilliseconds(50));
        Assert.Null(Turn(gate));
    }

    [Fact]
    public void Pause_TooManyRequests_HoldsEveryRequestUntilTheHint()
    {
        var gate = AfterProbe(100, 99, TimeSpan.FromSeconds(60));

        gate.Pause(TimeSpan.FromSeconds(2));

        AssertHeldFor(gate, TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void WaitTurn_AfterTheResetWithTheProbeUnanswered_OwnLogFreesWhatLeftTheLearntWindow()
    {
        var gate = new RateGate(_time);
        gate.Observe(Turn(gate)!.Value, Answer(2, 1, TimeSpan.FromSeconds(1)));
        gate.Observe(Turn(gate)!.Value, Answer(2, 0, TimeSpan.FromSeconds(1)));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(Turn(gate)); // the probe, left unanswered (a slow synchronous run)
        Assert.Null(Turn(gate));
        _time.Advance(TimeSpan.FromMilliseconds(60)); // the two first sends are a learnt window and its margin old

        Assert.Equal(1, Turns(gate, 5));
    }

    [Fact]
    public async Task WaitTurn_HeldBack_IsReleasedByTheAnswerThatFreesIt()
    {
        var gate = new RateGate(_time);
        var probe = Turn(gate)!.Value;
        var waiting = gate.WaitTurnAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, gate.Waiting);

        gate.Observe(probe, Answer(20, 19, TimeSpan.FromSeconds(5)));

        await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task WaitTurn_Cancelled_StopsWaitingAndTakesNoTurn()
    {
        var gate = AfterProbe(10, 0, TimeSpan.FromSeconds(30));
        using var cancel = new CancellationTokenSource();
        var waiting = gate.WaitTurnAsync(cancel.Token);

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, gate.Waiting);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.NotNull(Turn(gate)); // the cancelled wait took no turn: the probe after the reset is free
    }

    [Fact]
    public void RequestsScarce_BeforeAnyAnswer_IsTrueForTheFirstRequestOnly()
    {
        var gate = new RateGate(_time);

        Turn(gate);
        var first = gate.RequestsScarce;
        _time.Advance(TimeSpan.FromSeconds(2));
        Turn(gate);

        Assert.True(first);
        Assert.False(gate.RequestsScarce);
    }

    [Fact]
    public void WaitTurn_FirstAnswerSlow_LetsAnotherRequestThroughEveryTwoSeconds()
    {
        var gate = new RateGate(_time);
        Turn(gate);

        AssertHeldFor(gate, TimeSpan.FromSeconds(2));
        AssertHeldFor(gate, TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void RequestsScarce_AGenerousWindow_IsFalse()
    {
        var gate = AfterProbe(1000, 999, TimeSpan.FromSeconds(60));

        Turns(gate, 10);

        Assert.False(gate.RequestsScarce);
    }

    [Fact]
    public void RequestsScarce_AfterARequestWaitedForTheWindow_IsTrueForAWindowThenFalse()
    {
        var gate = AfterProbe(3, 2, TimeSpan.FromSeconds(5));
        Assert.False(gate.RequestsScarce);
        Assert.Equal(2, Turns(gate, 10));

        Assert.True(gate.RequestsScarce);
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(gate.RequestsScarce);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(gate.RequestsScarce);
    }

    [Fact]
    public void ScarceWith_TooFewLeftToCreateAndPollWhatIsQueued_IsScarceFromTheFirstRequest()
    {
        // 19 left: enough for 9 queued to be created and polled (18 requests), not for 10 (20).
        var gate = AfterProbe(20, 19, TimeSpan.FromSeconds(5));

        Assert.False(gate.ScarceWith(9));
        Assert.True(gate.ScarceWith(10));
    }

    [Fact]
    public void RequestsScarce_APauseFromA429_IsScarce()
    {
        var gate = AfterProbe(1000, 999, TimeSpan.FromSeconds(60));

        gate.Pause(TimeSpan.FromSeconds(3));
        Turn(gate);

        Assert.True(gate.RequestsScarce);
    }

    /// <summary>
    /// A gate 0.3 s into a second whose two requests filled a window of 2 announced to reset at the next whole
    /// second but one: 1.7 s away, so the window is longer than 0.7 s and at most 1.7 s. A 1 s sliding window answers
    /// exactly so.
    /// </summary>
    private RateGate FullUntilAWholeSecondReset(ISharedRateBudget? shared = null)
    {
        _time.Advance(TimeSpan.FromMilliseconds(300));
        var gate = new RateGate(_time) { Shared = shared };
        var reset = new DateTimeOffset(2026, 11, 28, 12, 0, 2, TimeSpan.Zero);
        gate.Observe(Turn(gate)!.Value, new RateHeaders(2, 1, reset));
        gate.Observe(Turn(gate)!.Value, new RateHeaders(2, 0, reset));
        return gate;
    }

    [Fact]
    public void WaitTurn_FullUntilAWholeSecondReset_SendsOneRequestWhenAGuessedWholeSecondFreesASlot()
    {
        var gate = FullUntilAWholeSecondReset();

        AssertHeldFor(gate, TimeSpan.FromMilliseconds(1050)); // a second and the margin after the first was counted
        Assert.Null(Turn(gate)); // one request tries the guess
    }

    [Fact]
    public void Observe_AnAnswerWhoseWindowMovedWhileItWasOut_IsAMovedWindowNotItsStaleCount()
    {
        // A create that waited 3 s for its result, answered with the count of a window that reset 1 s ago (1 left of
        // 3): what is left is what the own log proves, the opener's slot and the one the window left unused. No probe
        // besides: the reset announced the opener's slot, and the slow one may have been counted just before it.
        var gate = AfterProbe(3, 2, TimeSpan.FromSeconds(2));
        var slow = Turn(gate)!.Value;
        var reset = _time.GetUtcNow() + TimeSpan.FromSeconds(2);
        _time.Advance(TimeSpan.FromSeconds(3));

        gate.Observe(slow, new RateHeaders(3, 1, reset));

        Assert.Equal(2, Turns(gate, 10));
    }

    [Fact]
    public void WaitTurn_TheResetPassesWhileTheGuessIsOut_NoSecondProbe()
    {
        // The guess took the slot that freed; a create waiting seconds for its result has not answered yet.
        var gate = FullUntilAWholeSecondReset();
        _time.Advance(TimeSpan.FromMilliseconds(1050));
        Assert.NotNull(Turn(gate));

        _time.Advance(TimeSpan.FromMilliseconds(650)); // at the reset, 12:00:02, before the own log frees the first two

        Assert.Null(Turn(gate));
    }

    [Fact]
    public void Observe_TheGuessLetIntoTheFullWindow_PacesByTheGuessedSecondFromThen()
    {
        var gate = FullUntilAWholeSecondReset();
        _time.Advance(TimeSpan.FromMilliseconds(1050));
        var guess = Turn(gate)!.Value;

        gate.Observe(guess, new RateHeaders(2, 0, new DateTimeOffset(2026, 11, 28, 12, 0, 2, TimeSpan.Zero)));

        Assert.Equal(TimeSpan.FromSeconds(1), gate.Window);
        Assert.NotNull(Turn(gate)); // the second request left the window with the first, long before the reset
        Assert.Null(Turn(gate));
    }

    [Fact]
    public void Observe_TheGuessRefused_WaitsForTheResetsForAWhile()
    {
        var gate = FullUntilAWholeSecondReset();
        _time.Advance(TimeSpan.FromMilliseconds(1050));
        var reset = new DateTimeOffset(2026, 11, 28, 12, 0, 2, TimeSpan.Zero);

        gate.Observe(Turn(gate)!.Value, new RateHeaders(2, 0, reset, refused: true));

        Assert.Equal(TimeSpan.FromSeconds(1.7), gate.Window);
        AssertHeldFor(gate, reset - _time.GetUtcNow());
    }

    [Fact]
    public void Observe_TheGuessFindsTheWindowMovedOn_ProvesNothing()
    {
        // A fixed window that reset as the request went lets it in too: with a later reset, and most of the limit left.
        var gate = FullUntilAWholeSecondReset();
        _time.Advance(TimeSpan.FromMilliseconds(1050));

        gate.Observe(Turn(gate)!.Value, new RateHeaders(2, 1, new DateTimeOffset(2026, 11, 28, 12, 0, 3, TimeSpan.Zero)));

        Assert.NotEqual(TimeSpan.FromSeconds(1), gate.Window);
    }

    [Fact]
    public void Observe_TheGuessAnsweredWithoutACount_ProvesNothingAndIsTriedAgain()
    {
        // A proxy's 502 page carries no rate headers: the server may never have seen the request.
        var gate = FullUntilAWholeSecondReset();
        _time.Advance(TimeSpan.FromMilliseconds(1050));

        gate.Observe(Turn(gate)!.Value, new RateHeaders(null, null, null));

        Assert.NotEqual(TimeSpan.FromSeconds(1), gate.Window);
        Assert.NotNull(Turn(gate)); // a new try: the own log now also holds the unproven one, a slot is still free
    }

    [Fact]
    public void WaitTurn_OtherRunnersOnTheKey_NoGuessAndNoOwnLog()
    {
        // Their requests are in the server's window but not in this gate's own log: only the answers tell.
        var gate = FullUntilAWholeSecondReset(new NoSharedWait());

        AssertHeldFor(gate, TimeSpan.FromMilliseconds(1700)); // the reset, then one probe
        Assert.Null(Turn(gate));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(Turn(gate)); // the probe unanswered: our own sends would say free long ago
    }

    [Fact]
    public void Observe_AnAnswerJustBeforeTheReset_KeepsTheWindowsCount()
    {
        // Answered 20 ms before the reset: the gate waits at least 50 ms for any reset, but the window, and its count, stay.
        var gate = AfterProbe(10, 9, TimeSpan.FromSeconds(1));
        var late = Turn(gate)!.Value;
        var early = Turn(gate)!.Value;
        gate.Observe(early, Answer(10, 2, TimeSpan.FromSeconds(1)));
        _time.Advance(TimeSpan.FromMilliseconds(980));

        gate.Observe(late, Answer(10, 7, TimeSpan.FromMilliseconds(20)));

        Assert.Equal(2, Turns(gate, 10));
    }

    [Fact]
    public void Observe_RequestsOverWithNoAnswer_KeepTheirSlotsSpent()
    {
        // 9 left, and 9 sent: a stop aborts them before any answers. The server had counted them.
        var gate = AfterProbe(10, 9, TimeSpan.FromSeconds(5));
        var aborted = Enumerable.Range(0, 9).Select(_ => Turn(gate)!.Value).ToList();

        aborted.ForEach(ticket => gate.Observe(ticket, null));

        AssertHeldFor(gate, TimeSpan.FromSeconds(5)); // until the reset, then the probe
    }

    [Fact]
    public void WaitTurn_AWindowFullOfAnotherClientsRequests_IsNotFreedByTheOwnLogAtTheReset()
    {
        // The first answer: none left of 20, though this client sent one. The other 19 are someone else's.
        var gate = AfterProbe(20, 0, TimeSpan.FromSeconds(5));
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(1, Turns(gate, 20)); // the probe, and nothing the own log cannot prove
    }

    [Fact]
    public void Observe_CalledAgainAsTheRequestEnds_CountsItOnceInTheOwnLog()
    {
        // At the reset, two of a limit of 3 sent within the learnt window: the own log frees one, then the probe goes.
        var gate = AfterProbe(3, 2, TimeSpan.FromSeconds(1));
        var sent = Turn(gate)!.Value;
        gate.Observe(sent, Answer(3, 1, TimeSpan.FromSeconds(1)));
        gate.Observe(sent, null);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(2, Turns(gate, 5));
    }

    private sealed class NoSharedWait : ISharedRateBudget
    {
        public Task WaitTurnAsync(int? limit, TimeSpan window, CancellationToken cancellationToken) => Task.CompletedTask;

        public void Pause(TimeSpan delay)
        {
        }
    }
}
