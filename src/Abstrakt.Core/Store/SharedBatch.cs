using System;
using System.Collections.Generic;
using System.Linq;
using Abstrakt.Engine;
using Npgsql;

namespace Abstrakt.Store
{
    /// <summary>
    /// A shared batch seen from outside its runners: load its items, read its counts and results, ask its
    /// runners to stop. Runners themselves work through Start-AbstraktBatch -Store (the engine).
    /// </summary>
    public sealed class SharedBatch
    {
        private const int Chunk = 500;
        private readonly PostgresDb _db;
        private readonly List<WorkItem> _pending = new List<WorkItem>();
        private long _added;

        private SharedBatch(PostgresDb db, string name, string description)
        {
            _db = db;
            Name = name;
            Description = description;
        }

        /// <summary>The batch's name.</summary>
        public string Name { get; }

        /// <summary>Where it is (never the password).</summary>
        public string Description { get; }

        /// <summary>Connects to the batch <paramref name="name"/> in <paramref name="store"/>, creating the schema when missing.</summary>
        /// <param name="store">An Npgsql connection string or a postgres:// URL.</param>
        /// <param name="name">The batch's name.</param>
        /// <returns>The batch.</returns>
        /// <exception cref="JournalException">StoreInvalid, or StoreUnavailable naming the server, never the password.</exception>
        public static SharedBatch Open(string store, string name)
        {
            try
            {
                var db = PostgresConnection.Open(store);
                PostgresSchema.Ensure(db);
                return new SharedBatch(db, name, PostgresConnection.Describe(store) + ", batch '" + name + "'");
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
            {
                throw PostgresConnection.Unavailable(store, ex);
            }
        }

        /// <summary>Creates the batch for <paramref name="model"/> when missing (a batch made for another model is refused).</summary>
        /// <param name="model">The batch's default model.</param>
        /// <returns>The batch's id.</returns>
        public string Create(string model) => PostgresBatchStore.OpenBatch(_db, Name, model).BatchId;

        /// <summary>Adds an item (written in groups); one already there at its index is left as it is.</summary>
        /// <param name="item">The item.</param>
        public void Add(WorkItem item)
        {
            _pending.Add(item ?? throw new ArgumentNullException(nameof(item)));
            _added++;
            if (_pending.Count >= Chunk)
            {
                Flush();
            }
        }

        /// <summary>Writes what is pending and marks the batch loaded, so its runners end once every item is finished.</summary>
        /// <returns>Items this call sequence added (including any already there).</returns>
        public long CompleteLoad()
        {
            Flush();
            _db.Execute(PostgresBatchStore.MarkLoadedSql, ("b", Name));
            return _added;
        }

        /// <summary>Asks every runner now working on the batch to stop and cancel its jobs (they poll with their lease renewals).</summary>
        /// <returns>False when there is no such batch.</returns>
        public bool RequestStop()
        {
            return _db.Execute("UPDATE abstrakt_batches SET stop_requested_at = now() WHERE name = @b", ("b", Name)) == 1;
        }

        /// <summary>The batch's counts now, and its runners'; null when there is no such batch.</summary>
        /// <returns>The status, or null.</returns>
        public BatchStatus? GetStatus()
        {
            // One snapshot for both reads: the runners' counts add up to the batch's even while runners work.
            var (batches, runners) = _db.QueryBoth(
                "SELECT b.batch_id, b.model, b.loaded, b.stop_requested_at, count(i.idx), " +
                "count(*) FILTER (WHERE i.state = 'completed'), " +
                "count(*) FILTER (WHERE i.state = 'failed' AND i.error_code IS DISTINCT FROM 'OUTCOME_UNKNOWN'), " +
                "count(*) FILTER (WHERE i.state = 'failed' AND i.error_code = 'OUTCOME_UNKNOWN'), " +
                "count(*) FILTER (WHERE i.state IN " + PostgresSchema.Active + " AND i.lease_until > now()), " +
                "coalesce(sum(i.credits), 0) " +
                "FROM abstrakt_batches b LEFT JOIN abstrakt_items i ON i.batch = b.name WHERE b.name = @b GROUP BY b.name",
                r => new BatchStatus
                {
                    Name = Name,
                    BatchId = r.GetString(0),
                    Model = r.GetString(1),
                    Loaded = r.GetBoolean(2),
                    StopRequestedAt = r.IsDBNull(3) ? null : new DateTimeOffset(r.GetDateTime(3), TimeSpan.Zero),
                    Total = r.GetInt64(4),
                    Done = r.GetInt64(5),
                    Failed = r.GetInt64(6),
                    OutcomeUnknown = r.GetInt64(7),
                    InFlight = r.GetInt64(8),
                    CreditsUsed = r.GetInt64(9),
                },
                "SELECT r.runner, r.host, r.pid, r.started_at, r.last_seen, r.ended_at IS NOT NULL, " +
                "count(i.idx) FILTER (WHERE i.finished_by = r.runner AND i.state = 'completed'), " +
                "count(i.idx) FILTER (WHERE i.finished_by = r.runner AND i.state = 'failed'), " +
                "count(i.idx) FILTER (WHERE i.runner = r.runner AND i.state IN " + PostgresSchema.Active + " AND i.lease_until > now()), " +
                "coalesce(sum(i.credits) FILTER (WHERE i.finished_by = r.runner), 0) " +
                "FROM abstrakt_runners r LEFT JOIN abstrakt_items i ON i.batch = r.batch AND (i.finished_by = r.runner OR i.runner = r.runner) " +
                "WHERE r.batch = @b GROUP BY r.runner, r.host, r.pid, r.started_at, r.last_seen, r.ended_at ORDER BY r.started_at",
                r => new RunnerStatus
                {
                    Runner = r.GetString(0),
                    Host = r.GetString(1),
                    ProcessId = r.GetInt32(2),
                    StartedAt = new DateTimeOffset(r.GetDateTime(3), TimeSpan.Zero),
                    LastSeen = new DateTimeOffset(r.GetDateTime(4), TimeSpan.Zero),
                    Ended = r.GetBoolean(5),
                    Done = r.GetInt64(6),
                    Failed = r.GetInt64(7),
                    InFlight = r.GetInt64(8),
                    CreditsUsed = r.GetInt64(9),
                },
                ("b", Name));
            var status = batches.FirstOrDefault();
            if (status is null)
            {
                return null;
            }

            status.Runners = runners;
            return status;
        }

        /// <summary>The completed items, in index order, read as they stream from the server.</summary>
        /// <returns>The results (<see cref="ItemCompleted.FromJournal"/> is true: they come from the store).</returns>
        public IEnumerable<ItemCompleted> Results()
        {
            return _db.Query(
                "SELECT i.idx, i.item_id, i.prompt, i.model, i.input, i.job_id, i.urls, i.files, i.credits, b.model " +
                "FROM abstrakt_items i JOIN abstrakt_batches b ON b.name = i.batch WHERE i.batch = @b AND i.state = 'completed' ORDER BY i.idx",
                r =>
                {
                    var model = r.IsDBNull(3) ? null : r.GetString(3);
                    return new ItemCompleted
                    {
                        Item = new WorkItem(r.GetInt64(0), r.GetString(2), model, PostgresBatchStore.ParseInput(r.GetString(4)), r.GetString(1)),
                        Model = model ?? r.GetString(9),
                        JobId = r.IsDBNull(5) ? string.Empty : r.GetString(5),
                        Urls = r.IsDBNull(6) ? Array.Empty<string>() : r.GetFieldValue<string[]>(6),
                        Files = r.IsDBNull(7) ? Array.Empty<string>() : r.GetFieldValue<string[]>(7),
                        CreditsUsed = r.GetInt32(8),
                        FromJournal = true,
                    };
                },
                ("b", Name));
        }

        private void Flush()
        {
            if (_pending.Count == 0)
            {
                return;
            }

            _db.Execute(PostgresBatchStore.InsertSql, PostgresBatchStore.InsertValues(Name, _pending));
            _pending.Clear();
        }
    }
}
