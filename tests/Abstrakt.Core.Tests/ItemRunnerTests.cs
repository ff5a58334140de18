using System.Net;
using System.Net.Sockets;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Store;
using Microsoft.Extensions.Time.Testing;
using static Abstrakt.Core.Tests.Answers;

namespace Abstrakt.Core.Tests;

/// <summary>One item's attempts against a fake handler on a fake clock: what is sent, in what order, and what comes of it.</summary>
public sealed class ItemRunnerTests : IDisposable
{
    private const string Create = "POST /v1/models/flux-schnell/run";
    private readonly FakeTimeProvider _time = new();
    private readonly List<string> _notes = new();
    private readonly List<IDisposable> _owned = new();

    public void Dispose()
    {
        foreach (var owned in _owned) owned.Dispose();
    }

    private ItemRunner Runner(FakeHandler handler, Action<BatchOptions>? configure = null) => Runner(handler, out _, configure);

    private ItemRunner Runner(FakeHandler handler, out AbstraktClient client, Action<BatchOptions>? configure = null)
    {
        client = new AbstraktClient(new AbstraktClientOptions
        {
            Endpoint = new Uri("https://api.abstrakt.test"), ApiKey = new Secret("sk_test_item_runner_key"), Handler = handler, Time = _time,
        });
        var options = new BatchOptions { DefaultModel = "flux-schnell", MaxRetry = 3, RetryBaseDelay = TimeSpan.Zero, Time = _time };
        configure?.Invoke(options);
        var store = JournalStore.Open(null, resume: false, options.DefaultModel);
        _owned.Add(client);
        _owned.Add(store);
        return new ItemRunner(client, options, store, new OutputDownloader(client, options), (_, note) => { lock (_notes) _notes.Add(note); }, CancellationToken.None, () => 0);
    }

    private static HttpResponseMessage Cut() => throw new HttpRequestException("cut", new IOException("reset by peer"));

    private static HttpResponseMessage Refused() => throw new HttpRequestException("refused", new SocketException((int)SocketError.ConnectionRefused));

    private static string? Key(HttpRequestMessage request) => request.Headers.TryGetValues("Idempotency-Key", out var values) ? values.Single() : null;

