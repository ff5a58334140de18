using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using Abstrakt.Api;
using Abstrakt.Json;

namespace Abstrakt.Engine
{
    /// <summary>One unit of work: a prompt for a model, with per-item input overrides.</summary>
    public sealed class WorkItem
    {
        /// <summary>Creates an item. <paramref name="id"/> defaults to one derived from position and content.</summary>
        /// <param name="index">The 1-based position in the batch.</param>
        /// <param name="prompt">The prompt (sent as <c>prompt</c>, or <c>text</c> for speech models).</param>
        /// <param name="model">The model id; null for the batch's default.</param>
        /// <param name="input">Extra model inputs (image_size, num_images, seed, …); they override the batch's.</param>
        /// <param name="id">A stable id, or null to derive one.</param>
        /// <param name="source">What the caller passed in, returned with failures so they can be piped back.</param>
        /// <param name="image">The image the item sends to an image model, or null.</param>
        public WorkItem(long index, string prompt, string? model = null, IReadOnlyDictionary<string, object?>? input = null, string? id = null, object? source = null, ImageInput? image = null)
        {
            Image = image;
            Index = index;
            Prompt = prompt ?? string.Empty;
            Model = model;
            Input = input ?? new Dictionary<string, object?>();
            Source = source;
            // Most items have no per-item input: its JSON is known without writing it.
            InputJson = Input.Count == 0 ? "{}" : Encoding.UTF8.GetString(JsonValues.ToUtf8(Input.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value)));
            IdGiven = !string.IsNullOrWhiteSpace(id);
            var content = (model ?? string.Empty) + "\n" + Prompt + "\n" + InputJson;

            // An image item is named by what it sends (the image's content hash), not by its position: a resume
            // finds it however the files were renamed or reordered, and an edited photo is new work.
            Id = IdGiven ? id!.Trim()
                : image is null ? index.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + Hash(content, 4)
                : "image-" + Hash(content + "\n" + image, 8);
        }

        /// <summary>The image sent to an image model (in the field its input schema names), or null.</summary>
        public ImageInput? Image { get; }

        /// <summary>The 1-based position in the batch.</summary>
        public long Index { get; }

        /// <summary>A stable id: given, or <c>{index}-{hash of content}</c>.</summary>
        public string Id { get; }

        /// <summary>True when the caller gave the id (then it names the item in errors and output files).</summary>
        public bool IdGiven { get; }

        /// <summary>How errors and messages name the item: its given id, else its position.</summary>
        public string Label => IdGiven ? $"'{Id}'" : Index.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>The prompt.</summary>
        public string Prompt { get; }

        /// <summary>The model, or null for the batch's default.</summary>
        public string? Model { get; }

        /// <summary>Per-item model inputs.</summary>
        public IReadOnlyDictionary<string, object?> Input { get; }

        /// <summary>The caller's original input object.</summary>
        public object? Source { get; }

        /// <summary>The JSON text of the per-item input, for the journal and comparisons.</summary>
        public string InputJson { get; }

        /// <summary>Lowercase hex of the first <paramref name="bytes"/> bytes of the SHA-256 of <paramref name="content"/>.</summary>
        internal static string Hash(string content, int bytes)
        {
            // One SHA-256 per thread: creating one costs more than hashing a prompt, and every item is hashed.
            var hash = (_sha ??= SHA256.Create()).ComputeHash(Encoding.UTF8.GetBytes(content));
            var hex = new char[bytes * 2];
            for (var i = 0; i < bytes; i++)
            {
                hex[2 * i] = HexDigits[hash[i] >> 4];
                hex[(2 * i) + 1] = HexDigits[hash[i] & 0xF];
            }

            return new string(hex);
        }

        private const string HexDigits = "0123456789abcdef";

