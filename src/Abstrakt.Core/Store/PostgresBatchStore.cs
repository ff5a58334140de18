using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Abstrakt.Engine;
using Abstrakt.Json;
using Npgsql;

namespace Abstrakt.Store
{
    /// <summary>
    /// One runner's view of a batch that many runners share in PostgreSQL. Items are loaded once (ON CONFLICT
    /// DO NOTHING, so runners given the same input load it together); runners claim small groups with
    /// SELECT ... FOR UPDATE SKIP LOCKED under a lease they renew while they work; a dead runner's leases
    /// expire and its items are claimed again with the job ids it recorded. Every write is made only while this
    /// runner still owns the item, so an item ends once.
    /// </summary>
    internal sealed class PostgresBatchStore : IBatchStore
    {
        private const int LoadChunk = 500;
        private readonly PostgresDb _db;
        private readonly string _name;
        private readonly string _runner;
        private readonly TimeSpan _lease;
        private readonly int _group;
        private readonly TimeProvider _time;
        private readonly bool _loadedAtOpen;
        private readonly bool _createdByUs;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly CancellationTokenSource _closing = new CancellationTokenSource();
        private readonly ConcurrentQueue<StoredWork> _claimed = new ConcurrentQueue<StoredWork>();
        private readonly SemaphoreSlim _claiming = new SemaphoreSlim(1, 1);
        private readonly object _loaderLock = new object();
        private readonly Task _renewer;
        private Task? _loader;
        private long _loadedCount;
        private volatile bool _inputDone;
        private volatile bool _finished;
        private int _disposed;

        private PostgresBatchStore(PostgresDb db, string name, string description, (string BatchId, bool Loaded, bool Created) batch, TimeSpan lease, int concurrency, TimeProvider time)
        {
            _db = db;
            _name = name;
            Description = description;
            BatchId = batch.BatchId;
            _loadedAtOpen = batch.Loaded;
            _createdByUs = batch.Created;
            _lease = lease;
            _group = Math.Max(1, Math.Min(concurrency, 8));
            _time = time;
            StopRequested = _stop.Token;
            using (var self = Process.GetCurrentProcess())
            {
                _runner = Environment.MachineName + ":" + self.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + Guid.NewGuid().ToString("N").Substring(0, 6);
                _db.Execute("INSERT INTO abstrakt_runners (batch, runner, host, pid) VALUES (@b, @r, @h, @p)", Ids(("h", Environment.MachineName), ("p", self.Id)));
            }

            _renewer = Task.Run(RenewAsync);
        }

        public string BatchId { get; }

        public string? Description { get; }

        public bool ResumedNothing => false;

        public bool Shared => true;

        public CancellationToken StopRequested { get; }

