using System.Management.Automation;
using Abstrakt.Engine;
using Abstrakt.PowerShell.Output;
using Abstrakt.Store;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Loads items into a shared batch once, so runners on any machine can start with no input.</para>
    /// </summary>
    [Cmdlet(VerbsData.Import, "AbstraktBatch")]
    [OutputType(typeof(AbstraktBatchInfo))]
    public sealed class ImportAbstraktBatchCommand : StoreCmdletBase
    {
        private SharedBatch? _batch;
        private long _index;

        /// <summary>A prompt string, or an object with Prompt and optional Model, ImageSize, NumImages, Seed, Id.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [AllowNull]
        [AllowEmptyString]
        public PSObject? InputObject { get; set; }

        /// <summary>The model for items that name none (the batch's default model).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string Model { get; set; } = "flux-schnell";

        /// <inheritdoc/>
        protected override void BeginProcessing()
        {
            _batch = OpenBatch();
            try
            {
                _batch.Create(Model);
            }
            catch (JournalException ex)
            {
                ThrowTerminatingError(StoreError(ex));
            }
        }

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            foreach (var obj in ItemReader.Items(InputObject))
            {
                // Items keep their input position, as a runner given the same input numbers them: loading twice loads once.
                _index++;
                if (ItemReader.Check(obj, _index, out var rejection) is { } item)
                {
                    _batch!.Add(new WorkItem(_index, item.Prompt, item.Model, item.Input, item.Id));
                }
                else
                {
                    WriteError(rejection!);
                }
            }
        }

        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            _batch!.CompleteLoad();
            WriteObject(StatusOf(_batch));
        }
    }
}
