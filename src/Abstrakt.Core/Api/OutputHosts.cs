using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace Abstrakt.Api
{
    /// <summary>Where an address is: a download from anywhere but the public internet needs a reason.</summary>
    internal enum HostKind
    {
        /// <summary>The public internet.</summary>
        Public,

        /// <summary>127.0.0.0/8, ::1, localhost.</summary>
        Loopback,

        /// <summary>169.254.0.0/16, fe80::/10 (cloud metadata services live here).</summary>
        LinkLocal,

        /// <summary>10/8, 172.16/12, 192.168/16, 100.64/10, 0/8, fc00::/7.</summary>
        Private,
    }

    /// <summary>
    /// Classifies output hosts, so a compromised or hostile service cannot make the client fetch from the
    /// user's own network (a router, a metadata service) and save it as an output.
    /// </summary>
    internal static class OutputHosts
    {
        /// <summary>The kind of a host, without looking it up (for the endpoint: an IP literal or localhost).</summary>
        /// <param name="uri">The address.</param>
        /// <returns>Its kind; a name other than localhost is Public.</returns>
        public static HostKind KindOfLiteral(Uri uri) =>
            uri.IsLoopback || string.Equals(uri.DnsSafeHost, "localhost", StringComparison.OrdinalIgnoreCase) ? HostKind.Loopback
            : IPAddress.TryParse(uri.DnsSafeHost, out var ip) ? Classify(ip)
            : HostKind.Public;

        /// <summary>The kind of a host, looking its name up: the most restricted kind among its addresses.</summary>
        /// <param name="uri">The address.</param>
        /// <returns>Its kind; a name that does not resolve is Public (the request itself then fails).</returns>
        public static async Task<HostKind> KindOfAsync(Uri uri)
        {
            var literal = KindOfLiteral(uri);
            if (literal != HostKind.Public || uri.HostNameType != UriHostNameType.Dns)
            {
                return literal;
            }

            try
            {
                var addresses = await Dns.GetHostAddressesAsync(uri.DnsSafeHost).ConfigureAwait(false);
                return addresses.Select(Classify).DefaultIfEmpty(HostKind.Public).Max();
            }
            catch (SocketException)
            {
                return HostKind.Public;
            }
        }

        /// <summary>The kind of one address.</summary>
        /// <param name="ip">The address.</param>
        /// <returns>Its kind.</returns>
        public static HostKind Classify(IPAddress ip)
        {
            if (ip.IsIPv4MappedToIPv6)
            {
                ip = ip.MapToIPv4();
            }

            if (IPAddress.IsLoopback(ip))
            {
                return HostKind.Loopback;
            }

            var b = ip.GetAddressBytes();
            if (ip.AddressFamily == AddressFamily.InterNetwork)
            {
                return b[0] == 169 && b[1] == 254 ? HostKind.LinkLocal
                    : b[0] == 10 || b[0] == 0 || (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168) || (b[0] == 100 && (b[1] & 0xC0) == 64) ? HostKind.Private
                    : HostKind.Public;
            }

            return ip.IsIPv6LinkLocal ? HostKind.LinkLocal
                : (b[0] & 0xFE) == 0xFC || ip.Equals(IPAddress.IPv6Any) ? HostKind.Private
                : HostKind.Public;
        }
    }
}
