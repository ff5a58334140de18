using Abstrakt.Engine;
using Microsoft.Extensions.Time.Testing;

namespace Abstrakt.Core.Tests;

/// <summary>When a stop, or the consumer's going, may abort a create: never one whose answer would name its job, unless it takes too long.</summary>
public sealed class CreateGuardTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(0.5);
    private readonly FakeTimeProvider _time = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _consumerGone = new();

    private CreateGuard NewGuard() => new(_stop.Token, _consumerGone.Token, Grace, _time);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BeforeTheCreateIsSent_AStopOrTheConsumersGoing_AbortsItAndNothingIsSent(bool consumerGone)
    {
        using var guard = NewGuard();

        (consumerGone ? _consumerGone : _stop).Cancel();

        Assert.True(guard.Token.IsCancellationRequested);
        Assert.Throws<OperationCanceledException>(() => guard.Sending(waitsForResult: true));
    }

    [Fact]
    public void Stop_ACreateOnTheWireThatReturnsAtOnce_IsNeverAborted()
    {
        using var guard = NewGuard();
        guard.Sending(waitsForResult: false);

        _stop.Cancel();
        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.False(guard.Token.IsCancellationRequested);
    }

    [Fact]
    public void Stop_ACreateWaitingForItsResult_IsAbortedAfterTheGrace()
    {
        using var guard = NewGuard();
        guard.Sending(waitsForResult: true);

        _stop.Cancel();
        _time.Advance(Grace - TimeSpan.FromTicks(1));
        Assert.False(guard.Token.IsCancellationRequested);
        _time.Advance(TimeSpan.FromTicks(1));

        Assert.True(guard.Token.IsCancellationRequested);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ConsumerGone_ACreateOnTheWire_GetsTheGraceToAnswer(bool waitsForResult)
    {
        // Select-Object -First: the batch is torn down, but a create that answers within the grace names its job.
        using var guard = NewGuard();
        guard.Sending(waitsForResult);

        _consumerGone.Cancel();
        _stop.Cancel();
        _time.Advance(Grace - TimeSpan.FromTicks(1));
        Assert.False(guard.Token.IsCancellationRequested);
        _time.Advance(TimeSpan.FromTicks(1));

        Assert.True(guard.Token.IsCancellationRequested);
    }
}
