using System.Collections;

namespace Abstrakt.PowerShell.Tests;

public class ManifestTests
{
    private static Hashtable ReadManifest()
    {
        // Import-PowerShellDataFile's own method; the hosted engine has only the core cmdlets.
        var run = ModuleHost.Run(
            "[System.Management.Automation.Language.Parser]::ParseFile($path, [ref]$null, [ref]$null).Find({ $args[0] -is [System.Management.Automation.Language.HashtableAst] }, $false).SafeGetValue()",
            new Dictionary<string, object?> { ["path"] = ModuleHost.ManifestPath });
        Assert.Null(run.Terminating);
        return (Hashtable)run.Output.Single().BaseObject;
    }

    [Fact]
    public void ImportModule_FromRepositoryRoot_ExportsExactlyTheManifestCmdlets()
    {
        var run = ModuleHost.Run("Get-Command -Module Abstrakt | ForEach-Object { \"$($_.CommandType):$($_.Name)\" }");

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        var exported = ((object[])ReadManifest()["CmdletsToExport"]!).Cast<string>().Order().Select(n => "Cmdlet:" + n);
        Assert.Equal(exported, run.Output.Select(o => o.ToString()).Order());
    }

    [Fact]
    public void Manifest_ExportsNoWildcardsFunctionsAliasesOrVariables()
    {
        var manifest = ReadManifest();

        foreach (var key in new[] { "FunctionsToExport", "AliasesToExport", "VariablesToExport" })
        {
            Assert.Empty((object[])manifest[key]!);
        }

        Assert.DoesNotContain(((object[])manifest["CmdletsToExport"]!).Cast<string>(), n => n.Contains('*', StringComparison.Ordinal));
        Assert.Equal(new object[] { "Desktop", "Core" }, (object[])manifest["CompatiblePSEditions"]!);
        Assert.Equal("5.1", manifest["PowerShellVersion"]);
    }

    [Fact]
    public void Manifest_ModuleVersion_MatchesTheAssemblyVersion()
    {
        var run = ModuleHost.Run("(Get-Module Abstrakt).Version.ToString(3); [Abstrakt.PowerShell.ModuleInitializer].Assembly.GetName().Version.ToString(3)");

        Assert.Null(run.Terminating);
        Assert.Equal((string)ReadManifest()["ModuleVersion"]!, run.Output[0].ToString());
        Assert.Equal(run.Output[0].ToString(), run.Output[1].ToString());
    }

    [Fact]
    public void ImportModule_OnPowerShell7_LoadsThirdPartyDependenciesIntoAPrivateLoadContext()
    {
        // Running a batch loads Polly; it must come from the module's private load context, not the default one.
        var run = ModuleHost.Run("""
            Start-AbstraktSandbox -LatencyScale 0 | Out-Null
            'one' | Start-AbstraktBatch | Out-Null
            $polly = [AppDomain]::CurrentDomain.GetAssemblies().Where({ $_.GetName().Name -eq 'Polly.Core' })
            $polly | ForEach-Object { [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name }
            """);

        Assert.Null(run.Terminating);
        Assert.Equal("Abstrakt", Assert.Single(run.Output).ToString());
    }

    /// <summary>
    /// build.ps1, the Pester tests, their helpers and the examples also run in Windows PowerShell 5.1,
    /// which this machine lacks; at least the PowerShell parser must accept every one of them.
    /// </summary>
    [Fact]
    public void EveryShippedScript_ParsesWithoutErrors()
    {
        var scripts = new[] { "build.ps1", "Abstrakt.psd1" }.Select(f => Path.Combine(ModuleHost.RepoRoot, f))
            .Concat(Directory.GetFiles(Path.Combine(ModuleHost.RepoRoot, "tests", "Pester"), "*.ps*1"))
            .Concat(Directory.GetFiles(Path.Combine(ModuleHost.RepoRoot, "tools", "scripts"), "*.ps1"))
            .Concat(Directory.GetFiles(Path.Combine(ModuleHost.RepoRoot, "examples"), "*.ps1"))
            .ToList();

        var problems = scripts.SelectMany(path =>
        {
            System.Management.Automation.Language.Parser.ParseFile(path, out _, out var errors);
            return errors.Select(e => $"{Path.GetFileName(path)}:{e.Extent.StartLineNumber}: {e.Message}");
        });

        Assert.Contains(scripts, s => s.EndsWith("Cmdlets.Tests.ps1", StringComparison.Ordinal));
        Assert.Contains(scripts, s => s.EndsWith("TestSupport.psm1", StringComparison.Ordinal));
        Assert.Empty(problems);
    }
}
