using System;
using System.Threading;

namespace Abstrakt.Engine
{
    /// <summary>
    /// Lets a stop abort a create still waiting for its turn, but not one already on the wire: that one's answer
    /// names a job the stop then cancels, where an aborted send would leave a job that no one can name. A create that
    /// waits for its result (sync:true) would hold the stop for the job's whole run: it gets a short grace to answer,
    /// and is then aborted, its outcome unknown (reported, never resubmitted unasked). When the consumer has gone
    /// (Select-Object -First), every create on the wire gets that grace: most answer within it, so their jobs are
    /// named and journaled rather than reported unknown.
    /// </summary>
    internal sealed class CreateGuard : IDisposable
    {
        private const int Waiting = 0, OnTheWire = 1, Stopped = 2, OnTheWireForResult = 3;
        private readonly CancellationTokenSource _beforeSending;
        private readonly CancellationTokenRegistration _stop;
        private readonly CancellationTokenRegistration _abandon;
        private readonly TimeSpan _grace;
        private ITimer? _graceTimer;
        private int _state;
        private int _graceStarted;

        /// <param name="stop">The item's token: honoured until the request is sent.</param>
        /// <param name="abandon">Honoured always (the consumer has gone).</param>
        /// <param name="grace">How long a create that waits for its result may still take after a stop.</param>
        /// <param name="time">The clock the grace runs on.</param>
        public CreateGuard(CancellationToken stop, CancellationToken abandon, TimeSpan grace, TimeProvider time)
        {
            _grace = grace;
            _beforeSending = new CancellationTokenSource();
            _stop = stop.Register(() => Stop(time, abandoning: false));
            _abandon = abandon.Register(() => Stop(time, abandoning: true));
        }

        /// <summary>The token to send the create with.</summary>
        public CancellationToken Token => _beforeSending.Token;

        /// <summary>Marks the create as going on the wire; throws when the stop came first, so nothing is sent.</summary>
        /// <param name="waitsForResult">The create asks the service to wait for the result (sync:true).</param>
        public void Sending(bool waitsForResult)
        {
            if (Interlocked.CompareExchange(ref _state, waitsForResult ? OnTheWireForResult : OnTheWire, Waiting) != Waiting)
            {
                throw new OperationCanceledException(_beforeSending.Token);
            }
        }

        private void Stop(TimeProvider time, bool abandoning)
        {
            var was = Interlocked.CompareExchange(ref _state, Stopped, Waiting);
            if (was == Waiting)
            {
                Cancel();
            }
            else if (was == OnTheWireForResult || (abandoning && was == OnTheWire))
            {
                StopAfterGrace(time);
            }
        }

        private void StopAfterGrace(TimeProvider time)
        {
            if (Interlocked.Exchange(ref _graceStarted, 1) == 1)
            {
                return; // a stop and the consumer's going both came
            }

            try
            {
                _graceTimer = time.CreateTimer(_ => Cancel(), null, _grace, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // The create has ended.
            }
        }

        private void Cancel()
        {
            try
            {
                _beforeSending.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The create answered within the grace.
            }
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            _stop.Dispose();
            _abandon.Dispose();
            _graceTimer?.Dispose();
            _beforeSending.Dispose();
        }
    }
}
