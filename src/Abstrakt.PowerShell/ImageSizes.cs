using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace Abstrakt.PowerShell
{
    /// <summary>The image sizes the API names (spec section 3), for -ImageSize's validation and its Tab completion.</summary>
    public sealed class ImageSizes : IArgumentCompleter
    {
        internal const string Square = "square", SquareHd = "square_hd", Portrait = "portrait_4_3", Landscape = "landscape_16_9";

        private static readonly string[] All = { SquareHd, Square, Portrait, Landscape };

        /// <inheritdoc/>
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters) =>
            All.Where(size => size.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase))
               .Select(size => new CompletionResult(size, size, CompletionResultType.ParameterValue, size == SquareHd ? size + " (the default)" : size));
    }
}
