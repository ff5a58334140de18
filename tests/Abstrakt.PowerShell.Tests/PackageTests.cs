using System.Management.Automation.Runspaces;

namespace Abstrakt.PowerShell.Tests;

/// <summary>build.ps1 -Task Package, run in the real engine, makes a module folder that works on its own.</summary>
public class PackageTests
{
    [Fact]
    public void BuildPackage_FromTheStagedBuild_HoldsOnlyTheModuleAndImportsOnItsOwn()
    {
        var outDir = ModuleHost.NewTempDirectory();
        var build = ModuleHost.Run(
            "& $script -Task Package -NoBuild -OutputPath $out",
            new Dictionary<string, object?> { ["script"] = Path.Combine(ModuleHost.RepoRoot, "build.ps1"), ["out"] = outDir });
        Assert.Null(build.Terminating);
        Assert.Empty(build.Errors);

        var version = Directory.GetDirectories(Path.Combine(outDir, "Abstrakt")).Single();
        Assert.Equal("0.1.0", Path.GetFileName(version));
        var files = Directory.GetFiles(version, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(version, f).Replace('\\', '/'))
            .ToList();
        var expected = new[]
        {
            "Abstrakt.psd1", "LICENSE", "README.md", "module/Abstrakt.PowerShell.dll", "module/Abstrakt.Core.dll", "module/Abstrakt.Sandbox.dll",
            "module/Abstrakt.Format.ps1xml", "en-US/Abstrakt.PowerShell.dll-Help.xml", "en-US/about_Abstrakt.help.txt",
        };
        Assert.Empty(expected.Except(files));
        // Anything else is a third-party dependency, and only a dll.
        Assert.All(files.Except(expected), f => Assert.Matches("^module/dependencies/[^/]+\\.dll$", f));
        Assert.Contains("module/dependencies/Polly.Core.dll", files);

        // A fresh engine that has never seen the repository imports the packaged copy and gets its help.
        var state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(Path.Combine(version, "Abstrakt.psd1"));
        using var runspace = RunspaceFactory.CreateRunspace(state);
        runspace.Open();
        var run = ModuleHost.Run(runspace, "(Get-Command Start-AbstraktBatch).Module.ModuleBase; (Get-Help Start-AbstraktBatch).Synopsis");
        Assert.Null(run.Terminating);
        Assert.Equal(version, run.Output[0].ToString());
        Assert.StartsWith("Runs a batch of prompts", run.Output[1].ToString(), StringComparison.Ordinal);
    }
}
