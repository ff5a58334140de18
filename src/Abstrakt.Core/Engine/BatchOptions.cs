using System;

namespace Abstrakt.Engine
{
    /// <summary>How a batch runs. Validated when the batch starts.</summary>
    public sealed class BatchOptions
    {
        /// <summary>The most requests in flight at once (1 to 256).</summary>
        /// <value>The default value is 5.</value>
        public int ThrottleLimit { get; set; } = 5;

        /// <summary>Retries of a retryable failure per item (0 to 20).</summary>
        /// <value>The default value is 3.</value>
        public int MaxRetry { get; set; } = 3;

        /// <summary>An item's overall deadline, across attempts and polling. Sized for slow models.</summary>
        /// <value>The default value is 10 minutes.</value>
        public TimeSpan ItemTimeout { get; set; } = TimeSpan.FromMinutes(10);

        /// <summary>The model for items that name none.</summary>
        /// <value>The default value is flux-schnell.</value>
        public string DefaultModel { get; set; } = "flux-schnell";

        /// <summary>Where outputs are downloaded; null to leave them at their URLs.</summary>
        public string? OutputDirectory { get; set; }

        /// <summary>Download outputs from loopback, link-local and private-range hosts too (refused by default unless the endpoint is on one).</summary>
        public bool AllowPrivateOutputHost { get; set; }

        /// <summary>Replace existing files when outputs are named after their source images (they are never replaced otherwise).</summary>
        public bool Force { get; set; }

        /// <summary>The journal file; null for none.</summary>
        public string? JournalPath { get; set; }

        /// <summary>
        /// A PostgreSQL batch store (an Npgsql connection string or a postgres:// URL) shared by every runner given the
        /// same <see cref="BatchName"/>; null for the journal. Its password is never shown.
        /// </summary>
        public string? Store { get; set; }

        /// <summary>The shared batch's name in <see cref="Store"/>.</summary>
        public string? BatchName { get; set; }

        /// <summary>How long a runner's claim on shared items lasts unless renewed (a third of it apart): a dead runner's items wait this long.</summary>
        /// <value>The default value is 30 seconds.</value>
        public TimeSpan LeaseTime { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>Continue the batch recorded in <see cref="JournalPath"/>.</summary>
        public bool Resume { get; set; }

        /// <summary>On resume, run again the items the journal records as failed (not those whose outcome is unknown).</summary>
        public bool RetryFailed { get; set; }

        /// <summary>
        /// Send again an item whose create may have reached the service but whose answer was lost (OUTCOME_UNKNOWN),
        /// live or from the journal. A service that ignores Idempotency-Key then bills it twice if the first job ran.
        /// </summary>
        public bool ResubmitUnknown { get; set; }

        /// <summary>How many items the input will have, when the caller knows before it ends (a counted file, a hint).</summary>
        /// <value>The default value is null: the total is known once the input ends.</value>
        /// <remarks>Progress uses it for a percentage and time left from the start; it never limits the input. When more items
        /// arrive than it says, the count of items accepted is used instead.</remarks>
        public long? ExpectedTotal { get; set; }

        /// <summary>The plan's concurrent-job limit, when known; the engine never runs more at once.</summary>
        public int? PlanConcurrency { get; set; }

        /// <summary>
        /// When <see cref="PlanConcurrency"/> is not known: the concurrency for the requests-per-window limit the first
        /// answer will report (the service's batching guide), or null for none. Until that answer only one item starts
        /// (the rate gate lets one request through before it anyway), so learning the plan costs no request of its own.
        /// </summary>
        public Func<int, int?>? ConcurrencyForLimit { get; set; }

        /// <summary>First retry delay; later ones grow exponentially, with jitter.</summary>
        /// <value>The default value is 1 second.</value>
        public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>How often a progress snapshot is emitted.</summary>
        /// <value>The default value is 200 ms.</value>
        public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(200);

        /// <summary>Submit every item with this webhook URL (sync:false). Without <see cref="Webhooks"/>, items end as soon as their job is created.</summary>
        public Uri? WebhookUrl { get; set; }

        /// <summary>Verified deliveries to complete items from; polling takes over for a job whose delivery is late.</summary>
        public Webhooks.WebhookInbox? Webhooks { get; set; }

        /// <summary>How long to wait for a job's delivery before polling it.</summary>
        /// <value>The default value is 2 minutes.</value>
        public TimeSpan WebhookWait { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>Describe every request of an item (method, path, status, time, rate-limit waits) as an <see cref="ItemNote"/>.</summary>
        public bool TraceRequests { get; set; }

        /// <summary>The clock, injected so tests never sleep.</summary>
        public TimeProvider Time { get; set; } = TimeProvider.System;

        /// <summary>Benchmarks only: whether creates wait for their result (sync:true); by default only while requests are scarce.</summary>
        internal CreateWait CreateWait { get; set; }

        /// <summary>Tests only: called at each stage of an item, so a test can throw there (chaos tests).</summary>
        internal Action<ItemStage, WorkItem>? FaultInjection { get; set; }

        /// <summary>Throws when a setting is out of range, naming it.</summary>
        public void Validate()
        {
            if (ThrottleLimit < 1 || ThrottleLimit > 256)
            {
                throw new ArgumentOutOfRangeException(nameof(ThrottleLimit), ThrottleLimit, "ThrottleLimit must be from 1 to 256.");
            }

            if (MaxRetry < 0 || MaxRetry > 20)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxRetry), MaxRetry, "MaxRetry must be from 0 to 20.");
            }

            if (ItemTimeout <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(ItemTimeout), ItemTimeout, "The item timeout must be positive.");
            }

            if (Store is not null && (string.IsNullOrWhiteSpace(BatchName) || JournalPath is not null))
            {
                throw new ArgumentException("A store needs a batch name, and takes the place of a journal.", nameof(Store));
            }

            if (LeaseTime < TimeSpan.FromSeconds(1))
            {
                throw new ArgumentOutOfRangeException(nameof(LeaseTime), LeaseTime, "The lease must be at least 1 second.");
            }

            if (string.IsNullOrWhiteSpace(DefaultModel))
            {
                throw new ArgumentException("The model is empty.", nameof(DefaultModel));
            }
        }
    }

    /// <summary>The stages of an item where a test can inject a fault.</summary>
    internal enum ItemStage
    {
        /// <summary>Before the create request.</summary>
        Create,

        /// <summary>After the create, before waiting for the job to end.</summary>
        Wait,

        /// <summary>Before an output is downloaded.</summary>
        Download,

        /// <summary>Before a downloaded output is moved to its name.</summary>
        Move,

        /// <summary>Before a journal record is written.</summary>
        Journal,
    }

    /// <summary>Whether a create asks the service to wait for the result (sync:true) or to answer at once with the job id.</summary>
    internal enum CreateWait
    {
        /// <summary>sync:false, except on a send where the rate limit's requests are scarce (the default).</summary>
        WhenRequestsScarce,

        /// <summary>Always sync:true.</summary>
        Always,

        /// <summary>Always sync:false.</summary>
        Never,
    }
}
