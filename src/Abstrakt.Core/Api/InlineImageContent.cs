using System;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;

namespace Abstrakt.Api
{
    /// <summary>
    /// A JSON request body with one local image inlined as a data URI, streamed: the JSON around the image is
    /// written as it is, the file is read and base64-encoded in chunks straight into the request, so memory per
    /// request stays a few buffers whatever the image's size.
    /// </summary>
    internal sealed class InlineImageContent : HttpContent
    {
        private readonly byte[] _before;
        private readonly byte[] _after;
        private readonly ImageInput _image;
        private readonly byte[] _scheme;

        /// <param name="json">The body serialized with <paramref name="placeholder"/> (a JSON string) where the image goes.</param>
        /// <param name="placeholder">A unique string that occurs once in <paramref name="json"/>.</param>
        /// <param name="image">The local image.</param>
        public InlineImageContent(byte[] json, string placeholder, ImageInput image)
        {
            var marker = Encoding.UTF8.GetBytes(placeholder);
            var at = IndexOf(json, marker);
            if (at < 0)
            {
                throw new InvalidOperationException("The image placeholder is missing from the request body.");
            }

            _before = new byte[at];
            Buffer.BlockCopy(json, 0, _before, 0, at);
            _after = new byte[json.Length - at - marker.Length];
            Buffer.BlockCopy(json, at + marker.Length, _after, 0, _after.Length);
            _image = image;
            _scheme = Encoding.ASCII.GetBytes("data:" + image.MediaType + ";base64,");
            Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_before, 0, _before.Length).ConfigureAwait(false);
            await stream.WriteAsync(_scheme, 0, _scheme.Length).ConfigureAwait(false);
            using (var file = new FileStream(_image.Path!, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true))
            using (var base64 = new CryptoStream(file, new ToBase64Transform(), CryptoStreamMode.Read))
            {
                await base64.CopyToAsync(stream, 65536).ConfigureAwait(false);
            }

            await stream.WriteAsync(_after, 0, _after.Length).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            // Known up front (base64 is 4 bytes per 3), so the request has a Content-Length rather than chunks.
            length = _before.Length + _scheme.Length + (((_image.Length + 2) / 3) * 4) + _after.Length;
            return true;
        }

        private static int IndexOf(byte[] haystack, byte[] needle)
        {
            for (var i = 0; i <= haystack.Length - needle.Length; i++)
            {
                var j = 0;
                while (j < needle.Length && haystack[i + j] == needle[j])
                {
                    j++;
                }

                if (j == needle.Length)
                {
                    return i;
                }
            }

            return -1;
        }
    }
}
