using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Abstrakt.Api;
using Abstrakt.Engine;

namespace Abstrakt.Bench;

/// <summary>One row of the table.</summary>
internal sealed record Row(string Scenario, string Setup, string Measured, string Target, string Verdict);

/// <summary>The whole-batch scenarios of issue #7, each against a sandbox in a child process over loopback HTTP.</summary>
internal static class Scenarios
{
    private sealed record Outcome(TimeSpan Elapsed, long Completed, long Failed, TimeSpan Cpu, long Allocated);

    // The client gets the sandbox's address and key, nothing else: it learns any rate limit from the answers.
    private static AbstraktClient Client(ChildSandbox sandbox) => new(new AbstraktClientOptions
    {
        Endpoint = sandbox.Uri,
        ApiKey = sandbox.ApiKey,
        MaxConnections = 256,
    });

    private static async Task<Outcome> RunAsync(AbstraktClient client, BatchOptions options, IEnumerable<WorkItem> items)
    {
        var process = Process.GetCurrentProcess();
        GC.Collect();
        var cpu0 = process.TotalProcessorTime;
        var alloc0 = GC.GetTotalAllocatedBytes(true);
        var watch = Stopwatch.StartNew();
        long completed = 0, failed = 0;
        await foreach (var e in BatchRun.RunAsync(client, options, items))
        {
            if (e is ItemCompleted) completed++;
            else if (e is ItemFailed) failed++;
        }

        watch.Stop();
        process.Refresh();
        return new Outcome(watch.Elapsed, completed, failed, process.TotalProcessorTime - cpu0, GC.GetTotalAllocatedBytes(true) - alloc0);
    }

    private static IEnumerable<WorkItem> Items(int n) => Enumerable.Range(1, n).Select(i => new WorkItem(i, "benchmark prompt number " + i));

