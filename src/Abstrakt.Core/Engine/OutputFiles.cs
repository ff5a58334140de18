using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;

namespace Abstrakt.Engine
{
    /// <summary>Safe, stable output file names: index, a slug of the prompt, the job id. Never outside the folder.</summary>
    public static class OutputFiles
    {
        private const int SlugLength = 40;
        private static readonly string[] KnownExtensions = { "png", "jpg", "jpeg", "webp", "gif", "apng", "mp4", "webm", "wav", "mp3" };

        /// <summary>A lowercase ASCII slug of the prompt: letters and digits joined by dashes, at most 40 characters.</summary>
        /// <param name="prompt">Any text.</param>
        /// <returns>The slug, or "item" when nothing is left.</returns>
        public static string Slug(string prompt)
        {
            var slug = new StringBuilder();
            foreach (var c in (prompt ?? string.Empty).Normalize(NormalizationForm.FormD))
            {
                if (c < 128 && char.IsLetterOrDigit(c))
                {
                    slug.Append(char.ToLowerInvariant(c));
                }
                else if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark && slug.Length > 0 && slug[slug.Length - 1] != '-')
                {
                    slug.Append('-');
                }

                if (slug.Length >= SlugLength)
                {
                    break;
                }
            }

            var text = slug.ToString().Trim('-');
            return text.Length == 0 ? "item" : text;
        }

        /// <summary>The full path for one output, inside <paramref name="directory"/>.</summary>
        /// <param name="directory">The output directory.</param>
        /// <param name="index">The item's index.</param>
        /// <param name="prompt">The prompt.</param>
        /// <param name="jobId">The job id.</param>
        /// <param name="outputNumber">Which output of the job (0-based).</param>
        /// <param name="outputCount">How many outputs the job has.</param>
        /// <param name="url">The output URL (for the extension).</param>
        /// <param name="contentType">The output's MIME type, if known.</param>
        /// <returns>The path.</returns>
        public static string PathFor(string directory, long index, string prompt, string jobId, int outputNumber, int outputCount, string url, string? contentType) =>
            PathFor(directory, index.ToString("D5", CultureInfo.InvariantCulture) + "-" + Slug(prompt), jobId, outputNumber, outputCount, url, contentType);

        /// <summary>The file name stem of an item's outputs: a slug of its given id, else its index and a slug of its prompt.</summary>
        /// <param name="item">The item.</param>
        /// <returns>The stem.</returns>
        public static string Stem(WorkItem item) =>
            item.IdGiven ? Slug(item.Id) : item.Index.ToString("D5", CultureInfo.InvariantCulture) + "-" + Slug(item.Prompt);

        /// <summary>How an item's outputs are named: after its source image's file name when it has one, else <see cref="Stem"/> and the job id.</summary>
        /// <param name="item">The item.</param>
        /// <param name="force">Replace a file already at a source-named output's path.</param>
        /// <returns>The naming.</returns>
        internal static OutputName NameFor(WorkItem item, bool force) =>
            item.Image?.Path is string source && !item.IdGiven
                ? new OutputName(SourceStem(source), WithJobId: false, force ? ExistingOutput.Replace : ExistingOutput.Refuse)
                : new OutputName(Stem(item), WithJobId: true, ExistingOutput.Keep);

        /// <summary>A source file's name without its extension, with only letters, digits, '-', '_' and '.' kept (others become '-').</summary>
        private static string SourceStem(string path)
        {
            var name = Path.GetFileNameWithoutExtension(path);
            var safe = new string(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray()).TrimStart('.');
            return safe.Length == 0 ? "image" : safe;
        }

        /// <summary>The full path for one output named <c>{stem}-{job id}[-n].{ext}</c>, inside <paramref name="directory"/>.</summary>
        /// <param name="directory">The output directory.</param>
        /// <param name="stem">The name's start (<see cref="Stem"/>, or a slug); only ASCII letters, digits and dashes are kept.</param>
        /// <param name="jobId">The job id.</param>
        /// <param name="outputNumber">Which output of the job (0-based).</param>
        /// <param name="outputCount">How many outputs the job has.</param>
        /// <param name="url">The output URL (for the extension).</param>
        /// <param name="contentType">The output's MIME type, if known.</param>
        /// <returns>The path.</returns>
        public static string PathFor(string directory, string stem, string jobId, int outputNumber, int outputCount, string url, string? contentType)
        {
            var safeStem = new string((stem ?? string.Empty).Where(c => c < 128 && (char.IsLetterOrDigit(c) || c == '-')).ToArray());
            var safeJob = new string((jobId ?? string.Empty).Where(c => c < 128 && (char.IsLetterOrDigit(c) || c == '_' || c == '-')).Take(64).ToArray());
            return Inside(directory, (safeStem.Length == 0 ? "item" : safeStem) + "-" + (safeJob.Length == 0 ? "job" : safeJob) + Suffix(outputNumber, outputCount, url, contentType));
        }

        private static string PathFor(string directory, OutputName name, string jobId, int outputNumber, int outputCount, string url, string? contentType) =>
            name.WithJobId ? PathFor(directory, name.Stem, jobId, outputNumber, outputCount, url, contentType) : Inside(directory, name.Stem + Suffix(outputNumber, outputCount, url, contentType));

        private static string Suffix(int outputNumber, int outputCount, string url, string? contentType) =>
            (outputCount > 1 ? "-" + (outputNumber + 1).ToString(CultureInfo.InvariantCulture) : string.Empty) + "." + Extension(url, contentType);

