using System.Diagnostics;
using System.Globalization;
using Abstrakt.Engine;

namespace Abstrakt.Bench;

/// <summary>
/// Issue 18, step 7: the file store at scale, in real pwsh, each run a child pwsh as a user starts it
/// (<c>Start-AbstraktBatch -InputFile ... -JournalPath ... | Out-Null</c>) against a sandbox in another child, latency 0.
/// <list type="number">
/// <item>Fresh: n prompts streamed from a file, journaled, to the end. Its peak working set is the yardstick.</item>
/// <item>Resume, all journaled: the same file with new prompts after them, -Resume. Every one of the n results is read
/// back and reaches the pipeline before the first new prompt is sent: the most a resume replays.</item>
/// <item>Resume, stopped half-way: a second fresh run stopped by <c>Select-Object -First (n/2)</c> (the engine cancels
/// what is in flight, as Ctrl+C does), then resumed with the same file: it replays the first half and runs the rest.</item>
/// </list>
/// Peak working set is the child's own (Process.PeakWorkingSet64, printed by the child as it ends). The time to the first
/// new request runs from the resuming child's start (pwsh, module import and connect included) to the sandbox's first
/// create, read from the sandbox's counters every 20 ms.
/// </summary>
internal static class ResumeBench
{
    private sealed record ChildRun(long Peak, TimeSpan ToFirstCreate, TimeSpan ToBatchStart, TimeSpan Total, long Created, string Load);

