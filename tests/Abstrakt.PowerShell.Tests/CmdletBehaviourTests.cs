namespace Abstrakt.PowerShell.Tests;

public class CmdletBehaviourTests
{
    private static readonly string TestCmdlets = "Import-Module '" + typeof(SelectTestFirstCommand).Assembly.Location + "'\n";

    [Fact]
    public void StartAbstraktBatch_DownstreamTakesFirstThree_EndsTheBatchCleanlyAndCancelsTheRest()
    {
        using var runspace = ModuleHost.OpenRunspace();
        // Slow video jobs beside fast image ones, so some are certainly still running when the pipeline ends.
        ModuleHost.Run(runspace, "$sb = Start-AbstraktSandbox -LatencyScale 0.5 -Tier Unlimited");
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var run = ModuleHost.Run(runspace, TestCmdlets + """
            # Fast images between slow videos: the first three results are images; the videos are still running then.
            1..200 | ForEach-Object { if ($_ % 2) { [pscustomobject]@{ Prompt = "image $_"; Model = 'flux-schnell' } } else { [pscustomobject]@{ Prompt = "clip $_"; Model = 'minimax-video' } } } |
                Start-AbstraktBatch -ThrottleLimit 8 | Select-TestFirst -First 3
            'after'
            """);
        watch.Stop();

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal(4, run.Output.Count);
        Assert.Equal("after", run.Output[3].ToString());
        var stats = ModuleHost.Run(runspace, ModuleHost.SandboxStatsFunction + "$s = Stats; $s.GetProperty('jobs_created').GetInt64(); $s.GetProperty('jobs_cancelled').GetInt64()");
        var created = (long)stats.Output[0].BaseObject;
        var cancelled = (long)stats.Output[1].BaseObject;
        Assert.InRange(created, 3, 40); // stopped dispatching: nowhere near 200
        Assert.True(cancelled >= 1, $"{created} jobs created, none cancelled");
    }

    [Fact]
    public void StartAbstraktBatch_Verbose_DescribesEachRequestAndNeverTheKey()
    {
        var run = ModuleHost.Run("""
            $sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
            $key = [System.Net.NetworkCredential]::new('', $sb.ApiKey).Password
            'a', 'b' | Start-AbstraktBatch -Verbose
            $key
            """);

        Assert.Null(run.Terminating);
        var key = run.Output[^1].ToString();
        Assert.StartsWith("sk_test_", key, StringComparison.Ordinal);
        var verbose = run.Verbose.Select(v => v.Message).ToList();
        Assert.Equal(2, verbose.Count(v => v.Contains("POST /v1/models/flux-schnell/run -> 200", StringComparison.Ordinal)));
        Assert.Contains(verbose, v => v.StartsWith("Batch summary: 2 done, 0 failed", StringComparison.Ordinal));
        Assert.DoesNotContain(verbose, v => v.Contains(key, StringComparison.Ordinal) || v.Contains(key[^12..], StringComparison.Ordinal));
    }

    [Fact]
    public void StartAbstraktBatch_VerboseWithRetries_SaysWhyItWaits()
    {
        var run = ModuleHost.Run("""
            $sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited -TransientErrorRate 0.5 -Seed 3
            1..6 | ForEach-Object { "p $_" } | Start-AbstraktBatch -MaxRetry 10 -Verbose
            """);

        Assert.Null(run.Terminating);
        Assert.Equal(6, run.Output.Count);
        var verbose = run.Verbose.Select(v => v.Message).ToList();
        Assert.Contains(verbose, v => v.Contains("retry 1 of 10 in", StringComparison.Ordinal));
        Assert.Contains(verbose, v => v.Contains("-> 503 MODEL_UNAVAILABLE", StringComparison.Ordinal) || v.Contains("-> 500 TRANSPORT", StringComparison.Ordinal));
    }

    [Fact]
    public void StartAbstraktBatch_WithoutVerbose_TracesNothing()
    {
        var run = ModuleHost.Run("$sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited; 'a' | Start-AbstraktBatch");

        Assert.Null(run.Terminating);
        Assert.Empty(run.Verbose);
    }

    [Fact]
    public void InvokeAbstraktImage_PositionalAndPipelinePrompts_ReturnOneResultEachWithTheRequestedImages()
    {
        var dir = ModuleHost.NewTempDirectory();
        var run = ModuleHost.Run("""
            $sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
            Invoke-AbstraktImage 'a red fox' -ImageSize landscape_16_9 -NumImages 2 -Seed 4 -OutputDirectory $dir
            'a snow owl', 'a lake' | Invoke-AbstraktImage -Model fast-sdxl
            """, new Dictionary<string, object?> { ["dir"] = dir });

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal(3, run.Output.Count);
        var fox = run.Output[0];
        Assert.Equal(2, ((IReadOnlyCollection<string>)fox.Properties["Urls"].Value).Count);
        Assert.Equal(2, Directory.GetFiles(dir, "*.png").Length);
        Assert.All(run.Output.Skip(1), o => Assert.Equal("fast-sdxl", o.Properties["Model"].Value));
    }

    [Fact]
    public void InvokeAbstraktImage_InvalidSize_IsRejectedByParameterValidation()
    {
        var run = ModuleHost.Run("Invoke-AbstraktImage 'x' -ImageSize huge");

        var error = Assert.Single(run.AllErrors);
        Assert.StartsWith("ParameterArgumentValidationError,", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Contains("ImageSize", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void InvokeAbstraktModel_SpeechAndSlowVideo_CompleteWithTheirFiles()
    {
        var dir = ModuleHost.NewTempDirectory();
        var run = ModuleHost.Run("""
            $sb = Start-AbstraktSandbox -LatencyScale 0.01 -SyncTimeoutSec 0.1 -Tier Unlimited
            Invoke-AbstraktModel kokoro-tts @{ text = 'hello'; voice = 'river' } -OutputDirectory $dir
            Invoke-AbstraktModel minimax-video @{ prompt = 'waves'; duration = 3 } -OutputDirectory $dir
            """, new Dictionary<string, object?> { ["dir"] = dir });

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal(2, run.Output.Count);
        Assert.Single(Directory.GetFiles(dir, "*.wav"));
        Assert.Single(Directory.GetFiles(dir, "*.png").Concat(Directory.GetFiles(dir, "*.apng")).Concat(Directory.GetFiles(dir, "*.mp4")));
    }

    [Fact]
    public void InvokeAbstraktModel_InputAgainstTheSchema_FailsTheItemWithTheServiceDetails()
    {
        var run = ModuleHost.Run("""
            $sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited
            Invoke-AbstraktModel kokoro-tts @{ text = 'hello'; voice = 'robot' }
            """);

        Assert.Null(run.Terminating);
        var error = Assert.Single(run.Errors);
        Assert.StartsWith("AbstraktItemFailed.InvalidInput,", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Contains("voice", error.ToString(), StringComparison.Ordinal);
    }
}
