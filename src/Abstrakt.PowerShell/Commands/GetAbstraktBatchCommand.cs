using System.Management.Automation;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Shows a shared batch from anywhere: done, failed, in flight, per runner, credits; or streams its results.</para>
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "AbstraktBatch", DefaultParameterSetName = StatusSet)]
    [OutputType(typeof(AbstraktBatchInfo), ParameterSetName = new[] { StatusSet })]
    [OutputType(typeof(AbstraktResult), ParameterSetName = new[] { ResultsSet })]
    public sealed class GetAbstraktBatchCommand : StoreCmdletBase
    {
        private const string StatusSet = "Status";
        private const string ResultsSet = "Results";

        /// <summary>Stream the completed items' results (in index order) instead of the counts.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ResultsSet)]
        public SwitchParameter IncludeResults { get; set; }

        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            var batch = OpenBatch();
            if (!IncludeResults)
            {
                WriteObject(StatusOf(batch));
                return;
            }

            StatusOf(batch); // a missing batch is an error, not an empty stream
            foreach (var result in batch.Results())
            {
                WriteObject(new AbstraktResult(result));
            }
        }
    }
}
