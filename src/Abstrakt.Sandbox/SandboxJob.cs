using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;

namespace Abstrakt.Sandbox
{
    /// <summary>One key issued by the sandbox: its scopes, credits, rate window and job slots.</summary>
    internal sealed class SandboxAccount
    {
        public SandboxAccount(string key, IEnumerable<string> scopes, long credits, int concurrency)
        {
            Key = key;
            Scopes = new HashSet<string>(scopes, StringComparer.Ordinal);
            Credits = credits;
            Slots = new SemaphoreSlim(concurrency, concurrency);
        }

        public string Key { get; }
        public HashSet<string> Scopes { get; }
        public long Credits { get; set; }

        /// <summary>Jobs beyond the plan's concurrency wait here as pending.</summary>
        public SemaphoreSlim Slots { get; }

        /// <summary>Times of the requests accepted in the current rate window (sliding log).</summary>
        public Queue<DateTimeOffset> RecentRequests { get; } = new Queue<DateTimeOffset>();

        /// <summary>The start of the current fixed window, and the requests accepted in it (under the lock of <see cref="RecentRequests"/>).</summary>
        public DateTimeOffset FixedWindowStart { get; set; }

        public int FixedWindowCount { get; set; }
    }

    /// <summary>A job the sandbox runs.</summary>
    internal sealed class SandboxJob
    {
        public string Id { get; init; } = string.Empty;
        public SandboxAccount Account { get; init; } = null!;
        public SandboxModel Model { get; init; } = null!;
        public string Prompt { get; init; } = string.Empty;
        public long Seed { get; init; }
        public int Width { get; init; }
        public int Height { get; init; }
        public int Outputs { get; init; } = 1;
        public int Cost { get; init; }
        public Uri? WebhookUrl { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset ExpiresAt { get; set; }
        public DateTimeOffset? CompletedAt { get; set; }
        public TimeSpan Duration { get; set; }
        public JobStatus Status { get; set; } = JobStatus.Pending;
        public string? ErrorCode { get; set; }
        public string? ErrorMessage { get; set; }
        public CancellationTokenSource Cancel { get; } = new CancellationTokenSource();
        public TaskCompletionSource<bool> Done { get; } = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        public object Lock { get; } = new object();
    }
}
