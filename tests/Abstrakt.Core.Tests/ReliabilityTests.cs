using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;

namespace Abstrakt.Core.Tests;

/// <summary>Issue #8: faults that real services produce, and a service that answers garbage.</summary>
public sealed class ReliabilityTests
{
    [Fact]
    public async Task Soak_ThousandItemsUnderMixedFaults_EveryItemEndsOnceAndNothingIsChargedTwice()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 0,
            Tier = SandboxTier.Free, // 10 requests a minute and 2 at once...
            TimeScale = 0.002,       // ...with the minute lasting 120 ms
            Seed = 8,
            Faults = new SandboxFaults
            {
                TransientErrorRate = 0.10, CutConnectionRate = 0.05, TimeoutRate = 0.02, TimeoutDelay = TimeSpan.FromSeconds(2),
                InferenceFailureRate = 0.01,
            },
        });
        using var client = new AbstraktClient(new AbstraktClientOptions
        {
            Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey,
            RequestTimeout = TimeSpan.FromMilliseconds(500), PollInitialDelay = TimeSpan.FromMilliseconds(20),
        });
        var options = new BatchOptions
        {
            ThrottleLimit = 8, PlanConcurrency = Plans.Concurrency(AbstraktPlan.Free), MaxRetry = 10,
            RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        };

        var events = new List<BatchEvent>();
        await foreach (var e in BatchRun.RunAsync(client, options, Enumerable.Range(1, 1000).Select(i => new WorkItem(i, "soak " + i))))
        {
            events.Add(e);
        }

        var completed = events.OfType<ItemCompleted>().ToList();
        var failed = events.OfType<ItemFailed>().ToList();
        // Every input item ends exactly once, completed or failed with its reason.
        Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), completed.Select(c => c.Item.Index).Concat(failed.Select(f => f.Item.Index)).Order());
        Assert.All(failed, f => Assert.False(string.IsNullOrEmpty(f.Error.Code)));
        Assert.InRange(failed.Count, 1, 40); // about 1% INFERENCE_FAILED, never retried
        Assert.All(failed, f => Assert.Equal(ErrorCodes.InferenceFailed, f.Error.Code));
        // No item created two jobs; credits charged equal the completed jobs'.
        Assert.All(sandbox.Stats.JobsByIdempotencyKey.Values, n => Assert.Equal(1, n));
        Assert.Equal(completed.Sum(c => c.CreditsUsed), sandbox.Stats.CreditsCharged);
        Assert.Equal(completed.Count, sandbox.Stats.CreditsCharged); // flux-schnell: 1 credit each
        Assert.True(sandbox.Stats.RateLimited > 0 || events.OfType<BatchProgress>().Last().Retries > 0);
    }

    [Fact]
    public async Task UnreachableEndpoint_StopsTheBatchWithOneFatalError_AndAResumeElsewhereLosesNothing()
    {
        var journal = Path.Combine(Path.GetTempPath(), "abstrakt-tests", Guid.NewGuid().ToString("N"), "batch.jsonl");
        var options = new BatchOptions { ThrottleLimit = 3, MaxRetry = 2, RetryBaseDelay = TimeSpan.FromMilliseconds(10), JournalPath = journal };
        var items = Enumerable.Range(1, 30).Select(i => new WorkItem(i, "unreachable " + i)).ToList();

        // Nothing listens on a port that was free a moment ago: every connection is refused.
        using (var down = new AbstraktClient(new AbstraktClientOptions { Endpoint = new Uri(TestListener.FreePrefix("")), ApiKey = new Secret("sk_test_x") }))
        {
            var events = new List<BatchEvent>();
            var fatal = await Assert.ThrowsAsync<BatchFatalException>(async () =>
            {
                await foreach (var e in BatchRun.RunAsync(down, options, items))
                {
                    events.Add(e);
                }
            });

            Assert.Equal(ErrorCodes.Unreachable, fatal.ApiError!.Code);
            Assert.Contains("Cannot reach http://127.0.0.1:", fatal.Message, StringComparison.Ordinal);
            Assert.Empty(events.OfType<ItemFailed>());
        }

        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey });
        var resumed = new List<BatchEvent>();
        await foreach (var e in BatchRun.RunAsync(client, new BatchOptions { ThrottleLimit = 3, JournalPath = journal, Resume = true }, items))
        {
            resumed.Add(e);
        }

        Assert.Equal(items.Select(i => i.Index), resumed.OfType<ItemCompleted>().Select(c => c.Item.Index).Order());
        Assert.Equal(30, sandbox.Stats.JobsCreated);
    }

    [Theory]
    [InlineData("malformed")]
    [InlineData("html502")]
    [InlineData("empty200")]
    [InlineData("huge")]
    [InlineData("scheme")]
    public async Task GarbageFromTheService_IsAClearItemErrorNeverACrashOrHang(string kind)
    {
        using var garbage = new GarbageServer(kind);
        using var client = new AbstraktClient(new AbstraktClientOptions
        {
            Endpoint = garbage.Uri, ApiKey = new Secret("sk_test_garbage"), RequestTimeout = TimeSpan.FromSeconds(10), MaxResponseBytes = 1024 * 1024,
        });
        var dir = Path.Combine(Path.GetTempPath(), "abstrakt-garbage", Guid.NewGuid().ToString("N"));
        var options = new BatchOptions { ThrottleLimit = 1, MaxRetry = 1, RetryBaseDelay = TimeSpan.FromMilliseconds(10), OutputDirectory = dir, ItemTimeout = TimeSpan.FromSeconds(30) };

        var events = new List<BatchEvent>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var e in BatchRun.RunAsync(client, options, [new WorkItem(1, "x")], deadline.Token))
        {
            events.Add(e);
        }

        Assert.False(deadline.IsCancellationRequested, "the batch hung");
        var failure = Assert.Single(events.OfType<ItemFailed>());
        var expected = kind == "scheme" ? ErrorCodes.BadResponse : ErrorCodes.Transport;
        Assert.Equal(expected, failure.Error.Code);
        Assert.Contains(kind switch
        {
            "malformed" => "not JSON",
            "html502" => "502",
            "empty200" => "not JSON",
            "huge" => "larger than",
            _ => "not http or https",
        }, failure.Error.Message, StringComparison.Ordinal);
    }
}