        /// <summary>Opens (creating when needed) the schema and the batch <paramref name="name"/>, and registers this runner.</summary>
        public static PostgresBatchStore Open(string store, string name, string model, TimeSpan lease, int concurrency, TimeProvider time)
        {
            var description = PostgresConnection.Describe(store) + ", batch '" + name + "'";
            try
            {
                var db = PostgresConnection.Open(store);
                PostgresSchema.Ensure(db);
                var batch = OpenBatch(db, name, model);
                return new PostgresBatchStore(db, name, description, batch, lease, concurrency, time);
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
            {
                throw PostgresConnection.Unavailable(store, ex);
            }
        }

        /// <summary>The batch's row, created when missing; a batch made for another model is refused.</summary>
        internal static (string BatchId, bool Loaded, bool Created) OpenBatch(PostgresDb db, string name, string model)
        {
            // A runner making the same batch at the same moment commits a row this statement's snapshot cannot
            // see: ON CONFLICT skips, the SELECT finds nothing. The next statement sees it.
            var row = Enumerable.Range(0, 3).Select(_ => db.Query(
                "WITH made AS (INSERT INTO abstrakt_batches (name, batch_id, model) VALUES (@n, @id, @m) ON CONFLICT (name) DO NOTHING RETURNING batch_id) " +
                "SELECT b.batch_id, b.model, b.loaded, false FROM abstrakt_batches b WHERE b.name = @n " +
                "UNION ALL SELECT batch_id, @m, false, true FROM made",
                r => (BatchId: r.GetString(0), Model: r.GetString(1), Loaded: r.GetBoolean(2), Created: r.GetBoolean(3)),
                ("n", name),
                ("id", Guid.NewGuid().ToString("N")),
                ("m", model)).FirstOrDefault()).First(r => r.BatchId is not null);
            if (!string.Equals(row.Model, model, StringComparison.OrdinalIgnoreCase))
            {
                throw new JournalException($"The batch '{name}' was made for model '{row.Model}', not '{model}'. Join it with -Model {row.Model}.", "JournalDiffers");
            }

            return (row.BatchId, row.Loaded, row.Created);
        }

        public async ValueTask<StoredWork?> NextAsync(ChannelReader<WorkItem> input, CancellationToken cancellationToken)
        {
            lock (_loaderLock)
            {
                _loader ??= Task.Run(() => LoadAsync(input, cancellationToken));
            }

            while (!_finished)
            {
                if (_claimed.TryDequeue(out var work))
                {
                    return work;
                }

                await _claiming.WaitAsync(cancellationToken).ConfigureAwait(false);
                var claimedSome = false;
                try
                {
                    if (!_claimed.IsEmpty || _finished)
                    {
                        continue;
                    }

                    if (_loader.IsFaulted)
                    {
                        await _loader.ConfigureAwait(false);
                    }

                    foreach (var claimed in await ClaimAsync(cancellationToken).ConfigureAwait(false))
                    {
                        _claimed.Enqueue(claimed);
                        claimedSome = true;
                    }

                    if (!claimedSome && await FinishedAsync(cancellationToken).ConfigureAwait(false))
                    {
                        _finished = true;
                    }
                }
                finally
                {
                    _claiming.Release();
                }

                if (!claimedSome && !_finished)
                {
                    // Nothing free now: items are leased by live runners, or still being loaded.
                    await _time.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
                }
            }

            return null;
        }

        public Api.ISharedRateBudget? RateBudget(Api.AbstraktClient client) => new PostgresRateBudget(_db, client.Options.Endpoint, client.Options.ApiKey);

        public Task<bool> AcceptedAsync(WorkItem item) => Task.FromResult(true);

        public Task<bool> SendingAsync(WorkItem item, int resubmissions) =>
            UpdateOwnedAsync(item, "state = 'sending', resubmissions = @n", ("n", resubmissions));

        // 'sending' was recorded before the send (SendingAsync), with the claim checked: nothing to add on the wire.
        public void Sent(WorkItem item, int resubmissions)
        {
        }

        // A 'sending' item whose create was refused is settled by the retry's own records (created, or failed).
        public void Unsent(WorkItem item)
        {
        }

        public Task<bool> CreatedAsync(WorkItem item, string jobId, int resubmissions) =>
            UpdateOwnedAsync(item, "state = 'created', job_id = @j, resubmissions = @n", ("j", jobId), ("n", resubmissions));

        public Task<bool> CompletedAsync(ItemCompleted result) =>
            UpdateOwnedAsync(
                result.Item,
                "state = 'completed', job_id = @j, urls = @u, files = @f, credits = @c, finished_by = @r, finished_at = now(), lease_until = NULL",
                ("j", result.JobId),
                ("u", result.Urls.ToArray()),
                ("f", result.Files.ToArray()),
                ("c", result.CreditsUsed));

        public Task<bool> FailedAsync(WorkItem item, string code, string message) =>
            UpdateOwnedAsync(item, "state = 'failed', error_code = @e, error_message = @m, finished_by = @r, finished_at = now(), lease_until = NULL", ("e", code), ("m", message));

        public Task<bool> CancelledAsync(WorkItem item, string jobId) =>
            UpdateOwnedAsync(item, "state = 'cancelled', job_id = @j", ("j", jobId));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1)
            {
                return;
            }

