using System.Diagnostics;
using System.Globalization;
using Abstrakt.Engine;

namespace Abstrakt.Bench;

/// <summary>
/// Issue 18, step 7: the file store at scale, in real pwsh, each run a child pwsh as a user starts it
/// (<c>Start-AbstraktBatch -InputFile ... -JournalPath ... | Out-Null</c>) against a sandbox of its own in another child,
/// latency 0.
/// <list type="number">
/// <item>Fresh: n prompts streamed from a file, journaled, to the end. Its peak working set is the yardstick.</item>
/// <item>Resume, all journaled (three times, each from a copy of that journal): the same file with new prompts after
/// them, -Resume. Every one of the n results is read back and reaches the pipeline before the first new prompt is sent:
/// the most a resume replays.</item>
/// <item>Resume, stopped half-way: another fresh run stopped by <c>Select-Object -First (n/2)</c> (the engine cancels
/// what is in flight, as Ctrl+C does), then resumed with the same file: it replays the first half and runs the rest
/// (once to the end for its peak, twice more to its first request).</item>
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
        const int repeats = 3;
        var dir = Path.Combine(Path.GetTempPath(), $"abstrakt-bench-resume-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            var prompts = Path.Combine(dir, "prompts.txt");
            var more = Path.Combine(dir, "prompts-and-more.txt");
            File.WriteAllLines(prompts, Enumerable.Range(1, n).Select(Prompt));
            File.WriteAllLines(more, Enumerable.Range(1, n + extra).Select(Prompt));
            ChildRun Child(string input, string journal, bool resume, int? stopAfter = null, bool untilFirstCreate = false) =>
                RunChild(moduleRoot, repoRoot, n + extra, input, journal, resume, stopAfter, untilFirstCreate);

            var full = Path.Combine(dir, "full.jsonl");
            var fresh = Child(prompts, full, resume: false);
            Expect(fresh.Created == n, $"the fresh run created {fresh.Created} jobs, not {n}");
            var journalBytes = new FileInfo(full).Length;
            Report("fresh", fresh);

            // Each resume from the same journal (a copy of it: a resume appends), in a fresh pwsh and against a fresh sandbox.
            File.Move(full, full + ".done");
            var all = new List<ChildRun>();
            for (var i = 0; i < repeats; i++)
            {
                File.Copy(full + ".done", full, overwrite: true);
                var run = Child(more, full, resume: true);
                Expect(run.Created == extra, $"the resume created {run.Created} jobs, not {extra}");
                Report($"resume, all journaled ({i + 1})", run);
                all.Add(run);
            }

            var half = Path.Combine(dir, "half.jsonl");
            var stopped = Child(prompts, half, resume: false, stopAfter: n / 2);
            var done = Completed(half);
            Report($"stopped after {n / 2} ({done} completed in its journal)", stopped);
            File.Copy(half, half + ".stopped");
            var rest = new List<ChildRun> { Child(prompts, half, resume: true) };
            Expect(Completed(half) == n, $"after the resume {Completed(half)} of {n} are completed in the journal");
            Report("resume, the rest (1)", rest[0]);
            for (var i = 1; i < repeats; i++)
            {
                // Timed to the first new request only: the run is ended there.
                File.Copy(half + ".stopped", half, overwrite: true);
                rest.Add(Child(prompts, half, resume: true, untilFirstCreate: true));
                Report($"resume, the rest ({i + 1}, to the first request)", rest[i]);
            }

            string Ratio(long peak) => ((double)peak / fresh.Peak).ToString("0.00", CultureInfo.InvariantCulture);
            string Times(List<ChildRun> runs) => FormattableString.Invariant(
                $"**{Median(runs.Select(r => r.ToFirstCreate.TotalSeconds)):0.0} s** (median of {runs.Count}, {runs.Min(r => r.ToFirstCreate.TotalSeconds):0.0}-{runs.Max(r => r.ToFirstCreate.TotalSeconds):0.0} s)");
            bool Met(long peak, List<ChildRun> runs) => (double)peak / fresh.Peak <= 1.3 && Median(runs.Select(r => r.ToFirstCreate.TotalSeconds)) <= 15;
            var allPeak = all.Max(r => r.Peak);
            var setup = $"{n:N0} prompts streamed from a file (-InputFile), journaled (-JournalPath, {journalBytes / 1048576.0:0} MB when all are done), latency 0, ThrottleLimit 64, each run a child pwsh against a sandbox of its own; the fresh run peaked at **{Mb(fresh.Peak)} MB** ({fresh.Total.TotalSeconds:0} s)";
            return new[]
            {
                new Row(
                    "9a. Resume, all journaled",
                    setup + $"; resumed with the same file and {extra:N0} new prompts after it, so all {n:N0} results are read back and written to the pipeline first",
                    $"peak **{Mb(allPeak)} MB** (highest of {all.Count}) = **{Ratio(allPeak)}×** the fresh run's; first new request {Times(all)} after the resuming pwsh started, {all.Average(r => r.ToBatchStart.TotalSeconds):0.0} s of it pwsh, module and connect",
                    "≤ 1.3×, ≤ 15 s",
                    Met(allPeak, all) ? "met" : "missed"),
                new Row(
                    "9b. Resume, stopped half-way",
                    setup + $"; another run stopped by Select-Object -First {n / 2:N0} ({done:N0} completed in its journal, what was in flight cancelled), resumed with the same file",
                    $"peak **{Mb(rest[0].Peak)} MB** = **{Ratio(rest[0].Peak)}×** the fresh run's, running the other {rest[0].Created:N0} ({rest[0].Total.TotalSeconds:0} s in all); first new request {Times(rest)}",
                    "≤ 1.3×, ≤ 15 s",
                    Met(rest[0].Peak, rest) ? "met" : "missed"),
            };
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
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

    /// <summary>
    /// One batch in a fresh pwsh, as a user runs it, against a sandbox of its own: its create counter says when the first
    /// create arrived, and its stats stay small (they list every prompt charged, so a sandbox that ran a million items
    /// takes long to answer them and the polling would weigh on the run it times).
    /// </summary>
    private static ChildRun RunChild(string moduleRoot, string repoRoot, int credits, string input, string journal, bool resume, int? stopAfter, bool untilFirstCreate)
    {
        using var sandbox = ChildSandbox.Start($"credits={10L * credits}");
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
        while (stopAfter is null && !child.HasExited && firstCreate is null)
        {
            if (sandbox.Stats().GetProperty("jobs_created").GetInt64() > created0) firstCreate = clock.Elapsed;
            else Thread.Sleep(20);
        }

        if (untilFirstCreate)
        {
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
            return new ChildRun(0, firstCreate ?? clock.Elapsed, TimeSpan.Zero, clock.Elapsed, 1, $"{load} → {LoadAverage()}");
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
