using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;

namespace Abstrakt.Sandbox
{
    /// <summary>A model the sandbox runs.</summary>
    internal sealed class SandboxModel
    {
        public string Id { get; init; } = string.Empty;
        public string Name { get; init; } = string.Empty;
        public string Category { get; init; } = "image";
        public string Description { get; init; } = string.Empty;
        public int Credits { get; init; } = 1;
        public TimeSpan Latency { get; init; }
        public string[] Aliases { get; init; } = Array.Empty<string>();
        public string? ImageField { get; init; }
        public int Scale { get; init; } = 1;
        public bool Alpha { get; init; }
        public JsonElement Schema { get; init; }
    }

    /// <summary>The sandbox's models and their input schemas, and a validator for the subset of JSON Schema they use.</summary>
    internal static class SandboxCatalog
    {
        private const string ImageSchema = @"{
  ""type"": ""object"",
  ""required"": [""prompt""],
  ""additionalProperties"": false,
  ""properties"": {
    ""prompt"": { ""type"": ""string"", ""minLength"": 1, ""maxLength"": 10000, ""description"": ""What to draw."" },
    ""image_size"": { ""oneOf"": [
      { ""type"": ""string"", ""enum"": [""square"", ""square_hd"", ""portrait_4_3"", ""landscape_16_9""] },
      { ""type"": ""object"", ""required"": [""width"", ""height""], ""additionalProperties"": false, ""properties"": {
          ""width"": { ""type"": ""integer"", ""minimum"": 64, ""maximum"": 2048 },
          ""height"": { ""type"": ""integer"", ""minimum"": 64, ""maximum"": 2048 } } } ], ""default"": ""square_hd"" },
    ""num_images"": { ""type"": ""integer"", ""minimum"": 1, ""maximum"": 4, ""default"": 1 },
    ""seed"": { ""type"": ""integer"" },
    ""negative_prompt"": { ""type"": ""string"", ""maxLength"": 10000 },
    ""guidance_scale"": { ""type"": ""number"", ""minimum"": 0, ""maximum"": 20 },
    ""num_inference_steps"": { ""type"": ""integer"", ""minimum"": 1, ""maximum"": 100 }
  }
}";

