using System;
using System.Globalization;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Api.Handlers
{
    /// <summary>
    /// Describes each request to whoever listens in this async flow (<see cref="Sink"/>; -Verbose sets one per item): its
    /// wait for the rate limit, method, path, status or failure, and time. Never a header or a body; every line is scrubbed
    /// of known secrets. Costs nothing when no one listens.
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

        /// <inheritdoc/>
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Sink.Value is { } trace ? TracedAsync(request, trace, cancellationToken) : base.SendAsync(request, cancellationToken);

        private async Task<HttpResponseMessage> TracedAsync(HttpRequestMessage request, Action<string> trace, CancellationToken cancellationToken)
        {
            var name = request is ApiRequest api ? api.Name : request.Method.Method + " " + request.RequestUri?.AbsolutePath;
            if (request is ApiRequest { RateWait: var waited } && waited >= NotableWait)
            {
                Write(trace, $"waited {waited.TotalSeconds:0.0#} s for the rate limit before {name}");
            }

            var started = _time.GetTimestamp();
            try
            {
                var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
                var hint = response.Headers.RetryAfter?.Delta is TimeSpan delay ? $", retry after {delay.TotalSeconds:0.#} s" : string.Empty;
                Write(trace, $"{name} -> {((int)response.StatusCode).ToString(CultureInfo.InvariantCulture)} ({Milliseconds(started)} ms{hint})");
                return response;
            }
            catch (Exception ex)
            {
                Write(trace, $"{name} -> no response ({Milliseconds(started)} ms): {ex.Message}");
                throw;
            }
        }

        private string Milliseconds(long started) => _time.GetElapsedTime(started).TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);

        private static void Write(Action<string> trace, string line) => trace(Redaction.Scrub(line)!);
    }
}
