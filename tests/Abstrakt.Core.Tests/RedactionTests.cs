using System.Net;
using System.Text;
using Abstrakt.Api;
using Abstrakt.Engine;

namespace Abstrakt.Core.Tests;

/// <summary>Issue #15: a server that echoes secrets back never gets them into an error, a note or the journal.</summary>
public sealed class RedactionTests
{
    private const string Key = "sk_test_echoed_0123456789abcdef";
    private const string WebhookSecret = "whsec_echoed_fedcba9876543210";

    [Fact]
    public async Task AServerThatEchoesTheKeyAndTheWebhookSecret_IsScrubbedFromErrorsDetailsAndTheJournal()
    {
        var webhook = new Secret(WebhookSecret); // the session holds it, as Start-AbstraktBatch -WebhookSecret does
        using var echo = new TestListener(string.Empty, async context =>
        {
            var auth = context.Request.Headers["Authorization"];
            string body;
            using (var reader = new StreamReader(context.Request.InputStream))
            {
                body = await reader.ReadToEndAsync();
            }

            var quoted = $"you sent Authorization: {auth} and the webhook secret {webhook.Reveal()}";
            var (status, json) = body.Contains("envelope", StringComparison.Ordinal)
                ? (400, $"{{\"error\":{{\"code\":\"INVALID_INPUT\",\"message\":\"{quoted}\",\"details\":{{\"header\":\"{auth}\"}}}}}}")
                : (200, $"{{\"job_id\":\"job_1\",\"status\":\"failed\",\"error\":{{\"code\":\"INFERENCE_FAILED\",\"message\":\"{quoted}\"}}}}");
            var bytes = Encoding.UTF8.GetBytes(json);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        });
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = echo.Url, ApiKey = new Secret(Key) });
        var journal = Path.Combine(Path.GetTempPath(), "abstrakt-redaction", Guid.NewGuid().ToString("N"), "batch.jsonl");

        var (events, fatal) = await ChaosTests.RunToEnd(client, new BatchOptions { ThrottleLimit = 1, JournalPath = journal }, [new WorkItem(1, "job failure"), new WorkItem(2, "envelope")]);

        Assert.Null(fatal);
        var failures = events.OfType<ItemFailed>().ToList();
        Assert.Equal(2, failures.Count);
        var seen = failures.Select(f => f.Error.ToString() + f.Error.Details).Append(File.ReadAllText(journal)).ToList();
        Assert.All(failures, f => Assert.Contains("Authorization: Bearer ***", f.Error.Message, StringComparison.Ordinal));
        foreach (var text in seen)
        {
            Assert.DoesNotContain(Key, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Key["sk_test_echoed_".Length..], text, StringComparison.Ordinal);
            Assert.DoesNotContain(WebhookSecret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(WebhookSecret["whsec_echoed_".Length..], text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheKeyHint_ShowsTheLastFourCharactersOnly()
    {
        Assert.Equal("…cdef", new Secret(Key).Hint);
        Assert.Equal("…cdef", new Secret(Key).ToString());
        Assert.Equal("***", new Secret("sk_short").Hint);
    }
}
