using System;
using System.Collections.Concurrent;

namespace Abstrakt.Engine
{
    /// <summary>
    /// How long each model's jobs last, from the durations the service reports for finished jobs. A job created with
    /// sync:false is first polled when a job of its model would be done, so a poll rarely finds it still running
    /// (each poll counts against the rate limit).
    /// </summary>
    internal sealed class JobDurations
    {
        // Past this, the client's own backing-off polls cost little: a first poll never waits longer.
        private static readonly TimeSpan Longest = TimeSpan.FromSeconds(30);
        private readonly ConcurrentDictionary<string, TimeSpan> _latest = new ConcurrentDictionary<string, TimeSpan>(StringComparer.OrdinalIgnoreCase);

        /// <summary>Records a finished job's duration, as the service reported it.</summary>
        public void Observe(string model, TimeSpan? duration)
        {
            if (duration is TimeSpan d && d > TimeSpan.Zero)
            {
                _latest[model] = d < Longest ? d : Longest;
            }
        }

        /// <summary>How long to wait before the first poll of a new job of this model: zero until one has finished.</summary>
        /// <remarks>A tenth more than the last duration: a poll at exactly that time often finds the job a moment short of done.</remarks>
        public TimeSpan FirstPoll(string model) => _latest.TryGetValue(model, out var d) ? d + TimeSpan.FromTicks(d.Ticks / 10) : TimeSpan.Zero;
    }
}
