using System;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Engine;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>One cmdlet's request, retried as a batch retries an item (<see cref="CallRetry"/>), waited for on the pipeline thread.</summary>
    internal static class RetriedCall
    {
        /// <summary>Runs the call, writing each retry to -Verbose as it happens ("about: retry 1 of 3 in …").</summary>
        /// <typeparam name="T">The result.</typeparam>
        /// <param name="cmdlet">The cmdlet whose pipeline thread waits.</param>
        /// <param name="call">The request.</param>
        /// <param name="time">The clock the backoff runs on.</param>
        /// <param name="about">What the retry lines are for (a job id, a model), or null.</param>
        /// <param name="stop">Ctrl+C.</param>
        /// <param name="waiting">Called every 250 ms while the call runs, or null.</param>
        /// <returns>The call's result; a failure is thrown as the task's AggregateException, a stop as OperationCanceledException.</returns>
        public static T Run<T>(Cmdlet cmdlet, Func<CancellationToken, Task<T>> call, TimeProvider time, string? about, CancellationToken stop, Action? waiting = null)
        {
            var retries = new ConcurrentQueue<string>();
            var task = CallRetry.RunAsync(call, time, retries.Enqueue, stop);
            try
            {
                while (!task.Wait(250, stop))
                {
                    Say();
                    waiting?.Invoke();
                }

                return task.Result;
            }
            finally
            {
                // Not while the pipeline stops: writing then throws.
                if (!stop.IsCancellationRequested)
                {
                    Say();
                }
            }

            void Say()
            {
                while (retries.TryDequeue(out var retry))
                {
                    cmdlet.WriteVerbose(about is null ? retry : $"{about}: {retry}");
                }
            }
        }
    }
}
