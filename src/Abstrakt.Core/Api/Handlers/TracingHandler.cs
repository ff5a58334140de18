using System;
using System.Globalization;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Api.Handlers
{
    /// <summary>
    /// Describes each API request to whoever listens in this async flow (<see cref="Sink"/>; -Verbose sets one per item):
    /// its wait for the rate limit, then, once the client has read the answer (<see cref="ApiRequest.Finish"/>), its
    /// method, path, status, error code, the server's hint and the time it took. Never a header or a body; every line is
    /// scrubbed of known secrets. Costs nothing when no one listens.
    /// </summary>
    internal sealed class TracingHandler : DelegatingHandler
    {
        /// <summary>A wait shorter than this is not worth a line.</summary>
        private static readonly TimeSpan NotableWait = TimeSpan.FromMilliseconds(50);

        private readonly TimeProvider _time;

        /// <param name="time">The clock the times are read on.</param>
        public TracingHandler(TimeProvider time) => _time = time;

        /// <summary>Where this async flow's requests are described; null when no one listens.</summary>
        public static AsyncLocal<Action<string>?> Sink { get; } = new AsyncLocal<Action<string>?>();

        /// <summary>The line for a request that ended: "-> 200" for any usable answer, else the status (or "no response") and the code.</summary>
        /// <param name="name">"METHOD /path".</param>
        /// <param name="failure">The failure, or null.</param>
        /// <param name="elapsed">From the wire to the answer read.</param>
        /// <returns>The line, not yet scrubbed.</returns>
        public static string Line(string name, AbstraktApiException? failure, TimeSpan elapsed)
        {
            var ms = elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);
            if (failure is null)
            {
                return $"{name} -> 200 ({ms} ms)";
            }

            var status = failure.StatusCode is int s ? s.ToString(CultureInfo.InvariantCulture) : "no response";
            var hint = failure.RetryAfter is TimeSpan r ? $", retry after {r.TotalSeconds:0.#} s" : string.Empty;
            return $"{name} -> {status} {failure.Code} ({ms} ms{hint})";
        }

        /// <inheritdoc/>
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Sink.Value is { } trace && request is ApiRequest api)
            {
                if (api.RateWait >= NotableWait)
                {
                    Write(trace, $"waited {api.RateWait.TotalSeconds:0.0#} s for the rate limit before {api.Name}");
                }

                // The line waits for the client's reading of the answer: the error code is in the body.
                var started = _time.GetTimestamp();
                api.Finished = failure => Write(trace, Line(api.Name, failure, _time.GetElapsedTime(started)));
            }

            return base.SendAsync(request, cancellationToken);
        }

        private static void Write(Action<string> trace, string line) => trace(Redaction.Scrub(line)!);
    }
}
