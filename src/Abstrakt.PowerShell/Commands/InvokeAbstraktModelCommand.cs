using System.Collections;
using System.Management.Automation;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Runs any model (video, speech, editing) with an input hashtable.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "AbstraktModel", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(AbstraktResult))]
    public sealed class InvokeAbstraktModelCommand : BatchCmdletBase
    {
        /// <summary>The model id.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ModelCompleter))]
        public string Model { get; set; } = string.Empty;

        /// <summary>The model's input, as the model's schema describes it (Get-AbstraktModel -Id).</summary>
        [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
        [ValidateNotNull]
        public Hashtable Input { get; set; } = new Hashtable();

        /// <inheritdoc/>
        protected override string Activity => "abstrakt " + Model;

        /// <inheritdoc/>
        protected override string DefaultModel => Model;

        /// <inheritdoc/>
        protected override void BeginProcessing() => StartBatch();

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            var input = ModelInput.From(Input);
            // Speech models take their text as "text": it is the item's prompt all the same.
            var prompt = (input.TryGetValue("prompt", out var value) || input.TryGetValue("text", out value)) && value is string s ? s : string.Empty;
            Submit(prompt, null, input, null, Input);
        }

        /// <inheritdoc/>
        protected override void EndProcessing() => FinishBatch();
    }
}
