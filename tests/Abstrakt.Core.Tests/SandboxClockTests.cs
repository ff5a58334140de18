using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Abstrakt.Sandbox;
using Microsoft.Extensions.Time.Testing;

namespace Abstrakt.Core.Tests;

/// <summary>The sandbox keeps time on the clock it is given (SandboxOptions.Time): jobs and rate windows move only when it does.</summary>
public sealed class SandboxClockTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    private static HttpClient Http(SandboxServer sandbox)
    {
        var http = new HttpClient { BaseAddress = sandbox.Uri };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", sandbox.ApiKey.Reveal());
        return http;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> Send(HttpClient http, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task Job_TakesItsLatencyOnTheSandboxesClock()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { Tier = SandboxTier.Unlimited, FixedLatency = TimeSpan.FromSeconds(10), Time = _time });
        using var http = Http(sandbox);
        var (_, created) = await Send(http, HttpMethod.Post, "/v1/models/flux-schnell/run", """{"input":{"prompt":"a kite"},"sync":false}""");
        var path = "/v1/jobs/" + created.GetProperty("job_id").GetString();

        var (_, before) = await Send(http, HttpMethod.Get, path);
        _time.Advance(TimeSpan.FromSeconds(10));
        var status = string.Empty;
        JsonElement after = default;
        // The job ends on a thread of the sandbox's once the clock has passed its latency: ask a bounded number of times.
        for (var i = 0; i < 500 && status != "completed"; i++)
        {
            (_, after) = await Send(http, HttpMethod.Get, path);
            status = after.GetProperty("status").GetString()!;
        }

        Assert.NotEqual("completed", before.GetProperty("status").GetString());
        Assert.Equal("completed", status);
        Assert.Equal(10000, after.GetProperty("duration_ms").GetInt32());
    }

    [Fact]
    public async Task RateWindow_OpensAgainOnlyWhenTheSandboxesClockHasPassedIt()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 0, RequestsPerWindow = 2, RateWindow = TimeSpan.FromSeconds(60), RateWindowMode = RateWindowMode.Sliding, Time = _time,
        });
        using var http = Http(sandbox);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await Send(http, HttpMethod.Get, "/v1/models/flux-schnell")).Status);
        }

        _time.Advance(TimeSpan.FromSeconds(59));
        statuses.Add((await Send(http, HttpMethod.Get, "/v1/models/flux-schnell")).Status);
        _time.Advance(TimeSpan.FromSeconds(2));
        statuses.Add((await Send(http, HttpMethod.Get, "/v1/models/flux-schnell")).Status);

        Assert.Equal(new[] { HttpStatusCode.OK, HttpStatusCode.OK, (HttpStatusCode)429, (HttpStatusCode)429, HttpStatusCode.OK }, statuses);
    }
}