    public static async Task<Row> ThroughputAsync()
    {
        const int n = 2000, t = 50;
        var latency = TimeSpan.FromMilliseconds(100);
        using var sandbox = ChildSandbox.Start("latency-ms=100");
        using var client = Client(sandbox);
        // A whole run first: tiered JIT needs more than a few hundred items to reach its optimised code,
        // and a 100-item warm-up left the first measured run about 2% slower than the runs after it.
        await RunAsync(client, new BatchOptions { ThrottleLimit = t }, Items(n));
        var runs = new List<Outcome>();
        for (var i = 0; i < 3; i++) runs.Add(await RunAsync(client, new BatchOptions { ThrottleLimit = t }, Items(n)));
        var ideal = TimeSpan.FromTicks(latency.Ticks * n / t);
        var ratios = runs.Select(r => r.Elapsed / ideal).Order().ToList();
        var median = ratios[1];

        // The floor this machine sets: the same requests from t bare loops over the client, no engine.
        var bare = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            var next = 0;
            await Task.WhenAll(Enumerable.Range(0, t).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) <= n)
                {
                    await client.RunAsync(new RunRequest { Model = "flux-schnell", Input = new Dictionary<string, object?> { ["prompt"] = "bare client prompt " + next } });
                }
            }));
            bare.Add(watch.Elapsed / ideal);
        }

        return new Row("1. Throughput", $"{n} items, latency 100 ms, ThrottleLimit {t}; a warm-up run, then 3 runs",
            $"median {ideal.TotalSeconds * median:0.00} s vs ideal {ideal.TotalSeconds:0.00} s = **{median:0.000}** (runs {ratios[0]:0.000}-{ratios[2]:0.000}); {runs.Min(r => r.Completed)} done in each. The same requests from {t} bare client loops: median **{bare.Order().ElementAt(1):0.000}**",
            "≤ 1.05", median <= 1.05 ? "met" : "missed");
    }

    public static async Task<Row> OverheadEngineAsync()
    {
        const int n = 20000;
        using var sandbox = ChildSandbox.Start();
        using var client = Client(sandbox);
        await RunAsync(client, new BatchOptions { ThrottleLimit = 64 }, Items(500));
        var o = await RunAsync(client, new BatchOptions { ThrottleLimit = 64 }, Items(n));
        return new Row("2a. Overhead, engine", $"{n} items, latency 0, ThrottleLimit 64", $"**{o.Cpu.TotalMicroseconds / n:0} µs CPU** and **{o.Allocated / n / 1024.0:0.0} KB allocated** per item ({o.Allocated / n} B); {n / o.Elapsed.TotalSeconds:0} items/s", "figures", "-");
    }

    /// <summary>A runspace that imports the module as a user would, connected to the child sandbox.</summary>
    private static Runspace HostedRunspace(string repoRoot, ChildSandbox sandbox)
    {
        var state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(Path.Combine(repoRoot, "Abstrakt.psd1"));
        var runspace = RunspaceFactory.CreateRunspace(state);
        runspace.Open();
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;
        // No -Tier: the plans are the real ones now (no Unlimited); the child sandbox has no limit, and its answers say so.
        ps.AddScript("param($uri, $key) Connect-Abstrakt -Endpoint $uri -ApiKey ([System.Net.NetworkCredential]::new('', $key).SecurePassword)");
        ps.AddArgument(sandbox.Uri);
        ps.AddArgument(sandbox.ApiKey.Reveal());
        ps.Invoke();
        // A failed connect would leave the batch to the session's own sandbox, with real latencies: measure nothing then.
        if (ps.HadErrors) throw new InvalidOperationException("Connect-Abstrakt failed: " + string.Join("; ", ps.Streams.Error));
        return runspace;
    }

    public static Row OverheadHosted(string repoRoot)
    {
        const int n = 5000;
        using var sandbox = ChildSandbox.Start();
        using var runspace = HostedRunspace(repoRoot, sandbox);
        void Run(string script)
        {
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddScript(script);
            ps.Invoke();
            if (ps.HadErrors) throw new InvalidOperationException(string.Join("; ", ps.Streams.Error));
        }

        Run("1..500 | ForEach-Object { \"warm $_\" } | Start-AbstraktBatch -ThrottleLimit 64 | Out-Null");
        var process = Process.GetCurrentProcess();
        GC.Collect();
        var cpu0 = process.TotalProcessorTime;
        var alloc0 = GC.GetTotalAllocatedBytes(true);
        var watch = Stopwatch.StartNew();
        Run($"1..{n} | ForEach-Object {{ \"benchmark prompt number $_\" }} | Start-AbstraktBatch -ThrottleLimit 64 | Out-Null");
        watch.Stop();
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        var alloc = GC.GetTotalAllocatedBytes(true) - alloc0;
        return new Row("2b. Overhead, Start-AbstraktBatch", $"{n} items in a hosted engine, latency 0, ThrottleLimit 64", $"**{cpu.TotalMicroseconds / n:0} µs CPU** and **{alloc / n / 1024.0:0.0} KB allocated** per item ({alloc / n} B; pipeline and ForEach-Object included); {n / watch.Elapsed.TotalSeconds:0} items/s", "figures", "-");
    }

    /// <summary>Each size in its own process: peak working set is a per-process figure.</summary>
    public static Row Scale()
    {
        using var sandbox = ChildSandbox.Start();
        var peaks = new Dictionary<int, long>();
        foreach (var n in new[] { 10_000, 100_000 })
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { typeof(Scenarios).Assembly.Location, "scale-run", n.ToString(), sandbox.Uri.ToString(), sandbox.ApiKey.Reveal() }) start.ArgumentList.Add(a);
            using var child = Process.Start(start)!;
            var output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            peaks[n] = long.Parse(output.Trim().Split('\n')[^1]);
        }

        var ratio = (double)peaks[100_000] / peaks[10_000];
        return new Row("3. Scale", "10,000 and 100,000 items streamed from a file, latency 0, ThrottleLimit 64", $"peak working set {peaks[10_000] / 1048576.0:0} MB and {peaks[100_000] / 1048576.0:0} MB = **{ratio:0.00}×**", "≤ 1.2×", ratio <= 1.2 ? "met" : "missed");
    }

    /// <summary>The child's side of <see cref="Scale"/>.</summary>
    public static async Task<int> ScaleRunAsync(int n, Uri uri, string key)
    {
        var file = Path.Combine(Path.GetTempPath(), $"abstrakt-bench-{n}-{Environment.ProcessId}.txt");
        File.WriteAllLines(file, Enumerable.Range(1, n).Select(i => "streamed benchmark prompt number " + i));
        try
        {
            using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = uri, ApiKey = new Secret(key), MaxConnections = 256 });
            var index = 0L;
            var items = File.ReadLines(file).Select(line => new WorkItem(++index, line));
            var o = await RunAsync(client, new BatchOptions { ThrottleLimit = 64 }, items);
            if (o.Completed != n) throw new InvalidOperationException($"{o.Completed} of {n} completed");
            Console.WriteLine(Process.GetCurrentProcess().PeakWorkingSet64);
            return 0;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Issue 16: a batch of local images against the same batch of prompts, each in its own process (peak working
    /// set is per process). Images are read, hashed and base64-streamed one request at a time, so the peak must
    /// not grow with the images' total size.
    /// </summary>
    public static Row Images(int n, int megabytes)
    {
        using var sandbox = ChildSandbox.Start();
        var figures = new Dictionary<string, (long Peak, double Seconds)>();
        foreach (var kind in new[] { "prompts", "images" })
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { typeof(Scenarios).Assembly.Location, "image-run", kind, n.ToString(), megabytes.ToString(), sandbox.Uri.ToString(), sandbox.ApiKey.Reveal() }) start.ArgumentList.Add(a);
            using var child = Process.Start(start)!;
            var output = child.StandardOutput.ReadToEnd().Trim().Split('\n')[^1].Split(' ');
            child.WaitForExit();
            figures[kind] = (long.Parse(output[0]), double.Parse(output[1], System.Globalization.CultureInfo.InvariantCulture));
        }

        var (images, prompts) = (figures["images"], figures["prompts"]);
        return new Row(
            "7. Images",
            $"{n} PNG files of {megabytes} MB each ({n * megabytes / 1024.0:0.#} GB) sent inline to image-upscaler, against {n} prompts to flux-schnell; latency 0, ThrottleLimit 8, no downloads",
            $"images: peak working set **{images.Peak / 1048576.0:0} MB**, {images.Seconds:0.0} s ({images.Seconds * 1000 / n:0} ms per image); prompts: **{prompts.Peak / 1048576.0:0} MB**, {prompts.Seconds:0.0} s; ratio **{(double)images.Peak / prompts.Peak:0.00}×**",
            "flat: far below the images' total size",
            images.Peak < 512L * 1048576 ? "met" : "missed");
    }

    /// <summary>The child's side of <see cref="Images"/>: prints its peak working set and the batch's seconds.</summary>
    public static async Task<int> ImageRunAsync(string kind, int n, int megabytes, Uri uri, string key)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"abstrakt-bench-images-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        try
        {
            if (kind == "images")
            {
                WriteImages(folder, n, megabytes);
            }

            using var client = new AbstraktClient(new AbstraktClientOptions { Endpoint = uri, ApiKey = new Secret(key), MaxConnections = 64 });
            var options = new BatchOptions { ThrottleLimit = 8, DefaultModel = kind == "images" ? "image-upscaler" : "flux-schnell" };

            // As the cmdlet does: each file is checked and hashed when its item is read, never held.
            var items = Enumerable.Range(1, n).Select(i => kind == "images"
                ? new WorkItem(i, string.Empty, image: ImageInput.Open(Path.Combine(folder, $"IMG_{i:D5}.png")))
                : new WorkItem(i, "benchmark prompt number " + i));
            var o = await RunAsync(client, options, items);
            if (o.Completed != n) throw new InvalidOperationException($"{o.Completed} of {n} completed, {o.Failed} failed");
            Console.WriteLine(FormattableString.Invariant($"{Process.GetCurrentProcess().PeakWorkingSet64} {o.Elapsed.TotalSeconds:0.000}"));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Files of the given size that start as a valid PNG (the sandbox reads the header) and differ in content.</summary>
    private static void WriteImages(string folder, int n, int megabytes)
    {
        var header = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R', 0, 0, 3, 0, 0, 0, 2, 0, 8, 2, 0, 0, 0 };
        var body = new byte[megabytes * 1048576];
        new Random(16).NextBytes(body);
        Buffer.BlockCopy(header, 0, body, 0, header.Length);
        for (var i = 1; i <= n; i++)
        {
            BitConverter.GetBytes(i).CopyTo(body, header.Length);
            File.WriteAllBytes(Path.Combine(folder, $"IMG_{i:D5}.png"), body);
        }
    }

    /// <summary>The rate-limit windows of scenario 4: 1 s and 5 s as they are, and a minute time-scaled to 6 s; each fixed and sliding.</summary>
    public static IEnumerable<(double WindowSec, double TimeScale, string Mode)> RateWindows() =>
        from w in new[] { (1.0, 1.0), (5.0, 1.0), (60.0, 0.1) }
        from mode in new[] { "Fixed", "Sliding" }
        select (w.Item1, w.Item2, mode);

    public static async Task<Row> RateLimitAsync(double windowSec, double timeScale, string mode)
    {
        const int n = 60, limit = 20, runs = 3;
        await WarmClientAsync();
        var window = TimeSpan.FromSeconds(windowSec * timeScale);
        // The first window's budget goes at once, then one window per further budget.
        var ideal = TimeSpan.FromTicks(window.Ticks * ((n + limit - 1) / limit - 1));
        var ratios = new List<double>();
        long requests = 0, refused = 0, completed = 0;
        var learnt = string.Empty;
        for (var run = 0; run < runs; run++)
        {
            // A fresh server each run, so each starts at its own phase of the clock's second and of a fixed window.
            using var sandbox = ChildSandbox.Start($"limit={limit}", $"window-s={windowSec}", $"time-scale={timeScale}", $"window-mode={mode}");
            // A request without a key warms the child's API path (first-request JIT once took over a second there,
            // long enough to cross a 1 s window) without touching the rate limit; the counters are read as differences.
            using (var http = new HttpClient())
            {
                (await http.GetAsync(new Uri(sandbox.Uri, "/v1/models"))).Dispose();
            }

            var before = sandbox.Stats();
            using var client = Client(sandbox);
            var o = await RunAsync(client, new BatchOptions { ThrottleLimit = 50, MaxRetry = 10 }, Items(n));
            var after = sandbox.Stats();
            long Count(string name) => after.GetProperty(name).GetInt64() - before.GetProperty(name).GetInt64();
            ratios.Add(o.Elapsed / ideal);
            requests += Count("requests_total");
            refused += Count("rate_limited");
            completed += o.Completed;
            learnt += $"{(learnt.Length == 0 ? "" : ", ")}{client.RateLimitWindow?.TotalSeconds:0.00}";
        }

        var worst = ratios.Max();
        var share = (double)refused / requests;
        var scaled = timeScale == 1 ? string.Empty : $" time-scaled by {timeScale} to {window.TotalSeconds:0.#} s (Reset in scaled seconds)";
        return new Row($"4. Rate limit, {windowSec:0.#} s {mode.ToLowerInvariant()}",
            $"{n} items, {limit} requests per {windowSec:0.#} s window{scaled}, {mode.ToLowerInvariant()}; the client is told nothing and learns it from X-RateLimit-*; ThrottleLimit 50; {runs} runs, each against a fresh server",
            $"worst of {runs} **{worst:0.00}** of the ideal (⌈N/R⌉−1)×W {ideal.TotalSeconds:0.00} s (runs {string.Join(", ", ratios.Select(r => r.ToString("0.00")))}); **{share:P1}** of {requests} requests answered 429; learnt window {learnt} s; {completed} of {runs * n} done",
            "≤ 1.3 and ≤ 2%", worst <= 1.3 && share <= 0.02 && completed == runs * n ? "met" : "missed");
    }

    private static Task? _clientWarm;

    /// <summary>Runs the client's code once against an unlimited sandbox, so JIT is not measured as pacing.</summary>
    private static Task WarmClientAsync() => _clientWarm ??= WarmAsync();

    private static async Task WarmAsync()
    {
        using var sandbox = ChildSandbox.Start();
        using var client = Client(sandbox);
        await RunAsync(client, new BatchOptions { ThrottleLimit = 50 }, Items(100));
    }

    /// <summary>Requests per item of each create design under a rate limit that counts every request, polls included.</summary>
    public static async Task<Row> CreateCostAsync(CreateWait wait)
    {
        const int n = 60, limit = 60, t = 10;
        await WarmClientAsync();
        using var sandbox = ChildSandbox.Start("latency-ms=1200", $"limit={limit}", "window-s=5", "window-mode=Fixed");
        var before = sandbox.Stats();
        using var client = Client(sandbox);
        var o = await RunAsync(client, new BatchOptions { ThrottleLimit = t, MaxRetry = 10, CreateWait = wait }, Items(n));
        var after = sandbox.Stats();
        long Count(string name) => after.GetProperty(name).GetInt64() - before.GetProperty(name).GetInt64();
        var requests = Count("requests_total");
        return new Row($"8. Create cost, {wait switch { CreateWait.Always => "sync:true, polling only past the server's wait", CreateWait.Never => "sync:false + polling", _ => "sync:false, sync:true while requests are scarce (default)" }}",
            $"{n} items, each job 1.2 s (flux-schnell's latency), {limit} requests per 5 s window, fixed, every request counted (polls too); client's default polling (0.5 s rising ×1.5 to 5 s); ThrottleLimit {t}",
            $"**{(double)requests / n:0.00} requests per item** ({requests} requests, {Count("rate_limited")} answered 429); {o.Elapsed.TotalSeconds:0.0} s; {o.Completed} done",
            "figures", "-");
    }

    public static async Task<Row> RetryStormAsync()
    {
        const int n = 1000, t = 50;
        using var sandbox = ChildSandbox.Start("latency-ms=50", "transient=0.2", "seed=7");
        using var client = Client(sandbox);
        var retryBase = TimeSpan.FromMilliseconds(100);
        var o = await RunAsync(client, new BatchOptions { ThrottleLimit = t, MaxRetry = 5, RetryBaseDelay = retryBase }, Items(n));
        var ideal = TimeSpan.FromTicks(TimeSpan.FromMilliseconds(50).Ticks * n / t);
        return new Row("5. Retry storm", $"{n} items, 20% of requests answered 500/503, MaxRetry 5, retry base delay {retryBase.TotalMilliseconds:0} ms, latency 50 ms, ThrottleLimit {t}",
            $"**{(double)o.Completed / n:P1} completed** ({o.Failed} failed); {o.Elapsed.TotalSeconds:0.00} s vs fault-free ideal {ideal.TotalSeconds:0.00} s = **{o.Elapsed / ideal:0.00}**",
            "figures", "-");
    }

    /// <summary>Ctrl+C as a user meets it: PowerShell.Stop on a running Start-AbstraktBatch whose jobs would take ten minutes.</summary>
    public static Row Stop(string repoRoot)
    {
        const int t = 10, rounds = 5;
        using var sandbox = ChildSandbox.Start("latency-ms=600000", "sync-timeout-ms=50");
        using var runspace = HostedRunspace(repoRoot, sandbox);
        var times = new List<TimeSpan>();
        for (var round = 1; round <= rounds; round++)
        {
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddScript($"1..100 | ForEach-Object {{ \"clip {round} $_\" }} | Start-AbstraktBatch -ThrottleLimit {t}");
            var created = sandbox.Stats().GetProperty("jobs_created").GetInt64();
            var pending = ps.BeginInvoke();
            while (sandbox.Stats().GetProperty("jobs_created").GetInt64() < created + t) Thread.Sleep(20);
            var watch = Stopwatch.StartNew();
            ps.Stop();
            times.Add(watch.Elapsed);
            if (!pending.IsCompleted) throw new InvalidOperationException("Stop returned before the pipeline ended");
        }

        var stats = sandbox.Stats();
        var worst = times.Max();
        return new Row("6. Stop (Ctrl+C)", $"Start-AbstraktBatch in a hosted engine, {t} jobs in flight that would take 10 min, PowerShell.Stop, {rounds} rounds",
            $"stop took **{times.Min().TotalSeconds:0.00}-{worst.TotalSeconds:0.00} s**; **{stats.GetProperty("jobs_cancelled").GetInt64()} of {stats.GetProperty("jobs_created").GetInt64()}** remote jobs cancelled",
            "≤ 2 s, all cancelled", worst <= TimeSpan.FromSeconds(2) && stats.GetProperty("jobs_cancelled").GetInt64() == stats.GetProperty("jobs_created").GetInt64() ? "met" : "missed");
    }
}
