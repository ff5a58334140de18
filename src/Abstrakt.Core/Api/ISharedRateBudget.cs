using System;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Api
{
    /// <summary>
    /// A rate budget shared with other processes on the same key (a shared batch store keeps it): every request
    /// of every runner takes its turn there, so together they stay within the plan, and a 429 one of them sees
    /// pauses them all. The rate gate asks it after its own turn; it is an addition, never a replacement.
    /// </summary>
    internal interface ISharedRateBudget
    {
        /// <summary>Waits for this request's turn: past any shared pause, and spaced so all runners together send at most <paramref name="limit"/> per <paramref name="window"/>.</summary>
        /// <param name="limit">The plan's requests per window, when known (otherwise only pauses are shared).</param>
        /// <param name="window">The window, with the gate's safety margin.</param>
        /// <param name="cancellationToken">Stops waiting.</param>
        /// <returns>A task that ends at the turn.</returns>
        Task WaitTurnAsync(int? limit, TimeSpan window, CancellationToken cancellationToken);

        /// <summary>Pauses every runner for <paramref name="delay"/> (a 429's hint).</summary>
        /// <param name="delay">How long.</param>
        void Pause(TimeSpan delay);
    }
}
