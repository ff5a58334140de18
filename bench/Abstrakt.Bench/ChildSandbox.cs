using System.Diagnostics;
using System.Text.Json;
using Abstrakt.Api;
using Abstrakt.Sandbox;

namespace Abstrakt.Bench;

/// <summary>
/// A sandbox served by a child process, so the batch's CPU time, allocations and working set are
/// measured apart from the service it talks to.
/// </summary>
internal sealed class ChildSandbox : IDisposable
{
    private readonly Process _process;

    private ChildSandbox(Process process, Uri uri, string key)
    {
        _process = process;
        Uri = uri;
        ApiKey = new Secret(key);
    }

    public Uri Uri { get; }

    public Secret ApiKey { get; }

    public static ChildSandbox Start(params string[] settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(ChildSandbox).Assembly.Location);
        start.ArgumentList.Add("serve");
        foreach (var s in settings) start.ArgumentList.Add(s);
        var process = Process.Start(start)!;
        var ready = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("the sandbox process did not start");
        var parts = ready.Split(' ');
        return new ChildSandbox(process, new Uri(parts[1]), parts[2]);
    }

    /// <summary>The child's side: serve until stdin closes. Settings are name=value pairs.</summary>
    public static int Serve(string[] settings)
    {
        var options = new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited };
        foreach (var setting in settings)
        {
            var parts = setting.Split('=', 2);
            var value = parts[1];
            switch (parts[0])
            {
                case "latency-ms": options.FixedLatency = TimeSpan.FromMilliseconds(double.Parse(value)); break;
                case "tier": options.Tier = Enum.Parse<SandboxTier>(value); break;
                case "limit": options.RequestsPerWindow = int.Parse(value); break;
                case "window-s": options.RateWindow = TimeSpan.FromSeconds(double.Parse(value)); break;
                case "window-mode": options.RateWindowMode = Enum.Parse<RateWindowMode>(value); break;
                case "time-scale": options.TimeScale = double.Parse(value); break;
                case "transient": options.Faults.TransientErrorRate = double.Parse(value); break;
                case "sync-timeout-ms": options.SyncTimeout = TimeSpan.FromMilliseconds(double.Parse(value)); break;
                case "seed": options.Seed = int.Parse(value); break;
                case "credits": options.Credits = long.Parse(value); break;
                default: throw new ArgumentException("unknown sandbox setting " + parts[0]);
            }
        }

        using var sandbox = SandboxServer.Start(options);
        Console.WriteLine($"READY {sandbox.Uri} {sandbox.ApiKey.Reveal()}");
        Console.Out.Flush();
        Console.In.ReadToEnd();
        return 0;
    }

    public JsonElement Stats()
    {
        using var http = new HttpClient();
        return JsonDocument.Parse(http.GetStringAsync(new Uri(Uri, "_sandbox/stats")).Result).RootElement.Clone();
    }

    public void Dispose()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(5000)) _process.Kill();
        _process.Dispose();
    }
}
