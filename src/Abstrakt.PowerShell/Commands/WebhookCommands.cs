using System;
using System.Collections;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Text;
using System.Text.Json;
using Abstrakt.Api;
using Abstrakt.PowerShell.Output;
using Abstrakt.Webhooks;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>
    /// <para type="synopsis">Checks an abstrakt webhook delivery's signature: true or false.</para>
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "AbstraktWebhookSignature")]
    [OutputType(typeof(bool))]
    public sealed class TestAbstraktWebhookSignatureCommand : PSCmdlet
    {
        /// <summary>The raw body: bytes as received, or the body text exactly as received.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNull]
        public object Body { get; set; } = null!;

        /// <summary>The X-Abstrakt-Signature header.</summary>
        [Parameter(Mandatory = true)]
        [AllowEmptyString]
        public string Signature { get; set; } = string.Empty;

        /// <summary>The X-Abstrakt-Timestamp header.</summary>
        [Parameter(Mandatory = true)]
        [AllowEmptyString]
        public string Timestamp { get; set; } = string.Empty;

        /// <summary>The webhook secret.</summary>
        [Parameter(Mandatory = true)]
        [SecretTransformation]
        public SecureString Secret { get; set; } = null!;

        /// <summary>How far the timestamp may be from now, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ToleranceSec { get; set; } = 300;

        /// <inheritdoc/>
        protected override void EndProcessing()
        {
            var check = WebhookBody.Verify(Body, Timestamp, Signature, Secret, ToleranceSec);
            WriteVerbose($"Signature check: {check}.");
            WriteObject(check == SignatureCheck.Valid);
        }
    }

    /// <summary>
    /// <para type="synopsis">Turns an abstrakt webhook payload into the result object a batch emits, verifying its signature.</para>
    /// </summary>
    [Cmdlet(VerbsData.ConvertFrom, "AbstraktWebhook")]
    [OutputType(typeof(AbstraktResult), typeof(AbstraktJob))]
    public sealed class ConvertFromAbstraktWebhookCommand : PSCmdlet
    {
        /// <summary>The raw body: bytes as received, or the body text exactly as received.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public object Body { get; set; } = null!;

        /// <summary>The request's headers (any dictionary; names matched without regard to case).</summary>
        [Parameter]
        public IDictionary? Headers { get; set; }

        /// <summary>The webhook secret; with it, a bad or stale signature is a terminating error.</summary>
        [Parameter]
        [SecretTransformation]
        public SecureString? Secret { get; set; }

        /// <summary>How far the timestamp may be from now, in seconds.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int ToleranceSec { get; set; } = 300;

        /// <inheritdoc/>
        protected override void ProcessRecord()
        {
            if (Secret is not null)
            {
                var check = WebhookBody.Verify(Body, Header(WebhookSignature.TimestampHeader), Header(WebhookSignature.SignatureHeader), Secret, ToleranceSec);
                if (check != SignatureCheck.Valid)
                {
                    var why = check switch
                    {
                        SignatureCheck.Missing => "the X-Abstrakt-Signature or X-Abstrakt-Timestamp header is missing",
                        SignatureCheck.Stale => $"its timestamp is more than {ToleranceSec} s from now (a replay, or a wrong clock)",
                        _ => "its signature does not match the body (tampered, or signed with another secret)",
                    };
                    ThrowTerminatingError(new ErrorRecord(
                        new SecurityException("The webhook delivery is not authentic: " + why + "."),
                        ErrorIds.WebhookSignatureInvalid + "." + check,
                        ErrorCategory.SecurityError,
                        null));
                }
            }

            JobInfo job;
            try
            {
                using var doc = JsonDocument.Parse(WebhookBody.Bytes(Body));
                job = ApiJson.ReadJob(doc.RootElement);
            }
            catch (Exception ex) when (ex is JsonException or AbstraktApiException)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException("The body is not an abstrakt webhook payload: " + ex.Message, ex), ErrorIds.WebhookMalformed, ErrorCategory.InvalidData, null));
                return;
            }

            switch (job.Status)
            {
                case JobStatus.Completed:
                    WriteObject(new AbstraktResult(job));
                    break;
                case JobStatus.Failed:
                case JobStatus.Cancelled:
                    var error = new AbstraktApiException(job.ErrorCode ?? ErrorCodes.InferenceFailed, job.ErrorMessage ?? "The job ended " + job.Status.ToString().ToLowerInvariant() + ".") { JobId = job.JobId };
                    WriteError(ApiErrors.ItemRecord($"Job {job.JobId}", error, new AbstraktJob(job)));
                    break;
                default:
                    // job.started / job.progress of the older event scheme.
                    WriteObject(new AbstraktJob(job));
                    break;
            }
        }

        private string? Header(string name)
        {
            if (Headers is null)
            {
                return null;
            }

            foreach (DictionaryEntry entry in Headers)
            {
                if (string.Equals(entry.Key?.ToString(), name, StringComparison.OrdinalIgnoreCase))
                {
                    var value = entry.Value is PSObject ps ? ps.BaseObject : entry.Value;
                    return value is IEnumerable list && value is not string ? string.Join(",", list.Cast<object>()) : value?.ToString();
                }
            }

            return null;
        }
    }

    /// <summary>The raw body as the signature sees it, and the check both webhook cmdlets share.</summary>
    internal static class WebhookBody
    {
        public static byte[] Bytes(object body) => (body is PSObject ps ? ps.BaseObject : body) switch
        {
            byte[] bytes => bytes,
            string text => Encoding.UTF8.GetBytes(text),
            var other => throw new PSArgumentException($"-Body must be the raw body as a string or byte[], not {other.GetType().Name}."),
        };

        public static SignatureCheck Verify(object body, string? timestamp, string? signature, SecureString secret, int toleranceSec) =>
            WebhookSignature.Verify(SecureText.Reveal(secret), timestamp, signature, Bytes(body), DateTimeOffset.UtcNow, TimeSpan.FromSeconds(toleranceSec));
    }
}
