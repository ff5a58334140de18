using System.Management.Automation;
using System.Management.Automation.Runspaces;
using Abstrakt.Host;

// Usage: dotnet run --project tools/Abstrakt.Host -- <script.ps1> | -Command "<script>"
// Runs the script in the real PowerShell engine with ./Abstrakt.psd1 imported, for machines without pwsh.
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: Abstrakt.Host <script.ps1> | -Command <script>");
    return 2;
}

var script = args[0] is "-Command" or "-c" ? string.Join(' ', args.Skip(1)) : File.ReadAllText(args[0]);
var repoRoot = FindRepoRoot();
Directory.SetCurrentDirectory(repoRoot);

var host = new ConsoleHost();
var state = InitialSessionState.CreateDefault2();
state.ImportPSModule(Path.Combine(repoRoot, "Abstrakt.psd1"));
using var runspace = RunspaceFactory.CreateRunspace(host, state);
runspace.Open();
using var ps = PowerShell.Create();
ps.Runspace = runspace;
ps.AddScript(script).AddCommand("Out-Default");
ps.Commands.Commands[0].MergeMyResults(PipelineResultTypes.Error, PipelineResultTypes.Output);
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    ps.BeginStop(null, null);
};

try
{
    ps.Invoke();
}
catch (RuntimeException ex)
{
    Console.Error.WriteLine(ex.ErrorRecord.ToString());
    Console.Error.WriteLine($"    + FullyQualifiedErrorId : {ex.ErrorRecord.FullyQualifiedErrorId}");
    return 1;
}

return ps.HadErrors ? 1 : 0;

static string FindRepoRoot()
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
