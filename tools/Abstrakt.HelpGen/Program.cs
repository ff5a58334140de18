using System.Management.Automation;
using Abstrakt.HelpGen;

// Usage: Abstrakt.HelpGen <docs> <en-US>: docs/cmdlets/*.md become <en-US>/Abstrakt.PowerShell.dll-Help.xml,
// and docs/about_*.help.txt are copied beside it.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Abstrakt.HelpGen <docs folder> <output culture folder>");
    return 2;
}

var cmdlets = typeof(Abstrakt.PowerShell.Commands.StartAbstraktBatchCommand).Assembly.GetExportedTypes()
    .Where(t => !t.IsAbstract && t.IsDefined(typeof(CmdletAttribute), false))
    .OrderBy(t => t.Name, StringComparer.Ordinal)
    .ToList();

var problems = MamlWriter.Write(cmdlets, Path.Combine(args[0], "cmdlets"), Path.Combine(args[1], "Abstrakt.PowerShell.dll-Help.xml"));
foreach (var about in Directory.GetFiles(args[0], "about_*.help.txt"))
{
    File.Copy(about, Path.Combine(args[1], Path.GetFileName(about)), overwrite: true);
}
foreach (var problem in problems)
{
    // MSBuild shows lines in this form as build errors.
    Console.Error.WriteLine($"docs/cmdlets : error HELP001: {problem}");
}

return problems.Count == 0 ? 0 : 1;
