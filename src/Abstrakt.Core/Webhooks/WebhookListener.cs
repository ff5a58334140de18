using System;
using System.IO;
using System.Net;
using System.Threading.Tasks;

namespace Abstrakt.Webhooks
{
    /// <summary>
    /// Receives abstrakt webhooks on a local HttpListener prefix and hands them to a <see cref="WebhookInbox"/>:
    /// 200 for a verified delivery (new or repeated), 401 for a bad or stale signature, 400 for a malformed one.
    /// </summary>
    public sealed class WebhookListener : IDisposable
    {
        private const int MaxBodyBytes = 1024 * 1024;
        private readonly HttpListener _listener = new HttpListener();
        private readonly WebhookInbox _inbox;
        private readonly Task _loop;

        /// <summary>Starts listening.</summary>
        /// <param name="prefix">An HttpListener prefix, such as http://127.0.0.1:8080/hooks/ (ending in a slash).</param>
        /// <param name="inbox">Where verified deliveries go.</param>
        /// <exception cref="ArgumentException">The prefix is not a valid HttpListener prefix, or cannot be listened on.</exception>
        public WebhookListener(string prefix, WebhookInbox inbox)
        {
            _inbox = inbox ?? throw new ArgumentNullException(nameof(inbox));
            var normalized = prefix.EndsWith("/", StringComparison.Ordinal) ? prefix : prefix + "/";
            try
            {
                _listener.Prefixes.Add(normalized);
                _listener.Start();
            }
            catch (Exception ex) when (ex is HttpListenerException or ArgumentException or PlatformNotSupportedException)
            {
                _listener.Close();
                throw new ArgumentException($"Cannot listen on '{prefix}': {ex.Message}", nameof(prefix), ex);
            }

            Prefix = normalized;
            _loop = Task.Run(LoopAsync);
        }

        /// <summary>The prefix listened on.</summary>
        public string Prefix { get; }

        /// <inheritdoc/>
        public void Dispose()
        {
            _listener.Close();
            try
            {
                _loop.Wait(TimeSpan.FromSeconds(2));
            }
            catch (AggregateException)
            {
                // The loop ends with the listener.
            }
        }

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                _ = Task.Run(() => AnswerAsync(context));
            }
        }

        private async Task AnswerAsync(HttpListenerContext context)
        {
            try
            {
                if (context.Request.HttpMethod != "POST")
                {
                    context.Response.StatusCode = 405;
                    return;
                }

                using var body = new MemoryStream();
                var buffer = new byte[16384];
                int read;
                while ((read = await context.Request.InputStream.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
                {
                    if (body.Length + read > MaxBodyBytes)
                    {
                        context.Response.StatusCode = 413;
                        return;
                    }

                    body.Write(buffer, 0, read);
                }

                var outcome = _inbox.Deliver(body.ToArray(), context.Request.Headers[WebhookSignature.TimestampHeader], context.Request.Headers[WebhookSignature.SignatureHeader]);
                context.Response.StatusCode = outcome switch
                {
                    DeliveryOutcome.Unauthorized => 401,
                    DeliveryOutcome.Malformed => 400,
                    _ => 200,
                };
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The sender went away; it retries.
            }
            finally
            {
                try
                {
                    context.Response.Close();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    // Already closed.
                }
            }
        }
    }
}
