using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Api.Handlers
{
    /// <summary>
    /// Puts the API key on each request as <c>Authorization: Bearer</c>. The innermost of the client's handlers, so no
    /// other handler (tracing least of all) ever sees the header; downloads go around the whole chain and never carry it.
    /// </summary>
    internal sealed class AuthHandler : DelegatingHandler
    {
        private readonly string? _key;

        /// <param name="key">The key; null sends no header (the service answers UNAUTHORIZED).</param>
        public AuthHandler(Secret? key) => _key = key?.Reveal();

        /// <inheritdoc/>
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (_key is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
