using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Abstrakt.Sandbox;

namespace Abstrakt.Core.Tests;

/// <summary>Issue #14: the switches that let the sandbox play a stricter server than its default.</summary>
public sealed class SandboxSwitchesTests
{
    private static HttpClient Http(SandboxServer sandbox)
    {
        var http = new HttpClient { BaseAddress = sandbox.Uri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", sandbox.ApiKey.Reveal());
        return http;
    }

    private static string Header(HttpResponseMessage response, string name) => response.Headers.GetValues(name).Single();

    [Fact]
    public async Task IgnoreIdempotencyKey_TwoCreatesWithOneKey_MakeTwoBilledJobs()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited, IgnoreIdempotencyKey = true });
        using var http = Http(sandbox);
        var ids = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/flux-schnell/run")
            {
                Content = new StringContent("""{"input":{"prompt":"a kite"}}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", "one-key");
            using var response = await http.SendAsync(request);
            ids.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("job_id").GetString()!);
        }

        Assert.NotEqual(ids[0], ids[1]);
        Assert.Equal(2, sandbox.Stats.JobsByIdempotencyKey["one-key"]);
        Assert.Equal(0, sandbox.Stats.IdempotentReplays);
        Assert.Equal(2, sandbox.Stats.CreditsCharged);
    }

    [Theory]
    [InlineData(RateWindowMode.Fixed)]
    [InlineData(RateWindowMode.Sliding)]
    public async Task RateWindow_AnyLength_ResetIsInWholeSecondsNeverBeforeTheWindowMoves(RateWindowMode mode)
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 0, Tier = SandboxTier.Unlimited, RequestsPerWindow = 100, RateWindow = TimeSpan.FromSeconds(2), RateWindowMode = mode,
        });
        using var http = Http(sandbox);

        // The server counted the request somewhere between these two moments (far apart on a loaded machine).
        var sent = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        using var response = await http.GetAsync("/v1/jobs/job_missing");
        var answered = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

        var reset = long.Parse(Header(response, "X-RateLimit-Reset"), NumberStyles.None, CultureInfo.InvariantCulture);
        Assert.Equal("100", Header(response, "X-RateLimit-Limit"));
        Assert.Equal("99", Header(response, "X-RateLimit-Remaining"));
        if (mode == RateWindowMode.Fixed)
        {
            // The end of the clock-aligned 2 s window the request fell in.
            Assert.Equal(0, reset % 2);
            Assert.InRange(reset, sent, answered + 2);
        }
        else
        {
            // The request's own slot frees 2 s after it, rounded up to the second.
            Assert.InRange(reset, sent + 2, answered + 3);
        }
    }
}
