using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Abstrakt.PowerShell
{
    /// <summary>What a batch would cost, item by item: each item's model, its number of outputs and the catalogue price.</summary>
    internal sealed class CostEstimate
    {
        private readonly SortedDictionary<string, (long Items, long Outputs)> _byModel = new SortedDictionary<string, (long, long)>(System.StringComparer.OrdinalIgnoreCase);

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
        public static string Describe(string model, int outputs) =>
            $"Run {model}: {Plural(outputs, "output")}" + Cost(model, outputs);

        /// <summary>The total and the breakdown by model, e.g. "4 items, 7 outputs, about 13 credits: flux-dev 2 items, 3 outputs, 9 credits; …".</summary>
        /// <returns>The summary.</returns>
        public override string ToString()
        {
            var items = _byModel.Values.Sum(v => v.Items);
            var outputs = _byModel.Values.Sum(v => v.Outputs);
            var unpriced = _byModel.Keys.Where(m => ModelCompleter.CreditsOf(m) is null).ToList();
            var credits = _byModel.Sum(p => (ModelCompleter.CreditsOf(p.Key) ?? 0) * p.Value.Outputs);
            var parts = _byModel.Select(p => $"{p.Key} {Plural(p.Value.Items, "item")}, {Plural(p.Value.Outputs, "output")}" + Cost(p.Key, p.Value.Outputs));
            return $"{Plural(items, "item")}, {Plural(outputs, "output")}, about {Plural(credits, "credit")}"
                + (unpriced.Count > 0 ? " plus the unpriced models" : string.Empty)
                + (items > 0 ? ": " + string.Join("; ", parts) : string.Empty);
        }

        private static string Cost(string model, long outputs) =>
            ModelCompleter.CreditsOf(model) is int price ? ", " + Plural(price * outputs, "credit") : ", price unknown";

        private static string Plural(long n, string noun) => n.ToString(CultureInfo.InvariantCulture) + " " + noun + (n == 1 ? string.Empty : "s");
    }
}
