using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;

namespace Abstrakt.Engine
{
    /// <summary>Runs a batch over a sequence: feeds it from one task while the caller reads its events (<see cref="BatchRun.RunAsync"/>).</summary>
    internal static class BatchFeeder
    {
        /// <summary>Starts the batch when first read, feeds <paramref name="items"/> lazily, and yields every event.</summary>
        /// <param name="client">The client.</param>
        /// <param name="options">The options.</param>
        /// <param name="items">The items, read lazily (the engine's input is bounded, so a long sequence never sits in memory).</param>
        /// <param name="cancellationToken">Stops the batch.</param>
        /// <returns>The events; throws <see cref="BatchFatalException"/> at the end of a doomed batch.</returns>
        public static async IAsyncEnumerable<BatchEvent> RunAsync(AbstraktClient client, BatchOptions options, IEnumerable<WorkItem> items, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            using var run = BatchRun.Start(client, options, cancellationToken);
            var feeder = Task.Run(async () =>
            {
                try
                {
                    foreach (var item in items)
                    {
                        await run.AddAsync(item, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                    // The batch stopped; nothing more to feed.
                }
                finally
                {
                    run.CompleteInput();
                }
            });

            await foreach (var e in run.Events.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return e;
            }

            await feeder.ConfigureAwait(false);
            await run.Completion.ConfigureAwait(false);
        }
    }
}
