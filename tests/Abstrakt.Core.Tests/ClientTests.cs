using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;

namespace Abstrakt.Core.Tests;

public sealed class ClientTests : IDisposable
{
    private readonly SandboxServer _sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });

    private AbstraktClient Client(Secret? key = null) =>
        new(new AbstraktClientOptions { Endpoint = _sandbox.Uri, ApiKey = key ?? _sandbox.ApiKey });

    public void Dispose() => _sandbox.Dispose();

    [Fact]
    public async Task Run_SyncImage_ReturnsCompletedJobWithDownloadablePngOfRequestedSize()
    {
        using var client = Client();
        var job = await client.RunAsync(new RunRequest
        {
            Model = "flux-schnell",
            Input = new Dictionary<string, object?> { ["prompt"] = "a red fox", ["image_size"] = "landscape_16_9", ["seed"] = 7 },
        });

        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.StartsWith("job_", job.JobId, StringComparison.Ordinal);
        Assert.Equal(1, job.CreditsUsed);
        var output = Assert.Single(job.Outputs);
        using var png = new MemoryStream();
        await client.DownloadAsync(output.Url, png);
        var (width, height) = PngInfo.ReadAndVerify(png.ToArray());
        Assert.Equal((1024, 576), (width, height));
        Assert.Equal((output.Width, output.Height), (width, height));
    }

    [Fact]
    public async Task Run_ProviderPathModelId_IsRoutedToTheSameModel()
    {
        using var client = Client();
        var job = await client.RunAsync(new RunRequest { Model = "fal-ai/flux/schnell", Input = new Dictionary<string, object?> { ["prompt"] = "x" } });
        Assert.Equal("flux-schnell", job.ModelId);
    }

    [Fact]
    public async Task Run_SyncFalse_Answers202ThenPollingCompletes()
    {
        using var client = Client();
        var job = await client.RunAsync(new RunRequest { Model = "flux-dev", Sync = false, Input = new Dictionary<string, object?> { ["prompt"] = "x" } });
        var done = await client.WaitForJobAsync(job.JobId);
        Assert.Equal(JobStatus.Completed, done.Status);
        Assert.Equal(job.JobId, done.JobId);
    }

    [Fact]
    public async Task Run_PastTheSyncWindow_Answers202WithProcessingJob()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0.01, SyncTimeout = TimeSpan.FromMilliseconds(100) });
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey, PollInitialDelay = TimeSpan.FromMilliseconds(100) });

        // minimax-video takes 90 s x 0.01 = 0.9 s, past the 0.1 s sync window.
        var job = await client.RunAsync(new RunRequest { Model = "minimax-video", Input = new Dictionary<string, object?> { ["prompt"] = "waves" } });
        Assert.Equal(JobStatus.Processing, job.Status);
        var done = await client.WaitForJobAsync(job.JobId);
        Assert.Equal(JobStatus.Completed, done.Status);
        Assert.Equal("video", done.Outputs[0].Type);
    }

    [Fact]
    public async Task Cancel_RunningJob_IsCancelledAndNotCharged()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 1 });
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey });
        var job = await client.RunAsync(new RunRequest { Model = "minimax-video", Sync = false, Input = new Dictionary<string, object?> { ["prompt"] = "x" } });

        var cancelled = await client.CancelJobAsync(job.JobId);

        Assert.Equal(JobStatus.Cancelled, cancelled.Status);
        Assert.Equal(0, sandbox.Stats.CreditsCharged);
        Assert.Equal(1, sandbox.Stats.JobsCancelled);
    }

    [Fact]
    public async Task ListModels_HidesPagingAndFilters()
    {
        using var client = Client();
        var all = await client.ListModelsAsync().ToListAsync();
        var video = await client.ListModelsAsync(category: "video").ToListAsync();

        Assert.Contains(all, m => m.Id == "flux-schnell");
        Assert.Contains(all, m => m.Id == "kokoro-tts");
        Assert.Equal("minimax-video", Assert.Single(video).Id);
        var model = await client.GetModelAsync("flux-dev");
        Assert.Equal(3, model.Credits);
        Assert.Contains("\"prompt\"", model.InputSchema, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("UNAUTHORIZED")]
    [InlineData("FORBIDDEN")]
    [InlineData("QUOTA_EXCEEDED")]
    [InlineData("MODEL_NOT_FOUND")]
    [InlineData("INVALID_INPUT")]
    [InlineData("JOB_NOT_FOUND")]
    public async Task Errors_FromTheSandbox_AreTypedAndClassifiedAsTheSpecSays(string code)
    {
        var key = code switch
        {
            "UNAUTHORIZED" => new Secret("sk_test_not_issued_by_this_sandbox"),
            "FORBIDDEN" => _sandbox.IssueKey(new[] { "models:read" }),
            "QUOTA_EXCEEDED" => _sandbox.IssueKey(credits: 0),
            _ => _sandbox.ApiKey,
        };
        using var client = Client(key);

        var ex = await Assert.ThrowsAsync<AbstraktApiException>(() => code switch
        {
            "JOB_NOT_FOUND" => client.GetJobAsync("job_missing"),
            "MODEL_NOT_FOUND" => client.RunAsync(new RunRequest { Model = "no-such-model", Input = new Dictionary<string, object?> { ["prompt"] = "x" } }),
            "INVALID_INPUT" => client.RunAsync(new RunRequest { Model = "flux-schnell", Input = new Dictionary<string, object?> { ["prompt"] = "x", ["num_images"] = 9 } }),
            _ => client.RunAsync(new RunRequest { Model = "flux-schnell", Input = new Dictionary<string, object?> { ["prompt"] = "x" } }),
        });

        Assert.Equal(code, ex.Code);
        var expected = code is "INVALID_INPUT" or "JOB_NOT_FOUND" ? ErrorKind.ItemFatal : ErrorKind.BatchFatal;
        Assert.Equal(expected, FailureClassifier.Classify(ex));
        Assert.DoesNotContain(_sandbox.ApiKey.Reveal(), ex.ToString(), StringComparison.Ordinal);
        if (code == "INVALID_INPUT")
        {
            Assert.Contains("num_images", ex.Details, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("INFERENCE_FAILED", ErrorKind.ItemFatal)]
    [InlineData("PROVIDER_FAILURE", ErrorKind.Retryable)]
    [InlineData("TIMEOUT", ErrorKind.Retryable)]
    public async Task Run_JobThatFails_CarriesTheCodeAndIsClassifiedAsTheSpecSays(string code, ErrorKind kind)
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 0,
            Faults = new SandboxFaults
            {
                InferenceFailureRate = code == "INFERENCE_FAILED" ? 1 : 0,
                ProviderFailureRate = code == "PROVIDER_FAILURE" ? 1 : 0,
                JobTimeoutRate = code == "TIMEOUT" ? 1 : 0,
            },
        });
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey });

        var job = await client.RunAsync(new RunRequest { Model = "flux-schnell", Input = new Dictionary<string, object?> { ["prompt"] = "x" } });

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal(code, job.ErrorCode);
        Assert.False(string.IsNullOrEmpty(job.ErrorMessage));
        Assert.Equal(kind, FailureClassifier.Classify(job.ErrorCode, null));
        Assert.Equal(0, sandbox.Stats.CreditsCharged);
    }

    [Fact]
    public async Task TransientFaults_503ModelUnavailableAnd500Html_AreRetryableWithStatusAndCode()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Faults = new SandboxFaults { TransientErrorRate = 1 } });
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey });

        var seen = new Dictionary<int, AbstraktApiException>();
        for (var i = 0; i < 40 && seen.Count < 2; i++)
        {
            var ex = await Assert.ThrowsAsync<AbstraktApiException>(() => client.GetJobAsync("job_x"));
            seen[ex.StatusCode ?? 0] = ex;
        }

        Assert.Equal(ErrorCodes.ModelUnavailable, seen[503].Code);
        Assert.Equal(ErrorKind.Retryable, FailureClassifier.Classify(seen[503]));
        Assert.Equal(ErrorCodes.Transport, seen[500].Code);
        Assert.Equal(ErrorKind.Retryable, FailureClassifier.Classify(seen[500]));
        Assert.Contains("500 Internal Server Error", seen[500].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RateLimited_Returns429WithRetryHintAndPausesTheClient()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Free, TimeScale = 0.05 });
        using var raw = new HttpClient();
        raw.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", sandbox.ApiKey.Reveal());
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 11; i++)
        {
            var response = await raw.GetAsync(new Uri(sandbox.Uri, "/v1/models"));
            Assert.True(response.Headers.Contains("X-RateLimit-Limit"));
            Assert.True(response.Headers.Contains("X-RateLimit-Remaining"));
            Assert.True(response.Headers.Contains("X-RateLimit-Reset"));
            if ((int)response.StatusCode == 429)
            {
                limited = response;
            }
        }

        Assert.NotNull(limited);
        Assert.Equal("10", limited!.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.NotNull(limited.Headers.RetryAfter?.Delta);
        using var body = JsonDocument.Parse(await limited.Content.ReadAsStringAsync());
        Assert.Equal("RATE_LIMITED", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.True(body.RootElement.GetProperty("error").GetProperty("retry_after").GetInt32() >= 1);
    }

    [Fact]
    public async Task TransportFaults_HtmlAndMalformedBodies_AreTransportErrorsNotCrashes()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        sandbox.Faults.MalformedRate = 1;
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey });

        var malformed = await Assert.ThrowsAsync<AbstraktApiException>(() => client.GetJobAsync("job_x"));
        Assert.Equal(ErrorCodes.Transport, malformed.Code);
        Assert.Equal(ErrorKind.Retryable, FailureClassifier.Classify(malformed));

        sandbox.Faults.MalformedRate = 0;
        sandbox.Faults.CutConnectionRate = 1;
        var cut = await Assert.ThrowsAsync<AbstraktApiException>(() => client.RunAsync(new RunRequest { Model = "flux-schnell", Input = new Dictionary<string, object?> { ["prompt"] = "x" } }));
        Assert.Equal(ErrorCodes.Transport, cut.Code);
        Assert.True(cut.OutcomeUnknown);
    }

    [Fact]
    public async Task Idempotency_SameKeyTwice_ReturnsTheSameJobAndCreatesOne()
    {
        using var client = Client();
        var request = new RunRequest { Model = "flux-schnell", IdempotencyKey = "item-1", Input = new Dictionary<string, object?> { ["prompt"] = "x" } };
        var first = await client.RunAsync(request);
        var second = await client.RunAsync(request);

        Assert.Equal(first.JobId, second.JobId);
        Assert.Equal(1, _sandbox.Stats.JobsCreated);
        Assert.Equal(1, _sandbox.Stats.JobsByIdempotencyKey["item-1"]);
    }

    [Fact]
    public void Endpoint_PlainHttpToNonLoopback_IsRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new AbstraktClient(new AbstraktClientOptions { Endpoint = new Uri("http://api.example.com") }));
        Assert.Contains("loopback", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ApiJson_OlderShapes_ReadAsTheNewest()
    {
        using var older = JsonDocument.Parse("""{"request_id":"r1","status":"succeeded","result":{"images":[{"url":"https://x/1.png","width":8,"height":8}]},"metrics":{"inference_time":1.5}}""");
        var job = ApiJson.ReadJob(older.RootElement);
        Assert.Equal("r1", job.JobId);
        Assert.Equal(JobStatus.Completed, job.Status);
        Assert.Equal("https://x/1.png", job.Outputs.Single().Url);
        Assert.Equal(TimeSpan.FromSeconds(1.5), job.Duration);

        using var envelope = JsonDocument.Parse("""{"event":"job.failed","timestamp":1,"data":{"request_id":"r2","status":"failed","error":{"code":"PROVIDER_FAILURE","message":"m"}}}""");
        var failed = ApiJson.ReadJob(envelope.RootElement);
        Assert.Equal(("r2", JobStatus.Failed, "PROVIDER_FAILURE"), (failed.JobId, failed.Status, failed.ErrorCode));
    }

    [Fact]
    public void Secret_ToString_NeverShowsTheKey()
    {
        var secret = new Secret("sk_test_0123456789abcdef");
        Assert.DoesNotContain("0123456789abcdef", secret.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>Reads a PNG's size and checks every chunk's CRC and that the image data inflates.</summary>
internal static class PngInfo
{
    public static (int Width, int Height) ReadAndVerify(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        var offset = 8;
        int width = 0, height = 0;
        using var idat = new MemoryStream();
        while (offset < png.Length)
        {
            var length = (png[offset] << 24) | (png[offset + 1] << 16) | (png[offset + 2] << 8) | png[offset + 3];
            var type = Encoding.ASCII.GetString(png, offset + 4, 4);
            var data = png.AsSpan(offset + 8, length);
            var crc = (uint)((png[offset + 8 + length] << 24) | (png[offset + 9 + length] << 16) | (png[offset + 10 + length] << 8) | png[offset + 11 + length]);
            Assert.Equal(System.IO.Hashing.Crc32Shim.Compute(png.AsSpan(offset + 4, length + 4)), crc);
            if (type == "IHDR")
            {
                width = (data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3];
                height = (data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7];
            }
            else if (type == "IDAT")
            {
                idat.Write(data);
            }

            offset += length + 12;
        }

        idat.Position = 0;
        using var inflate = new System.IO.Compression.ZLibStream(idat, System.IO.Compression.CompressionMode.Decompress);
        using var raw = new MemoryStream();
        inflate.CopyTo(raw);
        Assert.Equal(((width * 3) + 1) * height, raw.Length);
        return (width, height);
    }
}
