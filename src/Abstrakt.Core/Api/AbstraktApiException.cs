using System;

namespace Abstrakt.Api
{
    /// <summary>
    /// Every failure the client reports: an error envelope from the service, a transport fault, or a job
    /// that ended <c>failed</c>. It carries facts only (code, status, the server's hint, whether the outcome is
    /// unknown); what they mean for a batch is <c>Engine.FailureClassifier</c>'s to decide. Never carries the API key.
    /// </summary>
    public sealed class AbstraktApiException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="code">The spec's error code, or <see cref="ErrorCodes.Transport"/>.</param>
        /// <param name="message">What went wrong, for a person.</param>
        /// <param name="statusCode">The HTTP status, when there was a response.</param>
        /// <param name="request">The request that failed, as "METHOD /path".</param>
        /// <param name="inner">The underlying exception, if any.</param>
        public AbstraktApiException(string code, string message, int? statusCode = null, string? request = null, Exception? inner = null)
            : base(Redaction.Scrub(message), inner)
        {
            Code = code;
            StatusCode = statusCode;
            Request = request;
        }

        /// <summary>The spec's error code (UNAUTHORIZED, RATE_LIMITED, …) or TRANSPORT.</summary>
        public string Code { get; }

        /// <summary>The HTTP status, or null for a network failure or a failed job.</summary>
        public int? StatusCode { get; }

        /// <summary>The request that failed, as "METHOD /path".</summary>
        public string? Request { get; }

        /// <summary>The longest delay the server asked for (Retry-After, error.retry_after), at most an hour.</summary>
        public TimeSpan? RetryAfter { get; init; }

        /// <summary>The job the failure belongs to, when known.</summary>
        public string? JobId { get; init; }

        /// <summary>The error envelope's <c>details</c> object, as JSON text.</summary>
        public string? Details { get; init; }

        /// <summary>
        /// True when the request may have reached the service (a timeout or cut connection after sending; false for a
        /// connection refused): a create may then have made a job that no one can name (spec section 8).
        /// </summary>
        public bool OutcomeUnknown { get; init; }

        /// <inheritdoc/>
        public override string ToString() =>
            $"{GetType().FullName}: [{Code}{(StatusCode is int s ? " " + s : string.Empty)}] {Message}{(Request is null ? string.Empty : " (" + Request + ")")}";
    }
}
