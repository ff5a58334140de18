using System.Management.Automation;
using Abstrakt.PowerShell.Output;
using Abstrakt.PowerShell.Session;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Gets the session's connection: endpoint, the key's last four characters, sandbox or not.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "AbstraktConnection")]
    [OutputType(typeof(AbstraktConnectionInfo))]
    public sealed class GetAbstraktConnectionCommand : PSCmdlet
    {
        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            if (AbstraktSession.Connection is { } connection)
            {
                WriteObject(new AbstraktConnectionInfo(connection));
            }
            else
            {
                WriteVerbose("Not connected: cmdlets will use $env:" + AbstraktSession.KeyVariable + ", else the built-in sandbox.");
            }
        }
    }
}