    /// <param name="repoRoot">The repository.</param>
    /// <param name="n">Items in the fresh run.</param>
    /// <param name="extra">New items after them in the first resume's input.</param>
    /// <param name="moduleRoot">Where Abstrakt.psd1 is staged (the repository's by default; another copy to compare a build).</param>
    public static IReadOnlyList<Row> Run(string repoRoot, int n, int extra, string? moduleRoot = null)
    {
        moduleRoot ??= repoRoot;
        // Credits for every item of every run (the sandbox's key holds 1,000,000 by default).
        using var sandbox = ChildSandbox.Start($"credits={10L * (n + extra)}");
        var dir = Path.Combine(Path.GetTempPath(), $"abstrakt-bench-resume-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            var prompts = Path.Combine(dir, "prompts.txt");
            var more = Path.Combine(dir, "prompts-and-more.txt");
            File.WriteAllLines(prompts, Enumerable.Range(1, n).Select(Prompt));
            File.WriteAllLines(more, Enumerable.Range(1, n + extra).Select(Prompt));

            var full = Path.Combine(dir, "full.jsonl");
            var fresh = RunChild(moduleRoot, repoRoot, sandbox, prompts, full, resume: false);
            Expect(fresh.Created == n, $"the fresh run created {fresh.Created} jobs, not {n}");
            var journalBytes = new FileInfo(full).Length;
            Report("fresh", fresh);

            var all = RunChild(moduleRoot, repoRoot, sandbox, more, full, resume: true);
            Expect(all.Created == extra, $"the resume created {all.Created} jobs, not {extra}");
            Report("resume, all journaled", all);

            var half = Path.Combine(dir, "half.jsonl");
            var stopped = RunChild(moduleRoot, repoRoot, sandbox, prompts, half, resume: false, stopAfter: n / 2, watch: false);
            var done = Completed(half);
            Report($"stopped after {n / 2} ({done} completed in its journal)", stopped);
            var rest = RunChild(moduleRoot, repoRoot, sandbox, prompts, half, resume: true);
            Expect(Completed(half) == n, $"after the resume {Completed(half)} of {n} are completed in the journal");
            Report("resume, the rest", rest);

            string Ratio(ChildRun r) => ((double)r.Peak / fresh.Peak).ToString("0.00", CultureInfo.InvariantCulture);
            bool Met(ChildRun r) => (double)r.Peak / fresh.Peak <= 1.3 && r.ToFirstCreate <= TimeSpan.FromSeconds(15);
            var setup = $"{n:N0} prompts streamed from a file (-InputFile), journaled (-JournalPath, {journalBytes / 1048576.0:0} MB when all are done), latency 0, ThrottleLimit 64, each run a child pwsh; the fresh run peaked at **{Mb(fresh.Peak)} MB** ({fresh.Total.TotalSeconds:0} s)";
            return new[]
            {
                new Row(
                    "9a. Resume, all journaled",
                    setup + $"; resumed with the same file and {extra:N0} new prompts after it: all {n:N0} results replayed first",
                    $"peak **{Mb(all.Peak)} MB** = **{Ratio(all)}×** the fresh run's; first new request **{all.ToFirstCreate.TotalSeconds:0.0} s** after the resuming pwsh started ({all.ToBatchStart.TotalSeconds:0.0} s of it pwsh, module and connect); {all.Total.TotalSeconds:0.0} s in all",
                    "≤ 1.3×, ≤ 15 s",
                    Met(all) ? "met" : "missed"),
                new Row(
                    "9b. Resume, stopped half-way",
                    setup + $"; another run stopped by Select-Object -First {n / 2:N0} ({done:N0} completed in its journal, what was in flight cancelled), resumed with the same file",
                    $"peak **{Mb(rest.Peak)} MB** = **{Ratio(rest)}×** the fresh run's; first new request **{rest.ToFirstCreate.TotalSeconds:0.0} s** after the resuming pwsh started; {rest.Created:N0} created, {rest.Total.TotalSeconds:0} s in all",
                    "≤ 1.3×, ≤ 15 s",
                    Met(rest) ? "met" : "missed"),
            };
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Expect(bool condition, string otherwise)
    {
        if (!condition) throw new InvalidOperationException(otherwise);
    }

    private static void Report(string what, ChildRun r) => Console.WriteLine(
        $"{what}: peak {Mb(r.Peak)} MB, first create {r.ToFirstCreate.TotalSeconds:0.0} s (pwsh, module, connect {r.ToBatchStart.TotalSeconds:0.0} s), {r.Total.TotalSeconds:0.0} s in all, {r.Created} created; load average {r.Load}");

    /// <summary>How many items the journal records as completed (read with the index a resume uses, after the runs).</summary>
    private static long Completed(string journal)
    {
        using var index = JournalIndex.Read(journal);
        return index.All().LongCount(e => e.State == "completed");
    }

    private static string Prompt(int i) => "streamed benchmark prompt number " + i.ToString(CultureInfo.InvariantCulture);

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0", CultureInfo.InvariantCulture);

    private static string Quote(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>One batch in a fresh pwsh, as a user runs it; the sandbox's create counter says when its first create arrived.</summary>
    private static ChildRun RunChild(string moduleRoot, string repoRoot, ChildSandbox sandbox, string input, string journal, bool resume, int? stopAfter = null, bool watch = true)
    {
        var script = string.Join("; ",
            "$ErrorActionPreference = 'Stop'",
            $"Import-Module {Quote(Path.Combine(moduleRoot, "Abstrakt.psd1"))}",
            $"Connect-Abstrakt -Endpoint {Quote(sandbox.Uri.ToString())} -SkipCheck",
            "[Console]::Out.WriteLine('START ' + [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds())",
            $"Start-AbstraktBatch -InputFile {Quote(input)} -JournalPath {Quote(journal)}{(resume ? " -Resume" : string.Empty)} -ThrottleLimit 64{(stopAfter is int first ? $" | Select-Object -First {first}" : string.Empty)} | Out-Null",
            "[Console]::Out.WriteLine('PEAK ' + [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64)");
        // pwsh as this repository's .NET tool (dotnet pwsh), run from the repository so the tool manifest is found.
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = repoRoot };
        foreach (var a in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-Command", script }) start.ArgumentList.Add(a);
        // The sandbox's key reaches the child through the variable Connect-Abstrakt reads, never its command line.
        start.Environment["ABSTRAKT_API_KEY"] = sandbox.ApiKey.Reveal();
        var load = LoadAverage();
        var created0 = sandbox.Stats().GetProperty("jobs_created").GetInt64();
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        using var child = Process.Start(start)!;
        var output = child.StandardOutput.ReadToEndAsync();
        TimeSpan? firstCreate = null;
        while (watch && !child.HasExited && firstCreate is null)
        {
            if (sandbox.Stats().GetProperty("jobs_created").GetInt64() > created0) firstCreate = clock.Elapsed;
            else Thread.Sleep(20);
        }

        child.WaitForExit();
        var total = clock.Elapsed;
        var lines = output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var peak = lines.FirstOrDefault(l => l.StartsWith("PEAK ", StringComparison.Ordinal)) ?? throw new InvalidOperationException("the child failed: " + output.Result);
        var batchStart = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(lines.First(l => l.StartsWith("START ", StringComparison.Ordinal))[6..], CultureInfo.InvariantCulture));
        var created = sandbox.Stats().GetProperty("jobs_created").GetInt64() - created0;
        return new ChildRun(long.Parse(peak[5..], CultureInfo.InvariantCulture), firstCreate ?? total, batchStart - started, total, created, $"{load} → {LoadAverage()}");
    }
}
