using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Abstrakt.Sandbox;

namespace Abstrakt.Core.Tests;

/// <summary>
/// The sandbox checked against the wire protocol with a bare HttpClient: no AbstraktClient, no
/// shared parsing code, so a mistake made in both the client and the sandbox cannot hide.
/// </summary>
public sealed class SandboxRawHttpTests
{
    private static HttpClient Http(SandboxServer sandbox, string? key = null)
    {
        var http = new HttpClient { BaseAddress = sandbox.Uri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key ?? sandbox.ApiKey.Reveal());
        return http;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> BodyAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    [Fact]
    public async Task Run_SyncPastTheSyncWindow_Answers202ProcessingWithAJobToPoll()
    {
        // minimax-video: 90 s x 0.02 = 1.8 s, well past a 0.1 s sync window.
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0.02, SyncTimeout = TimeSpan.FromMilliseconds(100) });
        using var http = Http(sandbox);

        using var response = await http.PostAsync("/v1/models/minimax-video/run", Json("""{"input":{"prompt":"waves"},"sync":true}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await BodyAsync(response);
        Assert.Equal("processing", body.GetProperty("status").GetString());
        Assert.Equal("minimax-video", body.GetProperty("model_id").GetString());
        Assert.Contains("/v1/jobs/", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        var jobId = body.GetProperty("job_id").GetString();
        Assert.StartsWith("job_", jobId, StringComparison.Ordinal);

        using var poll = await http.GetAsync($"/v1/jobs/{jobId}");
        Assert.Equal(HttpStatusCode.OK, poll.StatusCode);
        Assert.Contains((await BodyAsync(poll)).GetProperty("status").GetString(), new[] { "pending", "processing" });
    }

    [Fact]
    public async Task Run_SyncWithinTheWindow_Answers200WithOutputItems()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0 });
        using var http = Http(sandbox);

        using var response = await http.PostAsync("/v1/models/flux-schnell/run", Json("""{"input":{"prompt":"a fox","num_images":2}}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await BodyAsync(response);
        Assert.Equal("completed", body.GetProperty("status").GetString());
        Assert.Equal(2, body.GetProperty("output").GetProperty("items").GetArrayLength());
        Assert.Equal(2, body.GetProperty("credits_used").GetInt32());
    }

    [Fact]
    public async Task Retention_ExpiredJobs_AreForgottenOnceTheTableGrows_SoALongLivedSandboxStaysBounded()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var http = Http(sandbox);
        async Task<string> RunAsync(string prompt, string? key = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/flux-schnell/run") { Content = Json($$$"""{"input":{"prompt":"{{{prompt}}}"}}""") };
            if (key is not null)
            {
                request.Headers.Add("Idempotency-Key", key);
            }

            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await BodyAsync(response)).GetProperty("job_id").GetString()!;
        }

        var old = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            old.Add(await RunAsync("old " + i, "old-key-" + i));
        }

        sandbox.ExpireAllJobs();
        const int later = 1030; // past the sweep's 1,024-job threshold
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= later)
            {
                await RunAsync("new " + next);
            }
        }));

        using var stats = await http.GetAsync("/_sandbox/stats");
        Assert.Equal(later, (await BodyAsync(stats)).GetProperty("jobs_held").GetInt32());
        using var gone = await http.GetAsync($"/v1/jobs/{old[0]}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        var again = await RunAsync("old 0", "old-key-0");
        Assert.NotEqual(old[0], again); // the expired key's entry went with its job: a new job, not a replay
    }

    [Fact]
    public async Task RateLimit_OverThePlan_Answers429WithMatchingHintsAndEveryResponseCarriesLimitHeaders()
    {
        // Free: 10 requests a minute; TimeScale 1 keeps the window long enough that the 11th is refused.
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Free });
        using var http = Http(sandbox);

        HttpResponseMessage? limited = null;
        for (var i = 0; i < 12 && limited is null; i++)
        {
            var response = await http.GetAsync("/v1/jobs/job_missing");
            Assert.True(response.Headers.Contains("X-RateLimit-Limit"), $"response {i} ({(int)response.StatusCode}) has no X-RateLimit-Limit");
            Assert.Equal("10", response.Headers.GetValues("X-RateLimit-Limit").Single());
            Assert.True(int.TryParse(response.Headers.GetValues("X-RateLimit-Remaining").Single(), out var remaining) && remaining >= 0);
            var reset = long.Parse(response.Headers.GetValues("X-RateLimit-Reset").Single(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(reset, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 61);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
                Assert.Equal(10, i);
                Assert.Equal("0", response.Headers.GetValues("X-RateLimit-Remaining").Single());
            }
            else
            {
                Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
                response.Dispose();
            }
        }

        Assert.NotNull(limited);
        var error = (await BodyAsync(limited!)).GetProperty("error");
        Assert.Equal("RATE_LIMITED", error.GetProperty("code").GetString());
        var retryAfter = error.GetProperty("retry_after").GetInt32();
        Assert.InRange(retryAfter, 1, 60);
        Assert.Equal(TimeSpan.FromSeconds(retryAfter), limited!.Headers.RetryAfter!.Delta);
        limited.Dispose();
    }

    [Theory]
    [InlineData(null, "UNAUTHORIZED", 401)]
    [InlineData("sk_test_never_issued", "UNAUTHORIZED", 401)]
    [InlineData("ok", "MODEL_NOT_FOUND", 404)]
    [InlineData("ok", "INVALID_INPUT", 400)]
    public async Task Errors_UseTheEnvelopeAndStatusOfTheSpec(string? key, string code, int status)
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0 });
        using var http = new HttpClient { BaseAddress = sandbox.Uri };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key == "ok" ? sandbox.ApiKey.Reveal() : key);
        }

        var path = code == "MODEL_NOT_FOUND" ? "/v1/models/no-such-model/run" : "/v1/models/flux-schnell/run";
        var input = code == "INVALID_INPUT" ? """{"input":{"prompt":"x","image_size":"huge"}}""" : """{"input":{"prompt":"x"}}""";
        using var response = await http.PostAsync(path, Json(input));

        Assert.Equal(status, (int)response.StatusCode);
        var error = (await BodyAsync(response)).GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        if (code == "INVALID_INPUT")
        {
            Assert.Equal("input.image_size", error.GetProperty("details").GetProperty("field").GetString());
        }
    }

    [Fact]
    public async Task Webhook_Delivery_IsSignedOverTimestampDotRawBody_VerifiedByAnIndependentHmac()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0 });
        using var receiver = new WebhookReceiver();
        using var http = Http(sandbox);

        using var response = await http.PostAsync("/v1/models/flux-schnell/run", Json($$"""{"input":{"prompt":"a kite"},"webhook_url":"{{receiver.Url}}"}"""));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var jobId = (await BodyAsync(response)).GetProperty("job_id").GetString();

        await receiver.WaitForAsync(1);
        var delivery = Assert.Single(receiver.Deliveries);
        Assert.NotNull(delivery.Timestamp);
        Assert.InRange(long.Parse(delivery.Timestamp!, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 300, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);

        // HMAC-SHA256(secret, timestamp + "." + raw body), lowercase hex: computed here with the BCL only.
        var message = Encoding.UTF8.GetBytes(delivery.Timestamp + ".").Concat(delivery.Body).ToArray();
        var expected = Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(sandbox.WebhookSecret.Reveal()), message)).ToLowerInvariant();
        Assert.Equal(expected, delivery.Signature);

        var payload = JsonDocument.Parse(delivery.Body).RootElement;
        Assert.Equal(jobId, payload.GetProperty("job_id").GetString());
        Assert.Equal("succeeded", payload.GetProperty("status").GetString());
        Assert.Equal(1, payload.GetProperty("output").GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Webhook_AfterANon2xxAnswer_IsDeliveredAgainWithTheSameBody()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, TimeScale = 0.01 });
        using var receiver = new WebhookReceiver(n => n < 2 ? 500 : 204);
        using var http = Http(sandbox);

        using var response = await http.PostAsync("/v1/models/flux-schnell/run", Json($$"""{"input":{"prompt":"a kite"},"webhook_url":"{{receiver.Url}}"}"""));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        await receiver.WaitForAsync(3);
        await Task.Delay(300); // nothing more may come after the 2xx
        var deliveries = receiver.Deliveries.ToArray();
        Assert.Equal(3, deliveries.Length);
        Assert.All(deliveries, d => Assert.Equal(deliveries[0].Body, d.Body));
        Assert.Equal(1, sandbox.Stats.WebhooksDelivered);
    }
}
