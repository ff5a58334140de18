using System.Reflection;
using Abstrakt.Api;

namespace Abstrakt.Core.Tests;

/// <summary>The layering docs/architecture.md draws, held by the compiled assemblies.</summary>
public class ArchitectureTests
{
    [Fact]
    public void Core_ReferencesNeitherTheSandboxNorPowerShell()
    {
        var references = typeof(AbstraktClient).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();

        Assert.DoesNotContain("Abstrakt.Sandbox", references);
        Assert.DoesNotContain("System.Management.Automation", references);
    }

    [Fact]
    public void Sandbox_IsItsOwnAssembly_BuiltOnTheCore()
    {
        var sandbox = typeof(Abstrakt.Sandbox.SandboxServer).Assembly;

        Assert.Equal("Abstrakt.Sandbox", sandbox.GetName().Name);
        Assert.Contains("Abstrakt.Core", sandbox.GetReferencedAssemblies().Select(a => a.Name));
    }

    [Fact]
    public void ArchitectureDoc_NamesOnlyFoldersThatExist()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Abstrakt.psd1")))
        {
            root = root.Parent ?? throw new InvalidOperationException("Abstrakt.psd1 not found above the test's folder");
        }

        var doc = File.ReadAllText(Path.Combine(root.FullName, "docs", "architecture.md"));
        var folders = System.Text.RegularExpressions.Regex.Matches(doc, @"src/Abstrakt\.[A-Za-z]+(/[A-Za-z]+)*").Select(m => m.Value).Distinct().ToList();

        Assert.Contains("src/Abstrakt.Core/Api/Handlers", folders);
        Assert.All(folders, folder => Assert.True(Directory.Exists(Path.Combine(root.FullName, folder)), folder + " is in docs/architecture.md but not in the tree"));
    }
}