        [ThreadStatic]
        private static SHA256? _sha;
    }

    /// <summary>What the engine reports.</summary>
    public abstract class BatchEvent
    {
    }

    /// <summary>An item finished with outputs.</summary>
    public sealed class ItemCompleted : BatchEvent
    {
        /// <summary>The item.</summary>
        public WorkItem Item { get; init; } = null!;

        /// <summary>The model that ran.</summary>
        public string Model { get; init; } = string.Empty;

        /// <summary>The job.</summary>
        public string JobId { get; init; } = string.Empty;

        /// <summary>The output URLs.</summary>
        public IReadOnlyList<string> Urls { get; init; } = Array.Empty<string>();

        /// <summary>The downloaded files, when an output directory was given.</summary>
        public IReadOnlyList<string> Files { get; init; } = Array.Empty<string>();

        /// <summary>Attempts it took (1 when nothing was retried).</summary>
        public int Attempts { get; init; }

        /// <summary>Wall time from first attempt to completion.</summary>
        public TimeSpan Duration { get; init; }

        /// <summary>Credits charged.</summary>
        public int CreditsUsed { get; init; }

        /// <summary>True when the result came from the journal of an earlier run, not from this one.</summary>
        public bool FromJournal { get; init; }

        /// <summary>Submitted with a webhook URL and not waited for: the job runs on, its result goes to the webhook.</summary>
        public bool Submitted { get; init; }
    }

    /// <summary>An item failed; the batch goes on.</summary>
    public sealed class ItemFailed : BatchEvent
    {
        /// <summary>The item.</summary>
        public WorkItem Item { get; init; } = null!;

        /// <summary>Why.</summary>
        public AbstraktApiException Error { get; init; } = null!;

        /// <summary>Attempts made.</summary>
        public int Attempts { get; init; }
    }

    /// <summary>A request is being retried or is waiting, with the reason (for -Verbose).</summary>
    public sealed class ItemNote : BatchEvent
    {
        /// <summary>The item.</summary>
        public WorkItem Item { get; init; } = null!;

        /// <summary>What happened.</summary>
        public string Message { get; init; } = string.Empty;
    }

    /// <summary>Something the batch as a whole learnt (for -Verbose): the plan's concurrency, say.</summary>
    public sealed class BatchNote : BatchEvent
    {
        /// <summary>What happened.</summary>
        public string Message { get; init; } = string.Empty;
    }

    /// <summary>A snapshot of the whole batch.</summary>
    public sealed class BatchProgress : BatchEvent
    {
        /// <summary>Items in the batch, once the input has ended.</summary>
        public long? Total { get; init; }

        /// <summary>Items completed.</summary>
        public long Done { get; init; }

        /// <summary>Items failed.</summary>
        public long Failed { get; init; }

        /// <summary>Of the failed items, those whose create may have made a job that no one can name (OUTCOME_UNKNOWN).</summary>
        public long OutcomeUnknown { get; init; }

        /// <summary>Items being worked on.</summary>
        public long InFlight { get; init; }

        /// <summary>
        /// Of the items in flight, those whose create is on the wire waiting for its result (sync:true, chosen while
        /// requests are scarce): no job id yet, so a stop cannot cancel their jobs.
        /// </summary>
        public long CreatesAwaitingResult { get; init; }

        /// <summary>Requests held back by the rate limit.</summary>
        public int WaitingOnRateLimit { get; init; }

        /// <summary>Retries so far.</summary>
        public long Retries { get; init; }

        /// <summary>Finished items per minute so far.</summary>
        public double ItemsPerMinute { get; init; }

        /// <summary>Estimated time left, when the total is known.</summary>
        public TimeSpan? Remaining { get; init; }

        /// <summary>Credits charged so far.</summary>
        public long CreditsUsed { get; init; }

        /// <summary>Time since the batch started.</summary>
        public TimeSpan Elapsed { get; init; }

        /// <summary>The prompt of the item that finished last.</summary>
        public string? LastPrompt { get; init; }

        /// <summary>Done plus failed.</summary>
        public long Finished => Done + Failed;
    }
}
