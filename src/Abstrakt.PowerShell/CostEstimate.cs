using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell
{
    /// <summary>What a batch would cost, item by item: each item's model, its number of outputs and the catalogue price.</summary>
    internal sealed class CostEstimate
    {
        private readonly SortedDictionary<string, (long Items, long Outputs)> _byModel = new SortedDictionary<string, (long, long)>(System.StringComparer.OrdinalIgnoreCase);

        /// <summary>An item's number of outputs: its num_images, else one.</summary>
        /// <param name="input">The item's model input.</param>
        /// <returns>The number of outputs.</returns>
        public static int Outputs(IReadOnlyDictionary<string, object?> input) => input.TryGetValue("num_images", out var n) && n is int count ? count : 1;

        /// <summary>Counts one item.</summary>
        /// <param name="model">The model it runs on.</param>
        /// <param name="outputs">Its number of outputs.</param>
        public void Add(string model, int outputs)
        {
            _byModel.TryGetValue(model, out var sums);
            _byModel[model] = (sums.Items + 1, sums.Outputs + outputs);
        }

        /// <summary>One item's action, for -Confirm: "Run flux-dev: 2 outputs, 6 credits".</summary>
        /// <param name="model">The model.</param>
        /// <param name="outputs">The number of outputs.</param>
        /// <returns>The text.</returns>
        public static string Describe(string model, int outputs) => $"Run {model}: {Part(new AbstraktModelCost(model, 1, outputs, ModelCompleter.CreditsOf(model)))}";

        /// <summary>The estimate as an object users can read (Measure-AbstraktCost).</summary>
        /// <returns>The estimate.</returns>
        public AbstraktCostEstimate ToObject() =>
            new AbstraktCostEstimate(_byModel.Select(p => new AbstraktModelCost(p.Key, p.Value.Items, p.Value.Outputs, ModelCompleter.CreditsOf(p.Key))).ToList());

        /// <summary>The total and the breakdown by model, e.g. "4 items, 5 outputs, about 14 credits: flux-dev 2 items, 3 outputs, 9 credits; …".</summary>
        /// <returns>The summary.</returns>
        public override string ToString()
        {
            var total = ToObject();
            return $"{Plural(total.Items, "item")}, {Plural(total.Outputs, "output")}, about {Plural(total.Credits, "credit")}"
                + (total.ByModel.Any(m => m.CreditsPerOutput is null) ? " plus the unpriced models" : string.Empty)
                + (total.Items > 0 ? ": " + string.Join("; ", total.ByModel.Select(Line)) : string.Empty);
        }

        /// <summary>One model's share: "flux-dev 2 items, 3 outputs, 9 credits".</summary>
        /// <param name="cost">The share.</param>
        /// <returns>The text.</returns>
        public static string Line(AbstraktModelCost cost) => $"{cost.Model} {Plural(cost.Items, "item")}, {Part(cost)}";

        private static string Part(AbstraktModelCost cost) =>
            Plural(cost.Outputs, "output") + (cost.Credits is long credits ? ", " + Plural(credits, "credit") : ", price unknown");

        private static string Plural(long n, string noun) => n.ToString(CultureInfo.InvariantCulture) + " " + noun + (n == 1 ? string.Empty : "s");
    }
}
