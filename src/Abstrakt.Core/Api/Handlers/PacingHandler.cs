using System;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Api.Handlers
{
    /// <summary>
    /// Holds each request until the shared <see cref="RateGate"/> gives it a turn, and tells the gate what every answer's
    /// <c>X-RateLimit-*</c> headers said. One gate per client, so every worker of a batch waits for the same window.
    /// </summary>
    internal sealed class PacingHandler : DelegatingHandler
    {
        private readonly RateGate _gate;
        private readonly TimeProvider _time;

        /// <param name="gate">The endpoint's gate.</param>
        /// <param name="time">The clock (a small <c>X-RateLimit-Reset</c> is seconds from now).</param>
        public PacingHandler(RateGate gate, TimeProvider time)
        {
            _gate = gate;
            _time = time;
        }

        /// <inheritdoc/>
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var queued = _time.GetTimestamp();
            var ticket = await _gate.WaitTurnAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (request is ApiRequest api)
                {
                    api.RateWait = _time.GetElapsedTime(queued);
                    api.OnTheWire();
                }

                var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
                _gate.Observe(ticket, ReadRateHeaders(response)); // as soon as the headers are in, even if the body is then cut
                return response;
            }
            finally
            {
                // Answered or not, the gate must know this request is over (it may have been the probe).
                _gate.Observe(ticket, null);
            }
        }

        private RateHeaders ReadRateHeaders(HttpResponseMessage response)
        {
            DateTimeOffset? reset = null;
            if (TryHeader(response, "X-RateLimit-Reset", out var r) && r >= 0 && r < 1e11)
            {
                // Unix seconds, as documented; a small number can only be seconds from now (as some servers send).
                reset = r >= 1e9 ? DateTimeOffset.FromUnixTimeMilliseconds((long)(r * 1000)) : _time.GetUtcNow().AddSeconds(r);
            }

            return new RateHeaders(WholeHeader(response, "X-RateLimit-Limit"), WholeHeader(response, "X-RateLimit-Remaining"), reset, refused: (int)response.StatusCode == 429);
        }

        private static int? WholeHeader(HttpResponseMessage response, string name) =>
            TryHeader(response, name, out var value) && value >= 0 ? (int)Math.Min(value, int.MaxValue) : null;

        private static bool TryHeader(HttpResponseMessage response, string name, out double value)
        {
            value = 0;
            return response.Headers.TryGetValues(name, out var values) &&
                   double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }
}
