using System.Net;
using System.Reflection;
using Abstrakt.Api;
using Abstrakt.Engine;
using Microsoft.Extensions.Time.Testing;

namespace Abstrakt.Core.Tests;

/// <summary>The one classifier: every code has its row, and the engine's rules on top of the table. No sockets.</summary>
public sealed class FailureClassifierTests
{
    public static TheoryData<string> Codes()
    {
        var codes = new TheoryData<string>();
        foreach (var field in typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
        {
            codes.Add((string)field.GetValue(null)!);
        }

        return codes;
    }

    [Theory]
    [MemberData(nameof(Codes))]
    public void Table_HasARowForEveryErrorCode(string code)
    {
        Assert.True(FailureClassifier.Knows(code), $"{code} needs a row in FailureClassifier");
    }

    [Theory]
    [InlineData(ErrorCodes.Unauthorized, ErrorKind.BatchFatal)]
    [InlineData(ErrorCodes.QuotaExceeded, ErrorKind.BatchFatal)]
    [InlineData(ErrorCodes.DiskFull, ErrorKind.BatchFatal)]
    [InlineData(ErrorCodes.InvalidInput, ErrorKind.ItemFatal)]
    [InlineData(ErrorCodes.JobNotFound, ErrorKind.ItemFatal)]
    [InlineData(ErrorCodes.OutcomeUnknown, ErrorKind.ItemFatal)]
    [InlineData(ErrorCodes.RateLimited, ErrorKind.Retryable)]
    [InlineData(ErrorCodes.ProviderFailure, ErrorKind.Retryable)]
    [InlineData(ErrorCodes.Transport, ErrorKind.Retryable)]
    public void Classify_ByCodeFirst_WhateverTheStatus(string code, ErrorKind expected)
    {
        Assert.Equal(expected, FailureClassifier.Classify(code, 418));
    }

    [Theory]
    [InlineData(401, ErrorKind.BatchFatal)]
    [InlineData(402, ErrorKind.BatchFatal)]
    [InlineData(403, ErrorKind.BatchFatal)]
    [InlineData(408, ErrorKind.Retryable)]
    [InlineData(429, ErrorKind.Retryable)]
    [InlineData(503, ErrorKind.Retryable)]
    [InlineData(404, ErrorKind.ItemFatal)]
    [InlineData(null, ErrorKind.Retryable)]
    public void Classify_UnknownCode_FallsBackToTheStatus(int? status, ErrorKind expected)
    {
        Assert.Equal(expected, FailureClassifier.Classify("SOMETHING_NEW", status));
    }

    [Fact]
    public void RetryDelay_After429_IsNone_ElseTheServersHint()
    {
        var hint = TimeSpan.FromSeconds(7);

        Assert.Equal(TimeSpan.Zero, FailureClassifier.RetryDelay(new AbstraktApiException(ErrorCodes.RateLimited, "slow", 429) { RetryAfter = hint }));
        Assert.Equal(hint, FailureClassifier.RetryDelay(new AbstraktApiException(ErrorCodes.ModelUnavailable, "down", 503) { RetryAfter = hint }));
        Assert.Null(FailureClassifier.RetryDelay(new AbstraktApiException(ErrorCodes.Transport, "cut")));
    }

    [Fact]
    public void IsLostCreate_OnlyWhenTheOutcomeIsUnknownAndNotToBeResubmitted()
    {
        using var client = Client(new FakeHandler());
        var lost = new AbstraktApiException(ErrorCodes.Transport, "cut") { OutcomeUnknown = true };
        var refused = new AbstraktApiException(ErrorCodes.Transport, "refused");

        Assert.True(Classifier(client).IsLostCreate(lost));
        Assert.False(Classifier(client).IsLostCreate(refused));
        Assert.False(Classifier(client, resubmitUnknown: true).IsLostCreate(lost));
    }

    [Fact]
    public void BatchFatalFor_UnknownModel_EndsABatchOfOneModelOnly()
    {
        using var client = Client(new FakeHandler());
        var unknown = new AbstraktApiException(ErrorCodes.ModelNotFound, "no such model", 404);

        Assert.Same(unknown, Classifier(client).BatchFatalFor(new WorkItem(1, "p"), unknown)!.ApiError);
        Assert.Same(unknown, Classifier(client).BatchFatalFor(new WorkItem(1, "p", model: "FLUX-SCHNELL"), unknown)!.ApiError);
        Assert.Null(Classifier(client).BatchFatalFor(new WorkItem(1, "p", model: "flux-dev"), unknown));
    }

    [Fact]
    public void BatchFatalFor_ItemFailures_LeaveTheBatchRunning()
    {
        using var client = Client(new FakeHandler());

        Assert.Null(Classifier(client).BatchFatalFor(new WorkItem(1, "p"), new AbstraktApiException(ErrorCodes.InvalidInput, "bad", 400)));
        Assert.Null(Classifier(client).BatchFatalFor(new WorkItem(1, "p"), new AbstraktApiException(ErrorCodes.Deadline, "late")));
    }

    [Fact]
    public async Task BatchFatalFor_TransportFault_EndsTheBatchOnlyWhenNothingWasEverAnswered()
    {
        using var client = Client(new FakeHandler(Answers.Answer(HttpStatusCode.OK, Answers.CompletedJob)));
        var cut = new AbstraktApiException(ErrorCodes.Transport, "The connection to the service failed: refused.", null, "POST /v1/models/flux-schnell/run");
        var before = Classifier(client);

        var unreachable = before.BatchFatalFor(new WorkItem(1, "p"), cut);
        await client.GetJobAsync("job_1");
        var after = before.BatchFatalFor(new WorkItem(1, "p"), cut);

        Assert.Equal(ErrorCodes.Unreachable, unreachable!.ApiError!.Code);
        Assert.StartsWith("Cannot reach https://api.abstrakt.test: The connection to the service failed", unreachable.Message, StringComparison.Ordinal);
        Assert.Null(after);
    }

    private static AbstraktClient Client(FakeHandler handler) => new(new AbstraktClientOptions
    {
        Endpoint = new Uri("https://api.abstrakt.test"), Handler = handler, Time = new FakeTimeProvider(),
    });

    private static FailureClassifier Classifier(AbstraktClient client, bool resubmitUnknown = false) =>
        new(new BatchOptions { DefaultModel = "flux-schnell", ResubmitUnknown = resubmitUnknown }, client);
}
