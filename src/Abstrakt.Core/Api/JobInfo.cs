using System;
using System.Collections.Generic;

namespace Abstrakt.Api
{
    /// <summary>A job's status as the spec names it. <c>succeeded</c> on the wire reads as <see cref="Completed"/>.</summary>
    public enum JobStatus
    {
        /// <summary>Queued.</summary>
        Pending,

        /// <summary>Running.</summary>
        Processing,

        /// <summary>Done, with outputs.</summary>
        Completed,

        /// <summary>Ended with an error.</summary>
        Failed,

        /// <summary>Cancelled before it ended; not charged.</summary>
        Cancelled,
    }

    /// <summary>One output of a job: an image, a video or an audio file.</summary>
    public sealed class OutputFile
    {
        /// <summary>image, video or audio.</summary>
        public string Type { get; init; } = "image";

        /// <summary>Where the file can be downloaded.</summary>
        public string Url { get; init; } = string.Empty;

        /// <summary>Width in pixels, for images and video.</summary>
        public int? Width { get; init; }

        /// <summary>Height in pixels, for images and video.</summary>
        public int? Height { get; init; }

        /// <summary>The MIME type, such as image/png.</summary>
        public string? ContentType { get; init; }
    }

    /// <summary>A job as the service reports it, read from any of the response shapes the spec lists.</summary>
    public sealed class JobInfo
    {
        /// <summary>The job id (<c>job_id</c>, or <c>request_id</c> in older responses).</summary>
        public string JobId { get; init; } = string.Empty;

        /// <summary>The job's status.</summary>
        public JobStatus Status { get; init; }

        /// <summary>The model that ran.</summary>
        public string? ModelId { get; init; }

        /// <summary>The outputs, once completed.</summary>
        public IReadOnlyList<OutputFile> Outputs { get; init; } = Array.Empty<OutputFile>();

        /// <summary>Credits charged for the job.</summary>
        public int? CreditsUsed { get; init; }

        /// <summary>How long the service says the job ran.</summary>
        public TimeSpan? Duration { get; init; }

        /// <summary>The error code of a failed job.</summary>
        public string? ErrorCode { get; init; }

        /// <summary>The error message of a failed job.</summary>
        public string? ErrorMessage { get; init; }

        /// <summary>The service's message (for 202: how to poll).</summary>
        public string? Message { get; init; }

        /// <summary>True for completed, failed and cancelled.</summary>
        public bool IsTerminal => Status is JobStatus.Completed or JobStatus.Failed or JobStatus.Cancelled;
    }

    /// <summary>A model from the catalogue.</summary>
    public sealed class ModelInfo
    {
        /// <summary>The model id, such as flux-schnell.</summary>
        public string Id { get; init; } = string.Empty;

        /// <summary>The display name.</summary>
        public string? Name { get; init; }

        /// <summary>image, video, audio, …</summary>
        public string? Category { get; init; }

        /// <summary>What the model does.</summary>
        public string? Description { get; init; }

        /// <summary>Credits charged per output (per image, per clip).</summary>
        public int Credits { get; init; } = 1;

        /// <summary>The model's input JSON Schema, as JSON text (only from get model).</summary>
        public string? InputSchema { get; init; }
    }
}