            _closing.Cancel();
            try
            {
                _renewer.Wait(TimeSpan.FromSeconds(5));
                // What this runner still holds is free at once for the others, rather than when its lease ends.
                _db.Execute("UPDATE abstrakt_items SET lease_until = NULL WHERE batch = @b AND runner = @r AND state IN " + PostgresSchema.Active, Ids());
                _db.Execute("UPDATE abstrakt_runners SET ended_at = now(), last_seen = now() WHERE batch = @b AND runner = @r", Ids());
            }
            catch (Exception ex) when (ex is NpgsqlException or AggregateException or InvalidOperationException or TimeoutException)
            {
                // The leases end by themselves.
            }

            // _stop stays undisposed: the engine reads its token after the batch has ended.
            _closing.Dispose();
        }

        private async Task LoadAsync(ChannelReader<WorkItem> input, CancellationToken cancellationToken)
        {
            var chunk = new List<WorkItem>(LoadChunk);
            while (await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (chunk.Count < LoadChunk && input.TryRead(out var item))
                {
                    chunk.Add(item);
                }

                if (!_loadedAtOpen && chunk.Count > 0)
                {
                    await _db.ExecuteAsync(InsertSql, cancellationToken, InsertValues(_name, chunk)).ConfigureAwait(false);
                    _loadedCount += chunk.Count;
                }

                chunk.Clear();
            }

            if (!_loadedAtOpen && _loadedCount > 0)
            {
                await _db.ExecuteAsync(MarkLoadedSql, cancellationToken, ("b", _name)).ConfigureAwait(false);
            }

            _inputDone = true;
        }

        /// <summary>Adds items that are not there yet (by index): loading twice, or from two runners, loads once.</summary>
        internal const string InsertSql =
            "INSERT INTO abstrakt_items (batch, idx, item_id, prompt, model, input) " +
            "SELECT @b, * FROM unnest(@idx::bigint[], @id::text[], @prompt::text[], @model::text[], @input::text[]) ON CONFLICT DO NOTHING";

        /// <summary>Says every item is in: runners may end once none is left open.</summary>
        internal const string MarkLoadedSql = "UPDATE abstrakt_batches SET loaded = true, total = (SELECT count(*) FROM abstrakt_items WHERE batch = @b) WHERE name = @b";

        internal static (string, object?)[] InsertValues(string name, IReadOnlyList<WorkItem> items) => new (string, object?)[]
        {
            ("b", name),
            ("idx", items.Select(i => i.Index).ToArray()),
            ("id", items.Select(i => i.Id).ToArray()),
            ("prompt", items.Select(i => i.Prompt).ToArray()),
            ("model", items.Select(i => i.Model).ToArray()),
            ("input", items.Select(i => i.InputJson).ToArray()),
        };

        private async Task<List<StoredWork>> ClaimAsync(CancellationToken cancellationToken)
        {
            var claimed = await _db.QueryAsync(
                // MATERIALIZED: as a plain subquery the planner may rescan it once per row it joins, and each rescan
                // skips the rows the last one locked, so one claim took hundreds of items instead of a group.
                "WITH c AS MATERIALIZED (SELECT idx FROM abstrakt_items WHERE batch = @b AND state IN " + PostgresSchema.Active +
                " AND (lease_until IS NULL OR lease_until < now()) ORDER BY idx LIMIT @n FOR UPDATE SKIP LOCKED) " +
                "UPDATE abstrakt_items i SET runner = @r, lease_until = now() + @lease, claims = i.claims + 1 " +
                "FROM c WHERE i.batch = @b AND i.idx = c.idx " +
                "RETURNING i.idx, i.item_id, i.prompt, i.model, i.input, i.state, i.job_id, i.resubmissions",
                Claimed,
                cancellationToken,
                Ids(("lease", _lease), ("n", _group))).ConfigureAwait(false);
            return claimed.OrderBy(w => w.Item.Index).ToList();
        }

