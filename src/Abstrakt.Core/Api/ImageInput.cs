using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;

namespace Abstrakt.Api
{
    /// <summary>
    /// An image an item sends to an image model: a local file (sent inline as a data URI, streamed from disk when the
    /// request is built) or an http(s) URL the service fetches. A local image holds only its path and content hash,
    /// never its bytes, so a batch of a thousand photos does not hold a thousand photos.
    /// </summary>
    public sealed class ImageInput
    {
        /// <summary>The largest local file sent inline: 8 MiB (about 11 MiB once base64-encoded).</summary>
        public const long DefaultMaxBytes = 8L * 1024 * 1024;

        private ImageInput(string? path, string? url, string? sha256, string? mediaType, long length)
        {
            Path = path;
            Url = url;
            Sha256 = sha256;
            MediaType = mediaType;
            Length = length;
        }

        /// <summary>The local file, or null for a URL.</summary>
        public string? Path { get; }

        /// <summary>The URL the service fetches, or null for a local file.</summary>
        public string? Url { get; }

        /// <summary>Lowercase hex SHA-256 of a local file's bytes.</summary>
        public string? Sha256 { get; }

        /// <summary>image/png, image/jpeg or image/webp, detected from a local file's first bytes.</summary>
        public string? MediaType { get; }

        /// <summary>A local file's size in bytes.</summary>
        public long Length { get; }

        /// <summary>An image the service fetches from <paramref name="url"/>.</summary>
        /// <param name="url">An absolute http(s) URL.</param>
        /// <returns>The image.</returns>
        public static ImageInput FromUrl(string url) => new ImageInput(null, url, null, null, 0);

        /// <summary>True for text that is an absolute http(s) URL.</summary>
        /// <param name="text">Any text.</param>
        /// <returns>True for a URL.</returns>
        public static bool IsUrl(string? text) =>
            Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && text!.IndexOf(' ') < 0;

        /// <summary>Checks a local image and hashes it (streaming; nothing is kept but the hash).</summary>
        /// <param name="path">The file.</param>
        /// <param name="maxBytes">The largest size sent inline.</param>
        /// <returns>The image.</returns>
        /// <exception cref="ImageInputException">The file is missing, too large, or not a PNG, JPEG or WebP image.</exception>
        public static ImageInput Open(string path, long maxBytes = DefaultMaxBytes)
        {
            var file = new FileInfo(path);
            if (!file.Exists)
            {
                throw new ImageInputException(ImageProblem.NotFound, path, $"No image file at '{path}'.");
            }

            if (file.Length > maxBytes)
            {
                throw new ImageInputException(ImageProblem.TooLarge, path, string.Format(CultureInfo.InvariantCulture, "The image '{0}' is {1:0.#} MiB; local images are sent inline up to {2:0.#} MiB. Host larger files and give their URL instead (see about_Abstrakt, image inputs).", path, file.Length / 1048576.0, maxBytes / 1048576.0));
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920);
            var head = new byte[12];
            var read = 0;
            for (int n; read < head.Length && (n = stream.Read(head, read, head.Length - read)) > 0;)
            {
                read += n;
            }

            var mediaType = Detect(head, read) ?? throw new ImageInputException(ImageProblem.NotAnImage, path, $"'{path}' is not a PNG, JPEG or WebP image (its content says otherwise, whatever its name).");
            stream.Position = 0;
            using var sha = SHA256.Create();
            var hash = string.Concat(sha.ComputeHash(stream).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
            return new ImageInput(file.FullName, null, hash, mediaType, file.Length);
        }

        /// <summary>The media type a file's first bytes announce, or null for anything but PNG, JPEG and WebP.</summary>
        /// <param name="head">The first bytes.</param>
        /// <param name="count">How many were read.</param>
        /// <returns>The media type, or null.</returns>
        public static string? Detect(byte[] head, int count)
        {
            if (head is null)
            {
                return null;
            }

            if (count >= 8 && head[0] == 0x89 && head[1] == 0x50 && head[2] == 0x4E && head[3] == 0x47 && head[4] == 0x0D && head[5] == 0x0A && head[6] == 0x1A && head[7] == 0x0A)
            {
                return "image/png";
            }

            if (count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF)
            {
                return "image/jpeg";
            }

            if (count >= 12 && head[0] == (byte)'R' && head[1] == (byte)'I' && head[2] == (byte)'F' && head[3] == (byte)'F' && head[8] == (byte)'W' && head[9] == (byte)'E' && head[10] == (byte)'B' && head[11] == (byte)'P')
            {
                return "image/webp";
            }

            return null;
        }

        /// <summary>How the item's identity and the journal name the image: its URL, or its content hash (never its path,
        /// so a renamed folder is the same work and an edited photo is new work).</summary>
        /// <returns>The URL, or <c>sha256:{hex}</c>.</returns>
        public override string ToString() => Url ?? "sha256:" + Sha256;
    }

    /// <summary>Why a local image cannot be sent.</summary>
    public enum ImageProblem
    {
        /// <summary>No file at the path.</summary>
        NotFound,

        /// <summary>Larger than the inline limit.</summary>
        TooLarge,

        /// <summary>Not a PNG, JPEG or WebP image by content.</summary>
        NotAnImage,
    }

    /// <summary>A local image that cannot be sent, found before anything is sent.</summary>
    public sealed class ImageInputException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="problem">Why.</param>
        /// <param name="path">The file.</param>
        /// <param name="message">The message, naming the file.</param>
        public ImageInputException(ImageProblem problem, string path, string message)
            : base(message)
        {
            Problem = problem;
            FilePath = path;
        }

        /// <summary>Why.</summary>
        public ImageProblem Problem { get; }

        /// <summary>The file.</summary>
        public string FilePath { get; }
    }
}
