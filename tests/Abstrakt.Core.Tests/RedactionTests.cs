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
        Assert.Equal("****cdef", new Secret(Key).Hint);
        Assert.Equal("****cdef", new Secret(Key).ToString());
        Assert.Equal("****", new Secret("sk_short").Hint);
    }
}

/// <summary>Issue #15: an output URL on the user's own network is refused unless the endpoint is there too, or the user allows it.</summary>
public sealed class OutputHostTests
{
    [Theory]
    [InlineData("linklocal-output", false, ErrorCodes.BadResponse, "link-local")]
    [InlineData("private-output", false, ErrorCodes.BadResponse, "private-range")]
    [InlineData("private-output", true, ErrorCodes.Transport, "")]
    public async Task AnOutputOnAPrivateHost_IsRefusedBeforeAnyRequest_UnlessAllowed(string kind, bool allow, string expectedCode, string says)
    {
        // The endpoint is on loopback (as the sandbox is), so loopback outputs are allowed; other private kinds are not.
        using var garbage = new GarbageServer(kind);
        using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = garbage.Uri, ApiKey = new Secret("sk_test_output_hosts"), RequestTimeout = TimeSpan.FromSeconds(2) });
        var options = new BatchOptions
        {
            MaxRetry = 0, OutputDirectory = Path.Combine(Path.GetTempPath(), "abstrakt-output-hosts", Guid.NewGuid().ToString("N")), AllowPrivateOutputHost = allow,
        };

        var (events, fatal) = await ChaosTests.RunToEnd(client, options, [new WorkItem(1, "x")]);

        Assert.Null(fatal);
        var failed = Assert.Single(events.OfType<ItemFailed>());
        Assert.Equal(expectedCode, failed.Error.Code);
        Assert.Contains(says, failed.Error.Message, StringComparison.Ordinal);
        if (!allow)
        {
            Assert.Contains("-AllowPrivateOutputHost", failed.Error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("127.0.0.1", "Loopback")]
    [InlineData("::1", "Loopback")]
    [InlineData("169.254.169.254", "LinkLocal")]
    [InlineData("fe80::1", "LinkLocal")]
    [InlineData("10.1.2.3", "Private")]
    [InlineData("172.16.0.1", "Private")]
    [InlineData("172.31.255.255", "Private")]
    [InlineData("192.168.1.1", "Private")]
    [InlineData("100.64.0.1", "Private")]
    [InlineData("fd00::2", "Private")]
    [InlineData("::ffff:10.0.0.1", "Private")]
    [InlineData("172.32.0.1", "Public")]
    [InlineData("8.8.8.8", "Public")]
    [InlineData("2606:4700::1111", "Public")]
    public void Addresses_AreClassifiedByRange(string address, string expected)
    {
        Assert.Equal(expected, OutputHosts.Classify(System.Net.IPAddress.Parse(address)).ToString());
    }
}
