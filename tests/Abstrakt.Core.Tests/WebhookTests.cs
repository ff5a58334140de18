using System.Net;
using System.Text;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;
using Abstrakt.Webhooks;

namespace Abstrakt.Core.Tests;

public sealed class WebhookTests
{
    private const string Payload = """{"job_id":"job_abc","status":"succeeded","model_id":"flux-schnell","output":{"type":"image","items":[{"type":"image","url":"http://127.0.0.1/x.png"}]},"credits_used":1}""";
    private static readonly Secret Secret = new("whsec_test_secret");

    private static (byte[] Body, string Timestamp, string Signature) Signed(string body, DateTimeOffset? at = null, string? secret = null)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var ts = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        return (bytes, ts, WebhookSignature.Compute(secret ?? Secret.Reveal(), ts, bytes));
    }

    [Fact]
    public void Deliver_TamperedBody_IsRefused()
    {
        var inbox = new WebhookInbox(Secret);
        var (_, ts, sig) = Signed(Payload);

        var outcome = inbox.Deliver(Encoding.UTF8.GetBytes(Payload.Replace("\"credits_used\":1", "\"credits_used\":0", StringComparison.Ordinal)), ts, sig);

        Assert.Equal(DeliveryOutcome.Unauthorized, outcome);
    }

    [Fact]
    public void Deliver_SignedWithAnotherSecret_IsRefused()
    {
        var inbox = new WebhookInbox(Secret);
        var (body, ts, sig) = Signed(Payload, secret: "whsec_someone_else");

        Assert.Equal(DeliveryOutcome.Unauthorized, inbox.Deliver(body, ts, sig));
    }

    [Fact]
    public void Deliver_StaleTimestamp_IsRefused()
    {
        var inbox = new WebhookInbox(Secret);
        var (body, ts, sig) = Signed(Payload, DateTimeOffset.UtcNow.AddSeconds(-301));

        Assert.Equal(DeliveryOutcome.Unauthorized, inbox.Deliver(body, ts, sig));
    }

    [Fact]
    public void Deliver_MissingHeaders_IsRefused()
    {
        var inbox = new WebhookInbox(Secret);
        Assert.Equal(DeliveryOutcome.Unauthorized, inbox.Deliver(Encoding.UTF8.GetBytes(Payload), null, null));
    }

    [Fact]
    public async Task Deliver_SameDeliveryReplayed_IsTakenOnceAndTheRepeatIgnored()
    {
        var inbox = new WebhookInbox(Secret);
        var (body, ts, sig) = Signed(Payload);

        Assert.Equal(DeliveryOutcome.Accepted, inbox.Deliver(body, ts, sig));
        Assert.Equal(DeliveryOutcome.Duplicate, inbox.Deliver(body, ts, sig));
        var job = await inbox.WaitAsync("job_abc", TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.Equal(JobStatus.Completed, job!.Status);
        Assert.Equal((1L, 1L), (inbox.Accepted, inbox.Duplicates));
    }

    [Fact]
    public async Task Deliver_BeforeAnyoneWaits_IsKeptForTheWaiter()
    {
        var inbox = new WebhookInbox(Secret);
        var (body, ts, sig) = Signed(Payload);
        inbox.Deliver(body, ts, sig);

        var job = await inbox.WaitAsync("job_abc", TimeSpan.FromMilliseconds(1), CancellationToken.None);

        Assert.NotNull(job);
    }

    [Fact]
    public async Task Wait_NoDelivery_ReturnsNullAfterTheGrace()
    {
        var inbox = new WebhookInbox(Secret);
        Assert.Null(await inbox.WaitAsync("job_never", TimeSpan.FromMilliseconds(50), CancellationToken.None));
    }

    [Fact]
    public async Task Listener_InvalidSignature_Answers401AndAValidOne200()
    {
        var inbox = new WebhookInbox(Secret);
        using var listener = new WebhookListener(TestListener.FreePrefix("hooks/"), inbox);
        using var http = new HttpClient();
        var (body, ts, sig) = Signed(Payload);

        async Task<HttpStatusCode> Post(string signature)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, listener.Prefix) { Content = new ByteArrayContent(body) };
            request.Headers.Add(WebhookSignature.TimestampHeader, ts);
            request.Headers.Add(WebhookSignature.SignatureHeader, signature);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await Post(new string('0', 64)));
        Assert.Equal(HttpStatusCode.OK, await Post(sig));
        Assert.Equal(HttpStatusCode.OK, await Post(sig)); // a repeat is acknowledged, and ignored
        Assert.Equal((1L, 1L, 1L), (inbox.Accepted, inbox.Duplicates, inbox.Refused));
    }

    [Fact]
    public async Task Batch_FiveHundredItemsByWebhook_DuplicatedAndShuffled_CompletesEachExactlyOnceWithoutPolling()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 0, Tier = SandboxTier.Unlimited,
            Faults = new SandboxFaults { WebhookDuplicate = true, WebhookShuffle = TimeSpan.FromMilliseconds(50) },
        });
        var inbox = new WebhookInbox(sandbox.WebhookSecret);
        using var listener = new WebhookListener(TestListener.FreePrefix("hooks/"), inbox);
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey });
        var options = new BatchOptions { ThrottleLimit = 32, WebhookUrl = new Uri(listener.Prefix), Webhooks = inbox, WebhookWait = TimeSpan.FromSeconds(60) };

        var events = new List<BatchEvent>();
        await foreach (var e in BatchRun.RunAsync(client, options, Enumerable.Range(1, 500).Select(i => new WorkItem(i, "hooked " + i))))
        {
            events.Add(e);
        }

        var completed = events.OfType<ItemCompleted>().ToList();
        Assert.Equal(500, completed.Count);
        Assert.Equal(500, completed.Select(c => c.Item.Index).Distinct().Count());
        Assert.Empty(events.OfType<ItemFailed>());
        Assert.Equal(500, sandbox.Stats.JobsCreated);
        Assert.Equal(500, inbox.Accepted);
        Assert.True(inbox.Duplicates > 0, "the sandbox was told to deliver twice");
        Assert.Equal(500, sandbox.Stats.RequestsTotal); // one create each; no item needed a poll
    }

    [Fact]
    public async Task Batch_LostDeliveries_FallBackToPolling()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions
        {
            LatencyScale = 0, Tier = SandboxTier.Unlimited, Faults = new SandboxFaults { WebhookDropRate = 1 },
        });
        var inbox = new WebhookInbox(sandbox.WebhookSecret);
        using var listener = new WebhookListener(TestListener.FreePrefix("hooks/"), inbox);
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey, PollInitialDelay = TimeSpan.FromMilliseconds(20) });
        var options = new BatchOptions { ThrottleLimit = 4, WebhookUrl = new Uri(listener.Prefix), Webhooks = inbox, WebhookWait = TimeSpan.FromMilliseconds(200) };

        var events = new List<BatchEvent>();
        await foreach (var e in BatchRun.RunAsync(client, options, Enumerable.Range(1, 8).Select(i => new WorkItem(i, "lost " + i))))
        {
            events.Add(e);
        }

        Assert.Equal(8, events.OfType<ItemCompleted>().Count());
        Assert.Equal(0, inbox.Accepted);
        Assert.Equal(8, sandbox.Stats.WebhooksDropped);
        Assert.Equal(8, events.OfType<ItemNote>().Count(n => n.Message.Contains("no webhook for job", StringComparison.Ordinal)));
    }
}
