using System;
using System.Management.Automation;

namespace Abstrakt.PowerShell
{
    /// <summary>Error records whose messages read as sentences, without .NET's "(Parameter 'x')" suffix.</summary>
    internal static class ErrorRecords
    {
        /// <summary>An ArgumentException's message without the parameter name .NET appends to it.</summary>
        /// <param name="error">The exception.</param>
        /// <returns>The message.</returns>
        public static string Plain(ArgumentException error)
        {
            var message = error.Message;
            if (error.ParamName is string name)
            {
                foreach (var suffix in new[] { " (Parameter '" + name + "')", Environment.NewLine + "Parameter name: " + name })
                {
                    var at = message.IndexOf(suffix, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        return message.Substring(0, at);
                    }
                }
            }

            return message;
        }

        /// <summary>A record for an argument the user got wrong, with a plain message.</summary>
        /// <param name="error">The exception.</param>
        /// <param name="errorId">The stable id.</param>
        /// <param name="category">The category.</param>
        /// <param name="target">What was wrong.</param>
        /// <returns>The record.</returns>
        public static ErrorRecord Argument(ArgumentException error, string errorId, ErrorCategory category, object? target) =>
            new ErrorRecord(new ArgumentException(Plain(error), error), errorId, category, target);
    }
}
