namespace Abstrakt.PowerShell.Tests;

public class WebhookCmdletTests
{
    // Signs like the service: HMAC-SHA256 over "timestamp.body", lowercase hex (BCL only, in the script).
    private const string Sign = """
        $secret = 'whsec_pester'
        function Sign([string] $body, [long] $ts) {
            $hmac = [System.Security.Cryptography.HMACSHA256]::new([Text.Encoding]::UTF8.GetBytes($secret))
            [Convert]::ToHexString($hmac.ComputeHash([Text.Encoding]::UTF8.GetBytes("$ts.$body"))).ToLowerInvariant()
        }
        $now = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
        $body = '{"job_id":"job_1","status":"succeeded","model_id":"flux-dev","output":{"items":[{"url":"http://127.0.0.1/a.png"}]},"credits_used":3}'

        """;

    [Fact]
    public void TestAbstraktWebhookSignature_GoodTamperedWrongSecretStale()
    {
        var run = ModuleHost.Run(Sign + """
            Test-AbstraktWebhookSignature -Body $body -Timestamp $now -Signature (Sign $body $now) -Secret $secret
            Test-AbstraktWebhookSignature -Body ($body + ' ') -Timestamp $now -Signature (Sign $body $now) -Secret $secret
            Test-AbstraktWebhookSignature -Body $body -Timestamp $now -Signature (Sign $body $now) -Secret 'whsec_other'
            Test-AbstraktWebhookSignature -Body $body -Timestamp ($now - 400) -Signature (Sign $body ($now - 400)) -Secret $secret
            Test-AbstraktWebhookSignature -Body ([Text.Encoding]::UTF8.GetBytes($body)) -Timestamp $now -Signature (Sign $body $now) -Secret $secret
            """);

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal(new object[] { true, false, false, false, true }, run.Output.Select(o => o.BaseObject));
    }

    [Fact]
    public void ConvertFromAbstraktWebhook_EveryPayloadShape_GivesTheSameResult()
    {
        var run = ModuleHost.Run("""
            @(
            '{"job_id":"job_1","status":"succeeded","model_id":"flux-dev","output":{"items":[{"url":"http://127.0.0.1/a.png"}]},"credits_used":3}'
            '{"event":"job.completed","timestamp":"2026-02-08T10:30:45Z","data":{"request_id":"job_1","status":"completed","model_id":"flux-dev","output":{"items":[{"url":"http://127.0.0.1/a.png"}]},"credits_used":3}}'
            '{"request_id":"job_1","status":"completed","model_id":"flux-dev","result":{"items":[{"url":"http://127.0.0.1/a.png"}]},"credits_used":3}'
            ) | ConvertFrom-AbstraktWebhook
            """);

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal(3, run.Output.Count);
        Assert.All(run.Output, o =>
        {
            Assert.Equal("Abstrakt.PowerShell.Output.AbstraktResult", o.BaseObject.GetType().FullName);
            Assert.Equal("job_1", o.Properties["JobId"].Value);
            Assert.Equal("Completed", o.Properties["Status"].Value.ToString());
            Assert.Equal(new[] { "http://127.0.0.1/a.png" }, (IReadOnlyCollection<string>)o.Properties["Urls"].Value);
            Assert.Equal(3, o.Properties["CreditsUsed"].Value);
        });
    }

