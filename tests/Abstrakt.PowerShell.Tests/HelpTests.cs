namespace Abstrakt.PowerShell.Tests;

/// <summary>Get-Help, as a user runs it, shows real help for every exported cmdlet and the about topic.</summary>
public class HelpTests
{
    [Fact]
    public void GetHelp_EveryCmdlet_HasSynopsisDescriptionExamplesAndEveryParameterDescribed()
    {
        // Lists what is missing, so one failure names every gap.
        const string script = """
            $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
            foreach ($command in Get-Command -Module Abstrakt) {
                $help = Get-Help $command.Name -Full
                $name = $command.Name
                if (-not $help.Synopsis -or $help.Synopsis.StartsWith("$name ")) { "${name}: no synopsis" }
                if (-not ($help.description | ForEach-Object Text)) { "${name}: no description" }
                if (@($help.examples.example).Count -lt 1 -or -not $help.examples.example[0].code) { "${name}: no example" }
                foreach ($parameter in $command.Parameters.Keys) {
                    if ($common -contains $parameter) { continue }
                    $text = ($help.parameters.parameter | Where-Object name -eq $parameter).description | ForEach-Object Text
                    if (-not $text) { "${name}: -$parameter has no description" }
                }
                "checked $name"
            }
            """;

        var run = ModuleHost.Run(script);

        Assert.Null(run.Terminating);
        Assert.Empty(run.Errors);
        var lines = run.Output.Select(o => o.ToString()).ToList();
        Assert.DoesNotContain(lines, l => !l.StartsWith("checked ", StringComparison.Ordinal));
        Assert.True(lines.Count >= 12, "expected every exported cmdlet to be checked: " + string.Join(", ", lines));
    }

    [Fact]
    public void GetHelp_StartAbstraktBatchExample_ShowsTheOneLineBatch()
    {
        var run = ModuleHost.Run("(Get-Help Start-AbstraktBatch -Examples).examples.example[0].code");

        Assert.Null(run.Terminating);
        Assert.Contains("Start-AbstraktBatch -ThrottleLimit 5 -OutputDirectory ./out", run.Output.Single().ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void GetHelp_AboutAbstrakt_IsFound()
    {
        var run = ModuleHost.Run("(Get-Help about_Abstrakt).ToString()");

        Assert.Null(run.Terminating);
        Assert.Contains("Idempotency-Key", run.Output.Single().ToString(), StringComparison.Ordinal);
    }
}
