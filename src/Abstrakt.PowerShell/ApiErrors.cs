using System.Collections.Generic;
using System.Management.Automation;
using Abstrakt.Api;
using Abstrakt.Engine;

namespace Abstrakt.PowerShell
{
    /// <summary>
    /// The one table that turns a failure's code into what PowerShell shows: the error id's reason, the category, and
    /// what the user can do. The engine decides what a failure means (retry, item, batch: FailureClassifier); this
    /// decides only how it reads. Adding a code is one row here (a test fails for a code without one).
    /// </summary>
    internal static class ApiErrors
    {
        private const string Resume = "then resume the batch with -Resume.";

        private static readonly Dictionary<string, Row> Table = new Dictionary<string, Row>(System.StringComparer.Ordinal)
        {
            [ErrorCodes.Unauthorized] = new Row("Unauthorized", ErrorCategory.AuthenticationError, "Check the key: Connect-Abstrakt -ApiKey (Read-Host -AsSecureString). The journal, if any, can be resumed."),
            [ErrorCodes.Forbidden] = new Row("Forbidden", ErrorCategory.PermissionDenied, "Use a key with the models:run and jobs:read scopes, " + Resume),
            [ErrorCodes.QuotaExceeded] = new Row("QuotaExceeded", ErrorCategory.QuotaExceeded, "Add credits to the account, " + Resume),
            [ErrorCodes.RateLimited] = new Row("RateLimited", ErrorCategory.LimitsExceeded, null),
            [ErrorCodes.InvalidInput] = new Row("InvalidInput", ErrorCategory.InvalidArgument, "Fix the item's input; Get-AbstraktModel -Id <model> shows the model's input schema."),
            [ErrorCodes.ModelNotFound] = new Row("ModelNotFound", ErrorCategory.ObjectNotFound, "List models with Get-AbstraktModel."),
            [ErrorCodes.JobNotFound] = new Row("JobNotFound", ErrorCategory.ObjectNotFound, null),
            [ErrorCodes.ModelUnavailable] = new Row("ModelUnavailable", ErrorCategory.InvalidResult, null),
            [ErrorCodes.InferenceFailed] = new Row("InferenceFailed", ErrorCategory.InvalidResult, null),
            [ErrorCodes.ProviderFailure] = new Row("ProviderFailure", ErrorCategory.InvalidResult, null),
            [ErrorCodes.Timeout] = new Row("Timeout", ErrorCategory.OperationTimeout, null),
            [ErrorCodes.Transport] = new Row("TransportFault", ErrorCategory.ConnectionError, null),
            [ErrorCodes.BadResponse] = new Row("BadResponse", ErrorCategory.InvalidResult, null),
            [ErrorCodes.Unreachable] = new Row("EndpointUnreachable", ErrorCategory.ConnectionError, "Check the endpoint (Connect-Abstrakt -Endpoint) and the network, " + Resume),
            [ErrorCodes.Deadline] = new Row("DeadlineExceeded", ErrorCategory.OperationTimeout, null),
            [ErrorCodes.LocalIo] = new Row("LocalIoFailure", ErrorCategory.WriteError, null),
            [ErrorCodes.DiskFull] = new Row("DiskFull", ErrorCategory.WriteError, "Free space on the disk that holds the output directory and the journal, " + Resume),
            [ErrorCodes.DuplicateId] = new Row("DuplicateId", ErrorCategory.InvalidArgument, null),
            [ErrorCodes.OutputExists] = new Row("OutputExists", ErrorCategory.ResourceExists, null),
            [ErrorCodes.Unexpected] = new Row("UnexpectedFailure", ErrorCategory.InvalidResult, null),
            [ErrorCodes.OutcomeUnknown] = new Row("OutcomeUnknown", ErrorCategory.InvalidResult, "The service may have made (and billed) the job; check the account before sending it again with -Resume -ResubmitUnknown."),
        };

        /// <summary>Whether a code has its row (for the test that holds the table complete).</summary>
        /// <param name="code">An ErrorCodes value.</param>
        /// <returns>True when known.</returns>
        internal static bool Knows(string code) => Table.ContainsKey(code);

        /// <summary>The reason part of an error id (AbstraktItemFailed.&lt;Reason&gt;); a code the table lacks is a transport fault.</summary>
        /// <param name="code">The failure's code.</param>
        /// <returns>The reason.</returns>
        internal static string IdFor(string code) => Table.TryGetValue(code, out var row) ? row.Id : Table[ErrorCodes.Transport].Id;

