using System;
using Abstrakt.Engine;

namespace Abstrakt.Store
{
    /// <summary>
    /// The shared store's tables, created on first use and versioned in abstrakt_schema_version. Runners that
    /// start together serialise on an advisory lock, so only one creates them.
    /// </summary>
    internal static class PostgresSchema
    {
        /// <summary>The schema version this module reads and writes.</summary>
        public const int Version = 2;

        /// <summary>The states of an item still to finish (the others: completed, failed).</summary>
        public const string Active = "('pending','sending','created','cancelled')";

        private const long LockKey = 0x4ab5_0018;

        private const string V1 = @"
CREATE TABLE abstrakt_batches (
    name text PRIMARY KEY,
    batch_id text NOT NULL,
    model text NOT NULL,
    loaded boolean NOT NULL DEFAULT false,
    total bigint,
    stop_requested_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE abstrakt_items (
    batch text NOT NULL REFERENCES abstrakt_batches(name) ON DELETE CASCADE,
    idx bigint NOT NULL,
    item_id text NOT NULL,
    prompt text NOT NULL,
    model text,
    input text NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    job_id text,
    resubmissions integer NOT NULL DEFAULT 0,
    runner text,
    lease_until timestamptz,
    claims integer NOT NULL DEFAULT 0,
    urls text[],
    files text[],
    credits integer NOT NULL DEFAULT 0,
    error_code text,
    error_message text,
    finished_by text,
    finished_at timestamptz,
    PRIMARY KEY (batch, idx));
CREATE INDEX abstrakt_items_open ON abstrakt_items (batch, idx) WHERE state IN ('pending','sending','created','cancelled');
CREATE TABLE abstrakt_runners (
    batch text NOT NULL REFERENCES abstrakt_batches(name) ON DELETE CASCADE,
    runner text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    PRIMARY KEY (batch, runner));";

        // Version 2: the plan's rate, shared by every runner on one key.
        private const string V2 = @"
CREATE TABLE abstrakt_rate (
    account text PRIMARY KEY,
    next_at timestamptz NOT NULL DEFAULT now(),
    spacing interval NOT NULL DEFAULT '0',
    paused_until timestamptz NOT NULL DEFAULT now());";

        /// <summary>Creates the tables when missing; refuses a schema newer than this module.</summary>
        public static void Ensure(PostgresDb db) => db.InTransaction(run =>
        {
            run("SELECT pg_advisory_xact_lock(" + LockKey + ")");
            run("CREATE TABLE IF NOT EXISTS abstrakt_schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
            var current = Convert.ToInt32(run("SELECT coalesce(max(version), 0) FROM abstrakt_schema_version"), System.Globalization.CultureInfo.InvariantCulture);
            if (current > Version)
            {
                throw new JournalException($"The store's schema is version {current}; this module knows version {Version}. Update the module.", "StoreUnavailable");
            }

            if (current < 1)
            {
                run(V1);
                run("INSERT INTO abstrakt_schema_version (version) VALUES (1)");
            }

            if (current < 2)
            {
                run(V2);
                run("INSERT INTO abstrakt_schema_version (version) VALUES (2)");
            }
        });
    }
}
