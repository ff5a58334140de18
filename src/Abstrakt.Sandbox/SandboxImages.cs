using System;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;

namespace Abstrakt.Sandbox
{
    /// <summary>What the sandbox decoded from an image input: its size and the SHA-256 of its bytes.</summary>
    internal sealed record SandboxImage(int Width, int Height, string MediaType, string Sha256);

    /// <summary>
    /// Reads the source image of an image-input model: a data: URI (base64) or an http(s) URL on loopback, which it
    /// fetches. Dimensions come from the headers of PNG (IHDR), JPEG (SOFn) and WebP (VP8, VP8L, VP8X); the pixels
    /// are never decoded, the outputs being synthetic anyway.
    /// </summary>
    internal static class SandboxImages
    {
        private const int MaxFetchBytes = 32 * 1024 * 1024;
        private static readonly HttpClient Fetcher = new HttpClient { Timeout = TimeSpan.FromSeconds(10), MaxResponseContentBufferSize = MaxFetchBytes };

        /// <summary>Reads an image input, or says why it cannot.</summary>
        /// <returns>The image, or the problem (for an INVALID_INPUT answer).</returns>
        public static async Task<(SandboxImage? Image, string? Problem)> ReadAsync(string value, CancellationToken cancellationToken)
        {
            byte[] bytes;
            if (value.StartsWith("data:", StringComparison.Ordinal))
            {
                var comma = value.IndexOf(',');
                if (comma < 0 || !value.Substring(0, comma).EndsWith(";base64", StringComparison.Ordinal))
                {
                    return (null, "is a data: URI that is not base64");
                }

                try
                {
                    bytes = Convert.FromBase64String(value.Substring(comma + 1));
                }
                catch (FormatException)
                {
                    return (null, "is a data: URI whose base64 does not decode");
                }
            }
            else if (Uri.TryCreate(value, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps))
            {
                if (!url.IsLoopback)
                {
                    // The sandbox never sends traffic off this machine.
                    return (null, "is not a loopback URL (the sandbox fetches images only from this machine)");
                }

                try
                {
                    bytes = await Fetcher.GetByteArrayAsync(url).ConfigureAwait(false);
                }
                catch (HttpRequestException ex)
                {
                    return (null, "could not be fetched: " + ex.Message);
                }
            }
            else
            {
                return (null, "is neither a data: URI nor an http(s) URL");
            }

            cancellationToken.ThrowIfCancellationRequested();
            var size = Png(bytes) ?? Jpeg(bytes) ?? WebP(bytes);
            if (size is not var (width, height, mediaType))
            {
                return (null, "is not a PNG, JPEG or WebP image");
            }

            using var sha = SHA256.Create();
            var hash = string.Concat(sha.ComputeHash(bytes).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
            return (new SandboxImage(width, height, mediaType, hash), null);
        }

        private static (int, int, string)? Png(byte[] b) =>
            b.Length >= 24 && b[0] == 0x89 && b[1] == (byte)'P' && b[2] == (byte)'N' && b[3] == (byte)'G' && Ascii(b, 12, "IHDR")
                ? (BigEndian(b, 16, 4), BigEndian(b, 20, 4), "image/png")
                : null;

        private static (int, int, string)? Jpeg(byte[] b)
        {
            if (b.Length < 4 || b[0] != 0xFF || b[1] != 0xD8)
            {
                return null;
            }

            // Walk the marker segments to the first start-of-frame (SOF0-SOF15, minus DHT C4, JPG C8, DAC CC).
            for (var i = 2; i + 9 < b.Length;)
            {
                if (b[i] != 0xFF)
                {
                    return null;
                }

                var marker = b[i + 1];
                if (marker >= 0xC0 && marker <= 0xCF && marker is not 0xC4 and not 0xC8 and not 0xCC)
                {
                    return (BigEndian(b, i + 7, 2), BigEndian(b, i + 5, 2), "image/jpeg");
                }

                i += 2 + BigEndian(b, i + 2, 2);
            }

            return null;
        }

        private static (int, int, string)? WebP(byte[] b)
        {
            if (b.Length < 30 || !Ascii(b, 0, "RIFF") || !Ascii(b, 8, "WEBP"))
            {
                return null;
            }

            if (Ascii(b, 12, "VP8 "))
            {
                return ((b[26] | (b[27] << 8)) & 0x3FFF, (b[28] | (b[29] << 8)) & 0x3FFF, "image/webp");
            }

            if (Ascii(b, 12, "VP8L"))
            {
                var bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
                return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "image/webp");
            }

            return Ascii(b, 12, "VP8X")
                ? ((b[24] | (b[25] << 8) | (b[26] << 16)) + 1, (b[27] | (b[28] << 8) | (b[29] << 16)) + 1, "image/webp")
                : null;
        }

        private static bool Ascii(byte[] b, int at, string text) => b.Length >= at + text.Length && text.Select((c, i) => b[at + i] == c).All(x => x);

        private static int BigEndian(byte[] b, int at, int count)
        {
            var value = 0;
            for (var i = 0; i < count; i++)
            {
                value = (value << 8) | b[at + i];
            }

            return value;
        }
    }
}
