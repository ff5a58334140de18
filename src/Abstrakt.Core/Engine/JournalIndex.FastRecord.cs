using System;
using System.Collections.Generic;
using System.Text;
using System.Text.Json;

namespace Abstrakt.Engine
{
    /// <summary>How <see cref="JournalIndex"/> reads the lines the journal's writer wrote, without building a document.</summary>
    internal sealed partial class JournalIndex
    {
        /// <summary>Whether a line is read without building a document (for tests: such lines must read as the original path reads them).</summary>
        internal static bool ReadsFast(ReadOnlySpan<byte> line) => FastRecord.TryRead(line, out _);

        /// <summary>The fields whose types the original path checks, and those an entry is built from.</summary>
        private enum Field
        {
            Other,
            Type,
            Id,
            Index,
            Resubmissions,
            Credits,
            Urls,
            Files,
            Prompt,
            Model,
            JobId,
            Code,
            Message,
            Input,
        }

        /// <summary>Where a field's value sits in a line: a string's text (unquoted), or any other value's JSON text.</summary>
        private struct Token
        {
            public int Start;
            public int Length;
            public JsonTokenType Type;
            public bool Escaped;

            public bool IsSet => Type != JsonTokenType.None;
        }

        /// <summary>
        /// A record read without building a document: only a well-formed, all-ASCII line whose fields have the types the
        /// journal writes. Anything else (escaped ids or field names, odd types, the batch record) is left to the
        /// original path. Where a field repeats, the last one counts, as it did.
        /// </summary>
        private struct FastRecord
        {
            public Record Type;
            public int IdStart;
            public int IdLength;
            public long Index;
            public int Resubmissions;
            public int Credits;
            public Token Urls;
            public Token Files;
            public Token Prompt;
            public Token Model;
            public Token JobId;
            public Token Code;
            public Token Message;
            public Token Input;

            public static bool TryRead(ReadOnlySpan<byte> line, out FastRecord record)
            {
                record = default;
                foreach (var b in line)
                {
                    if (b >= 0x80)
                    {
                        return false;
                    }
                }

                try
                {
                    return Read(line, ref record);
                }
                catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
                {
                    return false;
                }
            }

            /// <summary>Applies a record read by <see cref="TryRead"/> to an entry, as the original path does; its id.</summary>
            public readonly string Apply(byte[] line, JournalEntry entry)
            {
                Journal.Apply(new Fields(line, this), TypeName(Type), entry);
                return Encoding.UTF8.GetString(line, IdStart, IdLength);
            }

            private static string TypeName(Record type)
            {
                foreach (var (name, record) in Types)
                {
                    if (record == type)
                    {
                        return Encoding.UTF8.GetString(name);
                    }
                }

                return string.Empty;
            }

            /// <summary>The fields of a record read by <see cref="TryRead"/> (which checked their kinds already).</summary>
            private readonly struct Fields : IRecordFields
            {
                private readonly byte[] _line;
                private readonly FastRecord _record;

                public Fields(byte[] line, FastRecord record)
                {
                    _line = line;
                    _record = record;
                }

                public string? Text(string name) => Token(name) is { Type: JsonTokenType.String } token ? Decode(token) : null;

                public string? TextOrNull(string name) => Text(name);

                public long Int64(string name) => _record.Index;

                public int Int32(string name) => name == "credits" ? _record.Credits : _record.Resubmissions;

                public IReadOnlyList<string> Texts(string name)
                {
                    var token = Token(name);
                    if (token.Type != JsonTokenType.StartArray)
                    {
                        return Array.Empty<string>();
                    }

                    var list = new List<string>();
                    var reader = new Utf8JsonReader(new ReadOnlySpan<byte>(_line, token.Start, token.Length), isFinalBlock: true, state: default);
                    reader.Read();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        list.Add(reader.GetString() ?? string.Empty);
                    }

                    return list;
                }

                // As JsonElement.GetRawText: a string with its quotes.
                public string? Raw(string name) => Token(name) is { IsSet: true } token
                    ? token.Type == JsonTokenType.String ? Encoding.UTF8.GetString(_line, token.Start - 1, token.Length + 2) : Encoding.UTF8.GetString(_line, token.Start, token.Length)
                    : null;

                private Token Token(string name) => name switch
                {
                    "prompt" => _record.Prompt,
                    "model" => _record.Model,
                    "job_id" => _record.JobId,
                    "code" => _record.Code,
                    "message" => _record.Message,
                    "urls" => _record.Urls,
                    "files" => _record.Files,
                    "input" => _record.Input,
                    _ => default,
                };

                private string Decode(Token token)
                {
                    if (!token.Escaped)
                    {
                        return Encoding.UTF8.GetString(_line, token.Start, token.Length);
                    }

                    var reader = new Utf8JsonReader(new ReadOnlySpan<byte>(_line, token.Start - 1, token.Length + 2), isFinalBlock: true, state: default);
                    reader.Read();
                    return reader.GetString()!;
                }
            }

            private static bool Read(ReadOnlySpan<byte> line, ref FastRecord record)
            {
                var reader = new Utf8JsonReader(line, isFinalBlock: true, state: default);
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                {
                    return false;
                }

                var type = (Record?)null;
                var hasId = false;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueIsEscaped)
                    {
                        return false;
                    }

