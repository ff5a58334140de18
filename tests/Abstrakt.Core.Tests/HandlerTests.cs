using System.Net;
using Abstrakt.Api;
using Abstrakt.Api.Handlers;
using Microsoft.Extensions.Time.Testing;
using static Abstrakt.Core.Tests.Answers;

namespace Abstrakt.Core.Tests;

/// <summary>The client's handlers one by one, each over a fake inner handler on a fake clock: no sockets, no waiting.</summary>
public sealed class HandlerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
    private readonly CancellationTokenSource _attempt = new();
    private readonly List<string> _lines = new();

    public void Dispose()
    {
        TracingHandler.Sink.Value = null;
        _attempt.Dispose();
    }

    private ApiRequest Request(string path = "/v1/jobs/job_1", Action? sending = null) =>
        new(HttpMethod.Get, "https://api.abstrakt.test", path, _attempt, TimeSpan.FromMinutes(5), sending);

    private static Task<HttpResponseMessage> Send(HttpMessageHandler handler, HttpRequestMessage request) =>
        new HttpMessageInvoker(handler, disposeHandler: false).SendAsync(request, CancellationToken.None);

    [Fact]
    public async Task Pacing_HoldsTheRequestUntilTheGateOpens_OnTheClock_ThenCallsSending()
    {
        var gate = new RateGate(_time);
        var sent = new FakeHandler(_ => Job("job_1", "processing"));
        var order = new List<string>();
        var request = Request(sending: () => order.Add($"sending, {sent.Requests.Count} on the wire"));
        gate.Pause(TimeSpan.FromSeconds(30));

        var send = Send(new PacingHandler(gate, _time) { InnerHandler = sent }, request);
        _time.Advance(TimeSpan.FromSeconds(29));
        var heldAt29 = sent.Requests.Count;
        _time.Advance(TimeSpan.FromSeconds(2));
        using var response = await send.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, heldAt29);
        Assert.Single(sent.Requests);
        Assert.Equal(new[] { "sending, 0 on the wire" }, order);
        Assert.Equal(TimeSpan.FromSeconds(31), request.RateWait);
    }

    [Fact]
    public async Task Pacing_LearnsTheWindowFromTheAnswersHeaders()
    {
        var gate = new RateGate(_time);
        var reset = _time.GetUtcNow().AddSeconds(60).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var answer = new FakeHandler(_ => JsonAnswer(HttpStatusCode.OK, CompletedJob, ("X-RateLimit-Limit", "100"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset)));

        using var response = await Send(new PacingHandler(gate, _time) { InnerHandler = answer }, Request());

        Assert.Equal(100, gate.Limit);
        Assert.False(gate.TryTake(out _, out var wait));
        Assert.Equal(TimeSpan.FromSeconds(60), wait);
    }

    [Fact]
    public async Task Pacing_SendingThatThrows_StopsTheRequestBeforeTheWire_AndFreesItsTurn()
    {
        var gate = new RateGate(_time);
        var sent = new FakeHandler(_ => Job("job_1", "processing"));
        var request = Request(sending: () => throw new OperationCanceledException("stopped"));

        await Assert.ThrowsAsync<OperationCanceledException>(() => Send(new PacingHandler(gate, _time) { InnerHandler = sent }, request));

        Assert.Empty(sent.Requests);
        Assert.IsType<OperationCanceledException>(request.SendingFailed);
        Assert.True(gate.TryTake(out _, out _)); // the unanswered probe was given back: the next request may go
    }

    [Fact]
    public async Task Tracing_NoOneListening_WritesNothing()
    {
        using var response = await Send(new TracingHandler(_time) { InnerHandler = new FakeHandler(_ => Completed("job_1")) }, Request());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(_lines);
    }

    [Fact]
    public async Task Tracing_DescribesTheWait_ThenTheAnswerOnceTheClientHasReadIt()
    {
        TracingHandler.Sink.Value = _lines.Add;
        var slow = new FakeHandler(_ =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(250));
            return Answers.Error(429, ErrorCodes.RateLimited);
        });
        var request = Request();
        request.RateWait = TimeSpan.FromSeconds(2);

        using var response = await Send(new TracingHandler(_time) { InnerHandler = slow }, request);
        var beforeTheAnswerWasRead = _lines.Count;
        request.Finish(new AbstraktApiException(ErrorCodes.RateLimited, "slow down", 429) { RetryAfter = TimeSpan.FromSeconds(30) });

        Assert.Equal(1, beforeTheAnswerWasRead);
        Assert.Equal(new[] { "waited 2.0 s for the rate limit before GET /v1/jobs/job_1", "GET /v1/jobs/job_1 -> 429 RATE_LIMITED (250 ms, retry after 30 s)" }, _lines);
    }

    [Theory]
    [InlineData(null, null, "GET /v1/jobs/job_1 -> 200 (0 ms)")]
    [InlineData(ErrorCodes.Transport, null, "GET /v1/jobs/job_1 -> no response TRANSPORT (0 ms)")]
    [InlineData(ErrorCodes.ModelUnavailable, 503, "GET /v1/jobs/job_1 -> 503 MODEL_UNAVAILABLE (0 ms)")]
    public void Line_SaysHowTheRequestEnded(string? code, int? status, string expected)
    {
        var failure = code is null ? null : new AbstraktApiException(code, "x", status);

        Assert.Equal(expected, TracingHandler.Line("GET /v1/jobs/job_1", failure, TimeSpan.Zero));
    }

    [Fact]
    public async Task Tracing_ARequestThatNeverGotAnAnswerRead_WritesNoLine()
    {
        TracingHandler.Sink.Value = _lines.Add;
        var broken = new FakeHandler(_ => throw new OperationCanceledException("stopped"));

        await Assert.ThrowsAsync<OperationCanceledException>(() => Send(new TracingHandler(_time) { InnerHandler = broken }, Request()));

        Assert.Empty(_lines);
    }

    [Fact]
    public async Task Tracing_ScrubsKnownSecrets_AndNeverShowsTheKeyTheAuthHandlerAdds()
    {
        var key = new Secret("sk_test_traced_secret_0123456789");
        TracingHandler.Sink.Value = _lines.Add;
        var chain = new TracingHandler(_time) { InnerHandler = new AuthHandler(key) { InnerHandler = new FakeHandler(_ => Completed("job_1")) } };
        var request = Request("/v1/jobs/" + key.Reveal());

        using var response = await Send(chain, request);
        request.Finish(null);

        Assert.Equal(new[] { "GET /v1/jobs/*** -> 200 (0 ms)" }, _lines);
    }

    [Fact]
    public async Task Client_TracesEachRequestWithItsErrorCode()
    {
        TracingHandler.Sink.Value = _lines.Add;
        var handler = new FakeHandler(() => Answers.Error(503, ErrorCodes.ModelUnavailable, "down"), () => Completed("job_1"));
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = new Uri("https://api.abstrakt.test"), Handler = handler, Time = _time });

        await Assert.ThrowsAsync<AbstraktApiException>(() => client.GetJobAsync("job_1"));
        await client.GetJobAsync("job_1");

        Assert.Equal(new[] { "GET /v1/jobs/job_1 -> 503 MODEL_UNAVAILABLE (0 ms)", "GET /v1/jobs/job_1 -> 200 (0 ms)" }, _lines);
    }

    [Fact]
    public async Task Auth_PutsTheKeyAsBearer_OrNothingWithoutOne()
    {
        var withKey = new FakeHandler(_ => Completed("job_1"));
        var withoutKey = new FakeHandler(_ => Completed("job_1"));

        using var one = await Send(new AuthHandler(new Secret("sk_test_auth_key_0123456789")) { InnerHandler = withKey }, Request());
        using var two = await Send(new AuthHandler(null) { InnerHandler = withoutKey }, Request());

        Assert.Equal("Bearer sk_test_auth_key_0123456789", withKey.Sent[0].Headers.Authorization!.ToString());
        Assert.Null(withoutKey.Sent[0].Headers.Authorization);
    }

    [Fact]
    public async Task Client_SendsTheKeyToTheApiOnly_NeverWithADownload()
    {
        var handler = new FakeHandler(request => request.RequestUri!.AbsolutePath.StartsWith("/v1/", StringComparison.Ordinal)
            ? Completed("job_1")
            : new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(new byte[] { 1 }) });
        using var client = new AbstraktClient(new AbstraktClientOptions
        {
            Endpoint = new Uri("https://api.abstrakt.test"), ApiKey = new Secret("sk_test_client_key_0123456789"), Handler = handler, Time = _time,
        });

        await client.GetJobAsync("job_1");
        await client.DownloadAsync("https://203.0.113.5/x.png", Stream.Null);

        Assert.Equal(new[] { "GET /v1/jobs/job_1", "GET /x.png" }, handler.Requests);
        Assert.NotNull(handler.Sent[0].Headers.Authorization);
        Assert.Null(handler.Sent[1].Headers.Authorization);
    }
}
