using System.Management.Automation;
using Abstrakt.Tests.Shared;

namespace Abstrakt.PowerShell.Tests;

/// <summary>Issue #8 as a user meets it: bad input gets a clear error with a stable id, and no secret leaks.</summary>
public class ReliabilityCmdletTests
{
    private const string Sandbox = "$sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited\n";

    [Theory]
    [InlineData("'a' | Start-AbstraktBatch -ThrottleLimit 0", "ParameterArgumentValidationError", "ThrottleLimit")]
    [InlineData("'a' | Start-AbstraktBatch -MaxRetry -1", "ParameterArgumentValidationError", "MaxRetry")]
    [InlineData("'a' | Start-AbstraktBatch -Model 'no-such-model'", "AbstraktBatchFatal.ModelNotFound", "no-such-model")]
    [InlineData("[pscustomobject]@{ Prompt = 'x'; ImageSize = 'huge' } | Start-AbstraktBatch", "AbstraktItemFailed.InvalidInput", "image_size")]
    [InlineData("('x' * 102400) | Start-AbstraktBatch", "AbstraktItemFailed.InvalidInput", "prompt")]
    [InlineData("\"bad `u{D800} surrogate\" | Start-AbstraktBatch", "AbstraktInvalidInput", "surrogate")]
    [InlineData("'a' | Start-AbstraktBatch -OutputDirectory $file", "AbstraktInvalidOutputDirectory", "is a file")]
    [InlineData("'a' | Start-AbstraktBatch -JournalPath $corrupt -Resume", "AbstraktJournalCorrupt", "")]
    [InlineData("Connect-Abstrakt -Endpoint 'http://example.org' -ApiKey ([System.Net.NetworkCredential]::new('', 'sk_x').SecurePassword)", "AbstraktInvalidEndpoint", "http")]
    [InlineData("Connect-Abstrakt -Endpoint 'http://127.0.0.1:1' -ApiKey ([System.Net.NetworkCredential]::new('', 'sk_x').SecurePassword) -SkipCheck; 1..20 | ForEach-Object { \"p$_\" } | Start-AbstraktBatch -MaxRetry 1", "AbstraktBatchFatal.EndpointUnreachable", "Cannot reach http://127.0.0.1:1")]
    public void BadInput_IsAClearErrorWithAStableId(string command, string id, string mentions)
    {
        var dir = ModuleHost.NewTempDirectory();
        var file = Path.Combine(dir, "a-file");
        File.WriteAllText(file, "not a directory");
        var corrupt = Path.Combine(dir, "corrupt.jsonl");
        File.WriteAllText(corrupt, "this is not a journal\n{\"type\":\n");

        var run = ModuleHost.Run(Sandbox + command, new Dictionary<string, object?> { ["file"] = file, ["corrupt"] = corrupt });

        var error = Assert.Single(run.AllErrors);
        Assert.StartsWith(id + ",", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Contains(mentions, error.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Empty(run.Output);
    }

    [Fact]
    public void Resume_WithAJournalOfADifferentBatch_SaysWhatDiffers()
    {
        var journal = Path.Combine(ModuleHost.NewTempDirectory(), "batch.jsonl");
        var run = ModuleHost.Run(Sandbox + """
            'first', 'second' | Start-AbstraktBatch -JournalPath $journal | Out-Null
            'other', 'second' | Start-AbstraktBatch -JournalPath $journal -Resume
            """, new Dictionary<string, object?> { ["journal"] = journal });

        var error = Assert.Single(run.AllErrors);
        Assert.StartsWith("AbstraktJournalDiffers", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Contains("'first' in the journal, 'other' now", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void FullBatch_WithVerboseDebugFaultsJournalAndWebhooks_NeverShowsTheKeyOrTheWebhookSecret()
    {
        var dir = ModuleHost.NewTempDirectory();
        var prefix = ModuleHost.FreeLoopbackPrefix();

        using var runspace = ModuleHost.OpenRunspace(new Dictionary<string, object?> { ["dir"] = dir, ["prefix"] = prefix });
        var run = ModuleHost.Run(runspace, """
            $sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited -TransientErrorRate 0.3 -InferenceFailureRate 0.2 -Seed 5
            $sb
            1..20 | ForEach-Object { "secret scan $_" } |
                Start-AbstraktBatch -MaxRetry 2 -Verbose -Debug -JournalPath "$dir/batch.jsonl" -OutputDirectory "$dir/out" -WebhookUrl $prefix -WebhookListener $prefix
            Connect-Abstrakt -Endpoint $sb.Uri -ApiKey $sb.ApiKey -Verbose
            'x' | Start-AbstraktBatch -Model nope -Verbose
            """);
        var secrets = ModuleHost.Run(runspace, "[System.Net.NetworkCredential]::new('', $sb.ApiKey).Password; [System.Net.NetworkCredential]::new('', $sb.WebhookSecret).Password");
        var key = secrets.Output[0].ToString();
        var webhookSecret = secrets.Output[1].ToString();
        Assert.StartsWith("sk_test_", key, StringComparison.Ordinal);
        Assert.StartsWith("whsec_", webhookSecret, StringComparison.Ordinal);

        // Everything a user or a log could see: objects with every property, errors with their
        // exceptions (inner ones too), warnings, verbose, debug, progress, information, and files.
        var seen = new List<string>();
        seen.AddRange(run.Output.Select(o => o.ToString()));
        seen.AddRange(run.Output.SelectMany(o => o.Properties.Select(p => $"{p.Name}={FormatValue(p)}")));
        seen.AddRange(run.AllErrors.Select(e => e.ToString() + e.Exception + e.ErrorDetails?.Message + e.TargetObject));
        seen.AddRange(run.Warnings.Select(w => w.Message));
        seen.AddRange(run.Verbose.Select(v => v.Message));
        seen.AddRange(run.Debug.Select(d => d.Message));
        seen.AddRange(run.Progress.Select(p => $"{p.Activity} {p.StatusDescription} {p.CurrentOperation}"));
        seen.AddRange(run.Information.Select(i => i.MessageData?.ToString() ?? string.Empty));
        seen.AddRange(Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".png", StringComparison.Ordinal)).Select(File.ReadAllText));
        seen.AddRange(Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(Path.GetFileName)!);

        Assert.True(run.Verbose.Count > 20, "expected a verbose trace to scan");
        Assert.NotEmpty(run.AllErrors);
        foreach (var text in seen)
        {
            Assert.DoesNotContain(key, text, StringComparison.Ordinal);
            Assert.DoesNotContain(key[8..], text, StringComparison.Ordinal);
            Assert.DoesNotContain(webhookSecret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(webhookSecret[6..], text, StringComparison.Ordinal);
        }
    }

    private static string FormatValue(PSPropertyInfo p)
    {
        try
        {
            return p.Value is System.Collections.IEnumerable list and not string ? string.Join(",", list.Cast<object>()) : p.Value?.ToString() ?? string.Empty;
        }
        catch (GetValueException)
        {
            return string.Empty;
        }
    }
}

/// <summary>Issue #15: CSV rows that are wrong are that row's error, never the batch's end or another row's output.</summary>
public class CsvRowTests
{
    [Fact]
    public void StartAbstraktBatch_ABadNumberCell_IsThatRowsErrorNamingRowAndColumn_AndTheOtherRowsRun()
    {
        var dir = ModuleHost.NewTempDirectory();
        var run = ModuleHost.Run("$sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited\n" + """
            # As Import-Csv gives them (the hosted engine has only the core cmdlets): every cell a string.
            @(
                [pscustomobject]@{ Prompt = 'one'; NumImages = '1' }
                [pscustomobject]@{ Prompt = 'two'; NumImages = '2' }
                [pscustomobject]@{ Prompt = 'three'; NumImages = 'abc' }
                [pscustomobject]@{ Prompt = 'four'; NumImages = '1' }
            ) | Start-AbstraktBatch -JournalPath "$dir/batch.jsonl"
            """, new Dictionary<string, object?> { ["dir"] = dir });

        Assert.Null(run.Terminating);
        Assert.Equal(new[] { "four", "one", "two" }, run.Output.Select(o => (string)o.Properties["Prompt"].Value).Order());
        var error = Assert.Single(run.Errors);
        Assert.StartsWith("AbstraktInvalidInput,", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Contains("row 3, column NumImages: 'abc'", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("three", ((PSObject)error.TargetObject).Properties["Prompt"].Value);
    }

    [Fact]
    public void StartAbstraktBatch_ARepeatedId_IsAnItemErrorForTheSecondRow_AndItsImageIsNeverSavedUnderTheFirst()
    {
        var dir = ModuleHost.NewTempDirectory();
        var run = ModuleHost.Run("$sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited\n" + """
            @(
                [pscustomobject]@{ Id = 'cat'; Prompt = 'a cat' }
                [pscustomobject]@{ Id = 'dog'; Prompt = 'a dog' }
                [pscustomobject]@{ Id = 'cat'; Prompt = 'a dog pretending to be a cat' }
            ) | Start-AbstraktBatch -OutputDirectory $dir
            """, new Dictionary<string, object?> { ["dir"] = dir });

        Assert.Null(run.Terminating);
        var error = Assert.Single(run.Errors);
        Assert.StartsWith("AbstraktItemFailed.DuplicateId,", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal("a dog pretending to be a cat", ((PSObject)error.TargetObject).Properties["Prompt"].Value);
        Assert.Equal(new[] { "a cat", "a dog" }, run.Output.Select(o => (string)o.Properties["Prompt"].Value).Order());
        Assert.Equal(2, Directory.GetFiles(dir, "*.png").Length);
    }
}

/// <summary>Issue #15: -Resume on a journal that is not there still runs, and says so.</summary>
public class ResumeNothingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StartAbstraktBatch_ResumeOnAMissingOrEmptyJournal_RunsTheBatchWithAWarningNamingThePath(bool empty)
    {
        var journal = Path.Combine(ModuleHost.NewTempDirectory(), "bathc.jsonl");
        if (empty)
        {
            File.WriteAllText(journal, string.Empty);
        }

        var run = ModuleHost.Run("$sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited\n'a', 'b' | Start-AbstraktBatch -JournalPath $journal -Resume", new Dictionary<string, object?> { ["journal"] = journal });

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        Assert.Equal(2, run.Output.Count);
        var warning = Assert.Single(run.Warnings, w => w.Message.Contains("Nothing to resume", StringComparison.Ordinal));
        Assert.Contains(journal, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StartAbstraktBatch_ResumeOnAJournalWithContent_GivesNoSuchWarning()
    {
        var journal = Path.Combine(ModuleHost.NewTempDirectory(), "batch.jsonl");
        var run = ModuleHost.Run("$sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited\n'a' | Start-AbstraktBatch -JournalPath $journal | Out-Null\n'a' | Start-AbstraktBatch -JournalPath $journal -Resume", new Dictionary<string, object?> { ["journal"] = journal });

        Assert.Null(run.Terminating);
        Assert.Single(run.Output);
        Assert.DoesNotContain(run.Warnings, w => w.Message.Contains("Nothing to resume", StringComparison.Ordinal));
    }
}

/// <summary>Issue #15 as a user meets it: an output disk that fills is one terminating error, and the batch resumes.</summary>
public class FullDiskTests
{
    [LinuxRootFact]
    public void StartAbstraktBatch_OnAnOutputDiskThatFills_IsOneAbstraktBatchFatalDiskFull_AndAResumeElsewhereCompletesTheRest()
    {
        var dir = ModuleHost.NewTempDirectory();
        using var runspace = ModuleHost.OpenRunspace(new Dictionary<string, object?> { ["dir"] = dir });
        ModuleHost.Run(runspace, "$sb = Start-AbstraktSandbox -LatencyScale 0 -Tier Unlimited");
        ScriptRun run;
        const string Items = "1..60 | ForEach-Object { [pscustomobject]@{ Prompt = \"fill $_\"; ImageSize = 'square' } }";
        using (var small = new Tmpfs(Path.Combine(dir, "small"), "512k"))
        {
            run = ModuleHost.Run(runspace, Items + " | Start-AbstraktBatch -OutputDirectory \"$dir/small\" -JournalPath \"$dir/batch.jsonl\"");
        }

        var fatal = Assert.Single(run.AllErrors);
        Assert.StartsWith("AbstraktBatchFatal.DiskFull,", fatal.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(ErrorCategory.WriteError, fatal.CategoryInfo.Category);
        Assert.Contains("-Resume", fatal.ErrorDetails.RecommendedAction, StringComparison.Ordinal);
        Assert.InRange(run.Output.Count, 1, 59);

        var resumed = ModuleHost.Run(runspace, Items + " | Start-AbstraktBatch -OutputDirectory \"$dir/roomy\" -JournalPath \"$dir/batch.jsonl\" -Resume");
        Assert.Empty(resumed.AllErrors);
        Assert.Equal(60, resumed.Output.Count);
    }
}
