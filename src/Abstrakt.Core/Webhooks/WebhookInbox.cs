using System;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;

namespace Abstrakt.Webhooks
{
    /// <summary>What a receiver answers a delivery with.</summary>
    public enum DeliveryOutcome
    {
        /// <summary>Verified and new: answer 200.</summary>
        Accepted,

        /// <summary>Verified, but this job was delivered before (a retry, a duplicate): answer 200, change nothing.</summary>
        Duplicate,

        /// <summary>Missing, wrong or stale signature: answer 401.</summary>
        Unauthorized,

        /// <summary>Signed, but not a job payload: answer 400.</summary>
        Malformed,
    }

    /// <summary>
    /// Where verified webhook deliveries meet the items waiting for them. A delivery may arrive before
    /// the submit call that created its job has returned, so either side may come first. Each job is
    /// taken once; repeats are recognised by job id and ignored.
    /// </summary>
    public sealed class WebhookInbox
    {
        private readonly Secret _secret;
        private readonly TimeSpan _tolerance;
        private readonly TimeProvider _time;
        private readonly ConcurrentDictionary<string, TaskCompletionSource<JobInfo>> _jobs = new ConcurrentDictionary<string, TaskCompletionSource<JobInfo>>(StringComparer.Ordinal);

        /// <summary>Creates an inbox that accepts deliveries signed with <paramref name="secret"/>.</summary>
        /// <param name="secret">The webhook secret.</param>
        /// <param name="tolerance">How far a timestamp may be from now (default 300 s).</param>
        /// <param name="time">The clock.</param>
        public WebhookInbox(Secret secret, TimeSpan? tolerance = null, TimeProvider? time = null)
        {
            _secret = secret ?? throw new ArgumentNullException(nameof(secret));
            _tolerance = tolerance ?? WebhookSignature.DefaultTolerance;
            _time = time ?? TimeProvider.System;
        }

        /// <summary>Deliveries accepted, repeated, and refused so far.</summary>
        public long Accepted => Interlocked.Read(ref _accepted);

        /// <summary>Deliveries of a job already delivered.</summary>
        public long Duplicates => Interlocked.Read(ref _duplicates);

        /// <summary>Deliveries refused (bad signature, stale, malformed).</summary>
        public long Refused => Interlocked.Read(ref _refused);

        private long _accepted, _duplicates, _refused;

        /// <summary>Verifies one delivery and hands its job to whoever waits for it.</summary>
        /// <param name="body">The raw body bytes.</param>
        /// <param name="timestamp">The X-Abstrakt-Timestamp header.</param>
        /// <param name="signature">The X-Abstrakt-Signature header.</param>
        /// <returns>How to answer.</returns>
        public DeliveryOutcome Deliver(byte[] body, string? timestamp, string? signature)
        {
            if (WebhookSignature.Verify(_secret.Reveal(), timestamp, signature, body, _time.GetUtcNow(), _tolerance) != SignatureCheck.Valid)
            {
                Interlocked.Increment(ref _refused);
                return DeliveryOutcome.Unauthorized;
            }

            JobInfo job;
            try
            {
                using var doc = JsonDocument.Parse(body);
                job = ApiJson.ReadJob(doc.RootElement);
            }
            catch (Exception ex) when (ex is JsonException or AbstraktApiException)
            {
                Interlocked.Increment(ref _refused);
                return DeliveryOutcome.Malformed;
            }

            if (!job.IsTerminal)
            {
                // job.started / job.progress events of the older scheme: nothing to complete yet.
                return DeliveryOutcome.Accepted;
            }

            var slot = _jobs.GetOrAdd(job.JobId, _ => new TaskCompletionSource<JobInfo>(TaskCreationOptions.RunContinuationsAsynchronously));
            if (slot.TrySetResult(job))
            {
                Interlocked.Increment(ref _accepted);
                return DeliveryOutcome.Accepted;
            }

            Interlocked.Increment(ref _duplicates);
            return DeliveryOutcome.Duplicate;
        }

        /// <summary>Waits for the delivery of a job; null when none came within <paramref name="grace"/> (then poll).</summary>
        /// <param name="jobId">The job.</param>
        /// <param name="grace">How long to wait for the delivery.</param>
        /// <param name="cancellationToken">Stops waiting.</param>
        /// <returns>The delivered job, or null.</returns>
        public async Task<JobInfo?> WaitAsync(string jobId, TimeSpan grace, CancellationToken cancellationToken)
        {
            var slot = _jobs.GetOrAdd(jobId, _ => new TaskCompletionSource<JobInfo>(TaskCreationOptions.RunContinuationsAsynchronously));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(grace);
            var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (timeout.Token.Register(() => cancelled.TrySetResult(true)))
            {
                if (await Task.WhenAny(slot.Task, cancelled.Task).ConfigureAwait(false) == slot.Task)
                {
                    return slot.Task.Result;
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            return null;
        }
    }
}
