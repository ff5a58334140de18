using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using Abstrakt.Api;

namespace Abstrakt.PowerShell
{
    /// <summary>One batch item as read from a pipeline object: a prompt string, or a row (CSV, JSON, hashtable).</summary>
    internal sealed class ItemFields
    {
        public string Prompt { get; set; } = string.Empty;

        public string? Model { get; set; }

        public string? Id { get; set; }

        /// <summary>The source image: a path or an http(s) URL, or null.</summary>
        public string? Image { get; set; }

        /// <summary>The source image checked (a file's content, size and hash), when the reader was asked to.</summary>
        public ImageInput? Source { get; set; }

        public Dictionary<string, object?> Input { get; } = new Dictionary<string, object?>(StringComparer.Ordinal);
    }

    /// <summary>
    /// Reads the columns of a row the way parameter binding would: by name, case-insensitive, with the aliases
    /// users type (Text for Prompt, Name for Id, Path or ImageUrl for Image). Empty cells count as absent.
    /// </summary>
    internal static class ItemReader
    {
        /// <summary>Every column an item row may have, with its aliases, as the message about unbound columns lists them.</summary>
        public static readonly string[][] Columns =
        {
            new[] { "Prompt", "Text" },
            new[] { "Model" },
            new[] { "Id", "Name" },
            // The API's own names too, as a JSON-lines file written for the API has them.
            new[] { "ImageSize", "image_size" },
            new[] { "NumImages", "num_images" },
            new[] { "Seed" },
            new[] { "Image", "Path", "ImageUrl", "image_url" },
        };

        /// <summary>Reads a row into an item.</summary>
        /// <param name="row">A row (not a string).</param>
        /// <returns>The item's fields.</returns>
        /// <exception cref="FormatException">A cell has the wrong type (NumImages = "two"); the message names the column and value.</exception>
        public static ItemFields Read(PSObject row)
        {
            var item = new ItemFields
            {
                Prompt = Text(row, Columns[0]) ?? string.Empty,
                Model = Text(row, Columns[1]),
                Id = Text(row, Columns[2]),
            };
            // A named size is text; a custom one ({"width":512,"height":256}) is an object and goes as one.
            if (SizeObject(row) is { } custom)
            {
                item.Input["image_size"] = custom;
            }
            else if (Text(row, Columns[3]) is string size)
            {
                item.Input["image_size"] = size;
            }

            if (Text(row, Columns[4]) is string n)
            {
                // Below one is never an order (and would be priced as none or less); how many above it a model takes
                // is the service's to say.
                var count = WholeNumber<int>(Columns[4][0], n);
                item.Input["num_images"] = count >= 1 ? count : throw new FormatException($"column {Columns[4][0]}: '{n}' is not a number of images; give 1 or more.");
            }

            if (Text(row, Columns[5]) is string seed)
            {
                item.Input["seed"] = WholeNumber<long>(Columns[5][0], seed);
            }

            item.Image = ImageOf(row);
            return item;
        }

        /// <summary>The names of a row's columns that <paramref name="binds"/> does not accept.</summary>
        /// <param name="row">The pipeline object.</param>
        /// <param name="binds">Whether a column name binds.</param>
        /// <returns>The unbound names; none for a string or scalar.</returns>
        public static IEnumerable<string> Unbound(PSObject row, Func<string, bool> binds) =>
            Names(row).Where(name => !binds(name));

        /// <summary>True when a column name binds to an item field.</summary>
        /// <param name="name">The column name.</param>
        /// <returns>True when known.</returns>
        public static bool Binds(string name) => Columns.Any(aliases => aliases.Contains(name, StringComparer.OrdinalIgnoreCase));

