using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Abstrakt.Api;
using Abstrakt.Json;

namespace Abstrakt.Engine
{
    /// <summary>
    /// Turns a work item into the input its model takes: the prompt under the model's field, the item's own inputs, and its
    /// image under the field the model's input schema names (asked of the catalogue once per model and batch).
    /// </summary>
    internal sealed class ModelInputMapper
    {
        private readonly AbstraktClient _client;
        private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _imageFields = new ConcurrentDictionary<string, Lazy<Task<string>>>(StringComparer.OrdinalIgnoreCase);

        /// <param name="client">Asked for a model's input schema when an image item needs it.</param>
        public ModelInputMapper(AbstraktClient client) => _client = client;

        /// <summary>The input for <paramref name="model"/>: the prompt, the item's inputs (which win), then its image.</summary>
        /// <param name="item">The item.</param>
        /// <param name="model">The model it runs on.</param>
        /// <param name="token">Cancels a catalogue lookup.</param>
        /// <returns>The input, keyed by field name.</returns>
        public ValueTask<Dictionary<string, object?>> InputForAsync(WorkItem item, string model, CancellationToken token)
        {
            var input = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (item.Prompt.Length > 0)
            {
                input[PromptField(item, model)] = item.Prompt;
            }

            foreach (var pair in item.Input)
            {
                input[pair.Key] = pair.Value;
            }

            // Only an image item waits (for the catalogue, once per model): a prompt item's input costs no task.
            return item.Image is null ? new ValueTask<Dictionary<string, object?>>(input) : new ValueTask<Dictionary<string, object?>>(WithImageAsync(input, item.Image, model, token));
        }

        /// <summary>Speech models take their words as <c>text</c>, unless the item names <c>prompt</c> itself; every other model takes <c>prompt</c>.</summary>
        internal static string PromptField(WorkItem item, string model) =>
            model.IndexOf("tts", StringComparison.OrdinalIgnoreCase) >= 0 && !item.Input.ContainsKey("prompt") ? "text" : "prompt";

        /// <summary>
        /// The Idempotency-Key of a create: the batch, the item, a hash of what is sent, and the resubmission. Same item, same
        /// key; sent but never relied on (the real service may ignore it). The canonical input keeps two inputs apart.
        /// </summary>
        /// <param name="batchId">The batch's id.</param>
        /// <param name="item">The item.</param>
        /// <param name="model">The model.</param>
        /// <param name="input">The input sent.</param>
        /// <param name="resubmissions">How many times the item was resubmitted.</param>
        /// <returns>The key, plain ASCII (a header holds nothing else).</returns>
        public static string IdempotencyKey(string batchId, WorkItem item, string model, IDictionary<string, object?> input, int resubmissions) =>
            batchId + ":" + HeaderSafe(item.Id) + ":" + CanonicalHash(model, input) + (resubmissions > 0 ? ":" + resubmissions : string.Empty);

        /// <summary>A hash of what is sent: the model and the input with its keys in ordinal order.</summary>
        /// <param name="model">The model.</param>
        /// <param name="input">The input.</param>
        /// <returns>16 hex digits.</returns>
        public static string CanonicalHash(string model, IDictionary<string, object?> input) =>
            WorkItem.Hash(model + "\n" + Encoding.UTF8.GetString(JsonValues.ToUtf8(new SortedDictionary<string, object?>(input, StringComparer.Ordinal))), 8);

        /// <summary>The field a model takes its image in, read once per model and batch from its input schema.</summary>
        /// <param name="model">The model.</param>
        /// <param name="token">Cancels the lookup.</param>
        /// <returns>The field's name.</returns>
        public Task<string> ImageFieldAsync(string model, CancellationToken token) =>
            _imageFields.GetOrAdd(model, m => new Lazy<Task<string>>(async () =>
            {
                try
                {
                    var info = await _client.GetModelAsync(m, token).ConfigureAwait(false);
                    return ImageField.From(info.InputSchema) ?? ImageField.Default;
                }
                catch (AbstraktApiException ex)
                {
                    // Asked again next time; a retryable failure retries the item, any other lets the run itself
                    // answer (an unknown model, or a wrong field the service rejects).
                    _imageFields.TryRemove(m, out _);
                    if (FailureClassifier.IsRetryable(ex))
                    {
                        throw;
                    }

                    return ImageField.Default;
                }
            })).Value;

        private async Task<Dictionary<string, object?>> WithImageAsync(Dictionary<string, object?> input, ImageInput image, string model, CancellationToken token)
        {
            input[await ImageFieldAsync(model, token).ConfigureAwait(false)] = image;
            return input;
        }

        /// <summary>An id as it may stand in a header: itself when plain printable ASCII, else a hash of it (an id such as 'café').</summary>
        private static string HeaderSafe(string id) =>
            id.All(c => c > ' ' && c < 127 && c != ':') ? id : "h" + WorkItem.Hash(id, 8);
    }
}
