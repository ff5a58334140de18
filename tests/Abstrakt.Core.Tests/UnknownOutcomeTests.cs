using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;

namespace Abstrakt.Core.Tests;

/// <summary>
/// Against a sandbox that ignores Idempotency-Key (as the real service may) and cuts 5% of responses after doing the
/// work: nothing the client does may bill an item twice, and every create whose answer was lost is reported.
/// </summary>
public sealed class UnknownOutcomeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "abstrakt-unknown-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static SandboxServer KeylessSandbox() => SandboxServer.Start(new SandboxOptions
    {
        LatencyScale = 0, Tier = SandboxTier.Unlimited, IgnoreIdempotencyKey = true, Seed = 14,
        Faults = new SandboxFaults { CutConnectionRate = 0.05 },
    });

    private static AbstraktClient ClientFor(SandboxServer sandbox) => new(new AbstraktClientOptions
    {
        Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey,
        PollInitialDelay = TimeSpan.FromMilliseconds(10), PollMaxDelay = TimeSpan.FromMilliseconds(50),
    });

    private static List<WorkItem> Prompts(int count) => Enumerable.Range(1, count).Select(i => new WorkItem(i, "unknown " + i)).ToList();

    private static async Task<List<BatchEvent>> Collect(AbstraktClient client, BatchOptions options, IEnumerable<WorkItem> items)
    {
        var events = new List<BatchEvent>();
        await foreach (var e in BatchRun.RunAsync(client, options, items))
        {
            events.Add(e);
        }

        return events;
    }

    private static HashSet<string> UnknownPrompts(IEnumerable<BatchEvent> events) =>
        events.OfType<ItemFailed>().Where(f => f.Error.Code == ErrorCodes.OutcomeUnknown).Select(f => f.Item.Prompt).ToHashSet();

    [Fact]
    public async Task StoppedAtARandomMomentAndResumed_NoItemIsBilledTwice_AndEveryLostCreateIsReportedAndCounted()
    {
        using var sandbox = KeylessSandbox();
        using var client = ClientFor(sandbox);
        var items = Prompts(500);
        var journal = Path.Combine(_dir, "batch.jsonl");
        var stopAfter = Random.Shared.Next(25, 475);
        var first = new List<BatchEvent>();
        using (var stop = new CancellationTokenSource())
        {
            await foreach (var e in BatchRun.RunAsync(client, new BatchOptions { ThrottleLimit = 8, JournalPath = journal }, items, stop.Token))
            {
                first.Add(e);
                if (e is ItemCompleted or ItemFailed && first.Count(x => x is ItemCompleted or ItemFailed) == stopAfter)
                {
                    stop.Cancel();
                }
            }
        }

        var resumed = await Collect(client, new BatchOptions { ThrottleLimit = 8, JournalPath = journal, Resume = true }, items);

        var because = $"stopped after {stopAfter} items";
        var cut = sandbox.Stats.CutCreatesByPrompt.Keys.ToHashSet();
        Assert.True(cut.Count > 0, "no create was cut: the test proves nothing");
        // Every item ends once in the resumed run: completed, or reported again as an unknown outcome.
        var unknown = UnknownPrompts(resumed);
        Assert.Equal(items.Select(i => i.Index), resumed.OfType<ItemCompleted>().Select(c => c.Item.Index).Concat(resumed.OfType<ItemFailed>().Select(f => f.Item.Index)).Order());
        Assert.All(resumed.OfType<ItemFailed>(), f => Assert.Equal(ErrorCodes.OutcomeUnknown, f.Error.Code));
        // Exactly the creates whose answer was lost are the unknown ones, and the summary counts them.
        Assert.True(cut.SetEquals(unknown), because + $": cut {string.Join(", ", cut.Except(unknown))} not reported; {string.Join(", ", unknown.Except(cut))} reported but not cut");
        Assert.Equal(unknown.Count, resumed.OfType<BatchProgress>().Last().OutcomeUnknown);
        Assert.Subset(UnknownPrompts(resumed), UnknownPrompts(first));
        // No item was billed twice, whether or not the client ever read its job.
        Assert.All(sandbox.Stats.CreditsByPrompt, p => Assert.True(p.Value == 1, $"{because}: '{p.Key}' billed {p.Value} credits"));
        Assert.All(resumed.OfType<ItemCompleted>(), c => Assert.Equal(1, sandbox.Stats.CreditsByPrompt[c.Item.Prompt]));
    }

    [Fact]
    public async Task ResubmitUnknown_OnResume_SendsTheLostCreatesAgain()
    {
        using var sandbox = KeylessSandbox();
        using var client = ClientFor(sandbox);
        var items = Prompts(200);
        var journal = Path.Combine(_dir, "batch.jsonl");
        var first = await Collect(client, new BatchOptions { ThrottleLimit = 8, JournalPath = journal }, items);
        var unknown = UnknownPrompts(first);
        Assert.NotEmpty(unknown);

        // A plain resume reports them again and sends nothing; -RetryFailed is not enough either.
        var created = sandbox.Stats.JobsCreated;
        var again = await Collect(client, new BatchOptions { ThrottleLimit = 8, JournalPath = journal, Resume = true, RetryFailed = true }, items);
        Assert.Equal(unknown, UnknownPrompts(again));
        Assert.Equal(created, sandbox.Stats.JobsCreated);

        sandbox.Faults.CutConnectionRate = 0;
        var resent = await Collect(client, new BatchOptions { ThrottleLimit = 8, JournalPath = journal, Resume = true, ResubmitUnknown = true }, items);

        Assert.Empty(resent.OfType<ItemFailed>());
        Assert.Equal(unknown, resent.OfType<ItemCompleted>().Where(c => !c.FromJournal).Select(c => c.Item.Prompt).ToHashSet());
        Assert.Equal(created + unknown.Count, sandbox.Stats.JobsCreated);
        // Asked for: the service ignores the key, so each lost create's first job and its second are both billed.
        Assert.All(unknown, p => Assert.Equal(2, sandbox.Stats.CreditsByPrompt[p]));
    }

    [Fact]
    public async Task Stop_WhileCreatesWaitForTheirResult_EndsWithoutWaitingForTheJobs_AndTheirOutcomeStaysUnknown()
    {
        // 4 requests a minute, every request counted: the first create goes before the limit is known and waits for
        // its result (sync:true), as do later ones sent while the window is all but spent (how many depends on how
        // many workers queue meanwhile); for a 90-second video no stop may wait for them.
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 1, Tier = SandboxTier.Unlimited, RequestsPerWindow = 4, RateWindow = TimeSpan.FromMinutes(1),
            IgnoreIdempotencyKey = true, SyncTimeout = TimeSpan.FromMinutes(10),
        });
        using var client = ClientFor(sandbox);
        var journal = Path.Combine(_dir, "sync.jsonl");
        using var stop = new CancellationTokenSource();
        using var run = BatchRun.Start(client, new BatchOptions { ThrottleLimit = 6, DefaultModel = "minimax-video", JournalPath = journal }, stop.Token);
        for (var i = 1; i <= 6; i++)
        {
            await run.AddAsync(new WorkItem(i, "clip " + i));
        }

        run.CompleteInput();
        while (sandbox.Stats.JobsCreated < 3)
        {
            await Task.Delay(20);
        }

        await Task.Delay(200);
        var atStop = run.Snapshot();
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        stop.Cancel();
        await run.Completion;
        stopwatch.Stop();

        Assert.InRange(atStop.CreatesAwaitingResult, 1, 3);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(45), "the stop waited for the jobs: " + stopwatch.Elapsed);
        // The journal keeps those that waited as sent (a resume reports them, never sends them again unasked) and names
        // every job whose id came back at once (a resume re-attaches to it; its cancel may find the window spent).
        using var reopened = Journal.Open(journal, resume: true, "minimax-video");
        var states = reopened.Entries.Values.Select(e => e.State).ToList();
        Assert.Equal(atStop.CreatesAwaitingResult, states.Count(state => state == "sent"));
        Assert.All(states, state => Assert.Contains(state, new[] { "accepted", "sent", "created", "cancelled" }));
        Assert.Equal(sandbox.Stats.JobsCreated, states.Count(state => state != "accepted")); // every job the service made: named, or reported unknown
    }
}