        // The image-input models: the source image is a string field (image_url) holding a URL or a data URI.
        private const string ImageToImageSchema = @"{
  ""type"": ""object"",
  ""required"": [""prompt"", ""image_url""],
  ""additionalProperties"": false,
  ""properties"": {
    ""prompt"": { ""type"": ""string"", ""minLength"": 1, ""maxLength"": 10000, ""description"": ""How to change the image."" },
    ""image_url"": { ""type"": ""string"", ""format"": ""uri"", ""description"": ""The source image: a URL, or a data: URI."" },
    ""strength"": { ""type"": ""number"", ""minimum"": 0, ""maximum"": 1, ""default"": 0.8 },
    ""num_images"": { ""type"": ""integer"", ""minimum"": 1, ""maximum"": 4, ""default"": 1 },
    ""seed"": { ""type"": ""integer"" }
  }
}";

        private const string ImageOnlySchema = @"{
  ""type"": ""object"",
  ""required"": [""image_url""],
  ""additionalProperties"": false,
  ""properties"": {
    ""image_url"": { ""type"": ""string"", ""format"": ""uri"", ""description"": ""The source image: a URL, or a data: URI."" },
    ""seed"": { ""type"": ""integer"" }
  }
}";

        private const string VideoSchema = @"{
  ""type"": ""object"",
  ""required"": [""prompt""],
  ""additionalProperties"": false,
  ""properties"": {
    ""prompt"": { ""type"": ""string"", ""minLength"": 1, ""maxLength"": 5000 },
    ""duration"": { ""type"": ""integer"", ""minimum"": 2, ""maximum"": 10, ""default"": 5 },
    ""seed"": { ""type"": ""integer"" }
  }
}";

        private const string SpeechSchema = @"{
  ""type"": ""object"",
  ""required"": [""text""],
  ""additionalProperties"": false,
  ""properties"": {
    ""text"": { ""type"": ""string"", ""minLength"": 1, ""maxLength"": 5000 },
    ""voice"": { ""type"": ""string"", ""enum"": [""alloy"", ""ember"", ""river""], ""default"": ""alloy"" },
    ""seed"": { ""type"": ""integer"" }
  }
}";

        public static IReadOnlyList<SandboxModel> Models { get; } = new[]
        {
            Image("flux-schnell", "FLUX.1 [schnell]", "Fast FLUX text-to-image in 1-4 steps.", 1, 1.2, "fal-ai/flux/schnell"),
            Image("flux-dev", "FLUX.1 [dev]", "High quality FLUX text-to-image.", 3, 4, "fal-ai/flux/dev"),
            Image("fast-sdxl", "Stable Diffusion XL (fast)", "SDXL text-to-image, tuned for speed.", 1, 2, "fal-ai/fast-sdxl"),
            Image("sd3", "Stable Diffusion 3", "Stable Diffusion 3 medium text-to-image.", 4, 5, "fal-ai/stable-diffusion-v3-medium"),
            Image("ideogram", "Ideogram v2", "Text-to-image with strong typography.", 6, 6, "fal-ai/ideogram/v2"),
            ImageInput("image-to-image", "Image to image", "Changes an image as the prompt says; the output has the source's size.", 2, ImageToImageSchema, "fal-ai/flux/dev/image-to-image"),
            ImageInput("image-upscaler", "Image upscaler", "Upscales an image to twice its width and height.", 1, ImageOnlySchema, "fal-ai/esrgan", scale: 2),
            ImageInput("remove-background", "Remove background", "Cuts the subject out: the source's size, with an alpha channel.", 1, ImageOnlySchema, "fal-ai/birefnet", alpha: true),
            new SandboxModel
            {
                Id = "minimax-video", Name = "MiniMax Video", Category = "video", Credits = 20, Latency = TimeSpan.FromSeconds(90),
                Description = "Text-to-video clips; runs past the sync window, so a run answers 202.",
                Aliases = new[] { "fal-ai/minimax/video-01" }, Schema = Parse(VideoSchema),
            },
            new SandboxModel
            {
                Id = "kokoro-tts", Name = "Kokoro TTS", Category = "audio", Credits = 1, Latency = TimeSpan.FromSeconds(1.5),
                Description = "Text-to-speech.", Aliases = new[] { "fal-ai/kokoro" }, Schema = Parse(SpeechSchema),
            },
        };

        public static SandboxModel? Find(string id) =>
            Models.FirstOrDefault(m => string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase) || m.Aliases.Contains(id, StringComparer.OrdinalIgnoreCase));

        /// <summary>Pixel size of an image_size value (a preset or {width,height}).</summary>
        public static (int Width, int Height) ImageSize(JsonElement input)
        {
            if (!input.TryGetProperty("image_size", out var size))
            {
                return (1024, 1024);
            }

            if (size.ValueKind == JsonValueKind.Object)
            {
                return (size.GetProperty("width").GetInt32(), size.GetProperty("height").GetInt32());
            }

            return size.GetString() switch
            {
                "square" => (512, 512),
                "portrait_4_3" => (768, 1024),
                "landscape_16_9" => (1024, 576),
                _ => (1024, 1024),
            };
        }

        /// <summary>Validates <paramref name="value"/> against <paramref name="schema"/>; returns the first problem found.</summary>
        public static (string Field, string Problem)? Validate(JsonElement schema, JsonElement value, string path = "input")
        {
            if (schema.TryGetProperty("oneOf", out var oneOf))
            {
                var problems = new List<string>();
                foreach (var option in oneOf.EnumerateArray())
                {
                    var problem = Validate(option, value, path);
                    if (problem is null)
                    {
                        return null;
                    }

                    problems.Add(problem.Value.Problem);
                }

                return (path, string.Join("; or ", problems));
            }

            var type = schema.TryGetProperty("type", out var t) ? t.GetString() : null;
            switch (type)
            {
                case "object":
                    return ValidateObject(schema, value, path);
                case "string":
                    if (value.ValueKind != JsonValueKind.String)
                    {
                        return (path, "must be a string");
                    }

                    var text = value.GetString()!;
                    if (schema.TryGetProperty("enum", out var choices) && !choices.EnumerateArray().Any(c => c.GetString() == text))
                    {
                        return (path, "must be one of " + string.Join(", ", choices.EnumerateArray().Select(c => c.GetString())));
                    }

                    if (schema.TryGetProperty("minLength", out var minLength) && text.Trim().Length < minLength.GetInt32())
                    {
                        return (path, "must not be empty");
                    }

                    if (schema.TryGetProperty("format", out var format) && format.GetString() == "uri" && !text.StartsWith("data:", StringComparison.Ordinal) && !Uri.TryCreate(text, UriKind.Absolute, out _))
                    {
                        return (path, "must be an absolute URL or a data: URI");
                    }

                    if (schema.TryGetProperty("maxLength", out var maxLength) && text.Length > maxLength.GetInt32())
                    {
                        return (path, string.Format(CultureInfo.InvariantCulture, "must be at most {0} characters (got {1})", maxLength.GetInt32(), text.Length));
                    }

                    return null;
                case "integer":
                case "number":
                    if (value.ValueKind != JsonValueKind.Number || (type == "integer" && !value.TryGetInt64(out _)))
                    {
                        return (path, "must be " + (type == "integer" ? "an integer" : "a number"));
                    }

                    var number = value.GetDouble();
                    if (schema.TryGetProperty("minimum", out var min) && number < min.GetDouble())
                    {
                        return (path, "must be at least " + min.GetRawText());
                    }

                    if (schema.TryGetProperty("maximum", out var max) && number > max.GetDouble())
                    {
                        return (path, "must be at most " + max.GetRawText());
                    }

                    return null;
                case "boolean":
                    return value.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : (path, "must be true or false");
                default:
                    return null;
            }
        }

        private static (string Field, string Problem)? ValidateObject(JsonElement schema, JsonElement value, string path)
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                return (path, "must be an object");
            }

            if (schema.TryGetProperty("required", out var required))
            {
                foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
                {
                    if (!value.TryGetProperty(name, out _))
                    {
                        return (path + "." + name, "is required");
                    }
                }
            }

            var properties = schema.TryGetProperty("properties", out var p) ? p : default;
            var closed = schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.False;
            foreach (var property in value.EnumerateObject())
            {
                if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
                {
                    var problem = Validate(propertySchema, property.Value, path + "." + property.Name);
                    if (problem is not null)
                    {
                        return problem;
                    }
                }
                else if (closed)
                {
                    return (path + "." + property.Name, "is not an input of this model");
                }
            }

            return null;
        }

        private static SandboxModel Image(string id, string name, string description, int credits, double latencySeconds, string alias) => new SandboxModel
        {
            Id = id,
            Name = name,
            Category = "image",
            Description = description,
            Credits = credits,
            Latency = TimeSpan.FromSeconds(latencySeconds),
            Aliases = new[] { alias },
            Schema = Parse(ImageSchema),
        };

        private static SandboxModel ImageInput(string id, string name, string description, int credits, string schema, string alias, int scale = 1, bool alpha = false) => new SandboxModel
        {
            Id = id,
            Name = name,
            Category = "image-editing",
            Description = description,
            Credits = credits,
            Latency = TimeSpan.FromSeconds(0.5),
            Aliases = new[] { alias },
            Schema = Parse(schema),
            ImageField = "image_url",
            Scale = scale,
            Alpha = alpha,
        };

        private static JsonElement Parse(string json)
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.Clone();
        }
    }
}