        private static StoredWork Claimed(NpgsqlDataReader reader)
        {
            var model = reader.IsDBNull(3) ? null : reader.GetString(3);
            var inputJson = reader.GetString(4);
            var item = new WorkItem(reader.GetInt64(0), reader.GetString(2), model, ParseInput(inputJson), reader.GetString(1));
            return new StoredWork(item, new JournalEntry
            {
                Id = item.Id,
                Index = item.Index,
                Prompt = item.Prompt,
                Model = model,
                InputJson = inputJson,
                State = reader.GetString(5),
                JobId = reader.IsDBNull(6) ? null : reader.GetString(6),
                Resubmissions = reader.GetInt32(7),
            });
        }

        /// <summary>True when every item is in and none is left open (a dead runner's leased ones count as open).</summary>
        private async Task<bool> FinishedAsync(CancellationToken cancellationToken)
        {
            var rows = await _db.QueryAsync(
                "SELECT loaded, EXISTS (SELECT 1 FROM abstrakt_items WHERE batch = @b AND state IN " + PostgresSchema.Active + ") FROM abstrakt_batches WHERE name = @b",
                r => (Loaded: r.GetBoolean(0), Open: r.GetBoolean(1)),
                cancellationToken,
                ("b", _name)).ConfigureAwait(false);
            if (rows.Count == 0)
            {
                return true;
            }

            // A runner that was given nothing, on a batch it made, has nothing to wait for.
            return !rows[0].Open && (rows[0].Loaded || (_inputDone && _createdByUs && Interlocked.Read(ref _loadedCount) == 0));
        }

        /// <summary>Renews this runner's leases and polls the batch's stop flag, a third of a lease apart.</summary>
        private async Task RenewAsync()
        {
            var token = _closing.Token;
            while (!token.IsCancellationRequested)
            {
                try
                {
                    await _time.Delay(TimeSpan.FromTicks(_lease.Ticks / 3), token).ConfigureAwait(false);
                    await _db.ExecuteAsync("UPDATE abstrakt_items SET lease_until = now() + @lease WHERE batch = @b AND runner = @r AND lease_until IS NOT NULL AND state IN " + PostgresSchema.Active, token, Ids(("lease", _lease))).ConfigureAwait(false);
                    var stop = await _db.QueryAsync(
                        "UPDATE abstrakt_runners r SET last_seen = now() FROM abstrakt_batches b WHERE b.name = r.batch AND r.batch = @b AND r.runner = @r RETURNING coalesce(b.stop_requested_at > r.started_at, false)",
                        row => row.GetBoolean(0),
                        token,
                        Ids()).ConfigureAwait(false);
                    if (stop.Contains(true))
                    {
                        _stop.Cancel();
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (NpgsqlException)
                {
                    // A lost connection: try again next round; a lease outlives two missed renewals.
                }
            }
        }

        private async Task<bool> UpdateOwnedAsync(WorkItem item, string set, params (string Name, object? Value)[] values) =>
            await _db.ExecuteAsync(
                "UPDATE abstrakt_items SET " + set + " WHERE batch = @b AND idx = @i AND runner = @r AND state IN " + PostgresSchema.Active,
                CancellationToken.None,
                Ids(values.Concat(new[] { ("i", (object?)item.Index) }).ToArray())).ConfigureAwait(false) == 1;

        /// <summary>The batch's name (@b) and this runner's id (@r), with <paramref name="values"/>.</summary>
        private (string, object?)[] Ids(params (string Name, object? Value)[] values) =>
            new (string, object?)[] { ("b", _name), ("r", _runner) }.Concat(values).ToArray();

        internal static Dictionary<string, object?> ParseInput(string json)
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => JsonValues.ToPlain(p.Value), StringComparer.Ordinal);
        }
    }
}
