using System.Diagnostics;
using Abstrakt.Api;
using Abstrakt.Engine;

namespace Abstrakt.Bench;

/// <summary>
/// The shared store (issue 18): items per second with 1, 2 and 4 runners on latency-bound jobs, and the store's
/// cost per item. Needs PostgreSQL: ABSTRAKT_TEST_PG, or a throwaway cluster from tests/Shared/pg-cluster.sh.
/// Runners are separate engines and clients in this process (separate rate gates and connection pools, as
/// separate machines have), against a sandbox in a child process.
/// </summary>
internal static class Distributed
{
    public static async Task<int> RunAsync(string repoRoot)
    {
        var script = Path.Combine(repoRoot, "tests", "Shared", "pg-cluster.sh");
        string? dir = null;
        var store = Environment.GetEnvironmentVariable("ABSTRAKT_TEST_PG");
        if (store is null)
        {
            var port = new Random().Next(20000, 40000);
            var (code, output) = Bash($"\"{script}\" start {port}");
            if (code != 0) throw new InvalidOperationException("PostgreSQL did not start: " + output);
            var parts = output.Trim().Split('\t');
            (dir, store) = (parts[0], parts[1]);
        }

        try
        {
            // Latency-bound: every job takes 1 s; each runner runs 10 at once.
            const int items = 400, throttle = 10;
            using (var sandbox = ChildSandbox.Start("latency-ms=1000"))
            {
                foreach (var runners in new[] { 1, 2, 4 })
                {
                    var (elapsed, done) = await Shared(sandbox, store, runners, throttle, items);
                    Console.WriteLine($"| {runners} runner(s) × ThrottleLimit {throttle}, {items} items of 1 s | {elapsed.TotalSeconds:0.0} s | **{done / elapsed.TotalSeconds:0.0} items/s** | ideal {runners * throttle / 1.0:0} items/s |");
                }
            }

            // The store's cost: the same 2,000 instant jobs, one runner, without and with the store.
            using (var sandbox = ChildSandbox.Start())
            {
                var plain = await Measure(sandbox, null, 2000);
                var shared = await Measure(sandbox, store, 2000);
                Console.WriteLine($"| store overhead, 2,000 instant jobs, ThrottleLimit 16 | no store: {plain.Elapsed.TotalSeconds:0.0} s, {plain.Cpu.TotalMilliseconds * 1000 / 2000:0} µs CPU/item | store: {shared.Elapsed.TotalSeconds:0.0} s, {shared.Cpu.TotalMilliseconds * 1000 / 2000:0} µs CPU/item | **+{(shared.Elapsed - plain.Elapsed).TotalMilliseconds / 2000:0.00} ms wall, +{(shared.Cpu - plain.Cpu).TotalMilliseconds * 1000 / 2000:0} µs CPU per item** |");
            }
        }
        finally
        {
            if (dir is not null) Bash($"\"{script}\" stop {dir}");
        }

        return 0;
    }

    private static AbstraktClient Client(ChildSandbox sandbox) => new(new AbstraktClientOptions { Endpoint = sandbox.Uri, ApiKey = sandbox.ApiKey, MaxConnections = 256 });

    private static IEnumerable<WorkItem> Items(int n) => Enumerable.Range(1, n).Select(i => new WorkItem(i, "distributed prompt " + i));

    private static async Task<(TimeSpan Elapsed, long Done)> Shared(ChildSandbox sandbox, string store, int runners, int throttle, int items)
    {
        var name = "bench" + Guid.NewGuid().ToString("N")[..8];
        var clients = Enumerable.Range(0, runners).Select(_ => Client(sandbox)).ToList();
        var watch = Stopwatch.StartNew();
        var done = await Task.WhenAll(clients.Select(c => Task.Run(async () =>
        {
            long n = 0;
            await foreach (var e in BatchRun.RunAsync(c, new BatchOptions { Store = store, BatchName = name, ThrottleLimit = throttle }, Items(items)))
            {
                if (e is ItemCompleted) n++;
            }

            return n;
        })));
        watch.Stop();
        clients.ForEach(c => c.Dispose());
        return (watch.Elapsed, done.Sum());
    }

    private static async Task<(TimeSpan Elapsed, TimeSpan Cpu)> Measure(ChildSandbox sandbox, string? store, int n)
    {
        using var client = Client(sandbox);
        var options = new BatchOptions { ThrottleLimit = 16, Store = store, BatchName = store is null ? null : "overhead" + Guid.NewGuid().ToString("N")[..8] };
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        await foreach (var _ in BatchRun.RunAsync(client, options, Items(n)))
        {
        }

        watch.Stop();
        process.Refresh();
        return (watch.Elapsed, process.TotalProcessorTime - cpu);
    }

    private static (int Code, string Output) Bash(string arguments)
    {
        var info = new ProcessStartInfo("bash", arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
