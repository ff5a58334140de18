using Abstrakt.Api;
using Abstrakt.Engine;
using Abstrakt.Sandbox;
using Abstrakt.Store;
using Npgsql;

namespace Abstrakt.Core.Tests;

/// <summary>The PostgreSQL store against a real PostgreSQL (the collection's throwaway cluster) and the sandbox over HTTP.</summary>
[Collection("PostgreSQL")]
public sealed class SharedBatchTests
{
    private readonly PostgresCluster _pg;

    public SharedBatchTests(PostgresCluster pg) => _pg = pg;

    private static AbstraktClient ClientFor(SandboxServer sandbox) => new(new AbstraktClientOptions
    {
        Endpoint = sandbox.Uri,
        ApiKey = sandbox.ApiKey,
        PollInitialDelay = TimeSpan.FromMilliseconds(20),
        PollMaxDelay = TimeSpan.FromMilliseconds(100),
    });

    private static IEnumerable<WorkItem> Prompts(int count) => Enumerable.Range(1, count).Select(i => new WorkItem(i, "shared prompt " + i));

    private static string NewName() => "b" + Guid.NewGuid().ToString("N").Substring(0, 10);

    private BatchOptions Shared(string name, int throttle = 4, TimeSpan? lease = null) =>
        new() { Store = _pg.ConnectionString!, BatchName = name, ThrottleLimit = throttle, LeaseTime = lease ?? TimeSpan.FromSeconds(30) };

    private static async Task<List<BatchEvent>> Collect(AbstraktClient client, BatchOptions options, IEnumerable<WorkItem> items, CancellationToken token = default)
    {
        var events = new List<BatchEvent>();
        await foreach (var e in BatchRun.RunAsync(client, options, items, token))
        {
            events.Add(e);
        }

        return events;
    }

    /// <summary>What Import-AbstraktBatch does: <paramref name="count"/> items loaded into a new batch.</summary>
    private void Import(string name, int count)
    {
        var batch = SharedBatch.Open(_pg.ConnectionString!, name);
        batch.Create("flux-schnell");
        foreach (var item in Prompts(count))
        {
            batch.Add(item);
        }

        batch.CompleteLoad();
    }

