using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;

namespace Abstrakt.Engine
{
    /// <summary>
    /// A batch's outputs: the folder they go to, the names image items take from their sources (unique within the batch),
    /// and the downloads of finished jobs into it (<see cref="OutputFiles"/> names and writes each file).
    /// </summary>
    internal sealed class OutputDownloader
    {
        private static readonly Task<IReadOnlyList<string>> NoFiles = Task.FromResult<IReadOnlyList<string>>(Array.Empty<string>());
        private readonly AbstraktClient _client;
        private readonly BatchOptions _options;
        // An image item's output name, by item id; and which item holds each name (compared without case, as Windows and macOS do).
        private readonly ConcurrentDictionary<string, string> _sourceStems = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, string> _stemOwners = new ConcurrentDictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>Checks that the output folder (if any) can be written, creating it when missing.</summary>
        /// <param name="client">Downloads the files.</param>
        /// <param name="options">The folder, -Force, -AllowPrivateOutputHost and the fault-injection seam.</param>
        /// <exception cref="ArgumentException">The folder is a file or cannot be written.</exception>
        public OutputDownloader(AbstraktClient client, BatchOptions options)
        {
            _client = client;
            _options = options;
            if (options.OutputDirectory is string directory)
            {
                Prepare(directory);
            }
        }

        /// <summary>
        /// Gives an image item its output name, in input order: its source's file name, or, when an earlier item of the batch
        /// has that name already (IMG.png from two folders), the name and the start of its content hash, so no output is
        /// lost to another.
        /// </summary>
        /// <param name="item">The item, as it enters the batch.</param>
        public void ClaimSourceStem(WorkItem item)
        {
            if (OutputFiles.SourceStemOf(item) is not string stem || _sourceStems.ContainsKey(item.Id))
            {
                return;
            }

            var owner = _stemOwners.GetOrAdd(stem, item.Id);
            _sourceStems[item.Id] = owner == item.Id ? stem : stem + "-" + (item.Image!.Sha256 ?? item.Id).Substring(0, 8);
        }

        /// <summary>
        /// Before paying for a job: a source-named output already in the folder (a re-run without -Force) would be refused
        /// after the download, so refuse it now. Only for a new job: a re-attached one may have written that file itself.
        /// </summary>
        /// <param name="item">The item about to be created.</param>
        /// <exception cref="AbstraktApiException">OUTPUT_EXISTS.</exception>
        public void RefuseTakenOutput(WorkItem item)
        {
            if (_options.OutputDirectory is string directory && !_options.Force && SourceStemFor(item) is string stem
                && OutputFiles.ExistingSourceOutput(directory, stem) is string taken)
            {
                throw new AbstraktApiException(ErrorCodes.OutputExists, $"The output '{taken}' already exists; nothing was sent (add -Force to replace it).");
            }
        }

        /// <summary>Downloads a finished job's outputs into the folder; nothing without one.</summary>
        /// <param name="item">The item the job ran for.</param>
        /// <param name="job">The completed job.</param>
        /// <param name="token">Stops the downloads.</param>
        /// <returns>The files, one per output.</returns>
        public Task<IReadOnlyList<string>> DownloadAsync(WorkItem item, JobInfo job, CancellationToken token) =>
            _options.OutputDirectory is string directory
                ? OutputFiles.DownloadAsync(_client, directory, OutputFiles.NameFor(item, SourceStemFor(item), _options.Force), job, _options.AllowPrivateOutputHost, stage => _options.FaultInjection?.Invoke(stage, item), token)
                : NoFiles;

        private string? SourceStemFor(WorkItem item) => _sourceStems.TryGetValue(item.Id, out var stem) ? stem : null;

        private static void Prepare(string directory)
        {
            if (File.Exists(directory))
            {
                throw new ArgumentException($"The output directory '{directory}' is a file.", nameof(directory));
            }

            try
            {
                Directory.CreateDirectory(directory);
                var probe = Path.Combine(directory, ".abstrakt-write-test-" + Guid.NewGuid().ToString("N"));
                File.WriteAllBytes(probe, Array.Empty<byte>());
                File.Delete(probe);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"The output directory '{directory}' cannot be written: {ex.Message}", nameof(directory), ex);
            }
        }
    }
}
