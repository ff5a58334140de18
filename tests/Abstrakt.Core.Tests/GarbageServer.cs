using System.Net;
using System.Text;

namespace Abstrakt.Core.Tests;

/// <summary>A fake service on 127.0.0.1 that answers every run with one kind of garbage.</summary>
public sealed class GarbageServer : IDisposable
{
    private readonly TestListener _listener;

    public GarbageServer(string kind)
    {
        var (status, type, body) = kind switch
        {
            "malformed" => (200, "application/json", "{\"job_id\": \"job_"),
            "html502" => (502, "text/html", "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"),
            "empty200" => (200, "application/json", ""),
            "huge" => (200, "application/json", "{\"pad\":\"" + new string('x', 2 * 1024 * 1024) + "\"}"),
            "duration1e300" => (200, "application/json", "{\"job_id\":\"job_1\",\"status\":\"completed\",\"model_id\":\"flux-schnell\",\"output\":{\"items\":[{\"url\":\"https://cdn.example/x.png\"}]},\"duration_ms\":1e300,\"credits_used\":1}"),
            "linklocal-output" => (200, "application/json", "{\"job_id\":\"job_1\",\"status\":\"completed\",\"output\":{\"items\":[{\"url\":\"http://169.254.169.254/latest/meta-data/x.png\"}]},\"credits_used\":1}"),
            "private-output" => (200, "application/json", "{\"job_id\":\"job_1\",\"status\":\"completed\",\"output\":{\"items\":[{\"url\":\"http://10.255.255.1/x.png\"}]},\"credits_used\":1}"),
            "retry1e300" => (503, "application/json", "{\"error\":{\"code\":\"MODEL_UNAVAILABLE\",\"message\":\"down\",\"retry_after\":1e300}}"),
            "retry1e10" => (503, "application/json", "{\"error\":{\"code\":\"MODEL_UNAVAILABLE\",\"message\":\"down\",\"retry_after\":1e10}}"),
            _ => (200, "application/json", "{\"job_id\":\"job_1\",\"status\":\"completed\",\"model_id\":\"flux-schnell\",\"output\":{\"items\":[{\"url\":\"file:///etc/passwd\"}]},\"credits_used\":1}"),
        };
        var bytes = Encoding.UTF8.GetBytes(body);
        _listener = new TestListener(string.Empty, async context =>
        {
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
        });
    }

    public Uri Uri => _listener.Url;

    public void Dispose() => _listener.Dispose();
}