    [Fact]
    public async Task Run_NewItem_RequestsPlenty_CreatesWithoutWaiting_ThenPollsTheJob()
    {
        // An earlier answer told no limit: requests are not scarce, so the create asks for the job id at once.
        var handler = new FakeHandler(Answer(HttpStatusCode.OK, """{"id":"flux-schnell","name":"FLUX","category":"image"}"""), () => Job("job_1", "processing"), () => Completed("job_1"));
        var item = new WorkItem(1, "a fox");
        var runner = Runner(handler, out var client);
        await client.GetModelAsync("flux-schnell");

        var outcome = await runner.RunAsync(item, null, CancellationToken.None);

        var completed = Assert.IsType<ItemCompleted>(outcome.Result);
        Assert.Equal(("job_1", 1, 1), (completed.JobId, completed.Attempts, completed.CreditsUsed));
        Assert.Null(outcome.Fatal);
        Assert.Equal(new[] { "GET /v1/models/flux-schnell", Create, "GET /v1/jobs/job_1" }, handler.Requests);
        Assert.Contains("\"sync\":false", handler.Bodies[1], StringComparison.Ordinal);
        Assert.Contains("\"prompt\":\"a fox\"", handler.Bodies[1], StringComparison.Ordinal);
        Assert.EndsWith(":" + item.Id + ":" + ModelInputMapper.CanonicalHash("flux-schnell", new Dictionary<string, object?> { ["prompt"] = "a fox" }), Key(handler.Sent[1]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_FirstCreateBeforeAnyAnswer_WaitsForItsResult()
    {
        // Nothing is known of the limit yet: a poll could cost a whole window, so the first create waits (sync:true).
        var handler = new FakeHandler(() => Completed("job_1"));

        var outcome = await Runner(handler).RunAsync(new WorkItem(1, "a fox"), null, CancellationToken.None);

        Assert.IsType<ItemCompleted>(outcome.Result);
        Assert.Equal(new[] { Create }, handler.Requests);
        Assert.Contains("\"sync\":true", handler.Bodies[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_CreateWhoseAnswerWasLost_IsAnUnknownOutcome_NeverSentAgain()
    {
        var handler = new FakeHandler(Cut);

        var outcome = await Runner(handler).RunAsync(new WorkItem(1, "a fox"), null, CancellationToken.None);

        Assert.Equal(ErrorCodes.OutcomeUnknown, Assert.IsType<ItemFailed>(outcome.Result).Error.Code);
        Assert.Equal(new[] { Create }, handler.Requests);
    }

    [Fact]
    public async Task Run_CreateWhoseAnswerWasLost_IsSentAgainUnderTheSameKey_WithResubmitUnknown()
    {
        var handler = new FakeHandler(Cut, () => Completed("job_1"));
        var runner = Runner(handler, o => o.ResubmitUnknown = true);

        var outcome = await runner.RunAsync(new WorkItem(1, "a fox"), null, CancellationToken.None);

        Assert.Equal(2, Assert.IsType<ItemCompleted>(outcome.Result).Attempts);
        Assert.Equal(new[] { Create, Create }, handler.Requests);
        Assert.Equal(Key(handler.Sent[0]), Key(handler.Sent[1]));
        Assert.Equal(1, runner.Retries);
    }

    [Fact]
    public async Task Run_ConnectionRefused_IsRetried_NothingWasSent()
    {
        var handler = new FakeHandler(Refused, () => Completed("job_1"));
        var runner = Runner(handler);

        var outcome = await runner.RunAsync(new WorkItem(1, "a fox"), null, CancellationToken.None);

        Assert.Equal(2, Assert.IsType<ItemCompleted>(outcome.Result).Attempts);
        Assert.Contains(_notes, n => n.StartsWith("retry 1 of 3 in 0 s after TRANSPORT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_JobThatFailedInAPassingWay_IsResubmittedUnderANewKey()
    {
        var handler = new FakeHandler(
            () => Job("job_1", "processing"),
            () => Job("job_1", "failed", ""","error":{"code":"PROVIDER_FAILURE","message":"upstream"}"""),
            () => Completed("job_2"));

        var outcome = await Runner(handler).RunAsync(new WorkItem(1, "a fox"), null, CancellationToken.None);

        Assert.Equal("job_2", Assert.IsType<ItemCompleted>(outcome.Result).JobId);
        Assert.Equal(new[] { Create, "GET /v1/jobs/job_1", Create }, handler.Requests);
        Assert.Equal(Key(handler.Sent[0]) + ":1", Key(handler.Sent[2]));
    }

    [Fact]
    public async Task Run_JobTheModelFailed_FailsTheItem_WithoutRetry()
    {
        var handler = new FakeHandler(
            () => Job("job_1", "processing"),
            () => Job("job_1", "failed", ""","error":{"code":"INFERENCE_FAILED","message":"filtered"}"""));

        var outcome = await Runner(handler).RunAsync(new WorkItem(1, "a fox"), null, CancellationToken.None);

        var failed = Assert.IsType<ItemFailed>(outcome.Result);
        Assert.Equal((ErrorCodes.InferenceFailed, "job_1", 1), (failed.Error.Code, failed.Error.JobId, failed.Attempts));
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Run_BadKey_EndsTheBatch_WithoutReportingTheItem()
    {
        var outcome = await Runner(new FakeHandler(() => Error(401, ErrorCodes.Unauthorized))).RunAsync(new WorkItem(1, "a fox"), null, CancellationToken.None);

        Assert.Null(outcome.Result);
        Assert.Equal(ErrorCodes.Unauthorized, outcome.Fatal!.ApiError!.Code);
    }

    [Fact]
    public async Task Run_ServerAsksToWaitPastTheDeadline_FailsAtOnceWithTheServersReason()
    {
        var handler = new FakeHandler(() => JsonAnswer((HttpStatusCode)503, """{"error":{"code":"MODEL_UNAVAILABLE","message":"down","retry_after":60}}"""));

        var outcome = await Runner(handler, o => o.ItemTimeout = TimeSpan.FromSeconds(10)).RunAsync(new WorkItem(1, "a fox"), null, CancellationToken.None);

        Assert.Equal(ErrorCodes.ModelUnavailable, Assert.IsType<ItemFailed>(outcome.Result).Error.Code);
        Assert.Single(handler.Requests);
        Assert.Contains(_notes, n => n.StartsWith("not retrying: the server asked to wait 60 s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_RecordedJob_IsReAttachedTo_NotPaidTwice()
    {
        var handler = new FakeHandler(() => Completed("job_5"));
        var item = new WorkItem(1, "a fox");
        var prior = new JournalEntry { Id = item.Id, Index = 1, Prompt = "a fox", State = "created", JobId = "job_5" };

        var outcome = await Runner(handler).RunAsync(item, prior, CancellationToken.None);

        Assert.Equal("job_5", Assert.IsType<ItemCompleted>(outcome.Result).JobId);
        Assert.Equal(new[] { "GET /v1/jobs/job_5" }, handler.Requests);
    }

    [Fact]
    public async Task Run_RecordedJobThatExpired_IsSubmittedAgainUnderTheNextKey()
    {
        var handler = new FakeHandler(() => Error(404, ErrorCodes.JobNotFound), () => Completed("job_6"));
        var item = new WorkItem(1, "a fox");
        var prior = new JournalEntry { Id = item.Id, Index = 1, Prompt = "a fox", State = "created", JobId = "job_5", Resubmissions = 2 };

        var outcome = await Runner(handler).RunAsync(item, prior, CancellationToken.None);

        Assert.Equal("job_6", Assert.IsType<ItemCompleted>(outcome.Result).JobId);
        Assert.Equal(new[] { "GET /v1/jobs/job_5", Create }, handler.Requests);
        Assert.EndsWith(":3", Key(handler.Sent[1]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_FromTheJournal_ReportsWithoutSending()
    {
        var handler = new FakeHandler();
        var item = new WorkItem(1, "a fox");
        var runner = Runner(handler);

        var done = await runner.RunAsync(item, new JournalEntry { Id = item.Id, Index = 1, Prompt = "a fox", State = "completed", JobId = "job_1", Credits = 1 }, CancellationToken.None);
        var lost = await runner.RunAsync(item, new JournalEntry { Id = item.Id, Index = 1, Prompt = "a fox", State = "sent" }, CancellationToken.None);

        Assert.True(Assert.IsType<ItemCompleted>(done.Result).FromJournal);
        Assert.Equal(ErrorCodes.OutcomeUnknown, Assert.IsType<ItemFailed>(lost.Result).Error.Code);
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task Run_ARepeatedId_FailsThatItem_WithoutSending()
    {
        var handler = new FakeHandler();
        var runner = Runner(handler);
        var first = new WorkItem(1, "a fox", id: "hero");
        var again = new WorkItem(2, "a wolf", id: "hero");
        runner.Claim(first);
        runner.Claim(again);

        var outcome = await runner.RunAsync(again, null, CancellationToken.None);

        Assert.Equal(ErrorCodes.DuplicateId, Assert.IsType<ItemFailed>(outcome.Result).Error.Code);
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task CancelUnfinishedJobs_AfterAStop_CancelsTheJobStillRunning()
    {
        var polled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new FakeHandler(request => request.Method == HttpMethod.Post ? Job("job_1", "processing")
            : request.Method == HttpMethod.Delete ? Job("job_1", "cancelled")
            : Polled(polled));
        var runner = Runner(handler);
        using var stop = new CancellationTokenSource();

        var run = runner.RunAsync(new WorkItem(1, "a fox"), null, stop.Token);
        await polled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        stop.Cancel();
        var outcome = await run.WaitAsync(TimeSpan.FromSeconds(30));
        await runner.CancelUnfinishedJobsAsync();

        Assert.Null(outcome.Result);
        Assert.Equal("DELETE /v1/jobs/job_1", handler.Requests[^1]);
    }

    private static HttpResponseMessage Polled(TaskCompletionSource polled)
    {
        polled.TrySetResult();
        return Job("job_1", "processing");
    }
}
