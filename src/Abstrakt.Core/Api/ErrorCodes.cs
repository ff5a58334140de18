namespace Abstrakt.Api
{
    /// <summary>The error codes of the abstrakt API and of the engine. What each means for a batch is <c>Engine.FailureClassifier</c>'s to say.</summary>
    public static class ErrorCodes
    {
#pragma warning disable CS1591 // The names are the spec's codes.
        public const string Unauthorized = "UNAUTHORIZED";
        public const string Forbidden = "FORBIDDEN";
        public const string QuotaExceeded = "QUOTA_EXCEEDED";
        public const string RateLimited = "RATE_LIMITED";
        public const string InvalidInput = "INVALID_INPUT";
        public const string ModelNotFound = "MODEL_NOT_FOUND";
        public const string JobNotFound = "JOB_NOT_FOUND";
        public const string ModelUnavailable = "MODEL_UNAVAILABLE";
        public const string InferenceFailed = "INFERENCE_FAILED";
        public const string ProviderFailure = "PROVIDER_FAILURE";
        public const string Timeout = "TIMEOUT";
#pragma warning restore CS1591

        /// <summary>No error envelope: a 5xx or 408, a network error, a cut connection or a body that is not JSON.</summary>
        public const string Transport = "TRANSPORT";

        /// <summary>A response that is JSON but not the shape the spec describes (or an output URL we refuse).</summary>
        public const string BadResponse = "BAD_RESPONSE";

        /// <summary>No request of the batch got any answer from the endpoint: it is down, wrong or unreachable.</summary>
        public const string Unreachable = "ENDPOINT_UNREACHABLE";

        /// <summary>The item ran past its overall deadline (<c>TimeoutSec</c>) on the client side.</summary>
        public const string Deadline = "DEADLINE_EXCEEDED";

        /// <summary>A local file (an output or the journal) could not be written or moved; this item fails.</summary>
        public const string LocalIo = "LOCAL_IO_FAILURE";

        /// <summary>The disk that holds the outputs or the journal is full: no later item can succeed either.</summary>
        public const string DiskFull = "DISK_FULL";

        /// <summary>An item whose Id an earlier item of the same batch already has; it is not run.</summary>
        public const string DuplicateId = "DUPLICATE_ID";

        /// <summary>
        /// A create whose answer was lost after it may have reached the service, or a shared batch's item whose create a
        /// runner sent and whose job id it never recorded before it died: a billed job may exist that no one can name,
        /// so the item is reported, not sent again unless the caller asks (spec section 8).
        /// </summary>
        public const string OutcomeUnknown = "OUTCOME_UNKNOWN";

        /// <summary>An output named after its source image would replace an existing file (without -Force); this item fails.</summary>
        public const string OutputExists = "OUTPUT_EXISTS";

        /// <summary>An error the engine did not foresee (a bug, or a value it cannot handle); this item fails.</summary>
        public const string Unexpected = "UNEXPECTED_FAILURE";
    }
}
