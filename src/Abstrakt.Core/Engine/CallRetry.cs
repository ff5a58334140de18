using System;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;
using Polly;
using Polly.Retry;

namespace Abstrakt.Engine
{
    /// <summary>
    /// The one retry rule for API calls, a batch item's or a single cmdlet's: a failure the <see cref="FailureClassifier"/>
    /// calls retryable, tried again after exponential backoff with jitter (at most 30 s), or after the server's hint.
    /// </summary>
    public static class CallRetry
    {
        /// <summary>The longest backoff between two tries (a server's own hint may be longer).</summary>
        private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

        /// <summary>The retry strategy, for a pipeline that adds its own conditions and bookkeeping.</summary>
        /// <param name="maxRetry">Tries after the first.</param>
        /// <param name="baseDelay">The first backoff.</param>
        /// <param name="worthIt">A further condition on a retryable failure (an item's deadline).</param>
        /// <param name="onRetry">Told of each retry.</param>
        /// <returns>The strategy's options.</returns>
        internal static RetryStrategyOptions Strategy(int maxRetry, TimeSpan baseDelay, Func<ResilienceContext, AbstraktApiException, bool> worthIt, Func<OnRetryArguments<object>, ValueTask> onRetry) => new RetryStrategyOptions
        {
            ShouldHandle = args => new ValueTask<bool>(args.Outcome.Exception is AbstraktApiException ex && FailureClassifier.IsRetryable(ex) && worthIt(args.Context, ex)),
            MaxRetryAttempts = maxRetry,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = baseDelay,
            MaxDelay = MaxDelay,
            DelayGenerator = args => new ValueTask<TimeSpan?>(args.Outcome.Exception is AbstraktApiException ex ? FailureClassifier.RetryDelay(ex) : null),
            OnRetry = onRetry,
        };

        /// <summary>What a retry is, for verbose output: "retry 2 of 3 in 1.5 s after MODEL_UNAVAILABLE: …".</summary>
        internal static string Describe(OnRetryArguments<object> args, int maxRetry, AbstraktApiException ex) =>
            $"retry {args.AttemptNumber + 1} of {maxRetry} in {args.RetryDelay.TotalSeconds:0.##} s after {ex.Code}: {ex.Message}";

        /// <summary>
        /// Runs one call (a cmdlet's request) under the rule, as a batch runs an item: a create whose answer was lost is
        /// never sent again (its job may exist unnamed, spec section 8); every other retryable failure is.
        /// </summary>
        /// <typeparam name="T">The result.</typeparam>
        /// <param name="call">The call.</param>
        /// <param name="time">The clock the backoff runs on.</param>
        /// <param name="note">Told "retry n of m in s after CODE: message" before each retry.</param>
        /// <param name="cancellationToken">Stops the call and the waits.</param>
        /// <param name="maxRetry">Tries after the first (a batch's default).</param>
        /// <returns>The call's result.</returns>
        public static async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> call, TimeProvider time, Action<string>? note, CancellationToken cancellationToken, int maxRetry = 3)
        {
            var pipeline = new ResiliencePipelineBuilder { TimeProvider = time }
                .AddRetry(Strategy(maxRetry, TimeSpan.FromSeconds(1), (_, ex) => !ex.OutcomeUnknown, args =>
                {
                    if (args.Outcome.Exception is AbstraktApiException ex)
                    {
                        note?.Invoke(Describe(args, maxRetry, ex));
                    }

                    return default;
                }))
                .Build();
            return await pipeline.ExecuteAsync(async token => await call(token).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
    }
}