        /// <summary>The items in a pipeline object: the elements of an array (so -InputObject @('a','b') is two items), else the object itself.</summary>
        /// <param name="value">The pipeline object.</param>
        /// <returns>The items; null stays null, for the caller to report.</returns>
        public static IEnumerable<PSObject?> Items(PSObject? value)
        {
            if (value?.BaseObject is IEnumerable list and not string and not IDictionary)
            {
                return list.Cast<object?>().Select(element => element is null ? null : PSObject.AsPSObject(element));
            }

            return new[] { value };
        }

        /// <summary>Reads one item: a row's columns, or a scalar as the prompt.</summary>
        /// <param name="item">A non-null pipeline object.</param>
        /// <returns>The fields.</returns>
        /// <exception cref="FormatException">A cell has the wrong type.</exception>
        public static ItemFields Fields(PSObject item)
        {
            if (item.BaseObject is System.IO.FileSystemInfo file)
            {
                return new ItemFields { Image = file.FullName };
            }

            if (IsRow(item))
            {
                return Read(item);
            }

            // A bare http(s) URL is an image for an image model, not a prompt. A string is its own text: converting it
            // costs a type lookup per item, a second's worth on a million-line input.
            var text = item.BaseObject as string ?? LanguagePrimitives.ConvertTo<string>(item);
            return Abstrakt.Api.ImageInput.IsUrl(text) ? new ItemFields { Image = text } : new ItemFields { Prompt = text };
        }

        /// <summary>A row's Image (or Path, ImageUrl) cell, or null.</summary>
        /// <param name="row">The row.</param>
        /// <returns>The image reference.</returns>
        public static string? ImageOf(PSObject row) => Text(row, Columns[6]);

        /// <summary>
        /// Reads one pipeline object as an item, as Start-AbstraktBatch sends it, or says why it cannot be one (null, a
        /// bad cell, an image that cannot be sent, no prompt, an unpaired surrogate). Every cmdlet that takes items
        /// (Start-AbstraktBatch, Measure-AbstraktCost, Import-AbstraktBatch) reads them here, so they agree on what an
        /// item is.
        /// </summary>
        /// <param name="obj">The pipeline object.</param>
        /// <param name="row">Its 1-based position, for messages.</param>
        /// <param name="rejection">Why it cannot be an item (TargetObject: the object).</param>
        /// <param name="images">Checks an item's image (see <see cref="ImageReference.Resolve"/>); null: images are not taken, so an image without a prompt is an empty prompt.</param>
        /// <param name="imagePrompt">The prompt for an image item that has none (-Prompt).</param>
        /// <returns>The fields, or null.</returns>
        public static ItemFields? Check(PSObject? obj, long row, out ErrorRecord? rejection, PSCmdlet? images = null, string? imagePrompt = null)
        {
            rejection = null;
            if (obj?.BaseObject is null)
            {
                rejection = Rejection(ErrorIds.NullInput, $"Item {row} is null; each item needs a prompt.", obj);
                return null;
            }

            ItemFields item;
            try
            {
                item = Fields(obj);
            }
            catch (FormatException ex)
            {
                // A bad cell (NumImages=abc) is that row's error, never the batch's end.
                var id = Text(obj, Columns[2]);
                rejection = Rejection(ErrorIds.InvalidInput, $"Input row {row}{(id is null ? string.Empty : $" ('{id}')")}, {ex.Message}", obj);
                return null;
            }

            if (images is not null && item.Image is not null)
            {
                item.Prompt = string.IsNullOrWhiteSpace(item.Prompt) ? imagePrompt ?? string.Empty : item.Prompt;
                try
                {
                    item.Source = ImageReference.Resolve(images, item.Image);
                }
                catch (ImageInputException ex)
                {
                    rejection = ImageReference.Error(ex, obj);
                    return null;
                }
            }

            if (string.IsNullOrWhiteSpace(item.Prompt) && item.Source is null)
            {
                rejection = Rejection(ErrorIds.EmptyPrompt, IsRow(obj) ? $"Item {row} has no prompt: give it a Prompt (or Text) column." : $"Item {row} has an empty prompt.", obj);
            }
            else if (HasUnpairedSurrogate(item.Prompt))
            {
                rejection = Rejection(ErrorIds.InvalidInput, $"Item {row}'s prompt contains an unpaired UTF-16 surrogate and cannot be sent as UTF-8.", obj);
            }

            return rejection is null ? item : null;
        }

