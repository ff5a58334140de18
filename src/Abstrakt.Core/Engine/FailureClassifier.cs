using System;
using System.Collections.Generic;
using Abstrakt.Api;

namespace Abstrakt.Engine
{
    /// <summary>How a failure affects a batch, as the API spec's error table decides.</summary>
    public enum ErrorKind
    {
        /// <summary>Try the same item again, after a backoff or the server's delay hint.</summary>
        Retryable,

        /// <summary>This item fails; the rest of the batch goes on. Never retried.</summary>
        ItemFatal,

        /// <summary>No item can succeed (bad key, no credits, unknown model): stop the whole batch.</summary>
        BatchFatal,
    }

    /// <summary>
    /// The one place that decides what a failure means: retry it, fail the item, or stop the batch. A failure
    /// (<see cref="AbstraktApiException"/>) carries only facts (code, status, hint, unknown outcome); this reads them.
    /// Adding an error code is one row in <see cref="ByCode"/> (a test fails for a code without one).
    /// </summary>
    public sealed class FailureClassifier
    {
        /// <summary>Code first, because the docs never pair codes with statuses; a code not here falls back to its status.</summary>
        private static readonly Dictionary<string, ErrorKind> ByCode = new Dictionary<string, ErrorKind>(StringComparer.Ordinal)
        {
            [ErrorCodes.Unauthorized] = ErrorKind.BatchFatal,
            [ErrorCodes.Forbidden] = ErrorKind.BatchFatal,
            [ErrorCodes.QuotaExceeded] = ErrorKind.BatchFatal,
            // Batch-fatal when the batch has one model; a batch that mixes models fails the item (BatchFatalFor).
            [ErrorCodes.ModelNotFound] = ErrorKind.BatchFatal,
            [ErrorCodes.Unreachable] = ErrorKind.BatchFatal,
            [ErrorCodes.DiskFull] = ErrorKind.BatchFatal,
            [ErrorCodes.InvalidInput] = ErrorKind.ItemFatal,
            [ErrorCodes.InferenceFailed] = ErrorKind.ItemFatal,
            // The engine resubmits where the output was never received (a re-attached job that expired).
            [ErrorCodes.JobNotFound] = ErrorKind.ItemFatal,
            [ErrorCodes.BadResponse] = ErrorKind.ItemFatal,
            [ErrorCodes.Deadline] = ErrorKind.ItemFatal,
            [ErrorCodes.LocalIo] = ErrorKind.ItemFatal,
            [ErrorCodes.Unexpected] = ErrorKind.ItemFatal,
            [ErrorCodes.DuplicateId] = ErrorKind.ItemFatal,
            [ErrorCodes.OutcomeUnknown] = ErrorKind.ItemFatal,
            [ErrorCodes.OutputExists] = ErrorKind.ItemFatal,
            [ErrorCodes.RateLimited] = ErrorKind.Retryable,
            [ErrorCodes.ModelUnavailable] = ErrorKind.Retryable,
            [ErrorCodes.ProviderFailure] = ErrorKind.Retryable,
            [ErrorCodes.Timeout] = ErrorKind.Retryable,
            [ErrorCodes.Transport] = ErrorKind.Retryable,
        };

        private readonly string _defaultModel;
        private readonly bool _resubmitUnknown;
        private readonly AbstraktClient _client;
        private readonly long _answersAtStart;

        /// <summary>A batch's view: its default model, whether lost creates are sent again, and what the client had answered at its start.</summary>
        internal FailureClassifier(BatchOptions options, AbstraktClient client)
        {
            _defaultModel = options.DefaultModel;
            _resubmitUnknown = options.ResubmitUnknown;
            _client = client;
            _answersAtStart = client.Answers;
        }

        /// <summary>Classifies a failure by its code first and its HTTP status second.</summary>
        /// <param name="error">The failure.</param>
        /// <returns>How the failure affects a batch.</returns>
        public static ErrorKind Classify(AbstraktApiException error) =>
            Classify((error ?? throw new ArgumentNullException(nameof(error))).Code, error.StatusCode);

        /// <summary>Classifies by code first and HTTP status second, because the docs never pair them.</summary>
        /// <param name="code">The error code, or null when the response had none.</param>
        /// <param name="status">The HTTP status, or null for a network failure or a failed job.</param>
        /// <returns>How the failure affects a batch.</returns>
        public static ErrorKind Classify(string? code, int? status)
        {
            if (code is not null && ByCode.TryGetValue(code, out var kind))
            {
                return kind;
            }

            return status switch
            {
                401 or 402 or 403 => ErrorKind.BatchFatal,
                408 or 429 => ErrorKind.Retryable,
                null => ErrorKind.Retryable,
                >= 500 => ErrorKind.Retryable,
                _ => ErrorKind.ItemFatal,
            };
        }

        /// <summary>Whether a code has its row (for the test that holds the table complete).</summary>
        internal static bool Knows(string code) => ByCode.ContainsKey(code);

        /// <summary>Whether the item's attempt is tried again (the retry budget and the deadline aside).</summary>
        internal static bool IsRetryable(AbstraktApiException error) => Classify(error) == ErrorKind.Retryable;

        /// <summary>
        /// The wait before the next attempt: none after a 429, which paused the shared rate gate for every worker already;
        /// else the server's hint, or null for the retry's own backoff.
        /// </summary>
        internal static TimeSpan? RetryDelay(AbstraktApiException error) =>
            error.Code == ErrorCodes.RateLimited || error.StatusCode == 429 ? TimeSpan.Zero : error.RetryAfter;

        /// <summary>
        /// True when a create's answer was lost and the caller did not ask to send such creates again: the item is reported
        /// as an unknown outcome (spec section 8) instead of being retried.
        /// </summary>
        internal bool IsLostCreate(AbstraktApiException error) => error.OutcomeUnknown && !_resubmitUnknown;

        /// <summary>
        /// After an item's last attempt: the batch's end when the failure dooms every item, else null (only this item fails).
        /// An unknown model dooms a batch of one model only; transport faults doom it when no request of the batch was answered.
        /// </summary>
        /// <param name="item">The item.</param>
        /// <param name="error">Its last failure.</param>
        /// <returns>The batch-fatal failure, or null.</returns>
        internal BatchFatalException? BatchFatalFor(WorkItem item, AbstraktApiException error)
        {
            if (Classify(error) == ErrorKind.BatchFatal)
            {
                var anotherModel = error.Code == ErrorCodes.ModelNotFound && item.Model is not null && !string.Equals(item.Model, _defaultModel, StringComparison.OrdinalIgnoreCase);
                return anotherModel ? null : new BatchFatalException(error.Message, error);
            }

            if (error.Code == ErrorCodes.Transport && _client.Answers == _answersAtStart)
            {
                // Retries spent and not one request of the batch answered: failing every item the same way
                // would only be slower and noisier. The item stays unfinished in the journal for a resume.
                var endpoint = _client.Options.Endpoint.GetLeftPart(UriPartial.Authority);
                return new BatchFatalException(
                    $"Cannot reach {endpoint}: {error.Message} No request of this batch was answered.",
                    new AbstraktApiException(ErrorCodes.Unreachable, $"Cannot reach {endpoint}.", null, error.Request, error));
            }

            return null;
        }
    }
}
