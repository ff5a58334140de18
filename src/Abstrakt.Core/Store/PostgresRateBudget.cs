using System;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;
using Npgsql;

namespace Abstrakt.Store
{
    /// <summary>
    /// The plan's rate shared by every runner on one key, in one row of the store (abstrakt_rate): each request
    /// reserves the next free slot, slots window×1.1/limit apart (the widest spacing any runner has worked out is kept
    /// in the row, so a runner that has not learnt the limit or the window yet paces by it), so N runners together send at most the limit
    /// per window; a 429's pause moves every runner's next slot past it. Keyed by a hash of the endpoint and
    /// the key, never the key. If the store cannot be reached, each runner falls back to its own pacing.
    /// </summary>
    internal sealed class PostgresRateBudget : ISharedRateBudget
    {
        private const double Slack = 1.1;
        private readonly PostgresDb _db;
        private readonly string _account;

        public PostgresRateBudget(PostgresDb db, Uri endpoint, Secret? key)
        {
            _db = db;
            _account = Engine.WorkItem.Hash(endpoint.GetLeftPart(UriPartial.Authority) + "\n" + key?.Reveal(), 16);
            _db.Execute("INSERT INTO abstrakt_rate (account) VALUES (@a) ON CONFLICT DO NOTHING", ("a", _account));
        }

        public async Task WaitTurnAsync(int? limit, TimeSpan window, CancellationToken cancellationToken)
        {
            // 10% under the plan: a slot is a reservation, and a runner on a loaded machine may send it late,
            // bunching with the next ones; the slack keeps a bunch inside the limit.
            var spacing = limit is int l && l > 0 ? TimeSpan.FromTicks((long)(window.Ticks * Slack / l)) : TimeSpan.Zero;
            double wait;
            try
            {
                var rows = await _db.QueryAsync(
                    // The widest spacing any runner has worked out: a runner learns the window from the wire, and
                    // its first estimates are short.
                    "UPDATE abstrakt_rate SET spacing = GREATEST(spacing, @s), " +
                    "next_at = GREATEST(next_at, paused_until, now()) + GREATEST(spacing, @s) WHERE account = @a " +
                    "RETURNING extract(epoch FROM next_at - spacing - clock_timestamp())::float8",
                    r => r.GetDouble(0),
                    cancellationToken,
                    ("a", _account),
                    ("s", spacing)).ConfigureAwait(false);
                wait = rows.Count > 0 ? rows[0] : 0;
            }
            catch (NpgsqlException)
            {
                return; // the store is away: this runner's own pacing still holds
            }

            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(wait, 300)), cancellationToken).ConfigureAwait(false);
            }
        }

        public void Pause(TimeSpan delay) => _ = PauseAsync(delay);

        private async Task PauseAsync(TimeSpan delay)
        {
            try
            {
                await _db.ExecuteAsync("UPDATE abstrakt_rate SET paused_until = GREATEST(paused_until, now() + @d) WHERE account = @a", CancellationToken.None, ("a", _account), ("d", delay)).ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // Best effort: the runner that was told pauses anyway, and the others learn from their own 429s.
            }
        }
    }
}
