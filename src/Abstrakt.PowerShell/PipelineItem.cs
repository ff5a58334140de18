using System;
using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;

namespace Abstrakt.PowerShell
{
    /// <summary>
    /// Reads one pipeline object as a batch item: a prompt string, or an object with Prompt and optional Model,
    /// ImageSize, NumImages, Seed, Id (so Import-Csv works). What cannot be an item comes back as an error record.
    /// </summary>
    internal static class PipelineItem
    {
        /// <summary>Reads one pipeline object; reports and skips (never drops silently) what cannot be an item.</summary>
        /// <param name="obj">The pipeline object.</param>
        /// <param name="row">Its 1-based position, for messages.</param>
        /// <param name="prompt">The prompt.</param>
        /// <param name="model">The model, or null.</param>
        /// <param name="input">Other model inputs.</param>
        /// <param name="id">The given id, or null.</param>
        /// <param name="rejection">Why it cannot be an item (TargetObject: the object).</param>
        /// <returns>False when the object cannot be an item.</returns>
        public static bool TryRead(PSObject? obj, long row, out string prompt, out string? model, out Dictionary<string, object?> input, out string? id, out ErrorRecord? rejection)
        {
            rejection = null;
            prompt = string.Empty;
            model = null;
            id = null;
            input = new Dictionary<string, object?>(StringComparer.Ordinal);
            var value = obj?.BaseObject;
            if (value is null)
            {
                return Reject(ErrorIds.NullInput, "A pipeline item is null; each item needs a prompt.", obj, out rejection);
            }

            if (value is string text)
            {
                prompt = text;
            }
            else
            {
                prompt = Property(obj!, "Prompt") as string ?? Convert(Property(obj!, "Prompt")) ?? string.Empty;
                model = Convert(Property(obj!, "Model"));
                id = Convert(Property(obj!, "Id"));
                if (Convert(Property(obj!, "ImageSize")) is string size && size.Length > 0)
                {
                    input["image_size"] = size;
                }

                if (!TryNumber<int>(obj!, row, "NumImages", "num_images", input, out rejection) || !TryNumber<long>(obj!, row, "Seed", "seed", input, out rejection))
                {
                    return false;
                }
            }

            if (string.IsNullOrWhiteSpace(prompt))
            {
                return Reject(ErrorIds.EmptyPrompt, "A pipeline item has an empty prompt.", obj, out rejection);
            }

            if (HasUnpairedSurrogate(prompt))
            {
                return Reject(ErrorIds.InvalidInput, "A prompt contains an unpaired UTF-16 surrogate and cannot be sent as UTF-8.", obj, out rejection);
            }

            return true;
        }

        /// <summary>Reads a whole-number cell; a bad one (NumImages=abc) is that row's error, never the batch's end.</summary>
        private static bool TryNumber<T>(PSObject obj, long row, string column, string inputName, Dictionary<string, object?> input, out ErrorRecord? rejection)
        {
            rejection = null;
            if (Property(obj, column) is not { } value || (value is string text && text.Length == 0))
            {
                return true;
            }

            try
            {
                input[inputName] = LanguagePrimitives.ConvertTo<T>(value);
                return true;
            }
            catch (PSInvalidCastException)
            {
                return Reject(ErrorIds.InvalidInput, $"Input row {row}, column {column}: '{value}' is not a valid whole number.", obj, out rejection);
            }
        }

        private static bool Reject(string errorId, string message, PSObject? obj, out ErrorRecord rejection)
        {
            rejection = new ErrorRecord(new ArgumentException(message), errorId, ErrorCategory.InvalidArgument, obj);
            return false;
        }

        private static object? Property(PSObject obj, string name)
        {
            if (obj.BaseObject is IDictionary dictionary)
            {
                foreach (DictionaryEntry entry in dictionary)
                {
                    if (string.Equals(entry.Key?.ToString(), name, StringComparison.OrdinalIgnoreCase))
                    {
                        return entry.Value is PSObject p ? p.BaseObject : entry.Value;
                    }
                }

                return null;
            }

            var value = obj.Properties[name]?.Value;
            return value is PSObject ps ? ps.BaseObject : value;
        }

        private static string? Convert(object? value) => value is null ? null : LanguagePrimitives.ConvertTo<string>(value) is { Length: > 0 } s ? s : null;

        private static bool HasUnpairedSurrogate(string text)
        {
            for (var i = 0; i < text.Length; i++)
            {
                if (char.IsHighSurrogate(text[i]))
                {
                    if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                    {
                        return true;
                    }

                    i++;
                }
                else if (char.IsLowSurrogate(text[i]))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
