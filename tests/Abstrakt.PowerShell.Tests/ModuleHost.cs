using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace Abstrakt.PowerShell.Tests;

/// <summary>What one script run produced, stream by stream.</summary>
public sealed class ScriptRun
{
    public required Collection<PSObject> Output { get; init; }
    public required IReadOnlyList<ErrorRecord> Errors { get; init; }
    public required IReadOnlyList<WarningRecord> Warnings { get; init; }
    public required IReadOnlyList<VerboseRecord> Verbose { get; init; }
    public required IReadOnlyList<DebugRecord> Debug { get; init; }
    public required IReadOnlyList<ProgressRecord> Progress { get; init; }
    public required IReadOnlyList<InformationRecord> Information { get; init; }

    /// <summary>The terminating error that ended the script, if any.</summary>
    public RuntimeException? Terminating { get; init; }

    /// <summary>Every error the run produced: non-terminating ones, then the terminating one.</summary>
    public IEnumerable<ErrorRecord> AllErrors =>
        Terminating?.ErrorRecord is { } record ? Errors.Append(record) : Errors;

    public IEnumerable<T> Objects<T>() => Output.Select(o => o.BaseObject).OfType<T>();
}

/// <summary>
/// Runs scripts in the real PowerShell engine with ./Abstrakt.psd1 imported from the repository
/// root, exactly as a user does after a build.
/// </summary>
public static class ModuleHost
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ManifestPath => Path.Combine(RepoRoot, "Abstrakt.psd1");

    /// <summary>Creates a runspace with the module imported and the given variables set.</summary>
    public static Runspace OpenRunspace(IReadOnlyDictionary<string, object?>? variables = null)
    {
        var state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(ManifestPath);
        // Tests never wait on the real service: no key leaks in from the machine's environment.
        state.EnvironmentVariables.Add(new SessionStateVariableEntry("ABSTRAKT_API_KEY", string.Empty, null));
        foreach (var (name, value) in variables ?? new Dictionary<string, object?>())
        {
            state.Variables.Add(new SessionStateVariableEntry(name, value, null));
        }

        var runspace = RunspaceFactory.CreateRunspace(state);
        runspace.Open();
        return runspace;
    }

    /// <summary>Runs <paramref name="script"/> in a fresh runspace and collects every stream.</summary>
    public static ScriptRun Run(string script, IReadOnlyDictionary<string, object?>? variables = null)
    {
        using var runspace = OpenRunspace(variables);
        return Run(runspace, script);
    }

    /// <summary>Runs <paramref name="script"/> in an open runspace (to keep session state between runs).</summary>
    public static ScriptRun Run(Runspace runspace, string script)
    {
        using var ps = System.Management.Automation.PowerShell.Create();
        ps.Runspace = runspace;
        ps.AddScript(script);
        return Collect(ps, () => ps.Invoke());
    }

    /// <summary>Collects the streams of an already configured PowerShell instance around <paramref name="invoke"/>.</summary>
    public static ScriptRun Collect(System.Management.Automation.PowerShell ps, Func<Collection<PSObject>> invoke)
    {
        Collection<PSObject> output;
        RuntimeException? terminating = null;
        try
        {
            output = invoke();
        }
        catch (RuntimeException ex)
        {
            output = [];
            terminating = ex;
        }

        return new ScriptRun
        {
            Output = output,
            Errors = ps.Streams.Error.ToList(),
            Warnings = ps.Streams.Warning.ToList(),
            Verbose = ps.Streams.Verbose.ToList(),
            Debug = ps.Streams.Debug.ToList(),
            Progress = ps.Streams.Progress.ToList(),
            Information = ps.Streams.Information.ToList(),
            Terminating = terminating,
        };
    }

    /// <summary>A script function, Stats, that reads the counters of the sandbox in $sb (GET /_sandbox/stats).</summary>
    public const string SandboxStatsFunction = "function Stats { [System.Text.Json.JsonDocument]::Parse([Net.Http.HttpClient]::new().GetStringAsync(\"$($sb.Uri)_sandbox/stats\").Result).RootElement }\n";

    /// <summary>An http://127.0.0.1:port/hooks/ listener prefix on a port that was free a moment ago.</summary>
    public static string FreeLoopbackPrefix()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return $"http://127.0.0.1:{port}/hooks/";
    }

    /// <summary>A fresh, empty directory for one test's files.</summary>
    public static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "abstrakt-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Abstrakt.psd1")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Abstrakt.psd1 not found above " + AppContext.BaseDirectory);
    }
}
