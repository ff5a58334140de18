using System.Runtime.InteropServices;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;
using Abstrakt.Tests.Shared;

namespace Abstrakt.Core.Tests;

/// <summary>Issue #15: nothing that happens inside an item, planned or not, can hang a batch.</summary>
public sealed class ChaosTests : IDisposable
{
    // Far beyond what any of these batches needs, even on a loaded machine; reaching it means a hang.
    private static readonly TimeSpan HangDetector = TimeSpan.FromMinutes(2);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "abstrakt-chaos", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    internal static AbstraktClient ClientFor(SandboxServer sandbox) => new(new AbstraktClientOptions
    {
        Endpoint = sandbox.Uri,
        ApiKey = sandbox.ApiKey,
        PollInitialDelay = TimeSpan.FromMilliseconds(20),
        PollMaxDelay = TimeSpan.FromMilliseconds(100),
    });

    /// <summary>Runs a batch to its end and collects its events; fails (never hangs) if the stream does not end.</summary>
    internal static async Task<(List<BatchEvent> Events, BatchFatalException? Fatal)> RunToEnd(AbstraktClient client, BatchOptions options, IEnumerable<WorkItem> items)
    {
        var events = new List<BatchEvent>();
        async Task Collect()
        {
            await foreach (var e in BatchRun.RunAsync(client, options, items))
            {
                events.Add(e);
            }
        }

        try
        {
            await Collect().WaitAsync(HangDetector);
            return (events, null);
        }
        catch (BatchFatalException fatal)
        {
            return (events, fatal);
        }
    }

    /// <summary>An I/O error as the OS reports a full disk.</summary>
    internal static IOException DiskFull() =>
        new("No space left on device", RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? unchecked((int)0x80070070) : 28);

    [Theory]
    [InlineData("Create", "unexpected", ErrorCodes.Unexpected)]
    [InlineData("Wait", "unexpected", ErrorCodes.Unexpected)]
    [InlineData("Download", "unexpected", ErrorCodes.Unexpected)]
    [InlineData("Journal", "unexpected", ErrorCodes.Unexpected)]
    [InlineData("Move", "unexpected", ErrorCodes.Unexpected)]
    [InlineData("Create", "io", ErrorCodes.LocalIo)]
    [InlineData("Download", "io", ErrorCodes.LocalIo)]
    [InlineData("Journal", "io", ErrorCodes.LocalIo)]
    [InlineData("Move", "io", ErrorCodes.LocalIo)]
    public async Task AnExceptionAtAnyStageOfAnItem_FailsThatItemWithAReason_AndTheBatchEnds(string stage, string kind, string expectedCode)
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var where = Enum.Parse<ItemStage>(stage);
        var options = new BatchOptions
        {
            ThrottleLimit = 2, MaxRetry = 3, RetryBaseDelay = TimeSpan.FromMilliseconds(1), ItemTimeout = TimeSpan.FromSeconds(60),
            OutputDirectory = Path.Combine(_dir, "out"), JournalPath = Path.Combine(_dir, "batch.jsonl"),
            FaultInjection = (s, item) =>
            {
                if (s == where && item.Id == "victim")
                {
                    throw kind == "io" ? new IOException("chaos: the file is locked") : new InvalidOperationException("chaos: something nobody planned for");
                }
            },
        };
        var items = new[] { new WorkItem(1, "first"), new WorkItem(2, "second", id: "victim"), new WorkItem(3, "third") };

        var (events, fatal) = await RunToEnd(client, options, items);

