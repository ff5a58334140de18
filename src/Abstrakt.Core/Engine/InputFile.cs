using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using Abstrakt.Json;

namespace Abstrakt.Engine
{
    /// <summary>A record of an input file that could not be read (a line that is not JSON).</summary>
    public sealed class InputFileError
    {
        /// <summary>Creates the error.</summary>
        /// <param name="record">The 1-based record number (the item's number: blank lines are not items).</param>
        /// <param name="line">The 1-based line in the file, as an editor shows it.</param>
        /// <param name="message">What is wrong.</param>
        public InputFileError(long record, long line, string message)
        {
            Record = record;
            Line = line;
            Message = message;
        }

        /// <summary>The 1-based record number (the item's number: blank lines are not items).</summary>
        public long Record { get; }

        /// <summary>The 1-based line in the file.</summary>
        public long Line { get; }

        /// <summary>What is wrong.</summary>
        public string Message { get; }

        /// <inheritdoc/>
        public override string ToString() => $"record {Record} (line {Line}): {Message}";
    }

    /// <summary>
    /// Reads a batch's input from a file, by extension: <c>.csv</c> (a header row, then one item per record),
    /// <c>.jsonl</c>/<c>.ndjson</c> (one JSON object or string per line), anything else one prompt per line. Blank lines
    /// are skipped. <see cref="Count"/> is a fast first pass for progress; <see cref="Read"/> then streams the items.
    /// </summary>
    public static class InputFile
    {
        private enum Kind
        {
            Text,
            Csv,
            JsonLines,
        }

        /// <summary>The number of items the file holds.</summary>
        /// <param name="path">The file.</param>
        /// <returns>The count.</returns>
        public static long Count(string path)
        {
            long count = 0;
            if (KindOf(path) == Kind.Csv)
            {
                using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
                foreach (var _ in CsvRecords(reader))
                {
                    count++;
                }

                return Math.Max(0, count - 1);
            }

            foreach (var line in File.ReadLines(path))
            {
                if (!string.IsNullOrWhiteSpace(line))
                {
                    count++;
                }
            }

            return count;
        }

        /// <summary>The items, streamed: a string (a prompt), a dictionary of columns (case-insensitive), or an <see cref="InputFileError"/>.</summary>
        /// <param name="path">The file.</param>
        /// <returns>The items.</returns>
        public static IEnumerable<object?> Read(string path)
        {
            switch (KindOf(path))
            {
                case Kind.Csv:
                    return ReadCsv(path);
                case Kind.JsonLines:
                    return ReadJsonLines(path);
                default:
                    return ReadText(path);
            }
        }

        private static Kind KindOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".csv" => Kind.Csv,
            ".jsonl" or ".ndjson" => Kind.JsonLines,
            _ => Kind.Text,
        };

        private static IEnumerable<object?> ReadText(string path)
        {
            foreach (var line in File.ReadLines(path))
            {
                if (!string.IsNullOrWhiteSpace(line))
                {
                    yield return line;
                }
            }
        }

        private static IEnumerable<object?> ReadJsonLines(string path)
        {
            long number = 0, lineNumber = 0;
            foreach (var line in File.ReadLines(path))
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                number++;
                object? value;
                try
                {
                    value = JsonValues.Parse(line);
                }
                catch (JsonException ex)
                {
                    value = new InputFileError(number, lineNumber, "not JSON: " + ex.Message);
                }

                yield return value is IDictionary<string, object?> map ? new Dictionary<string, object?>(map, StringComparer.OrdinalIgnoreCase) : value;
            }
        }

        private static IEnumerable<object?> ReadCsv(string path)
        {
            using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            List<string>? header = null;
            foreach (var record in CsvRecords(reader))
            {
                if (header is null)
                {
                    header = record;
                    continue;
                }

                var row = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                for (var i = 0; i < header.Count; i++)
                {
                    row[header[i]] = i < record.Count ? record[i] : string.Empty;
                }

                yield return row;
            }
        }

        /// <summary>RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks; blank lines are skipped.</summary>
        private static IEnumerable<List<string>> CsvRecords(TextReader reader)
        {
            var record = new List<string>();
            var field = new StringBuilder();
            var quoted = false;
            var started = false;
            int next;
            while ((next = reader.Read()) != -1)
            {
                var c = (char)next;
                if (quoted)
                {
                    if (c != '"')
                    {
                        field.Append(c);
                    }
                    else if (reader.Peek() == '"')
                    {
                        reader.Read();
                        field.Append('"');
                    }
                    else
                    {
                        quoted = false;
                    }

                    continue;
                }

                switch (c)
                {
                    case '"':
                        quoted = started = true;
                        break;
                    case ',':
                        record.Add(field.ToString());
                        field.Clear();
                        started = true;
                        break;
                    case '\r':
                        break;
                    case '\n':
                        if (started || field.Length > 0)
                        {
                            record.Add(field.ToString());
                            yield return record;
                        }

                        record = new List<string>();
                        field.Clear();
                        started = false;
                        break;
                    default:
                        field.Append(c);
                        break;
                }
            }

            if (started || field.Length > 0)
            {
                record.Add(field.ToString());
                yield return record;
            }
        }
    }
}
