using System.Net;
using Abstrakt.Api;
using Abstrakt.Engine;
using Microsoft.Extensions.Time.Testing;
using static Abstrakt.Core.Tests.Answers;

namespace Abstrakt.Core.Tests;

/// <summary>The client's logic with a fake inner handler and a fake clock: no sockets, no waiting, milliseconds each.</summary>
public sealed class ClientUnitTests
{
    private const string Job = Answers.CompletedJob;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

    private AbstraktClient Client(FakeHandler handler) => new(new AbstraktClientOptions
    {
        Endpoint = new Uri("https://api.abstrakt.test"),
        ApiKey = new Secret("sk_test_unit_key_0123456789"),
        Handler = handler,
        Time = _time,
    });

    [Fact]
    public async Task RunAsync_SendsTheKeyAsBearerAndReadsTheJob()
    {
        var handler = new FakeHandler(Answer(HttpStatusCode.OK, Job));
        using var client = Client(handler);

        var job = await client.RunAsync(new RunRequest { Model = "flux-schnell", Input = new Dictionary<string, object?> { ["prompt"] = "a fox" } });

        Assert.Equal("job_1", job.JobId);
        var sent = Assert.Single(handler.Sent);
        Assert.Equal("https://api.abstrakt.test/v1/models/flux-schnell/run", sent.RequestUri!.ToString());
        Assert.Equal("Bearer sk_test_unit_key_0123456789", sent.Headers.Authorization!.ToString());
    }

    [Fact]
    public async Task RateLimited_HoldsTheNextRequestUntilTheHintHasPassedOnTheClock()
    {
        var handler = new FakeHandler(
            Answer((HttpStatusCode)429, """{"error":{"code":"RATE_LIMITED","message":"slow down","retry_after":30}}""", ("Retry-After", "30")),
            Answer(HttpStatusCode.OK, Job));
        using var client = Client(handler);

        var refused = await Assert.ThrowsAsync<AbstraktApiException>(() => client.GetJobAsync("job_1"));
        Assert.Equal(ErrorCodes.RateLimited, refused.Code);
        Assert.Equal(ErrorKind.Retryable, FailureClassifier.Classify(refused));
        Assert.Equal(TimeSpan.FromSeconds(30), refused.RetryAfter);

        // Every request waits for the hint, not only the one that was told: nothing is sent until the clock passes it.
        var next = client.GetJobAsync("job_1");
        _time.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(50);
        Assert.Single(handler.Sent);
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("job_1", (await next.WaitAsync(TimeSpan.FromSeconds(30))).JobId);
        Assert.Equal(2, handler.Sent.Count);
    }

    [Theory]
    [InlineData(401, """{"error":{"code":"UNAUTHORIZED","message":"bad key"}}""", ErrorCodes.Unauthorized, ErrorKind.BatchFatal)]
    [InlineData(400, """{"error":{"code":"INVALID_INPUT","message":"prompt is required"}}""", ErrorCodes.InvalidInput, ErrorKind.ItemFatal)]
    [InlineData(503, """{"error":{"code":"MODEL_UNAVAILABLE","message":"down"}}""", ErrorCodes.ModelUnavailable, ErrorKind.Retryable)]
    [InlineData(502, "<html>Bad gateway</html>", ErrorCodes.Transport, ErrorKind.Retryable)]
    public async Task ErrorAnswers_CarryTheCodeTheStatusAndTheirKind(int status, string body, string code, ErrorKind kind)
    {
        using var client = Client(new FakeHandler(Answer((HttpStatusCode)status, body)));

        var error = await Assert.ThrowsAsync<AbstraktApiException>(() => client.GetJobAsync("job_1"));

        Assert.Equal(code, error.Code);
        Assert.Equal(status, error.StatusCode);
        Assert.Equal(kind, FailureClassifier.Classify(error));
    }

    [Fact]
    public async Task WaitForJob_RidesOutPassingFaultsBetweenPolls()
    {
        const string Processing = """{"job_id":"job_1","status":"processing","model_id":"flux-schnell"}""";
        var handler = new FakeHandler(
            Answer((HttpStatusCode)503, """{"error":{"code":"MODEL_UNAVAILABLE","message":"down"}}"""),
            Answer(HttpStatusCode.OK, Processing),
            Answer((HttpStatusCode)502, "<html>Bad gateway</html>"),
            Answer(HttpStatusCode.OK, Job));
        using var client = new AbstraktClient(new AbstraktClientOptions
        {
            Endpoint = new Uri("https://api.abstrakt.test"), Handler = handler, Time = _time, PollInitialDelay = TimeSpan.Zero,
        });

        var job = await client.WaitForJobAsync("job_1").WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal(4, handler.Sent.Count);
    }

    [Fact]
    public async Task WaitForJob_ReportsAFaultThatDoesNotPass()
    {
        var answers = Enumerable.Range(0, 6).Select(_ => Answer((HttpStatusCode)503, """{"error":{"code":"MODEL_UNAVAILABLE","message":"down"}}""")).ToArray();
        using var client = new AbstraktClient(new AbstraktClientOptions
        {
            Endpoint = new Uri("https://api.abstrakt.test"), Handler = new FakeHandler(answers), Time = _time, PollInitialDelay = TimeSpan.Zero,
        });

        var error = await Assert.ThrowsAsync<AbstraktApiException>(() => client.WaitForJobAsync("job_1").WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(ErrorCodes.ModelUnavailable, error.Code);
    }

    [Fact]
    public async Task RateHeaders_AreLearntFromAnyAnswer()
    {
        var reset = _time.GetUtcNow().AddSeconds(60).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var client = Client(new FakeHandler(Answer(HttpStatusCode.OK, Job, ("X-RateLimit-Limit", "100"), ("X-RateLimit-Remaining", "99"), ("X-RateLimit-Reset", reset))));

        await client.GetJobAsync("job_1");

        Assert.Equal(100, client.ObservedRateLimit);
        Assert.Equal(TimeSpan.FromSeconds(60), client.RateLimitWindow);
    }
}
