using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using Abstrakt.PowerShell.Output;

namespace Abstrakt.PowerShell
{
    /// <summary>
    /// Completes -Model from a cached catalogue: the built-in ids, plus every model Get-AbstraktModel has seen.
    /// Never touches the network, so Tab never blocks.
    /// </summary>
    public sealed class ModelCompleter : IArgumentCompleter
    {
        private static readonly ConcurrentDictionary<string, (string Description, int Credits, string? Category)> Known = new ConcurrentDictionary<string, (string, int, string?)>(StringComparer.OrdinalIgnoreCase)
        {
            ["flux-schnell"] = ("FLUX.1 [schnell], image", 1, "image"),
            ["flux-dev"] = ("FLUX.1 [dev], image", 3, "image"),
            ["fast-sdxl"] = ("Stable Diffusion XL (fast), image", 1, "image"),
            ["sd3"] = ("Stable Diffusion 3, image", 4, "image"),
            ["ideogram"] = ("Ideogram v2, image", 6, "image"),
            ["image-to-image"] = ("Image to image, image-editing", 2, "image-editing"),
            ["image-upscaler"] = ("Image upscaler, image-editing", 1, "image-editing"),
            ["remove-background"] = ("Remove background, image-editing", 1, "image-editing"),
            ["minimax-video"] = ("MiniMax Video, video", 20, "video"),
            ["kokoro-tts"] = ("Kokoro TTS, audio", 1, "audio"),
        };

        /// <summary>Adds models to the cache (called by Get-AbstraktModel).</summary>
        /// <param name="models">The models seen.</param>
        internal static void Remember(IEnumerable<AbstraktModel> models)
        {
            foreach (var model in models)
            {
                Known[model.Id] = ((model.Name ?? model.Id) + ", " + model.Category, model.Credits, model.Category);
            }
        }

        /// <summary>Credits per output of a known model, for -WhatIf.</summary>
        /// <param name="model">The model id.</param>
        /// <returns>The credits, or null when unknown.</returns>
        internal static int? CreditsOf(string model) => Known.TryGetValue(model, out var known) ? known.Credits : null;

        /// <summary>The category (image, video, audio) of a known model.</summary>
        /// <param name="model">The model id.</param>
        /// <returns>The category, or null when unknown.</returns>
        internal static string? CategoryOf(string model) => Known.TryGetValue(model, out var known) ? known.Category : null;

        /// <summary>Why a known model cannot run under a cmdlet made for another kind, or null when it can (or is unknown: the service decides).</summary>
        /// <param name="model">The model id.</param>
        /// <param name="category">The kind the cmdlet runs (image).</param>
        /// <param name="cmdlet">The cmdlet's name.</param>
        /// <returns>The message, or null.</returns>
        internal static string? WrongKind(string model, string category, string cmdlet) =>
            CategoryOf(model) is string actual && !actual.StartsWith(category, StringComparison.OrdinalIgnoreCase)
                ? $"{model} is a model for {actual}, and {cmdlet} runs {category} models. Run it with Invoke-AbstraktModel {model} @{{ ... }}; Get-AbstraktModel -Id {model} shows its input."
                : null;

        /// <summary>The message for a model the service does not know: the known ids closest to it, and where to look, without REST paths.</summary>
        /// <param name="model">The unknown model id.</param>
        /// <returns>The message.</returns>
        internal static string UnknownModel(string model)
        {
            var close = Known.Keys
                .Select(id => (Id: id, Distance: Distance(model.ToLowerInvariant(), id.ToLowerInvariant())))
                .Where(c => c.Distance <= Math.Max(2, model.Length / 3) || c.Id.StartsWith(model.Split('-')[0], StringComparison.OrdinalIgnoreCase))
                .OrderBy(c => c.Distance)
                .ThenBy(c => c.Id, StringComparer.OrdinalIgnoreCase)
                .Take(3)
                .Select(c => c.Id)
                .ToList();
            return $"Unknown model '{model}'." + (close.Count > 0 ? $" Did you mean {string.Join(", ", close)}?" : string.Empty) + " Get-AbstraktModel lists the models.";
        }

        private static int Distance(string a, string b)
        {
            var row = Enumerable.Range(0, b.Length + 1).ToArray();
            for (var i = 1; i <= a.Length; i++)
            {
                var diagonal = row[0];
                row[0] = i;
                for (var j = 1; j <= b.Length; j++)
                {
                    var above = row[j];
                    row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                    diagonal = above;
                }
            }

            return row[b.Length];
        }

        /// <inheritdoc/>
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var word = (wordToComplete ?? string.Empty).Trim('\'', '"');
            return Known
                .Where(p => p.Key.StartsWith(word, StringComparison.OrdinalIgnoreCase))
                .OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase)
                .Select(p => new CompletionResult(p.Key, p.Key, CompletionResultType.ParameterValue, p.Value.Description))
                .ToList();
        }
    }
}
