using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;

namespace Abstrakt.PowerShell.Session
{
    /// <summary>One cheap request, the first model of the catalogue: it proves the key and endpoint, and its response
    /// headers tell the client the plan's request limit.</summary>
    internal static class ConnectionCheck
    {
        /// <returns>Whether the catalogue had a model.</returns>
        public static async Task<bool> RunAsync(AbstraktClient client, CancellationToken cancellationToken)
        {
            await foreach (var _ in client.ListModelsAsync(null, null, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            return false;
        }
    }
}