        /// <summary>An input that cannot be an item, as a non-terminating error targeting it.</summary>
        /// <param name="errorId">The error id.</param>
        /// <param name="message">What is wrong.</param>
        /// <param name="obj">The input.</param>
        /// <returns>The record.</returns>
        public static ErrorRecord Rejection(string errorId, string message, PSObject? obj) =>
            new ErrorRecord(new ArgumentException(message), errorId, ErrorCategory.InvalidArgument, obj);

        /// <summary>True when a row has a non-empty Prompt (or Text) column.</summary>
        /// <param name="row">The row.</param>
        /// <returns>True when it has a prompt.</returns>
        public static bool HasPrompt(PSObject row) => Text(row, Columns[0]) is not null;

        /// <summary>True for a row (an object with properties or a dictionary), false for a string or number.</summary>
        /// <param name="value">The pipeline object.</param>
        /// <returns>True for a row.</returns>
        public static bool IsRow(PSObject value) => !(value.BaseObject is string || value.BaseObject.GetType().IsPrimitive);

        internal static bool HasUnpairedSurrogate(string text)
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

        private static T WholeNumber<T>(string column, string text)
        {
            try
            {
                return LanguagePrimitives.ConvertTo<T>(text);
            }
            catch (PSInvalidCastException ex)
            {
                throw new FormatException($"column {column}: '{text}' is not a valid whole number.", ex);
            }
        }

        private static IEnumerable<string> Names(PSObject row)
        {
            if (row.BaseObject is IDictionary dictionary)
            {
                return dictionary.Keys.Cast<object>().Select(k => k.ToString() ?? string.Empty);
            }

            return IsRow(row) ? row.Properties.Where(p => p.MemberType is PSMemberTypes.NoteProperty or PSMemberTypes.Property).Select(p => p.Name) : Enumerable.Empty<string>();
        }

        /// <summary>An ImageSize given as an object (a hashtable, a JSON object, a PSCustomObject), as plain name/value pairs.</summary>
        private static Dictionary<string, object?>? SizeObject(PSObject row)
        {
            foreach (var name in Columns[3])
            {
                var value = Value(row, name);
                switch (value is PSObject wrapped ? wrapped.BaseObject : value)
                {
                    case IDictionary dictionary:
                        var pairs = new Dictionary<string, object?>(StringComparer.Ordinal);
                        foreach (DictionaryEntry entry in dictionary)
                        {
                            pairs[Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty] = Bare(entry.Value);
                        }

                        return pairs;
                    case PSCustomObject:
                        return PSObject.AsPSObject(value!).Properties.ToDictionary(p => p.Name, p => Bare(p.Value), StringComparer.Ordinal);
                }
            }

            return null;
        }

        private static string? Text(PSObject row, string[] names)
        {
            foreach (var name in names)
            {
                var value = Value(row, name);
                if (value is not null && LanguagePrimitives.ConvertTo<string>(value) is { Length: > 0 } text)
                {
                    return text;
                }
            }

            return null;
        }

        private static object? Value(PSObject row, string name)
        {
            if (row.BaseObject is IDictionary dictionary)
            {
                foreach (DictionaryEntry entry in dictionary)
                {
                    if (string.Equals(entry.Key?.ToString(), name, StringComparison.OrdinalIgnoreCase))
                    {
                        return Bare(entry.Value);
                    }
                }

                return null;
            }

            return Bare(row.Properties[name]?.Value);
        }

        // A PSCustomObject's properties live on its PSObject wrapper: keep that one wrapped.
        private static object? Bare(object? value) => value is PSObject { BaseObject: not PSCustomObject } ps ? ps.BaseObject : value;
    }
}
