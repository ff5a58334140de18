using Abstrakt.Api;
using Abstrakt.Engine;
using Microsoft.Extensions.Time.Testing;

namespace Abstrakt.Core.Tests;

/// <summary>A batch's counts and the progress read from them, on a fake clock.</summary>
public sealed class BatchCountersTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Snapshot_CountsRateAndTimeLeft_OnTheClock()
    {
        var counters = new BatchCounters(_time);
        for (var i = 0; i < 4; i++) counters.Accepted();
        counters.InputComplete();
        counters.Started();
        counters.Reported(new ItemCompleted { Item = new WorkItem(1, "a"), CreditsUsed = 2 });
        counters.Reported(new ItemFailed { Item = new WorkItem(2, "b"), Error = new AbstraktApiException(ErrorCodes.OutcomeUnknown, "lost") });
        counters.Ended(new WorkItem(2, "b"));
        _time.Advance(TimeSpan.FromMinutes(1));

        var p = counters.Snapshot(totalKnowable: true, expectedTotal: null, waitingOnRateLimit: 3, retries: 5);

        Assert.Equal((4L, 1L, 1L, 1L, 0L, 2L), (p.Total!.Value, p.Done, p.Failed, p.OutcomeUnknown, p.InFlight, p.CreditsUsed));
        Assert.Equal((3, 5L, "b"), (p.WaitingOnRateLimit, p.Retries, p.LastPrompt));
        Assert.Equal(2.0, p.ItemsPerMinute);
        Assert.Equal(TimeSpan.FromMinutes(1), p.Remaining);
    }

    [Fact]
    public void Reported_AResultFromTheJournal_IsDoneButNotPaidAgain()
    {
        var counters = new BatchCounters(_time);

        counters.Reported(new ItemCompleted { Item = new WorkItem(1, "a"), CreditsUsed = 2, FromJournal = true });

        var p = counters.Snapshot(true, null, 0, 0);
        Assert.Equal((1L, 0L), (p.Done, p.CreditsUsed));
    }

    [Fact]
    public void Snapshot_Total_IsUnknownUntilTheInputEnds_UnlessAnnounced_AndNeverForASharedRunner()
    {
        var counters = new BatchCounters(_time);
        counters.Accepted();
        counters.Accepted();

        Assert.Null(counters.Snapshot(true, null, 0, 0).Total);
        Assert.Equal(10, counters.Snapshot(true, 10, 0, 0).Total);
        Assert.Equal(2, counters.Snapshot(true, 1, 0, 0).Total);
        counters.InputComplete();
        Assert.Equal(2, counters.Snapshot(true, 10, 0, 0).Total);
        Assert.Null(counters.Snapshot(false, 10, 0, 0).Total);
        Assert.Null(counters.Snapshot(true, null, 0, 0).Remaining);
    }
}
