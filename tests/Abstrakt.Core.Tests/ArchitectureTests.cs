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
}
