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
            foreach (var obj in ItemReader.Items(InputObject))
            {
                // Read as Start-AbstraktBatch reads it: what it would refuse (a bad cell, a file that is not an image)
                // is that item's error here too, and is not priced. A blank line is not priced either, quietly: an
                // estimate has nothing to say about it.
                if (ItemReader.Check(obj, ++_row, out var rejection, images: this) is { } item)
                {
                    _estimate.Add(item.Model ?? Model, CostEstimate.Outputs(item.Input));
                }
                else if (rejection!.FullyQualifiedErrorId != ErrorIds.EmptyPrompt)
                {
                    WriteError(rejection);
                }
            }
        }

        /// <inheritdoc/>
        protected override void EndProcessing() => WriteObject(_estimate.ToObject());
    }
}
