using System.Management.Automation;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Asks every runner of a shared batch to stop and cancel its jobs.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "AbstraktBatch", SupportsShouldProcess = true)]
    [OutputType(typeof(AbstraktBatchInfo))]
    public sealed class StopAbstraktBatchCommand : StoreCmdletBase
    {
        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            var batch = OpenBatch();
            var before = StatusOf(batch);
            if (ShouldProcess($"batch '{BatchName}' ({before.Runners.Length} runners, {before.InFlight} items in flight)", "Stop every runner"))
            {
                batch.RequestStop();
                WriteObject(StatusOf(batch));
            }
        }
    }
}
