using System.Diagnostics;
using System.Runtime.InteropServices;
using Xunit;

namespace Abstrakt.Tests.Shared;

/// <summary>A fact that runs where a test may mount a tmpfs: Linux, as root (as CI runs).</summary>
public sealed class LinuxRootFactAttribute : FactAttribute
{
    public LinuxRootFactAttribute()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || Environment.UserName != "root")
        {
            Skip = "needs Linux and root to mount a tmpfs";
        }
    }
}

/// <summary>A small tmpfs, so a test can fill a real filesystem: ENOSPC as a user's full disk gives it.</summary>
public sealed class Tmpfs : IDisposable
{
    public Tmpfs(string directory, string size)
    {
        Directory.CreateDirectory(directory);
        Run("mount", $"-t tmpfs -o size={size} tmpfs {directory}");
        Path = directory;
    }

    public string Path { get; }

    public void Dispose() => Run("umount", "-l " + Path);

    private static void Run(string command, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{command} {arguments}: {error}");
    }
}
