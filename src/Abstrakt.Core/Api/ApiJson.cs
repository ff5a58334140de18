using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;

namespace Abstrakt.Api
{
    /// <summary>
    /// Reads the service's JSON in every shape the spec lists: newest (<c>job_id</c>, <c>output.items</c>,
    /// <c>completed</c>), older (<c>request_id</c>, <c>result</c>, <c>metrics</c>), webhook flat and event envelopes.
    /// </summary>
    public static class ApiJson
    {
        private static readonly TimeSpan MaxDuration = TimeSpan.FromDays(7);

        /// <summary>Reads a job (run response, job response or webhook payload).</summary>
        /// <param name="root">The parsed body.</param>
        /// <returns>The job.</returns>
        /// <exception cref="AbstraktApiException">BAD_RESPONSE when the body is not a job.</exception>
        public static JobInfo ReadJob(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw BadResponse("the response is not a JSON object");
            }

            // The older event envelope: {"event":"job.completed","data":{...}}.
            if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object && root.TryGetProperty("event", out _))
            {
                root = data;
            }

            var jobId = String(root, "job_id") ?? String(root, "request_id") ?? String(root, "id");
            if (string.IsNullOrEmpty(jobId))
            {
                throw BadResponse("the response has no job_id");
            }

            var statusText = String(root, "status") ?? throw BadResponse("the response has no status");
            string? errorCode = null, errorMessage = null;
            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            {
                errorCode = String(error, "code");
                errorMessage = String(error, "message");
            }

            var output = root.TryGetProperty("output", out var o) && o.ValueKind != JsonValueKind.Null ? o
                : root.TryGetProperty("result", out var r) ? r : default;

            return new JobInfo
            {
                JobId = jobId!,
                Status = ParseStatus(statusText),
                ModelId = String(root, "model_id") ?? String(root, "model"),
                Outputs = ReadOutputs(output),
                CreditsUsed = Int(root, "credits_used"),
                Duration = ReadDuration(root),
                ErrorCode = errorCode,
                ErrorMessage = Redaction.Scrub(errorMessage),
                Message = Redaction.Scrub(String(root, "message")),
            };
        }

        /// <summary>Reads a model from the catalogue.</summary>
        /// <param name="root">The model object.</param>
        /// <returns>The model.</returns>
        public static ModelInfo ReadModel(JsonElement root)
        {
            var id = String(root, "id") ?? String(root, "model_id") ?? throw BadResponse("a model has no id");
            var credits = Int(root, "credits");
            if (credits is null && root.TryGetProperty("pricing", out var pricing) && pricing.ValueKind == JsonValueKind.Object)
            {
                credits = Int(pricing, "credits");
            }

            return new ModelInfo
            {
                Id = id,
                Name = String(root, "name"),
                Category = String(root, "category"),
                Description = String(root, "description"),
                Credits = credits ?? 1,
                InputSchema = root.TryGetProperty("input_schema", out var schema) && schema.ValueKind == JsonValueKind.Object ? schema.GetRawText() : null,
            };
        }

        /// <summary>Parses a status word; <c>succeeded</c> means completed.</summary>
        /// <param name="status">The wire status.</param>
        /// <returns>The status.</returns>
        public static JobStatus ParseStatus(string status) => status.ToUpperInvariant() switch
        {
            "PENDING" or "QUEUED" or "IN_QUEUE" => JobStatus.Pending,
            "PROCESSING" or "RUNNING" or "IN_PROGRESS" or "STARTED" => JobStatus.Processing,
            "COMPLETED" or "SUCCEEDED" or "SUCCESS" => JobStatus.Completed,
            "FAILED" or "ERROR" => JobStatus.Failed,
            "CANCELLED" or "CANCELED" => JobStatus.Cancelled,
            _ => throw BadResponse("unknown job status '" + status + "'"),
        };

        internal static string? String(JsonElement obj, string name) =>
            obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        internal static int? Int(JsonElement obj, string name) =>
            obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

        internal static double? Number(JsonElement obj, string name) =>
            obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

        private static IReadOnlyList<OutputFile> ReadOutputs(JsonElement output)
        {
            // output.items (newest), a bare array, or {"images":[...]} / {"video":{...}} / {"audio":{...}} (older).
            JsonElement items = default;
            if (output.ValueKind == JsonValueKind.Array)
            {
                items = output;
            }
            else if (output.ValueKind == JsonValueKind.Object)
            {
                if (!output.TryGetProperty("items", out items) && !output.TryGetProperty("images", out items))
                {
                    foreach (var single in new[] { "video", "audio", "image" })
                    {
                        if (output.TryGetProperty(single, out var one) && one.ValueKind == JsonValueKind.Object)
                        {
                            return new[] { ReadOutput(one, single) };
                        }
                    }
                }
            }

            if (items.ValueKind != JsonValueKind.Array)
            {
                return Array.Empty<OutputFile>();
            }

            var result = new List<OutputFile>();
            foreach (var item in items.EnumerateArray())
            {
                result.Add(ReadOutput(item, "image"));
            }

            return result;
        }

        private static OutputFile ReadOutput(JsonElement item, string defaultType) => new OutputFile
        {
            Type = String(item, "type") ?? defaultType,
            Url = String(item, "url") ?? throw BadResponse("an output item has no url"),
            Width = Int(item, "width"),
            Height = Int(item, "height"),
            ContentType = String(item, "content_type"),
        };

        private static TimeSpan? ReadDuration(JsonElement root)
        {
            var ms = Number(root, "duration_ms")
                ?? (root.TryGetProperty("metrics", out var metrics) && Number(metrics, "inference_time") is double seconds ? seconds * 1000 : (double?)null);

            // Informational only: a negative or absurd value (1e300 would overflow TimeSpan) is dropped.
            return ms is double m && m >= 0 && m <= MaxDuration.TotalMilliseconds ? TimeSpan.FromMilliseconds(m) : null;
        }

        private static AbstraktApiException BadResponse(string what) =>
            new AbstraktApiException(ErrorCodes.BadResponse, "The service sent an unexpected response: " + what + ".");

        internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
    }
}
