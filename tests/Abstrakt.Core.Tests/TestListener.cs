using System.Net;
using System.Net.Sockets;

namespace Abstrakt.Core.Tests;

/// <summary>A plain HttpListener on a free 127.0.0.1 port that hands each request to a test's answer.</summary>
public sealed class TestListener : IDisposable
{
    private readonly HttpListener _listener = new();

    public TestListener(string path, Func<HttpListenerContext, Task> answer)
    {
        Url = new Uri(FreePrefix(path));
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _ = Task.Run(async () =>
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

                await answer(context);
            }
        });
    }

    public Uri Url { get; }

    /// <summary>An http://127.0.0.1:port/path/ prefix on a port that was free a moment ago.</summary>
    public static string FreePrefix(string path)
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return $"http://127.0.0.1:{port}/{path}";
    }

    public void Dispose() => _listener.Close();
}
