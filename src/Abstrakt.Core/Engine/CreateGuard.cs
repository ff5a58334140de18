using System;
using System.Threading;

namespace Abstrakt.Engine
{
    /// <summary>
    /// Lets a stop abort a create still waiting for its turn, but not one already on the wire: that one's answer
    /// names a job the stop then cancels, where an aborted send would leave a job that no one can name.
    /// </summary>
    internal sealed class CreateGuard : IDisposable
    {
        private const int Waiting = 0, OnTheWire = 1, Stopped = 2;
        private readonly CancellationTokenSource _beforeSending;
        private readonly CancellationTokenRegistration _stop;
        private int _state;

        /// <param name="stop">The item's token: honoured until the request is sent.</param>
        /// <param name="abandon">Honoured always (the consumer has gone).</param>
        public CreateGuard(CancellationToken stop, CancellationToken abandon)
        {
            _beforeSending = CancellationTokenSource.CreateLinkedTokenSource(abandon);
            _stop = stop.Register(() =>
            {
                if (Interlocked.CompareExchange(ref _state, Stopped, Waiting) == Waiting)
                {
                    _beforeSending.Cancel();
                }
            });
        }

        /// <summary>The token to send the create with.</summary>
        public CancellationToken Token => _beforeSending.Token;

        /// <summary>Marks the create as going on the wire; throws when the stop came first, so nothing is sent.</summary>
        public void Sending()
        {
            if (Interlocked.CompareExchange(ref _state, OnTheWire, Waiting) != Waiting)
            {
                throw new OperationCanceledException(_beforeSending.Token);
            }
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            _stop.Dispose();
            _beforeSending.Dispose();
        }
    }
}
