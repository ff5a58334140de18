using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Abstrakt.Core.Tests;

/// <summary>A plain HttpListener on 127.0.0.1 that records every POST it gets (raw bytes and headers).</summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<int, int> _statusFor;
    private int _count;

    public sealed record Delivery(byte[] Body, string? Timestamp, string? Signature, DateTimeOffset ReceivedAt);

    /// <param name="statusFor">The status to answer the n-th delivery (0-based) with; 200 by default.</param>
    public WebhookReceiver(Func<int, int>? statusFor = null)
    {
        _statusFor = statusFor ?? (_ => 200);
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = new Uri($"http://127.0.0.1:{port}/hook/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public Uri Url { get; }

    public ConcurrentQueue<Delivery> Deliveries { get; } = new();

    /// <summary>Waits until <paramref name="count"/> deliveries arrived, or fails after a generous deadline.</summary>
    public async Task WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (Deliveries.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"expected {count} deliveries, got {Deliveries.Count}");
            await Task.Delay(20);
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var n = Interlocked.Increment(ref _count) - 1;
            Deliveries.Enqueue(new Delivery(body.ToArray(), context.Request.Headers["X-Abstrakt-Timestamp"], context.Request.Headers["X-Abstrakt-Signature"], DateTimeOffset.UtcNow));
            context.Response.StatusCode = _statusFor(n);
            context.Response.Close();
        }
    }

    public void Dispose() => _listener.Close();
}