        Assert.Null(fatal);
        var failed = Assert.Single(events.OfType<ItemFailed>());
        Assert.Equal("victim", failed.Item.Id);
        Assert.Equal(expectedCode, failed.Error.Code);
        Assert.Contains("victim", failed.Error.Message, StringComparison.Ordinal);
        Assert.Contains("chaos", failed.Error.Message, StringComparison.Ordinal);
        Assert.Equal(new long[] { 1, 3 }, events.OfType<ItemCompleted>().Select(c => c.Item.Index).Order());
    }

    [Theory]
    [InlineData("Move")]
    [InlineData("Journal")]
    [InlineData("Download")]
    public async Task ADiskThatFills_EndsTheBatchWithOneFatalError_AndAResumeCompletesTheRest(string stage)
    {
        // ENOSPC simulated through the injection seam (the tmpfs test below does it for real, where it can).
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var journal = Path.Combine(_dir, "batch.jsonl");
        var output = Path.Combine(_dir, "out");
        var where = Enum.Parse<ItemStage>(stage);
        var calls = 0;
        var options = new BatchOptions
        {
            ThrottleLimit = 4, JournalPath = journal, OutputDirectory = output,
            FaultInjection = (s, _) =>
            {
                if (s == where && Interlocked.Increment(ref calls) > 10)
                {
                    throw DiskFull();
                }
            },
        };
        var items = Enumerable.Range(1, 40).Select(i => new WorkItem(i, "fill " + i)).ToList();

        var (events, fatal) = await RunToEnd(client, options, items);

        Assert.NotNull(fatal);
        Assert.Equal(ErrorCodes.DiskFull, fatal.ApiError?.Code);
        Assert.Contains("disk is full", fatal.Message, StringComparison.Ordinal);
        Assert.InRange(events.OfType<ItemCompleted>().Count(), 1, 39);
        Assert.DoesNotContain(events.OfType<ItemFailed>(), f => f.Error.Code == ErrorCodes.DiskFull);

        var (resumed, again) = await RunToEnd(client, new BatchOptions { ThrottleLimit = 4, JournalPath = journal, Resume = true, OutputDirectory = output }, items);
        Assert.Null(again);
        Assert.Equal(items.Select(i => i.Index), resumed.OfType<ItemCompleted>().Select(c => c.Item.Index).Order());
        Assert.All(sandbox.Stats.JobsByIdempotencyKey.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task AFileThatAppearsBeforeTheMove_IsKept_AndTheItemCompletes()
    {
        // Another worker (or run) finished the same output between the existence check and File.Move.
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var output = Path.Combine(_dir, "out");
        var options = new BatchOptions
        {
            OutputDirectory = output,
            FaultInjection = (s, _) =>
            {
                if (s == ItemStage.Move)
                {
                    var part = Directory.GetFiles(output, "*.part-*").Single();
                    File.WriteAllText(part[..part.LastIndexOf(".part-", StringComparison.Ordinal)], "already here");
                }
            },
        };

        var (events, fatal) = await RunToEnd(client, options, [new WorkItem(1, "raced")]);

        Assert.Null(fatal);
        var file = Assert.Single(Assert.Single(events.OfType<ItemCompleted>()).Files);
        Assert.Equal("already here", File.ReadAllText(file));
        Assert.Empty(Directory.GetFiles(output, "*.part-*"));
    }

    [LinuxRootFact]
    public async Task AThousandItems_OnATmpfsThatFillsHalfWay_EndWithCompletedItemsReportedAndTheRestResumable()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var journal = Path.Combine(_dir, "batch.jsonl");
        // 512x512 outputs of about 25 KB: 12 MB holds about half of them.
        var square = new Dictionary<string, object?> { ["image_size"] = "square" };
        var items = Enumerable.Range(1, 1000).Select(i => new WorkItem(i, "a picture of thing " + i, input: square)).ToList();
        using (var small = new Tmpfs(Path.Combine(_dir, "small"), "12m"))
        {
            var (events, fatal) = await RunToEnd(client, new BatchOptions { ThrottleLimit = 8, JournalPath = journal, OutputDirectory = small.Path, ItemTimeout = TimeSpan.FromSeconds(60) }, items);

            Assert.NotNull(fatal);
            Assert.Equal(ErrorCodes.DiskFull, fatal.ApiError?.Code);
            var completed = events.OfType<ItemCompleted>().ToList();
            Assert.InRange(completed.Count, 100, 900);
            Assert.All(completed.SelectMany(c => c.Files), f => Assert.True(new FileInfo(f).Length > 0, f));
        }

        // The rest resume on a disk with room, and no item creates a second job.
        var (resumed, again) = await RunToEnd(client, new BatchOptions { ThrottleLimit = 8, JournalPath = journal, Resume = true, OutputDirectory = Path.Combine(_dir, "roomy") }, items);
        Assert.Null(again);
        Assert.Equal(1000, resumed.OfType<ItemCompleted>().Select(c => c.Item.Index).Distinct().Count());
        Assert.All(sandbox.Stats.JobsByIdempotencyKey.Values, n => Assert.Equal(1, n));
    }
}

/// <summary>Issue #15: numbers from a hostile or broken server are clamped, never trusted into a hang.</summary>
public sealed class HostileNumbersTests
{
    [Theory]
    [InlineData("duration1e300", 0, null)]
    [InlineData("retry1e300", 0, ErrorCodes.ModelUnavailable)]
    [InlineData("retry1e300", 3, ErrorCodes.ModelUnavailable)]
    [InlineData("retry1e10", 3, ErrorCodes.ModelUnavailable)]
    public async Task AnAbsurdNumberFromTheServer_EndsTheItemAtOnceWithItsRealReason(string kind, int maxRetry, string? expectedCode)
    {
        using var garbage = new GarbageServer(kind);
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = garbage.Uri, ApiKey = new Secret("sk_test_hostile_numbers") });
        var options = new BatchOptions { ThrottleLimit = 1, MaxRetry = maxRetry, RetryBaseDelay = TimeSpan.FromMilliseconds(1), ItemTimeout = TimeSpan.FromSeconds(5) };

        var (events, fatal) = await ChaosTests.RunToEnd(client, options, [new WorkItem(1, "x")]);

        Assert.Null(fatal);
        if (expectedCode is null)
        {
            var done = Assert.Single(events.OfType<ItemCompleted>());
            Assert.Equal(1, done.CreditsUsed);
        }
        else
        {
            // Not DEADLINE_EXCEEDED: a hint past the deadline is not waited for, and the item says why it failed.
            var failed = Assert.Single(events.OfType<ItemFailed>());
            Assert.Equal(expectedCode, failed.Error.Code);
            Assert.Equal(1, failed.Attempts);
            Assert.True(failed.Error.RetryAfter <= TimeSpan.FromMinutes(5), "the hint was not clamped: " + failed.Error.RetryAfter);
        }
    }
}