        /// <summary>The category: by HTTP status where the service answered one, else by code.</summary>
        /// <param name="error">The failure.</param>
        /// <returns>The category.</returns>
        internal static ErrorCategory CategoryFor(AbstraktApiException error) => error.StatusCode switch
        {
            401 => ErrorCategory.AuthenticationError,
            403 => ErrorCategory.PermissionDenied,
            402 => ErrorCategory.QuotaExceeded,
            404 => ErrorCategory.ObjectNotFound,
            429 => ErrorCategory.LimitsExceeded,
            400 => ErrorCategory.InvalidArgument,
            _ => Table.TryGetValue(error.Code, out var row) ? row.Category : ErrorCategory.InvalidResult,
        };

        /// <summary>What the user reads for an API failure: the service's message, except for an unknown model, which gets a "did you mean".</summary>
        /// <param name="error">The failure.</param>
        /// <param name="model">The model the request named, when known.</param>
        /// <returns>The message.</returns>
        internal static string Message(AbstraktApiException error, string? model) =>
            error.Code == ErrorCodes.ModelNotFound && model is not null ? ModelCompleter.UnknownModel(model) : error.Message;

        /// <summary>A failure of one call (Get-AbstraktJob, Connect-Abstrakt's check): Abstrakt&lt;Reason&gt;.</summary>
        /// <param name="error">The failure.</param>
        /// <param name="target">What the call was about.</param>
        /// <param name="model">The model the call named, when known.</param>
        /// <returns>The record.</returns>
        internal static ErrorRecord CallRecord(AbstraktApiException error, object? target, string? model = null) =>
            new ErrorRecord(error, "Abstrakt" + IdFor(error.Code), CategoryFor(error), target)
            {
                ErrorDetails = new ErrorDetails(Message(error, model)),
            };

        /// <summary>A failed item or job as a non-terminating error: AbstraktItemFailed.&lt;Reason&gt;, with the input as target.</summary>
        /// <param name="subject">How the message names the item ("Item 'hero'", "Job job_1").</param>
        /// <param name="error">The failure.</param>
        /// <param name="target">The input item.</param>
        /// <param name="model">The model the item ran on, when known.</param>
        /// <returns>The record.</returns>
        internal static ErrorRecord ItemRecord(string subject, AbstraktApiException error, object? target, string? model = null)
        {
            var record = new ErrorRecord(
                new Commands.AbstraktItemException($"{subject} failed ({error.Code}): {Message(error, model)}", error),
                ErrorIds.ItemFailed + "." + IdFor(error.Code),
                CategoryFor(error),
                target);
            if (FailureClassifier.Classify(error) == ErrorKind.ItemFatal && Table.TryGetValue(error.Code, out var row) && row.Action is not null)
            {
                record.ErrorDetails = new ErrorDetails(record.Exception.Message) { RecommendedAction = row.Action };
            }

            return record;
        }

        /// <summary>A condition that dooms the batch, as one terminating error: AbstraktBatchFatal.&lt;Reason&gt;.</summary>
        /// <param name="fatal">The engine's batch-fatal exception.</param>
        /// <param name="model">The batch's default model.</param>
        /// <returns>The record.</returns>
        internal static ErrorRecord FatalRecord(BatchFatalException fatal, string model)
        {
            var api = fatal.ApiError;
            var id = api is null ? ErrorIds.JournalDiffers : ErrorIds.BatchFatal + "." + IdFor(api.Code);
            return new ErrorRecord(fatal, id, api is null ? ErrorCategory.InvalidData : CategoryFor(api), null)
            {
                ErrorDetails = new ErrorDetails(api?.Code == ErrorCodes.ModelNotFound ? Message(api, model) : fatal.Message)
                {
                    RecommendedAction = api is not null && Table.TryGetValue(api.Code, out var row) && row.Action is not null
                        ? row.Action
                        : "Resume the batch with -Resume once the cause is fixed.",
                },
            };
        }

        private sealed class Row
        {
            public Row(string id, ErrorCategory category, string? action)
            {
                Id = id;
                Category = category;
                Action = action;
            }

            /// <summary>The reason in the error id.</summary>
            public string Id { get; }

            /// <summary>The category when the service answered no status that says more.</summary>
            public ErrorCategory Category { get; }

            /// <summary>What the user can do, where there is something.</summary>
            public string? Action { get; }
        }
    }
}
