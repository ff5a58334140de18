using System.Management.Automation;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Prices a batch before running it: each item's model and number of outputs at catalogue prices.</para>
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Measure, "AbstraktCost")]
    [OutputType(typeof(AbstraktCostEstimate))]
    public sealed class MeasureAbstraktCostCommand : PSCmdlet
    {
        private readonly CostEstimate _estimate = new CostEstimate();

        /// <summary>The items, as Start-AbstraktBatch takes them.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [AllowNull]
        [AllowEmptyString]
        public PSObject? InputObject { get; set; }

        /// <summary>The model for items that name none.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string Model { get; set; } = "flux-schnell";

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            foreach (var item in ItemReader.Items(InputObject))
            {
                if (item?.BaseObject is null)
                {
                    continue;
                }

                try
                {
                    var fields = ItemReader.Fields(item);
                    _estimate.Add(fields.Model ?? Model, CostEstimate.Outputs(fields.Input));
                }
                catch (PSInvalidCastException ex)
                {
                    WriteError(new ErrorRecord(ex, ErrorIds.InvalidInput, ErrorCategory.InvalidArgument, item));
                }
            }
        }

        /// <inheritdoc/>
        protected override void EndProcessing() => WriteObject(_estimate.ToObject());
    }
}
