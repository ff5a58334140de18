using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Sandbox
{
    /// <summary>One parsed HTTP request.</summary>
    internal sealed class HttpRequestData
    {
        public string Method { get; init; } = "GET";
        public string Path { get; init; } = "/";
        public string Query { get; init; } = string.Empty;
        public Dictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public byte[] Body { get; init; } = Array.Empty<byte>();

        public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;

        public string? QueryValue(string name)
        {
            foreach (var pair in Query.TrimStart('?').Split('&'))
            {
                var eq = pair.IndexOf('=');
                var key = eq < 0 ? pair : pair.Substring(0, eq);
                if (string.Equals(Uri.UnescapeDataString(key), name, StringComparison.Ordinal))
                {
                    return eq < 0 ? string.Empty : Uri.UnescapeDataString(pair.Substring(eq + 1).Replace('+', ' '));
                }
            }

            return null;
        }
    }

    /// <summary>What to send back, including the faults the sandbox injects.</summary>
    internal sealed class HttpResponseData
    {
        public int Status { get; init; } = 200;
        public string ContentType { get; init; } = "application/json";
        public byte[] Body { get; init; } = Array.Empty<byte>();
        public Dictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>Send the headers and half the body, then drop the connection.</summary>
        public bool CutMidBody { get; init; }
    }

    /// <summary>
    /// A minimal HTTP/1.1 server on 127.0.0.1 (keep-alive, Content-Length bodies). Written here rather than
    /// using HttpListener because HttpListener needs a URL reservation on Windows for non-admin users, and
    /// the sandbox must be able to cut a response mid-body to emulate a broken connection.
    /// </summary>
    internal sealed class LoopbackHttpServer : IDisposable
    {
        private const int MaxHeaderBytes = 64 * 1024;
        private const int MaxBodyBytes = 32 * 1024 * 1024;
        private readonly TcpListener _listener;
        private readonly Func<HttpRequestData, CancellationToken, Task<HttpResponseData>> _handler;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly HashSet<TcpClient> _connections = new HashSet<TcpClient>();
        private Task? _acceptLoop;

        public LoopbackHttpServer(int port, Func<HttpRequestData, CancellationToken, Task<HttpResponseData>> handler)
        {
            _handler = handler;
            _listener = new TcpListener(IPAddress.Loopback, port);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public void Start()
        {
            _listener.Start(512);
            _acceptLoop = Task.Run(AcceptLoopAsync);
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_connections)
            {
                foreach (var client in _connections)
                {
                    client.Dispose();
                }

                _connections.Clear();
            }

            try
            {
                _acceptLoop?.Wait(TimeSpan.FromSeconds(2));
            }
            catch (AggregateException)
            {
                // Stopping: the accept loop ends with the listener.
            }

            _stop.Dispose();
        }

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ObjectDisposedException or SocketException or InvalidOperationException)
                {
                    return;
                }

                client.NoDelay = true;
                lock (_connections)
                {
                    _connections.Add(client);
                }

                _ = Task.Run(() => ServeConnectionAsync(client));
            }
        }

        private async Task ServeConnectionAsync(TcpClient client)
        {
            try
            {
                using var stream = client.GetStream();
                var reader = new RequestReader(stream);
                while (!_stop.IsCancellationRequested)
                {
                    var request = await reader.ReadAsync(_stop.Token).ConfigureAwait(false);
                    if (request is null)
                    {
                        return;
                    }

                    HttpResponseData response;
                    try
                    {
                        response = await _handler(request, _stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
#pragma warning disable CA1031 // The sandbox answers any bug in a handler with a 500, as a real server would.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        response = new HttpResponseData { Status = 500, ContentType = "text/plain", Body = Encoding.UTF8.GetBytes("sandbox handler failed: " + ex.Message) };
                    }

                    var close = string.Equals(request.Header("Connection"), "close", StringComparison.OrdinalIgnoreCase);
                    await WriteAsync(stream, response, close).ConfigureAwait(false);
                    if (close || response.CutMidBody)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidDataException)
            {
                // The client went away or sent something we do not speak; drop the connection.
            }
            finally
            {
                lock (_connections)
                {
                    _connections.Remove(client);
                }

                client.Dispose();
            }
        }

        private async Task WriteAsync(Stream stream, HttpResponseData response, bool close)
        {
            var head = new StringBuilder();
            head.Append("HTTP/1.1 ").Append(response.Status.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(Reason(response.Status)).Append("\r\n");
            head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
            head.Append("Content-Length: ").Append(response.Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
            head.Append("Server: abstrakt-sandbox\r\n");
            if (close)
            {
                head.Append("Connection: close\r\n");
            }

            foreach (var header in response.Headers)
            {
                head.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
            }

            head.Append("\r\n");
            var headBytes = Encoding.ASCII.GetBytes(head.ToString());
            await stream.WriteAsync(headBytes, 0, headBytes.Length, _stop.Token).ConfigureAwait(false);
            var bodyLength = response.CutMidBody ? response.Body.Length / 2 : response.Body.Length;
            await stream.WriteAsync(response.Body, 0, bodyLength, _stop.Token).ConfigureAwait(false);
            await stream.FlushAsync(_stop.Token).ConfigureAwait(false);
        }

        private static string Reason(int status) => status switch
        {
            200 => "OK",
            202 => "Accepted",
            400 => "Bad Request",
            401 => "Unauthorized",
            402 => "Payment Required",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Status",
        };

        /// <summary>Reads requests off one keep-alive connection.</summary>
        private sealed class RequestReader
        {
            private readonly Stream _stream;
            private readonly byte[] _buffer = new byte[16384];
            private int _start;
            private int _end;

            public RequestReader(Stream stream) => _stream = stream;

            public async Task<HttpRequestData?> ReadAsync(CancellationToken cancellationToken)
            {
                var requestLine = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
                while (requestLine is { Length: 0 })
                {
                    requestLine = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
                }

                if (requestLine is null)
                {
                    return null;
                }

                var parts = requestLine.Split(' ');
                if (parts.Length < 3)
                {
                    throw new InvalidDataException("bad request line");
                }

                var target = parts[1];
                var q = target.IndexOf('?');
                var request = new HttpRequestData
                {
                    Method = parts[0],
                    Path = q < 0 ? target : target.Substring(0, q),
                    Query = q < 0 ? string.Empty : target.Substring(q),
                    Body = Array.Empty<byte>(),
                };

                var headerBytes = 0;
                string? line;
                while (!string.IsNullOrEmpty(line = await ReadLineAsync(cancellationToken).ConfigureAwait(false)))
                {
                    headerBytes += line!.Length;
                    if (headerBytes > MaxHeaderBytes)
                    {
                        throw new InvalidDataException("headers too large");
                    }

                    var colon = line.IndexOf(':');
                    if (colon > 0)
                    {
                        request.Headers[line.Substring(0, colon).Trim()] = line.Substring(colon + 1).Trim();
                    }
                }

                if (line is null)
                {
                    return null;
                }

                var length = int.TryParse(request.Header("Content-Length"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
                if (length > MaxBodyBytes)
                {
                    throw new InvalidDataException("body too large");
                }

                if (length == 0)
                {
                    return request;
                }

                var body = new byte[length];
                var copied = 0;
                while (copied < length)
                {
                    if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return null;
                    }

                    var take = Math.Min(length - copied, _end - _start);
                    Buffer.BlockCopy(_buffer, _start, body, copied, take);
                    _start += take;
                    copied += take;
                }

                return new HttpRequestData { Method = request.Method, Path = request.Path, Query = request.Query, Body = body }.WithHeaders(request.Headers);
            }

            private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
            {
                var line = new StringBuilder();
                while (true)
                {
                    if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return line.Length == 0 ? null : line.ToString();
                    }

                    while (_start < _end)
                    {
                        var b = _buffer[_start++];
                        if (b == (byte)'\n')
                        {
                            return line.ToString().TrimEnd('\r');
                        }

                        if (line.Length > MaxHeaderBytes)
                        {
                            throw new InvalidDataException("line too long");
                        }

                        line.Append((char)b);
                    }
                }
            }

            private async Task<bool> FillAsync(CancellationToken cancellationToken)
            {
                _start = 0;
                _end = await _stream.ReadAsync(_buffer, 0, _buffer.Length, cancellationToken).ConfigureAwait(false);
                return _end > 0;
            }
        }
    }

    internal static class HttpRequestDataExtensions
    {
        public static HttpRequestData WithHeaders(this HttpRequestData request, Dictionary<string, string> headers)
        {
            foreach (var header in headers)
            {
                request.Headers[header.Key] = header.Value;
            }

            return request;
        }
    }
}