    private T Scalar<T>(string sql, params object[] values)
    {
        using var db = NpgsqlDataSource.Create(_pg.ConnectionString!);
        using var command = db.CreateCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return (T)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task Open_TwoRunnersOnAnEmptyDatabase_CreateTheSchemaOnceAndRecordItsVersions()
    {
        var database = _pg.CreateDatabase();
        var opens = Enumerable.Range(0, 2).Select(_ => Task.Run(() => SharedBatch.Open(database, "schema")));
        await Task.WhenAll(opens);

        using var db = NpgsqlDataSource.Create(database);
        using var command = db.CreateCommand("SELECT string_agg(version::text, ',') FROM abstrakt_schema_version");
        Assert.Equal("1,2", command.ExecuteScalar());
    }

    [Fact]
    public async Task Run_TwoRunnersGivenTheSameInput_LoadItOnceAndCompleteEveryItemOnce()
    {
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0.01, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var name = NewName();

        var runners = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => Collect(client, Shared(name), Prompts(120)))));

        var completed = runners.SelectMany(r => r.OfType<ItemCompleted>()).ToList();
        Assert.Equal(120, completed.Count);
        Assert.Equal(120, completed.Select(c => c.Item.Index).Distinct().Count());
        Assert.Empty(runners.SelectMany(r => r.OfType<ItemFailed>()));
        Assert.Equal(120, sandbox.Stats.JobsCreated);
        Assert.Equal(120, sandbox.Stats.CreditsCharged);
        Assert.Equal(120L, Scalar<long>("SELECT count(*) FROM abstrakt_items WHERE batch = $1", name));
    }

    [Fact]
    public async Task Run_JobsLongerThanTheLease_RenewItSoNoItemIsClaimedTwice()
    {
        // Each job takes about a second; the lease is one second, renewed every third of it.
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0.5, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var name = NewName();

        var runners = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(() => Collect(client, Shared(name, throttle: 3, lease: TimeSpan.FromSeconds(1)), Prompts(12)))));

        Assert.Equal(12, runners.Sum(r => r.OfType<ItemCompleted>().Count()));
        Assert.Equal(12, sandbox.Stats.JobsCreated);
        Assert.Equal(12L, Scalar<long>("SELECT sum(claims) FROM abstrakt_items WHERE batch = $1", name));
    }

    [Fact]
    public async Task Run_ADeadRunnersItems_AreTakenOverByJobIdOrReportedAsOutcomeUnknown()
    {
        // What a runner killed mid-batch leaves: items claimed under leases that have run out, one with its job
        // recorded (created), one whose create was being sent (no job id), the rest never started.
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0.01, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var name = NewName();
        Import(name, 10);

        var recorded = await client.RunAsync(new RunRequest { Model = "flux-schnell", Input = new Dictionary<string, object?> { ["prompt"] = "shared prompt 1" }, Sync = false });
        Scalar<int>("WITH u AS (UPDATE abstrakt_items SET state = 'created', job_id = $2, runner = 'dead', lease_until = now() - interval '1 s' WHERE batch = $1 AND idx = 1 RETURNING 1) SELECT count(*)::int FROM u", name, recorded.JobId);
        Scalar<int>("WITH u AS (UPDATE abstrakt_items SET state = 'sending', runner = 'dead', lease_until = now() - interval '1 s' WHERE batch = $1 AND idx = 2 RETURNING 1) SELECT count(*)::int FROM u", name);

        var events = await Collect(client, Shared(name), Array.Empty<WorkItem>());

        var completed = events.OfType<ItemCompleted>().ToList();
        Assert.Equal(9, completed.Count);
        Assert.Equal(recorded.JobId, completed.Single(c => c.Item.Index == 1).JobId);
        var unknown = Assert.Single(events.OfType<ItemFailed>());
        Assert.Equal(2, unknown.Item.Index);
        Assert.Equal(ErrorCodes.OutcomeUnknown, unknown.Error.Code);
        Assert.Equal(1 + 8, sandbox.Stats.JobsCreated); // the recorded job, and one for each item never sent
        var status = SharedBatch.Open(_pg.ConnectionString!, name);
        var counts = status.GetStatus()!;
        Assert.Equal((10L, 9L, 0L, 1L, 0L), (counts.Total, counts.Done, counts.Failed, counts.OutcomeUnknown, counts.InFlight));
    }

    [Fact]
    public async Task RequestStop_WhileRunnersWork_StopsEachAndCancelsItsJobs()
    {
        // Video jobs take minutes at this scale: they are running when the stop comes.
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 1, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var name = NewName();
        var options = Shared(name, throttle: 2, lease: TimeSpan.FromSeconds(1));
        options.DefaultModel = "minimax-video";
        var runners = Enumerable.Range(0, 2).Select(_ => Task.Run(() => Collect(client, options, Enumerable.Range(1, 20).Select(i => new WorkItem(i, "clip " + i))))).ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (sandbox.Stats.JobsCreated < 4 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(4, sandbox.Stats.JobsCreated);
        Assert.True(SharedBatch.Open(_pg.ConnectionString!, name).RequestStop());

        await Task.WhenAll(runners).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(4, sandbox.Stats.JobsCancelled);
        Assert.Equal(0, sandbox.Stats.CreditsCharged);
        Assert.Equal(4L, Scalar<long>("SELECT count(*) FROM abstrakt_items WHERE batch = $1 AND state = 'cancelled'", name));
    }

    [Fact]
    public async Task Store_AUrlWithAPassword_NeverShowsThePassword()
    {
        const string password = "s3cret-Pa55word-xyz";
        var builder = new NpgsqlConnectionStringBuilder(_pg.ConnectionString!);
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0, Tier = SandboxTier.Unlimited });
        using var client = ClientFor(sandbox);
        var url = $"postgres://{builder.Username}:{password}@{builder.Host}:{builder.Port}/{builder.Database}";

        using (var run = BatchRun.Start(client, new BatchOptions { Store = url, BatchName = NewName() }))
        {
            run.CompleteInput();
            await run.Completion;
            Assert.DoesNotContain(password, run.StoreDescription, StringComparison.Ordinal);
            Assert.Contains(builder.Host!, run.StoreDescription, StringComparison.Ordinal);
        }

        // A server that is not there: the error names where, never the password.
        var nowhere = $"postgres://{builder.Username}:{password}@127.0.0.1:1/{builder.Database}";
        var ex = Assert.Throws<JournalException>(() => BatchRun.Start(client, new BatchOptions { Store = nowhere, BatchName = "x" }));
        Assert.Equal("StoreUnavailable", ex.ErrorId);
        Assert.DoesNotContain(password, ex.ToString(), StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SharedRate_FourRunnersOnOneKey_StayWithinThePlanTogether()
    {
        // The Pro plan, 100 requests a window, with the window scaled to 3 s: each runner alone paces to the
        // whole plan, so four that did not share would ask for four times what it allows.
        using var sandbox = SandboxServer.Start(new SandboxOptions { LatencyScale = 0.005, Tier = SandboxTier.Pro, TimeScale = 0.05 });
        var name = NewName();
        var clients = Enumerable.Range(0, 4).Select(_ => ClientFor(sandbox)).ToList();
        try
        {
            var runners = await Task.WhenAll(clients.Select(client => Task.Run(() => Collect(client, Shared(name, throttle: 8), Prompts(150)))));

            Assert.Equal(150, runners.Sum(r => r.OfType<ItemCompleted>().Count()));
            var stats = sandbox.Stats;
            Assert.True(stats.RateLimited < 0.02 * stats.RequestsTotal, $"{stats.RateLimited} of {stats.RequestsTotal} requests were refused with 429");
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Claim_OnABatchOfMany_TakesOneSmallGroup()
    {
        // A claim takes a group the runner's workers can start, leaving the rest to the other runners.
        var name = NewName();
        Import(name, 100);
        using var store = PostgresBatchStore.Open(_pg.ConnectionString!, name, "flux-schnell", TimeSpan.FromSeconds(30), concurrency: 4, TimeProvider.System);
        var input = System.Threading.Channels.Channel.CreateUnbounded<WorkItem>();
        input.Writer.Complete();

        var first = await store.NextAsync(input.Reader, CancellationToken.None);

        Assert.Equal(1, first!.Item.Index);
        Assert.Equal(4L, Scalar<long>("SELECT count(*) FROM abstrakt_items WHERE batch = $1 AND runner IS NOT NULL", name));
    }
}
