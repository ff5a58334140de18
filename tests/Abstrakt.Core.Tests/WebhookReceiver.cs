using System.Collections.Concurrent;
using System.Net;

namespace Abstrakt.Core.Tests;

/// <summary>Records every POST it gets (raw bytes and signature headers), answering as told.</summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly TestListener _listener;
    private int _count;

    public sealed record Delivery(byte[] Body, string? Timestamp, string? Signature, DateTimeOffset ReceivedAt);

    /// <param name="statusFor">The status to answer the n-th delivery (0-based) with; 200 by default.</param>
    public WebhookReceiver(Func<int, int>? statusFor = null)
    {
        var status = statusFor ?? (_ => 200);
        _listener = new TestListener("hook/", async context =>
        {
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var n = Interlocked.Increment(ref _count) - 1;
            Deliveries.Enqueue(new Delivery(body.ToArray(), context.Request.Headers["X-Abstrakt-Timestamp"], context.Request.Headers["X-Abstrakt-Signature"], DateTimeOffset.UtcNow));
            context.Response.StatusCode = status(n);
            context.Response.Close();
        });
    }

    public Uri Url => _listener.Url;

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

    public void Dispose() => _listener.Dispose();
}
