using System;
using System.Net.Http;
using System.Threading;

namespace Abstrakt.Api.Handlers
{
    /// <summary>
    /// A request to the API as it goes through the client's handlers: what HTTP does not carry, that the handlers and
    /// the caller share. Its own clock starts when it leaves the rate-limit queue, never while it waits there.
    /// </summary>
    internal sealed class ApiRequest : HttpRequestMessage
    {
        private readonly CancellationTokenSource _attempt;
        private readonly TimeSpan _timeout;
        private readonly Action? _sending;
        private readonly Func<HttpContent>? _content;
        private string? _name;

        /// <param name="method">The method.</param>
        /// <param name="endpoint">The endpoint's scheme and authority.</param>
        /// <param name="pathAndQuery">The path, escaped, and any query.</param>
        /// <param name="attempt">Cancelled when the attempt times out: <paramref name="timeout"/> from the moment it goes on the wire.</param>
        /// <param name="timeout">How long the attempt may take on the wire.</param>
        /// <param name="sending">The caller's word that the request goes on the wire now (a create records it); may throw to stop it.</param>
        /// <param name="content">Makes the body, as the request goes on the wire (after <paramref name="sending"/>, which may decide part of it).</param>
        public ApiRequest(HttpMethod method, string endpoint, string pathAndQuery, CancellationTokenSource attempt, TimeSpan timeout, Action? sending, Func<HttpContent>? content = null)
            : base(method, endpoint + pathAndQuery)
        {
            _attempt = attempt;
            _timeout = timeout;
            _sending = sending;
            _content = content;
        }

        /// <summary>"METHOD /path", for traces and failures: no query, no header. Made when first asked (a success never asks).</summary>
        public string Name => _name ??= Method.Method + " " + RequestUri!.AbsolutePath;

        /// <summary>How long the request waited for its turn under the rate limit (set by the pacing handler).</summary>
        public TimeSpan RateWait { get; set; }

        /// <summary>Told how the request ended, once the client has read the answer (set by the tracing handler when someone listens).</summary>
        public Action<AbstraktApiException?>? Finished { get; set; }

        /// <summary>What the caller's <c>sending</c> threw, if it did: the caller's own failure, never a transport fault.</summary>
        public Exception? SendingFailed { get; private set; }

        /// <summary>Says how the request ended: null for a usable answer, else the failure the client made of it.</summary>
        /// <param name="failure">The failure, or null.</param>
        public void Finish(AbstraktApiException? failure) => Finished?.Invoke(failure);

        /// <summary>Called once the request has its turn and goes on the wire: starts its clock, tells the caller, makes the body.</summary>
        public void OnTheWire()
        {
            _attempt.CancelAfter(_timeout);
            try
            {
                _sending?.Invoke();
            }
            catch (Exception ex)
            {
                SendingFailed = ex;
                throw;
            }

            Content = _content?.Invoke() ?? Content;
        }
    }
}
