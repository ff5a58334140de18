using System;
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
        private long _row;

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

                _row++;
                ItemFields fields;
                try
                {
                    fields = ItemReader.Fields(item);
                }
                catch (FormatException ex)
                {
                    // As Start-AbstraktBatch: a bad cell is that row's error, never the end of the estimate.
                    WriteError(ItemReader.Rejection(ErrorIds.InvalidInput, $"Input row {_row}, {ex.Message}", item));
                    continue;
                }

                // As Start-AbstraktBatch: an item with neither prompt nor image (a blank line) is not sent, so not priced.
                if (string.IsNullOrWhiteSpace(fields.Prompt) && fields.Image is null)
                {
                    continue;
                }

                _estimate.Add(fields.Model ?? Model, CostEstimate.Outputs(fields.Input));
            }
        }

        /// <inheritdoc/>
        protected override void EndProcessing() => WriteObject(_estimate.ToObject());
    }
}
