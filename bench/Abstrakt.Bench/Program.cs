using System.Runtime.InteropServices;
using Abstrakt.Bench;
using BenchmarkDotNet.Running;

// dotnet run --project bench/Abstrakt.Bench -c Release            whole-batch scenarios -> docs/benchmarks.md
// dotnet run --project bench/Abstrakt.Bench -c Release -- -micro  BenchmarkDotNet micro-benchmarks
// dotnet run --project bench/Abstrakt.Bench -c Release -- distributed  the shared store (docs/distributed.md)
switch (args.FirstOrDefault())
{
    case "serve":
        return ChildSandbox.Serve(args[1..]);
    case "scale-run":
        return await Scenarios.ScaleRunAsync(int.Parse(args[1]), new Uri(args[2]), args[3]);
    case "distributed":
        return await Distributed.RunAsync(FindRepoRoot());
    case "-micro":
        BenchmarkSwitcher.FromAssembly(typeof(Micro).Assembly).Run(args[1..]);
        return 0;
}

var root = FindRepoRoot();
var rows = new List<Row>();
async Task Add(Func<Task<Row>> scenario)
{
    var row = await scenario();
    rows.Add(row);
    Console.WriteLine($"{row.Scenario}: {row.Measured.Replace("**", "", StringComparison.Ordinal)} [{row.Verdict}]");
}

await Add(Scenarios.ThroughputAsync);
await Add(Scenarios.OverheadEngineAsync);
await Add(() => Task.FromResult(Scenarios.OverheadHosted(root)));
await Add(() => Task.FromResult(Scenarios.Scale()));
await Add(Scenarios.RateLimitAsync);
await Add(Scenarios.RetryStormAsync);
await Add(() => Task.FromResult(Scenarios.Stop(root)));

var lines = new List<string>
{
    "# Benchmarks",
    "",
    "Whole batches through the engine against the sandbox over real loopback HTTP, with deterministic latency.",
    "The sandbox runs in a child process, so the figures are the client's alone. Reproduce with:",
    "",
    "    dotnet run --project bench/Abstrakt.Bench -c Release",
    "",
    $"Measured {DateTime.UtcNow:yyyy-MM-dd} on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.ProcessArchitecture}).",
    "",
    "| scenario | setup | measured | target | |",
    "|---|---|---|---|---|",
};
lines.AddRange(rows.Select(r => $"| {r.Scenario} | {r.Setup} | {r.Measured} | {r.Target} | {r.Verdict} |"));
lines.Add("");
lines.Add("Ideal times: N×L/T for latency-bound runs; N/R minutes (time-scaled) under a rate limit R per minute.");
lines.Add("Scenario 4 at time scale 0.05 (a 3 s minute) measured 2.9-3.9% of requests answered 429 on this 2-core machine: the rate gate keeps a 2% margin of the window (60 ms there), less than the scheduling jitter between the gate and the sandbox's clock under full load; with a real 60 s window that margin is 1.2 s.");
lines.Add("Micro-benchmarks (webhook signature, job parsing, work items): `dotnet run --project bench/Abstrakt.Bench -c Release -- -micro`.");
File.WriteAllLines(Path.Combine(root, "docs", "benchmarks.md"), lines);
Console.WriteLine("wrote docs/benchmarks.md");
return 0;

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Abstrakt.psd1"))) return dir.FullName;
    }

    throw new InvalidOperationException("Abstrakt.psd1 not found");
}
