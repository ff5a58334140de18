using System;
using System.Collections.Concurrent;
using System.Linq;

namespace Abstrakt.Api
{
    /// <summary>
    /// Scrubs every secret this process holds (API keys, webhook secrets: each <see cref="Secret"/> registers
    /// itself) from text a server sent back, before it reaches an exception, a stream or the journal. A server
    /// that echoes the Authorization header must not put the key into $Error or a file.
    /// </summary>
    internal static class Redaction
    {
        private const string Mask = "***";
        private const int MinimumBody = 8;
        private static readonly ConcurrentDictionary<string, byte> Known = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);

        /// <summary>Remembers a secret, and its body after the prefix (sk_test_, whsec_), which is secret on its own.</summary>
        /// <param name="secret">The secret's text.</param>
        public static void Remember(string secret)
        {
            // A secret too short to be a key (a test's "s") would mask ordinary words.
            if (secret.Length < MinimumBody)
            {
                return;
            }

            Known.TryAdd(secret, 0);
            var body = secret.Substring(secret.LastIndexOf('_') + 1);
            if (body.Length >= MinimumBody)
            {
                Known.TryAdd(body, 0);
            }
        }

        /// <summary>The text with every known secret replaced by ***.</summary>
        /// <param name="text">Text from a server.</param>
        /// <returns>The scrubbed text (null stays null).</returns>
        public static string? Scrub(string? text)
        {
            if (string.IsNullOrEmpty(text))
            {
                return text;
            }

            // Longest first: a whole key goes before its body, so no tail of it is left behind.
            foreach (var secret in Known.Keys.OrderByDescending(k => k.Length))
            {
                if (text!.IndexOf(secret, StringComparison.Ordinal) >= 0)
                {
                    text = text.Replace(secret, Mask);
                }
            }

            return text;
        }
    }
}
