using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.PowerShell.Session;

namespace Abstrakt.PowerShell.Commands
{
    /// <summary>For cmdlets that make one request per input: waits on the pipeline thread, stops on Ctrl+C,
    /// and turns API failures into error records with the same ids and categories the batch uses.</summary>
    public abstract class ApiCmdletBase : PSCmdlet, IDisposable
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();

        private AbstraktClient? _client;

        /// <summary>The session's client, resolved on the pipeline thread (resolving may write), then kept for retries on others.</summary>
        internal AbstraktClient Client => _client ??= AbstraktSession.Resolve(this).Client;

        /// <summary>Runs a request; on failure writes a non-terminating error targeting <paramref name="target"/>.</summary>
        /// <typeparam name="T">The result type.</typeparam>
        /// <param name="call">The request.</param>
        /// <param name="target">The input the request was for.</param>
        /// <param name="result">The result.</param>
        /// <param name="model">The model the request names, so an unknown one gets a "did you mean".</param>
        /// <returns>True on success.</returns>
        internal bool TryCall<T>(Func<CancellationToken, Task<T>> call, object? target, out T result, string? model = null)
        {
            result = default!;
            try
            {
                // Retried as a batch retries an item (a create whose answer was lost excepted); each retry said in
                // -Verbose, naming what it is for (a job id, a model), as several may be piped in.
                result = RetriedCall.Run(this, call, Client.Options.Time, target as string ?? model, _stop.Token, Waiting);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            catch (AggregateException ex) when (ex.InnerException is AbstraktApiException api)
            {
                var record = ApiErrors.CallRecord(api, target, model);
                if (FailureClassifier.Classify(api) == ErrorKind.BatchFatal)
                {
                    ThrowTerminatingError(record);
                }

                WriteError(record);
                return false;
            }
        }

        /// <summary>Called on the pipeline thread every 250 ms while a request runs (Wait-AbstraktJob writes progress).</summary>
        private protected virtual void Waiting()
        {
        }

        /// <inheritdoc/>
        protected override void StopProcessing() => _stop.Cancel();

        /// <inheritdoc/>
        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
            GC.SuppressFinalize(this);
        }
    }
}