                    var field = FieldOf(reader.ValueSpan);
                    reader.Read();
                    switch (field)
                    {
                        case Field.Type:
                            type = reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped ? TypeOf(reader.ValueSpan) : null;
                            if (type is null)
                            {
                                return false;
                            }

                            break;
                        case Field.Id:
                            if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped)
                            {
                                return false;
                            }

                            hasId = true;
                            record.IdStart = (int)reader.TokenStartIndex + 1;
                            record.IdLength = reader.ValueSpan.Length;
                            break;
                        case Field.Index:
                        case Field.Resubmissions:
                        case Field.Credits:
                            // Whole numbers of the size the original path reads them as (a long index, int counts).
                            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var number) || (field != Field.Index && number != (int)number))
                            {
                                return false;
                            }

                            if (field == Field.Index)
                            {
                                record.Index = number;
                            }
                            else if (field == Field.Credits)
                            {
                                record.Credits = (int)number;
                            }
                            else
                            {
                                record.Resubmissions = (int)number;
                            }

                            break;
                        case Field.Urls:
                        case Field.Files:
                            var list = Capture(ref reader);
                            if (reader.TokenType == JsonTokenType.EndArray && !AllStrings(line.Slice(list.Start, list.Length)))
                            {
                                return false;
                            }

                            if (field == Field.Urls)
                            {
                                record.Urls = list;
                            }
                            else
                            {
                                record.Files = list;
                            }

                            break;
                        case Field.Other:
                            reader.Skip();
                            break;
                        default:
                            // Prompt, model, job_id, code, message, input: kept for building the entry. A string that
                            // cannot be read as one (a lone surrogate) is the original path's error.
                            var token = Capture(ref reader);
                            if (token.Type == JsonTokenType.String && token.Escaped)
                            {
                                _ = reader.GetString();
                            }

                            switch (field)
                            {
                                case Field.Prompt: record.Prompt = token; break;
                                case Field.Model: record.Model = token; break;
                                case Field.JobId: record.JobId = token; break;
                                case Field.Code: record.Code = token; break;
                                case Field.Message: record.Message = token; break;
                                default: record.Input = token; break;
                            }

                            break;
                    }
                }

                if (reader.TokenType != JsonTokenType.EndObject || reader.Read() || type is null || !hasId)
                {
                    return false;
                }

                record.Type = type.Value;
                return true;
            }

            /// <summary>The value the reader is on (skipped past, when an array or object).</summary>
            private static Token Capture(ref Utf8JsonReader reader)
            {
                var token = new Token { Type = reader.TokenType, Start = (int)reader.TokenStartIndex };
                if (reader.TokenType == JsonTokenType.String)
                {
                    token.Start++;
                    token.Length = reader.ValueSpan.Length;
                    token.Escaped = reader.ValueIsEscaped;
                    return token;
                }

                reader.Skip();
                token.Length = (int)reader.BytesConsumed - token.Start;
                return token;
            }

            /// <summary>Whether an array holds only strings and nulls, each string readable as one.</summary>
            private static bool AllStrings(ReadOnlySpan<byte> array)
            {
                var reader = new Utf8JsonReader(array, isFinalBlock: true, state: default);
                reader.Read();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType == JsonTokenType.String && reader.ValueIsEscaped)
                    {
                        _ = reader.GetString();
                    }
                    else if (reader.TokenType != JsonTokenType.String && reader.TokenType != JsonTokenType.Null)
                    {
                        return false;
                    }
                }

                return true;
            }

            private static readonly (byte[] Name, Field Field)[] FieldNames =
            {
                (Utf8("type"), Field.Type), (Utf8("id"), Field.Id), (Utf8("index"), Field.Index), (Utf8("resubmissions"), Field.Resubmissions),
                (Utf8("credits"), Field.Credits), (Utf8("urls"), Field.Urls), (Utf8("files"), Field.Files), (Utf8("prompt"), Field.Prompt),
                (Utf8("model"), Field.Model), (Utf8("job_id"), Field.JobId), (Utf8("code"), Field.Code), (Utf8("message"), Field.Message),
                (Utf8("input"), Field.Input),
            };

            private static readonly (byte[] Name, Record Type)[] Types =
            {
                (Utf8("accepted"), Record.Accepted), (Utf8("sent"), Record.Sent), (Utf8("unsent"), Record.Unsent), (Utf8("created"), Record.Created),
                (Utf8("completed"), Record.Completed), (Utf8("failed"), Record.Failed), (Utf8("cancelled"), Record.Cancelled),
            };

            public static Record? TypeOf(ReadOnlySpan<byte> type)
            {
                foreach (var (name, record) in Types)
                {
                    if (type.SequenceEqual(name))
                    {
                        return record;
                    }
                }

                return null;
            }

            private static Field FieldOf(ReadOnlySpan<byte> name)
            {
                foreach (var (known, field) in FieldNames)
                {
                    if (name.SequenceEqual(known))
                    {
                        return field;
                    }
                }

                return Field.Other;
            }

            private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
        }
    }
}
