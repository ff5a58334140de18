using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;

namespace Abstrakt.Json
{
    /// <summary>Writes plain .NET values (dictionaries, lists, numbers, strings) as JSON.</summary>
    public static class JsonValues
    {
        /// <summary>Writes <paramref name="value"/> as a JSON value.</summary>
        /// <param name="writer">The writer.</param>
        /// <param name="value">A string, number, bool, null, IDictionary, IEnumerable or JsonElement.</param>
        public static void Write(Utf8JsonWriter writer, object? value)
        {
            if (writer is null)
            {
                throw new ArgumentNullException(nameof(writer));
            }

            switch (value)
            {
                case null:
                    writer.WriteNullValue();
                    break;
                case string s:
                    writer.WriteStringValue(s);
                    break;
                case bool b:
                    writer.WriteBooleanValue(b);
                    break;
                case int or long or short or byte or sbyte or uint or ushort:
                    writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                    break;
                case ulong u:
                    writer.WriteNumberValue(u);
                    break;
                case float or double or decimal:
                    writer.WriteNumberValue(Convert.ToDouble(value, CultureInfo.InvariantCulture));
                    break;
                case JsonElement element:
                    element.WriteTo(writer);
                    break;
                case Enum e:
                    writer.WriteStringValue(e.ToString());
                    break;
                case IDictionary dictionary:
                    writer.WriteStartObject();
                    foreach (DictionaryEntry entry in dictionary)
                    {
                        writer.WritePropertyName(Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? string.Empty);
                        Write(writer, entry.Value);
                    }

                    writer.WriteEndObject();
                    break;
                case IEnumerable<KeyValuePair<string, object?>> pairs:
                    writer.WriteStartObject();
                    foreach (var pair in pairs)
                    {
                        writer.WritePropertyName(pair.Key);
                        Write(writer, pair.Value);
                    }

                    writer.WriteEndObject();
                    break;
                case IEnumerable items:
                    writer.WriteStartArray();
                    foreach (var item in items)
                    {
                        Write(writer, item);
                    }

                    writer.WriteEndArray();
                    break;
                default:
                    writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                    break;
            }
        }

        /// <summary>Serializes <paramref name="value"/> to a UTF-8 JSON byte array.</summary>
        /// <param name="value">See <see cref="Write"/>.</param>
        /// <returns>The JSON bytes.</returns>
        public static byte[] ToUtf8(object? value)
        {
            var buffer = new System.IO.MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                Write(writer, value);
            }

            return buffer.ToArray();
        }

        /// <summary>Parses JSON text into plain .NET values (see <see cref="ToPlain"/>).</summary>
        /// <param name="json">The JSON text.</param>
        /// <returns>The value.</returns>
        /// <exception cref="JsonException">The text is not JSON.</exception>
        public static object? Parse(string json)
        {
            using var document = JsonDocument.Parse(json);
            return ToPlain(document.RootElement);
        }

        /// <summary>Turns a JSON element into plain .NET values (Dictionary, List, long, double, string, bool, null).</summary>
        /// <param name="element">The element.</param>
        /// <returns>The value.</returns>
        public static object? ToPlain(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.Object => ToDictionary(element),
            JsonValueKind.Array => ToList(element),
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number => element.TryGetInt64(out var l) ? l : element.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => null,
        };

        private static Dictionary<string, object?> ToDictionary(JsonElement element)
        {
            var result = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                result[property.Name] = ToPlain(property.Value);
            }

            return result;
        }

        private static List<object?> ToList(JsonElement element)
        {
            var result = new List<object?>();
            foreach (var item in element.EnumerateArray())
            {
                result.Add(ToPlain(item));
            }

            return result;
        }
    }
}
