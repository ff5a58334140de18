using System;

namespace Abstrakt.Api
{
    /// <summary>How a client reaches the service. One client per endpoint is shared by every request.</summary>
    public sealed class AbstraktClientOptions
    {
        /// <summary>The service's base address (the host; a trailing <c>/v1</c> is accepted).</summary>
        /// <value>The default value is https://api.abstrakt.one.</value>
        public Uri Endpoint { get; set; } = new Uri("https://api.abstrakt.one");

        /// <summary>The API key, sent as a Bearer token. Never printed.</summary>
        public Secret? ApiKey { get; set; }

        /// <summary>Connections kept open to the endpoint; set it to the batch's concurrency.</summary>
        /// <value>The default value is 16.</value>
        public int MaxConnections { get; set; } = 16;

        /// <summary>How long one HTTP attempt may take. Image and video models take minutes.</summary>
        /// <value>The default value is 5 minutes.</value>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(5);

        /// <summary>The account's plan, when known.</summary>
        /// <value>The default value is null: the first request goes alone, and its answer's rate-limit headers tell the rest.</value>
        /// <remarks>
        /// The plan's documented rate lets the first requests go before any answer has been seen; from the first
        /// answer on, only the service's <c>X-RateLimit-*</c> headers pace the client.
        /// </remarks>
        public AbstraktPlan? Plan { get; set; }

        /// <summary>First delay between polls of a running job.</summary>
        /// <value>The default value is 0.5 seconds.</value>
        public TimeSpan PollInitialDelay { get; set; } = TimeSpan.FromMilliseconds(500);

        /// <summary>Longest delay between polls of a running job.</summary>
        /// <value>The default value is 5 seconds.</value>
        public TimeSpan PollMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

        /// <summary>The largest output file a download accepts.</summary>
        /// <value>The default value is 512 MiB.</value>
        public long MaxDownloadBytes { get; set; } = 512L * 1024 * 1024;

        /// <summary>The largest API (JSON) response accepted.</summary>
        /// <value>The default value is 16 MiB.</value>
        public int MaxResponseBytes { get; set; } = 16 * 1024 * 1024;

        /// <summary>The product token sent as User-Agent.</summary>
        public string UserAgent { get; set; } = "Abstrakt.PowerShell/" + typeof(AbstraktClientOptions).Assembly.GetName().Version?.ToString(3);

        /// <summary>The clock, injected so tests never sleep.</summary>
        public TimeProvider Time { get; set; } = TimeProvider.System;

        /// <summary>The innermost HTTP handler: what sends the bytes. Tests give a fake one, so the client's logic runs without sockets.</summary>
        /// <value>The default value is null: an <see cref="System.Net.Http.HttpClientHandler"/> with <see cref="MaxConnections"/>, no redirects and no cookies.</value>
        /// <remarks>The client owns and disposes the handler.</remarks>
        public System.Net.Http.HttpMessageHandler? Handler { get; set; }
    }

    /// <summary>A key or secret that never shows itself in ToString, logs or exceptions.</summary>
    public sealed class Secret
    {
        private readonly string _value;

        /// <summary>Wraps a key.</summary>
        /// <param name="value">The key text.</param>
        public Secret(string value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new ArgumentException("The secret is empty.", nameof(value));
            }

            _value = value.Trim();
            Redaction.Remember(_value);
        }

        /// <summary>The key, for the Authorization header only.</summary>
        /// <returns>The key text.</returns>
        public string Reveal() => _value;

        /// <summary>A safe hint: the last four characters only, and nothing of a key shorter than 12.</summary>
        public string Hint => _value.Length < 12 ? "****" : "****" + _value.Substring(_value.Length - 4);

        /// <inheritdoc/>
        public override string ToString() => Hint;
    }
}
