using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace Abstrakt.Sandbox
{
    /// <summary>The sandbox's counters, served at GET /_sandbox/stats. Tests prove "never pays twice" with them.</summary>
    public sealed class SandboxStats
    {
        private long _jobsCreated, _requestsTotal, _rateLimited, _creditsCharged, _jobsCompleted, _jobsFailed, _jobsCancelled, _idempotentReplays;
        private long _webhookAttempts, _webhooksDelivered, _webhooksDropped;
        private readonly ConcurrentDictionary<int, long> _byStatus = new ConcurrentDictionary<int, long>();
        private readonly ConcurrentDictionary<string, long> _byKey = new ConcurrentDictionary<string, long>();
        private readonly ConcurrentDictionary<string, SandboxImage> _inputImages = new ConcurrentDictionary<string, SandboxImage>();

#pragma warning disable CS1591 // Each counter's name says what it counts.
        public long JobsCreated => Interlocked.Read(ref _jobsCreated);
        public long RequestsTotal => Interlocked.Read(ref _requestsTotal);
        public long RateLimited => Interlocked.Read(ref _rateLimited);
        public long CreditsCharged => Interlocked.Read(ref _creditsCharged);
        public long JobsCompleted => Interlocked.Read(ref _jobsCompleted);
        public long JobsFailed => Interlocked.Read(ref _jobsFailed);
        public long JobsCancelled => Interlocked.Read(ref _jobsCancelled);
        public long IdempotentReplays => Interlocked.Read(ref _idempotentReplays);
        public long WebhookAttempts => Interlocked.Read(ref _webhookAttempts);
        public long WebhooksDelivered => Interlocked.Read(ref _webhooksDelivered);
        public long WebhooksDropped => Interlocked.Read(ref _webhooksDropped);
        public IReadOnlyDictionary<int, long> ResponsesByStatus => _byStatus.ToDictionary(p => p.Key, p => p.Value);
        public IReadOnlyDictionary<string, long> JobsByIdempotencyKey => _byKey.ToDictionary(p => p.Key, p => p.Value);
#pragma warning restore CS1591

        /// <summary>Per job of an image-input model, what its input decoded to (width, height, SHA-256), so a test proves the bytes arrived intact.</summary>
        internal IReadOnlyDictionary<string, SandboxImage> InputImages => _inputImages.ToDictionary(p => p.Key, p => p.Value);

        internal void InputImage(string jobId, SandboxImage image) => _inputImages[jobId] = image;

        internal void Request() => Interlocked.Increment(ref _requestsTotal);
        internal void Limited() => Interlocked.Increment(ref _rateLimited);
        internal void Response(int status) => _byStatus.AddOrUpdate(status, 1, (_, n) => n + 1);
        internal void Created(string? idempotencyKey)
        {
            Interlocked.Increment(ref _jobsCreated);
            if (idempotencyKey is not null)
            {
                _byKey.AddOrUpdate(idempotencyKey, 1, (_, n) => n + 1);
            }
        }

        internal void Replayed() => Interlocked.Increment(ref _idempotentReplays);
        internal void Completed(long credits)
        {
            Interlocked.Increment(ref _jobsCompleted);
            Interlocked.Add(ref _creditsCharged, credits);
        }

        internal void Failed() => Interlocked.Increment(ref _jobsFailed);
        internal void Cancelled() => Interlocked.Increment(ref _jobsCancelled);
        internal void WebhookAttempt() => Interlocked.Increment(ref _webhookAttempts);
        internal void WebhookDelivered() => Interlocked.Increment(ref _webhooksDelivered);
        internal void WebhookDropped() => Interlocked.Increment(ref _webhooksDropped);
    }
}
