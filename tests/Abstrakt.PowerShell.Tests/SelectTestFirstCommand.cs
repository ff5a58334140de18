using System.Management.Automation;
using System.Reflection;

namespace Abstrakt.PowerShell.Tests;

/// <summary>
/// Ends the pipeline after -First objects exactly as Select-Object -First does (by throwing
/// PowerShell's internal StopUpstreamCommandsException), because the hosted engine has no Select-Object.
/// </summary>
[Cmdlet("Select", "TestFirst")]
public sealed class SelectTestFirstCommand : PSCmdlet
{
    private static readonly Type StopUpstream = typeof(PSCmdlet).Assembly.GetType("System.Management.Automation.StopUpstreamCommandsException", throwOnError: true)!;
    private int _seen;

    [Parameter(ValueFromPipeline = true)]
    public PSObject? InputObject { get; set; }

    [Parameter(Mandatory = true)]
    public int First { get; set; }

    protected override void ProcessRecord()
    {
        WriteObject(InputObject);
        if (++_seen >= First)
        {
            throw (Exception)Activator.CreateInstance(StopUpstream, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, null, [this], null)!;
        }
    }
}
