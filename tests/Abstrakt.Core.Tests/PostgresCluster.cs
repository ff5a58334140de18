using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Abstrakt.Core.Tests;

/// <summary>
/// One throwaway PostgreSQL cluster for every test in the "PostgreSQL" collection, started by
/// tests/Shared/pg-cluster.sh (initdb into a temporary folder as an unprivileged user, a free loopback port)
/// and stopped and deleted at the end. ABSTRAKT_TEST_PG, a connection string, uses a server already running
/// instead. Where no PostgreSQL is found the tests fail and say so: none is skipped.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    private readonly string? _dir;

    public PostgresCluster()
    {
        if (Environment.GetEnvironmentVariable("ABSTRAKT_TEST_PG") is { Length: > 0 } given)
        {
            ConnectionString = given;
            return;
        }

        var script = FindScript();
        string? failure = null;
        for (var attempt = 0; attempt < 3 && ConnectionString is null; attempt++)
        {
            var (code, output, errors) = Run(script, "start " + FreePort());
            if (code == 3)
            {
                throw new InvalidOperationException("No PostgreSQL found, so the PostgreSQL tests fail (they are never skipped): " + errors.Trim() +
                    " Install PostgreSQL (Debian: apt-get install postgresql) or set ABSTRAKT_TEST_PG to a connection string.");
            }

            if (code == 0)
            {
                var parts = output.Trim().Split('\t');
                _dir = parts[0];
                ConnectionString = parts[1];
            }
            else
            {
                failure = errors; // most likely the port was taken meanwhile: try another
            }
        }

        if (ConnectionString is null)
        {
            throw new InvalidOperationException("The test PostgreSQL cluster did not start: " + failure);
        }
    }

    /// <summary>The cluster's default database, as the abstrakt superuser.</summary>
    public string? ConnectionString { get; private set; }

    /// <summary>A new, empty database (for a test that needs the schema made from nothing).</summary>
    public string CreateDatabase()
    {
        var name = "t" + Guid.NewGuid().ToString("N").Substring(0, 12);
        using (var db = NpgsqlDataSource.Create(ConnectionString!))
        using (var command = db.CreateCommand("CREATE DATABASE " + name))
        {
            command.ExecuteNonQuery();
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    public void Dispose()
    {
        NpgsqlConnection.ClearAllPools();
        if (_dir is not null)
        {
            Run(FindScript(), "stop " + _dir);
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Shared", "pg-cluster.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("tests/Shared/pg-cluster.sh not found above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Output, string Errors) Run(string script, string arguments)
    {
        var info = new ProcessStartInfo("bash", $"\"{script}\" {arguments}") { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result, errors.Result);
    }
}

[CollectionDefinition("PostgreSQL")]
public sealed class PostgresCollection : ICollectionFixture<PostgresCluster>
{
}
