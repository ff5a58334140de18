using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Runs any model (video, speech, editing) with an input hashtable.</para>
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "AbstraktModel")]
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
            var input = new Dictionary<string, object?>();
            foreach (DictionaryEntry entry in Input)
            {
                input[entry.Key.ToString()!] = entry.Value is PSObject p ? p.BaseObject : entry.Value;
            }

            var prompt = input.TryGetValue("prompt", out var value) && value is string s ? s : string.Empty;
            input.Remove("prompt");
            var item = new Dictionary<string, object?>(input);
            if (prompt.Length > 0)
            {
                item["prompt"] = prompt;
            }

            Submit(prompt, null, item, null, Input);
        }

        /// <inheritdoc/>
        protected override void EndProcessing() => FinishBatch();
    }
}
