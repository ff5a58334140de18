using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Abstrakt.Core.Tests;

/// <summary>A fake service on 127.0.0.1 that answers every run with one kind of garbage.</summary>
public sealed class GarbageServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _kind;

    public GarbageServer(string kind)
    {
        _kind = kind;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Uri = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Uri.ToString());
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public Uri Uri { get; }

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

            var (status, type, body) = _kind switch
            {
                "malformed" => (200, "application/json", "{\"job_id\": \"job_"),
                "html502" => (502, "text/html", "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
                "empty200" => (200, "application/json", ""),
                "huge" => (200, "application/json", "{\"pad\":\"" + new string('x', 2 * 1024 * 1024) + "\"}"),
                _ => (200, "application/json", "{\"job_id\":\"job_1\",\"status\":\"completed\",\"model_id\":\"flux-schnell\",\"output\":{\"items\":[{\"url\":\"file:///etc/passwd\"}]},\"credits_used\":1}"),
            };
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = status;
            context.Response.ContentType = type;
            try
            {
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client stopped reading (the size cap): fine.
            }
        }
    }

    public void Dispose() => _listener.Close();
}
