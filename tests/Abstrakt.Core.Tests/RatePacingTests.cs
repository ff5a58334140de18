using System.Text;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;

namespace Abstrakt.Core.Tests;

/// <summary>Issue #14: a batch paces itself by what the service's rate-limit headers say, told nothing else.</summary>
public sealed class RatePacingTests
{
    [Theory]
    [InlineData(5.0, RateWindowMode.Fixed)]
    [InlineData(5.0, RateWindowMode.Sliding)]
    [InlineData(1.0, RateWindowMode.Fixed)]
    [InlineData(1.0, RateWindowMode.Sliding)]
    public async Task Run_SixtyItemsUnderAnUnannouncedWindow_AtMostTwoPercentRefusedAndTheWindowIsLearnt(double windowSec, RateWindowMode mode)
    {
        // A stricter server than the default sandbox: 20 requests per window, and a retried create bills again.
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 0, Tier = SandboxTier.Unlimited, RequestsPerWindow = 20,
            RateWindow = TimeSpan.FromSeconds(windowSec), RateWindowMode = mode, IgnoreIdempotencyKey = true,
        });
        // The client gets the address and the key, nothing else.
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey });

        var completed = 0;
        await foreach (var e in BatchRun.RunAsync(client, new BatchOptions { ThrottleLimit = 50, MaxRetry = 10 }, Enumerable.Range(1, 60).Select(i => new WorkItem(i, "paced " + i))))
        {
            completed += e is ItemCompleted ? 1 : 0;
        }

        Assert.Equal(60, completed);
        Assert.True(sandbox.Stats.RateLimited <= 0.02 * sandbox.Stats.RequestsTotal, $"{sandbox.Stats.RateLimited} of {sandbox.Stats.RequestsTotal} requests were answered 429");
        Assert.Equal(20, client.RateLimit);
        // Reset comes in whole seconds, rounded up: the learnt window is the true one to within that second. A fixed
        // window's is only bounded above: each request shows the time left, and on a loaded machine none may be sent
        // right at a reset.
        Assert.NotNull(client.RateLimitWindow);
        Assert.InRange(client.RateLimitWindow!.Value.TotalSeconds, mode == RateWindowMode.Sliding ? windowSec * 0.8 : 0.001, windowSec + 1.1);
    }

    [Theory]
    [InlineData(10, 2.0, 30, null, true)]
    // As Start-AbstraktBatch runs it under a limit of 20: 10 at once (the plan guide), the rest queued. The batch is
    // larger than the window from its first create, so none of them is polled.
    [InlineData(20, 1.0, 60, 10, true)]
    [InlineData(1000, 60.0, 30, null, false)]
    public async Task Run_CreatesWaitForTheirResultOnlyWhileRequestsAreScarce(int limit, double windowSec, int n, int? planConcurrency, bool scarce)
    {
        // Every request counts against the window, polls too (the stricter reading of spec section 6).
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 0, Tier = SandboxTier.Unlimited, RequestsPerWindow = limit,
            RateWindow = TimeSpan.FromSeconds(windowSec), RateWindowMode = RateWindowMode.Fixed, IgnoreIdempotencyKey = true,
        });
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey });

        var completed = 0;
        await foreach (var e in BatchRun.RunAsync(client, new BatchOptions { ThrottleLimit = 50, PlanConcurrency = planConcurrency, MaxRetry = 10 }, Enumerable.Range(1, n).Select(i => new WorkItem(i, "scarce " + i))))
        {
            completed += e is ItemCompleted ? 1 : 0;
        }

        Assert.Equal(n, completed);
        var requests = sandbox.Stats.RequestsTotal;
        if (scarce)
        {
            // Scarce: each create waits for its result, one request per item (a 429 retried aside).
            Assert.InRange(requests, n, n + sandbox.Stats.RateLimited + 2);
        }
        else
        {
            // Plenty: only the first create (sent before the limit was known) waits; the rest return their job id at
            // once and are polled, so a stop can cancel them.
            Assert.True(requests >= (2 * n) - 1, $"{requests} requests for {n} items");
        }
    }

    /// <summary>A fake service that answers every request with a model and these rate headers.</summary>
    private static TestListener ServerWith(params (string Name, string Value)[] headers) => new(string.Empty, async context =>
    {
        foreach (var (name, value) in headers)
        {
            context.Response.Headers[name] = value;
        }

        context.Response.ContentType = "application/json";
        await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes("""{"id":"flux-schnell","name":"FLUX","category":"image"}"""));
        context.Response.Close();
    });

    [Fact]
    public async Task Client_ResetSentAsSecondsFromNow_IsReadAsADelayNotAsA1970Date()
    {
        using var server = ServerWith(("X-RateLimit-Limit", "5"), ("X-RateLimit-Remaining", "4"), ("X-RateLimit-Reset", "30"));
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = server.Url });

        await client.GetModelAsync("flux-schnell");

        Assert.Equal(5, client.RateLimit);
        // Reset less send time: 30 s plus however long the answer took on this machine.
        Assert.InRange(client.RateLimitWindow!.Value.TotalSeconds, 29, 40);
    }

    [Fact]
    public async Task Client_AbsurdRateHeaders_AreIgnoredAndRequestsStillGo()
    {
        using var server = ServerWith(("X-RateLimit-Limit", "-3"), ("X-RateLimit-Remaining", "lots"), ("X-RateLimit-Reset", "1e300"));
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = server.Url });

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("flux-schnell", (await client.GetModelAsync("flux-schnell").WaitAsync(TimeSpan.FromSeconds(30))).Id);
        }

        Assert.Null(client.RateLimit);
        Assert.Null(client.RateLimitWindow);
    }
}
