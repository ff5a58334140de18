using System.Linq;
using System.Text.Json;

namespace Abstrakt.Api
{
    /// <summary>Finds the field a model takes its source image in, from the model's input schema.</summary>
    public static class ImageField
    {
        /// <summary>The name the docs' examples use, for a model whose schema does not say.</summary>
        public const string Default = "image_url";

        /// <summary>The image field of a schema: <c>image_url</c>, else <c>image</c>, else a string property named <c>*_url</c> or with format uri.</summary>
        /// <param name="schemaJson">The input schema's JSON text, or null.</param>
        /// <returns>The field name, or null when the schema names none.</returns>
        public static string? From(string? schemaJson)
        {
            if (schemaJson is null)
            {
                return null;
            }

            using var doc = JsonDocument.Parse(schemaJson);
            if (!doc.RootElement.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var strings = properties.EnumerateObject()
                .Where(p => p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "string")
                .ToList();
            return strings.FirstOrDefault(p => p.Name == "image_url").Name
                ?? strings.FirstOrDefault(p => p.Name == "image").Name
                ?? strings.FirstOrDefault(p => p.Name.EndsWith("_url", System.StringComparison.Ordinal) || (p.Value.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String && f.GetString() == "uri")).Name;
        }
    }
}