        private static string Inside(string directory, string name)
        {
            var root = Path.GetFullPath(directory);
            var full = Path.GetFullPath(Path.Combine(root, name));
            if (!full.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new InvalidOperationException("An output name escaped the output directory: " + name);
            }

            return full;
        }

        /// <summary>Downloads every output of a finished job into <paramref name="directory"/>, as <c>{stem}-{job id}[-n].{ext}</c>.
        /// A file already there (from an earlier run) is kept; a download lands under a temporary name first, so a cut one never
        /// passes for an output.</summary>
        /// <param name="client">The client.</param>
        /// <param name="directory">The output directory; it must exist.</param>
        /// <param name="stem">The name's start (<see cref="Stem"/>).</param>
        /// <param name="job">The job.</param>
        /// <param name="allowPrivateHost">Fetch outputs on private-range hosts even when the endpoint is not on one.</param>
        /// <param name="cancellationToken">Stops the downloads.</param>
        /// <returns>The paths, one per output.</returns>
        public static Task<IReadOnlyList<string>> DownloadAsync(AbstraktClient client, string directory, string stem, JobInfo job, bool allowPrivateHost, CancellationToken cancellationToken) =>
            DownloadAsync(client, directory, new OutputName(stem, WithJobId: true, ExistingOutput.Keep), job, allowPrivateHost, beforeStage: null, cancellationToken);

        /// <summary>As the public overload, with the naming, calling <paramref name="beforeStage"/> before each download and move (the engine's fault-injection seam).</summary>
        internal static async Task<IReadOnlyList<string>> DownloadAsync(AbstraktClient client, string directory, OutputName name, JobInfo job, bool allowPrivateHost, Action<ItemStage>? beforeStage, CancellationToken cancellationToken)
        {
            var files = new List<string>();
            var paths = Enumerable.Range(0, job.Outputs.Count).Select(i => PathFor(directory, name, job.JobId, i, job.Outputs.Count, job.Outputs[i].Url, job.Outputs[i].ContentType)).ToList();
            if (name.Existing == ExistingOutput.Refuse && paths.FirstOrDefault(File.Exists) is string taken)
            {
                // Named after the source, an existing file may be anything the user keeps there: never replaced unasked.
                throw new AbstraktApiException(ErrorCodes.OutputExists, $"The output '{taken}' already exists; it was not replaced (add -Force to replace it).");
            }

            for (var i = 0; i < job.Outputs.Count; i++)
            {
                var output = job.Outputs[i];
                var path = paths[i];
                files.Add(path);
                if (name.Existing == ExistingOutput.Keep && File.Exists(path))
                {
                    continue; // kept from an earlier run
                }

                var temp = path + ".part-" + Guid.NewGuid().ToString("N").Substring(0, 8);
                try
                {
                    beforeStage?.Invoke(ItemStage.Download);
                    using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
                    {
                        await client.DownloadAsync(output.Url, stream, allowPrivateHost, cancellationToken).ConfigureAwait(false);
                    }

                    beforeStage?.Invoke(ItemStage.Move);
                    if (name.Existing == ExistingOutput.Replace)
                    {
                        File.Delete(path);
                    }

                    MoveIntoPlace(temp, path);
                }
                catch
                {
                    TryDelete(temp);
                    throw;
                }
            }

            return files;
        }

        /// <summary>
        /// Moves a finished download to its name. The name holds the item's stem and job id, so a file that
        /// appeared there meanwhile (another worker, an earlier run) has the same bytes: keep it.
        /// </summary>
        private static void MoveIntoPlace(string temp, string path)
        {
            try
            {
                File.Move(temp, path);
            }
            catch (IOException) when (File.Exists(path))
            {
                TryDelete(temp);
            }
        }

        private static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A leftover .part file is harmless and never mistaken for an output.
            }
        }

        private static string Extension(string url, string? contentType)
        {
            var fromType = contentType?.Split(';')[0].Trim().ToLowerInvariant() switch
            {
                "image/png" => "png",
                "image/apng" => "apng",
                "image/jpeg" => "jpg",
                "image/webp" => "webp",
                "image/gif" => "gif",
                "video/mp4" => "mp4",
                "video/webm" => "webm",
                "audio/wav" or "audio/x-wav" or "audio/wave" => "wav",
                "audio/mpeg" => "mp3",
                _ => null,
            };
            if (fromType is not null)
            {
                return fromType;
            }

            var path = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.AbsolutePath : string.Empty;
            var ext = Path.GetExtension(path).TrimStart('.').ToLowerInvariant();
            return KnownExtensions.Contains(ext) ? ext : "bin";
        }
    }

    /// <summary>What a download does with a file already at an output's path.</summary>
    internal enum ExistingOutput
    {
        /// <summary>Keep it: the name holds the job id, so it is this job's output from an earlier run.</summary>
        Keep,

        /// <summary>Fail the item (a source-named output without -Force).</summary>
        Refuse,

        /// <summary>Replace it (-Force).</summary>
        Replace,
    }

    /// <summary>How an item's outputs are named.</summary>
    /// <param name="Stem">The name's start.</param>
    /// <param name="WithJobId">Whether the job id follows the stem.</param>
    /// <param name="Existing">What to do with a file already there.</param>
    internal sealed record OutputName(string Stem, bool WithJobId, ExistingOutput Existing);
}
