using System;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Abstrakt.Webhooks
{
    /// <summary>The outcome of checking a webhook delivery's signature.</summary>
    public enum SignatureCheck
    {
        /// <summary>The signature matches and the timestamp is fresh.</summary>
        Valid,

        /// <summary>The signature or timestamp header is missing or not well formed.</summary>
        Missing,

        /// <summary>The signature does not match the body (tampered, or another secret).</summary>
        Mismatch,

        /// <summary>The timestamp is further from now than the tolerance (a replay or a wrong clock).</summary>
        Stale,
    }

    /// <summary>
    /// abstrakt's webhook signature: lowercase hex HMAC-SHA256 over <c>timestamp + "." + raw body bytes</c>,
    /// keyed by the webhook secret. The sandbox signs with it and the module verifies with it.
    /// </summary>
    public static class WebhookSignature
    {
        /// <summary>The header carrying the Unix-seconds timestamp.</summary>
        public const string TimestampHeader = "X-Abstrakt-Timestamp";

        /// <summary>The header carrying the signature.</summary>
        public const string SignatureHeader = "X-Abstrakt-Signature";

        /// <summary>The default allowed distance between the timestamp and now.</summary>
        public static readonly TimeSpan DefaultTolerance = TimeSpan.FromSeconds(300);

        /// <summary>Computes the signature of a delivery.</summary>
        /// <param name="secret">The webhook secret.</param>
        /// <param name="timestamp">The timestamp header's text.</param>
        /// <param name="body">The raw body bytes, exactly as sent.</param>
        /// <returns>Lowercase hex.</returns>
        public static string Compute(string secret, string timestamp, byte[] body)
        {
            if (secret is null || timestamp is null || body is null)
            {
                throw new ArgumentNullException(secret is null ? nameof(secret) : timestamp is null ? nameof(timestamp) : nameof(body));
            }

            var prefix = Encoding.UTF8.GetBytes(timestamp + ".");
            var message = new byte[prefix.Length + body.Length];
            Buffer.BlockCopy(prefix, 0, message, 0, prefix.Length);
            Buffer.BlockCopy(body, 0, message, prefix.Length, body.Length);
            return Hmac(secret, message);
        }

        /// <summary>
        /// Checks a delivery: over the raw bytes, in constant time, rejecting stale timestamps.
        /// With <paramref name="allowBodyOnly"/> it also accepts the oldest scheme (HMAC of the body alone).
        /// </summary>
        /// <param name="secret">The webhook secret.</param>
        /// <param name="timestamp">The X-Abstrakt-Timestamp header.</param>
        /// <param name="signature">The X-Abstrakt-Signature header (an optional <c>sha256=</c> prefix is accepted).</param>
        /// <param name="body">The raw body bytes as received.</param>
        /// <param name="now">The receiver's clock.</param>
        /// <param name="tolerance">How far the timestamp may be from now.</param>
        /// <param name="allowBodyOnly">Accept the oldest, timestamp-less scheme.</param>
        /// <returns>The outcome.</returns>
        public static SignatureCheck Verify(string secret, string? timestamp, string? signature, byte[] body, DateTimeOffset now, TimeSpan tolerance, bool allowBodyOnly = false)
        {
            if (string.IsNullOrWhiteSpace(signature) || body is null)
            {
                return SignatureCheck.Missing;
            }

            var given = signature!.Trim();
            if (given.StartsWith("sha256=", StringComparison.OrdinalIgnoreCase))
            {
                given = given.Substring(7);
            }

            var givenBytes = FromHex(given);
            if (givenBytes is null)
            {
                return SignatureCheck.Missing;
            }

            if (string.IsNullOrWhiteSpace(timestamp))
            {
                return allowBodyOnly && FixedTimeEquals(givenBytes, FromHex(Hmac(secret, body))!) ? SignatureCheck.Valid : SignatureCheck.Missing;
            }

            if (!long.TryParse(timestamp!.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds))
            {
                return SignatureCheck.Missing;
            }

            if (!FixedTimeEquals(givenBytes, FromHex(Compute(secret, timestamp.Trim(), body))!))
            {
                return SignatureCheck.Mismatch;
            }

            var age = now - DateTimeOffset.FromUnixTimeSeconds(seconds);
            return age.Duration() > tolerance ? SignatureCheck.Stale : SignatureCheck.Valid;
        }

        private static string Hmac(string secret, byte[] message)
        {
            using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
            var hash = hmac.ComputeHash(message);
            var hex = new StringBuilder(hash.Length * 2);
            foreach (var b in hash)
            {
                hex.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return hex.ToString();
        }

        private static byte[]? FromHex(string hex)
        {
            if (hex.Length % 2 != 0)
            {
                return null;
            }

            var bytes = new byte[hex.Length / 2];
            for (var i = 0; i < bytes.Length; i++)
            {
                if (!byte.TryParse(hex.Substring(i * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out bytes[i]))
                {
                    return null;
                }
            }

            return bytes;
        }

        // netstandard2.0 has no CryptographicOperations.FixedTimeEquals.
        private static bool FixedTimeEquals(byte[] a, byte[] b)
        {
            var diff = a.Length ^ b.Length;
            for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                diff |= a[i] ^ b[i];
            }

            return diff == 0;
        }
    }
}
