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
        private static readonly ConcurrentDictionary<string, (string Description, int Credits)> Known = new ConcurrentDictionary<string, (string, int)>(StringComparer.OrdinalIgnoreCase)
        {
            ["flux-schnell"] = ("FLUX.1 [schnell], image", 1),
            ["flux-dev"] = ("FLUX.1 [dev], image", 3),
            ["fast-sdxl"] = ("Stable Diffusion XL (fast), image", 1),
            ["sd3"] = ("Stable Diffusion 3, image", 4),
            ["ideogram"] = ("Ideogram v2, image", 6),
            ["minimax-video"] = ("MiniMax Video, video", 20),
            ["kokoro-tts"] = ("Kokoro TTS, audio", 1),
        };

        /// <summary>Adds models to the cache (called by Get-AbstraktModel).</summary>
        /// <param name="models">The models seen.</param>
        internal static void Remember(IEnumerable<AbstraktModel> models)
        {
            foreach (var model in models)
            {
                Known[model.Id] = ((model.Name ?? model.Id) + ", " + model.Category, model.Credits);
            }
        }

        /// <summary>Credits per output of a known model, for -WhatIf.</summary>
        /// <param name="model">The model id.</param>
        /// <returns>The credits, or null when unknown.</returns>
        internal static int? CreditsOf(string model) => Known.TryGetValue(model, out var known) ? known.Credits : null;

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