    [Fact]
    public void ConvertFromAbstraktWebhook_FailedJob_IsAnItemErrorWithAStableId()
    {
        var run = ModuleHost.Run("""'{"job_id":"job_2","status":"failed","error":{"code":"PROVIDER_FAILURE","message":"upstream"}}' | ConvertFrom-AbstraktWebhook""");

        Assert.Empty(run.Output);
        Assert.StartsWith("AbstraktItemFailed.ProviderFailure,", Assert.Single(run.Errors).FullyQualifiedErrorId, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tampered", "Mismatch")]
    [InlineData("stale", "Stale")]
    [InlineData("missing", "Missing")]
    public void ConvertFromAbstraktWebhook_WithSecretAndABadDelivery_IsATerminatingErrorNamingWhy(string what, string reason)
    {
        var run = ModuleHost.Run(Sign + $$"""
            $ts = if ('{{what}}' -eq 'stale') { $now - 400 } else { $now }
            $headers = @{ 'x-abstrakt-timestamp' = "$ts"; 'X-Abstrakt-Signature' = (Sign $body $ts) }
            if ('{{what}}' -eq 'tampered') { $body = $body.Replace('"credits_used":3', '"credits_used":0') }
            if ('{{what}}' -eq 'missing') { $headers = @{} }
            ConvertFrom-AbstraktWebhook -Body $body -Headers $headers -Secret $secret
            'after'
            """);

        var error = Assert.Single(run.AllErrors);
        Assert.StartsWith($"AbstraktWebhookSignatureInvalid.{reason},", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.DoesNotContain(run.Output, o => o.BaseObject.GetType().Name == "AbstraktResult");
    }

    [Fact]
    public void ConvertFromAbstraktWebhook_GoodSignature_ReturnsTheResult()
    {
        var run = ModuleHost.Run(Sign + """
            ConvertFrom-AbstraktWebhook -Body $body -Headers @{ 'X-Abstrakt-Timestamp' = "$now"; 'X-Abstrakt-Signature' = (Sign $body $now) } -Secret $secret
            """);

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal("job_1", Assert.Single(run.Output).Properties["JobId"].Value);
    }

    [Fact]
    public void StartAbstraktBatch_WebhookListener_CompletesEveryItemFromDeliveries()
    {
        var run = ModuleHost.Run("""
            $sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
            1..40 | ForEach-Object { "hooked $_" } | Start-AbstraktBatch -ThrottleLimit 8 -WebhookUrl $prefix -WebhookListener $prefix
            """, new Dictionary<string, object?> { ["prefix"] = ModuleHost.FreeLoopbackPrefix() });

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal(40, run.Output.Count);
        Assert.All(run.Output, o => Assert.Equal("Completed", o.Properties["Status"].Value.ToString()));
        Assert.Equal(40, run.Output.Select(o => o.Properties["Index"].Value).Distinct().Count());
    }

    [Fact]
    public void StartAbstraktBatch_WebhookUrlAlone_SubmitsReturnsJobsAndJournalsThemForWaitAbstraktJob()
    {
        var dir = ModuleHost.NewTempDirectory();
        var run = ModuleHost.Run("""
            $sb = Start-AbstraktSandbox -LatencyScale 0.05 -Tier Unlimited
            $jobs = 'a', 'b', 'c' | Start-AbstraktBatch -WebhookUrl 'http://127.0.0.1:9/elsewhere' -JournalPath "$dir/batch.jsonl"
            $jobs | ForEach-Object { $_.GetType().Name + ':' + $_.Status }
            ($jobs | Wait-AbstraktJob).Status
            """, new Dictionary<string, object?> { ["dir"] = dir });

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal(new[] { "AbstraktJob:Processing", "AbstraktJob:Processing", "AbstraktJob:Processing", "Completed", "Completed", "Completed" }, run.Output.Select(o => o.ToString()));
        var journal = File.ReadAllLines(Path.Combine(dir, "batch.jsonl"));
        Assert.Equal(3, journal.Count(l => l.Contains("\"type\":\"created\"", StringComparison.Ordinal)));
        Assert.DoesNotContain(journal, l => l.Contains("\"type\":\"completed\"", StringComparison.Ordinal));
    }

    [Fact]
    public void StartAbstraktBatch_ListenerWithoutUrl_IsRefusedWithAStableId()
    {
        var run = ModuleHost.Run("'a' | Start-AbstraktBatch -WebhookListener 'http://127.0.0.1:9/x/'");

        Assert.StartsWith("AbstraktWebhookListenerNeedsUrl,", Assert.Single(run.AllErrors).FullyQualifiedErrorId, StringComparison.Ordinal);
    }
}
