using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;

namespace Abstrakt.Core.Tests;

/// <summary>Issue #15: a journal has one owner at a time, holds one batch, and says where it is malformed.</summary>
public sealed class JournalTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "abstrakt-journal-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public void Journal_OpenedTwice_TheSecondIsJournalInUseNamingTheFileAndTheOwner_UntilTheFirstIsReleased()
    {
        var path = Path.Combine(_dir, "batch.jsonl");
        var first = Journal.Open(path, resume: false, "flux-schnell");

        var ex = Assert.Throws<JournalException>(() => Journal.Open(path, resume: true, "flux-schnell"));
        Assert.Equal("JournalInUse", ex.ErrorId);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("process " + Environment.ProcessId, ex.Message, StringComparison.Ordinal);

        first.Dispose();
        using var second = Journal.Open(path, resume: true, "flux-schnell");
        Assert.Equal(first.BatchId, second.BatchId);
    }

    [Fact]
    public async Task TwoBatchesOnOneJournal_TheSecondCannotStart_AndTheFirstCreatesEachJobOnce()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = ChaosTests.ClientFor(sandbox);
        var path = Path.Combine(_dir, "batch.jsonl");
        using var run = BatchRun.Start(client, new BatchOptions { JournalPath = path });

        var ex = Assert.Throws<JournalException>(() => BatchRun.Start(client, new BatchOptions { JournalPath = path, Resume = true }));

        Assert.Equal("JournalInUse", ex.ErrorId);
        for (var i = 1; i <= 5; i++)
        {
            await run.AddAsync(new WorkItem(i, "shared " + i));
        }

        run.CompleteInput();
        await run.Completion.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(5, sandbox.Stats.JobsCreated);
    }
}

/// <summary>Issue #15: an id names one item; a repeat is that item's error, never another row's output.</summary>
public sealed class DuplicateIdTests
{
    [Fact]
    public async Task ARepeatedId_IsAnItemErrorForTheLaterItem_AndNeverRunsItUnderTheFirstOnesJob()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = ChaosTests.ClientFor(sandbox);
        var items = new[]
        {
            new WorkItem(1, "a red bird", id: "row"),
            new WorkItem(2, "a blue fish", id: "other"),
            new WorkItem(3, "a green cat", id: "row"),
        };

        var (events, fatal) = await ChaosTests.RunToEnd(client, new BatchOptions { ThrottleLimit = 3 }, items);

        Assert.Null(fatal);
        var failed = Assert.Single(events.OfType<ItemFailed>());
        Assert.Equal(3, failed.Item.Index);
        Assert.Equal(ErrorCodes.DuplicateId, failed.Error.Code);
        Assert.Contains("'row'", failed.Error.Message, StringComparison.Ordinal);
        Assert.Contains("item 1", failed.Error.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { "a red bird", "a blue fish" }, events.OfType<ItemCompleted>().OrderBy(c => c.Item.Index).Select(c => c.Item.Prompt));
        Assert.Equal(2, sandbox.Stats.JobsCreated);
    }
}

/// <summary>Issue #15: a job is journaled as cancelled only when the service said so.</summary>
public sealed class CancelRaceTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "abstrakt-cancel-race", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task ACancelThatLosesTheRaceWithCompletion_IsNotJournaledCancelled_AndAResumeReattachesWithoutPayingTwice()
    {
        // The job answers 202, then ends on the service while the engine waits out a long poll delay:
        // the stop's DELETE then meets a completed job.
        using var sandbox = SandboxServer.Start(new SandboxOptions { Tier = SandboxTier.Unlimited, FixedLatency = TimeSpan.FromMilliseconds(300), SyncTimeout = TimeSpan.FromMilliseconds(20) });
        using var client = new AbstraktClient(new AbstraktClientOptions
        {
            Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey, PollInitialDelay = TimeSpan.FromHours(1), PollMaxDelay = TimeSpan.FromHours(1),
        });
        var journal = Path.Combine(_dir, "batch.jsonl");
        var items = new[] { new WorkItem(1, "the race") };
        using (var cts = new CancellationTokenSource())
        {
            using var run = BatchRun.Start(client, new BatchOptions { JournalPath = journal }, cts.Token);
            await run.AddAsync(items[0]);
            run.CompleteInput();
            while (sandbox.Stats.JobsCompleted < 1)
            {
                await Task.Delay(10);
            }

            cts.Cancel();
            await run.Completion.WaitAsync(TimeSpan.FromMinutes(2));
        }

        Assert.Equal(0, sandbox.Stats.JobsCancelled);
        Assert.DoesNotContain("\"cancelled\"", File.ReadAllText(journal), StringComparison.Ordinal);

        using var again = ChaosTests.ClientFor(sandbox);
        var (resumed, fatal) = await ChaosTests.RunToEnd(again, new BatchOptions { JournalPath = journal, Resume = true }, items);
        Assert.Null(fatal);
        Assert.Single(resumed.OfType<ItemCompleted>());
        Assert.Equal(1, sandbox.Stats.JobsCreated);
        Assert.Equal(1, sandbox.Stats.CreditsCharged);
    }
}

/// <summary>Issue #15: every malformed journal is JournalCorrupt, naming the file and the line.</summary>
public sealed class MalformedJournalTests : IDisposable
{
    private const string Batch = "{\"type\":\"batch\",\"batch_id\":\"b1\",\"model\":\"flux-schnell\"}";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "abstrakt-malformed", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Theory]
    [InlineData("{\"type\":\"accepted\",\"id\":\"x\",\"index\":\"five\"}", "")]
    [InlineData("{\"type\":\"created\",\"id\":\"x\",\"resubmissions\":1.5}", "")]
    [InlineData("{\"type\":\"completed\",\"id\":\"x\",\"urls\":[1,2]}", "")]
    [InlineData("[1,2,3]", "not an object")]
    [InlineData("{\"type\":\"accepted\",\"index\":1}", "no id")]
    [InlineData("{\"type\":\"mystery\",\"id\":\"x\"}", "unknown record type")]
    [InlineData("{\"type\":\"batch\",\"batch_id\":\"b2\",\"model\":\"flux-schnell\"}", "second batch record")]
    public void AJournalLineOfValidJsonButTheWrongShape_IsJournalCorruptNamingFileAndLine(string line, string says)
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "batch.jsonl");
        File.WriteAllText(path, Batch + "\n" + line + "\n{\"type\":\"accepted\",\"id\":\"y\",\"index\":2}\n");

        var ex = Assert.Throws<JournalException>(() => Journal.Open(path, resume: true, "flux-schnell"));

        Assert.Equal("JournalCorrupt", ex.ErrorId);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        Assert.Contains(says, ex.Message, StringComparison.Ordinal);
    }
}
