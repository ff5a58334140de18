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
                .Where(p => p.Value.ValueKind == JsonValueKind.Object && Text(p.Value, "type") == "string")
                .ToList();
            return strings.Select(p => p.Name).FirstOrDefault(name => name == "image_url")
                ?? strings.Select(p => p.Name).FirstOrDefault(name => name == "image")
                ?? strings.Where(p => p.Name.EndsWith("_url", System.StringComparison.Ordinal) || Text(p.Value, "format") == "uri").Select(p => p.Name).FirstOrDefault();
        }

        private static string? Text(JsonElement schema, string keyword) =>
            schema.TryGetProperty(keyword, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }
}
