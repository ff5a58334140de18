using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Abstrakt.Json;

namespace Abstrakt.Engine
{
    /// <summary>What the journal knows of one item.</summary>
    public sealed class JournalEntry
    {
        /// <summary>The item id.</summary>
        public string Id { get; set; } = string.Empty;

        /// <summary>The item's index.</summary>
        public long Index { get; set; }

        /// <summary>The prompt as accepted.</summary>
        public string Prompt { get; set; } = string.Empty;

        /// <summary>The model as accepted (null for the batch default).</summary>
        public string? Model { get; set; }

        /// <summary>The per-item input JSON as accepted.</summary>
        public string InputJson { get; set; } = "{}";

        /// <summary>accepted, sent (a create on the wire, not yet answered), created, completed, failed or cancelled.</summary>
        public string State { get; set; } = "accepted";

        /// <summary>The job, once created.</summary>
        public string? JobId { get; set; }

        /// <summary>How many times the item was resubmitted (part of its idempotency key).</summary>
        public int Resubmissions { get; set; }

        /// <summary>Output URLs, once completed.</summary>
        public IReadOnlyList<string> Urls { get; set; } = Array.Empty<string>();

        /// <summary>Downloaded files, once completed.</summary>
        public IReadOnlyList<string> Files { get; set; } = Array.Empty<string>();

        /// <summary>Credits, once completed.</summary>
        public int Credits { get; set; }

        /// <summary>The error code, once failed.</summary>
        public string? ErrorCode { get; set; }

        /// <summary>The error message, once failed.</summary>
        public string? ErrorMessage { get; set; }
    }

    /// <summary>
    /// An append-only JSON-lines record of a batch, one line per event in an item's life, flushed per line.
    /// A torn last line (a crash mid-write) is ignored on read. Holds no secrets: inputs, job ids, files, errors.
    /// </summary>
    public sealed class Journal : IDisposable
    {
        private readonly object _lock = new object();
        private readonly StreamWriter _writer;
        private readonly JournalLock _owner;

        private readonly JournalIndex? _index;

        private Journal(string path, string batchId, JournalIndex? index, StreamWriter writer, JournalLock owner)
        {
            Path = path;
            BatchId = batchId;
            _index = index;
            Entries = new EntryView(index);
            _writer = writer;
            _owner = owner;
        }

        /// <summary>The journal file.</summary>
        public string Path { get; }

        /// <summary>The batch's id; part of every idempotency key, so a resumed batch reuses its keys.</summary>
        public string BatchId { get; }

        /// <summary>The default model recorded when the journal was created.</summary>
        public string? DefaultModel { get; private set; }

        /// <summary>True when this open started the journal: the file was missing or empty.</summary>
        public bool IsNew { get; private init; }

        /// <summary>What the journal held when opened, by item id.</summary>
        /// <value>
        /// A view of the journal file, not a copy in memory: each lookup reads the item's records back from the file,
        /// and enumerating reads every item's. A resume holds only a compact index of the items (about 20 bytes each).
        /// </value>
        public IReadOnlyDictionary<string, JournalEntry> Entries { get; }

        /// <summary>The item last accepted at <paramref name="index"/> when the journal was opened; null when none.</summary>
        internal JournalEntry? ByIndex(long index) => _index?.ByIndex(index);

        /// <summary>The item with id <paramref name="id"/> when the journal was opened; null when none.</summary>
        internal JournalEntry? ById(string id) => _index?.ById(id);

        /// <summary>Opens a journal: a new one, or with <paramref name="resume"/> an existing one to continue.</summary>
        /// <param name="path">The file.</param>
        /// <param name="resume">Continue an existing journal.</param>
        /// <param name="defaultModel">The batch's default model, recorded in a new journal and checked on resume.</param>
        /// <returns>The journal.</returns>
        /// <exception cref="JournalException">The journal is in use by another batch, exists without resume, is not a journal, or was made with another model.</exception>
        public static Journal Open(string path, bool resume, string defaultModel)
        {
            var full = System.IO.Path.GetFullPath(path);
            var directory = System.IO.Path.GetDirectoryName(full);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            // Owned before it is read, so no other batch can write between our read and our first record.
            var owner = JournalLock.Acquire(full);
            try
            {
                return Open(full, resume, defaultModel, owner);
            }
            catch
            {
                owner.Dispose();
                throw;
            }
        }

        private static Journal Open(string full, bool resume, string defaultModel, JournalLock owner)
        {
            var exists = File.Exists(full) && new FileInfo(full).Length > 0;
            if (exists && !resume)
            {
                throw new JournalException($"The journal '{full}' already holds a batch. Resume it, or choose another path.", "JournalExists");
            }

            string batchId;
            string? recordedModel = null;
            JournalIndex? index = null;
            StreamWriter writer;
            try
            {
                if (exists)
                {
                    // Streamed: what a resume holds per item is a few offsets, not the item (JournalIndex).
                    index = JournalIndex.Read(full);
                    (batchId, recordedModel) = (index.BatchId, index.Model);
                    if (!string.Equals(recordedModel, defaultModel, StringComparison.OrdinalIgnoreCase))
                    {
                        throw new JournalException($"The journal was made for model '{recordedModel}', not '{defaultModel}'. Resume with -Model {recordedModel}.", "JournalDiffers");
                    }
                }
                else
                {
                    batchId = Guid.NewGuid().ToString("N");
                }

                var stream = new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.Read);
                writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = false, NewLine = "\n" };
            }
            catch
            {
                index?.Dispose();
                throw;
            }

            var journal = new Journal(full, batchId, index, writer, owner) { DefaultModel = recordedModel ?? defaultModel, IsNew = !exists };
            if (!exists)
            {
                journal.Append(new Dictionary<string, object?> { ["type"] = "batch", ["version"] = 1, ["batch_id"] = batchId, ["model"] = defaultModel, ["created_at"] = DateTimeOffset.UtcNow.ToString("o") });
            }
            else
            {
                // A crash may have left a torn last line: start ours on a fresh one.
                journal.Append(null);
            }

            return journal;
        }

        /// <summary>Records that an item was accepted.</summary>
        /// <param name="item">The item.</param>
        public void Accepted(WorkItem item) => Append(new Dictionary<string, object?>
        {
            ["type"] = "accepted", ["id"] = item.Id, ["index"] = item.Index, ["prompt"] = item.Prompt, ["model"] = item.Model, ["input"] = RawJson(item.InputJson),
        });

        /// <summary>Records that a create for an item is about to go on the wire: until it is answered, a job may exist unnamed.</summary>
        /// <param name="id">The item id.</param>
        /// <param name="resubmissions">The item's resubmission count.</param>
        public void Sent(string id, int resubmissions) => Append(new Dictionary<string, object?> { ["type"] = "sent", ["id"] = id, ["resubmissions"] = resubmissions });

        /// <summary>Records that the create last sent for an item made no job (it was answered with an error, or never left).</summary>
        /// <param name="id">The item id.</param>
        public void Unsent(string id) => Append(new Dictionary<string, object?> { ["type"] = "unsent", ["id"] = id });

        /// <summary>Records that a job was created for an item.</summary>
        /// <param name="id">The item id.</param>
        /// <param name="jobId">The job id.</param>
        /// <param name="resubmissions">The item's resubmission count.</param>
        public void Created(string id, string jobId, int resubmissions) => Append(new Dictionary<string, object?> { ["type"] = "created", ["id"] = id, ["job_id"] = jobId, ["resubmissions"] = resubmissions });

        /// <summary>Records a completed item.</summary>
        /// <param name="result">The result.</param>
        public void Completed(ItemCompleted result) => Append(new Dictionary<string, object?>
        {
            ["type"] = "completed", ["id"] = result.Item.Id, ["job_id"] = result.JobId, ["urls"] = result.Urls, ["files"] = result.Files, ["credits"] = result.CreditsUsed,
        });

        /// <summary>Records a failed item.</summary>
        /// <param name="id">The item id.</param>
        /// <param name="code">The error code.</param>
        /// <param name="message">The error message.</param>
        public void Failed(string id, string code, string message) => Append(new Dictionary<string, object?> { ["type"] = "failed", ["id"] = id, ["code"] = code, ["message"] = message });

        /// <summary>Records that an item's job was cancelled when the batch stopped (it is resubmitted on resume).</summary>
        /// <param name="id">The item id.</param>
        /// <param name="jobId">The job id.</param>
        public void Cancelled(string id, string jobId) => Append(new Dictionary<string, object?> { ["type"] = "cancelled", ["id"] = id, ["job_id"] = jobId });

        /// <inheritdoc/>
        public void Dispose()
        {
            lock (_lock)
            {
                try
                {
                    _writer.Dispose();
                }
                catch (IOException)
                {
                    // A record that could not be flushed (a full disk) was reported when it was written.
                }

                _index?.Dispose();
                _owner.Dispose();
            }
        }

        private void Append(Dictionary<string, object?>? record)
        {
            lock (_lock)
            {
                if (record is not null)
                {
                    _writer.Write(Encoding.UTF8.GetString(JsonValues.ToUtf8(record)));
                }

                _writer.Write('\n');
                _writer.Flush();
            }
        }

        private static JsonElement RawJson(string json)
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.Clone();
        }

        /// <summary>
        /// Applies one record to the entry <paramref name="entryFor"/> gives for its id; throws FormatException or
        /// InvalidOperationException when it has the wrong shape. Returns the record's id, or null for the batch record.
        /// </summary>
        internal static string? ApplyRecord(JsonElement r, Func<string, JournalEntry> entryFor, ref string? batchId, ref string? model)
        {
            if (r.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"a record is a JSON {r.ValueKind.ToString().ToLowerInvariant()}, not an object.");
            }

            var type = Str(r, "type");
            if (type == "batch")
            {
                if (batchId is not null)
                {
                    throw new FormatException("a second batch record; a journal holds one batch.");
                }

                batchId = Str(r, "batch_id") ?? throw new FormatException("the batch record has no batch_id.");
                model = Str(r, "model");
                return null;
            }

            var id = Str(r, "id") ?? throw new FormatException($"a '{type}' record has no id.");
            Apply(new ElementFields(r), type, entryFor(id));
            return id;
        }

        /// <summary>Applies the fields of a record of type <paramref name="type"/> to its item's entry; throws as <see cref="IRecordFields"/> does.</summary>
        internal static void Apply<T>(T r, string? type, JournalEntry entry)
            where T : IRecordFields
        {
            switch (type)
            {
                case "accepted":
                    entry.Index = r.Int64("index");
                    entry.Prompt = r.Text("prompt") ?? string.Empty;
                    entry.Model = r.Text("model");
                    entry.InputJson = r.Raw("input") ?? "{}";
                    break;
                case "sent":
                    entry.State = "sent";
                    entry.Resubmissions = r.Int32("resubmissions");
                    break;
                case "unsent":
                    entry.State = "accepted";
                    break;
                case "created":
                    entry.State = "created";
                    entry.JobId = r.Text("job_id");
                    entry.Resubmissions = r.Int32("resubmissions");
                    break;
                case "completed":
                    entry.State = "completed";
                    entry.JobId = r.Text("job_id");
                    entry.Urls = r.Texts("urls");
                    entry.Files = r.Texts("files");
                    entry.Credits = r.Int32("credits");
                    break;
                case "failed":
                    entry.State = "failed";
                    entry.ErrorCode = r.Text("code");
                    entry.ErrorMessage = r.Text("message");
                    break;
                case "cancelled":
                    entry.State = "cancelled";
                    // The job cancelled is the one created: an entry read back from this record alone still names it.
                    // Read leniently, as it never used to be read at all (so it never made a journal corrupt).
                    entry.JobId = r.TextOrNull("job_id") ?? entry.JobId;
                    break;
                default:
                    throw new FormatException($"an unknown record type '{type}'.");
            }
        }

        private static string? Str(JsonElement r, string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        /// <summary>A record's fields as a parsed document has them (the last of a repeated field).</summary>
        private readonly struct ElementFields : IRecordFields
        {
            private readonly JsonElement _r;

            public ElementFields(JsonElement r) => _r = r;

            public string? Text(string name) => Str(_r, name);

            public string? TextOrNull(string name)
            {
                try
                {
                    return Str(_r, name);
                }
                catch (InvalidOperationException)
                {
                    return null;
                }
            }

            public long Int64(string name) => _r.TryGetProperty(name, out var v) ? v.GetInt64() : 0;

            public int Int32(string name) => _r.TryGetProperty(name, out var v) ? v.GetInt32() : 0;

            public IReadOnlyList<string> Texts(string name) =>
                _r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetString() ?? string.Empty).ToList() : (IReadOnlyList<string>)Array.Empty<string>();

            public string? Raw(string name) => _r.TryGetProperty(name, out var v) ? v.GetRawText() : null;
        }
    }

    /// <summary>
    /// How a journal record's fields are read: a string field that is absent or not a string is null, a number field
    /// that is absent is 0 and one of another kind or size throws (InvalidOperationException, FormatException), a list
    /// of strings that is absent or not an array is empty and one with another item than a string or null throws.
    /// </summary>
    internal interface IRecordFields
    {
        string? Text(string name);

        /// <summary>As <see cref="Text"/>, but null instead of throwing.</summary>
        string? TextOrNull(string name);

        long Int64(string name);

        int Int32(string name);

        IReadOnlyList<string> Texts(string name);

        /// <summary>The field's JSON text; null when absent.</summary>
        string? Raw(string name);
    }

    /// <summary>The entries of a journal as a read-only dictionary by id, read back from the file on demand.</summary>
    internal sealed class EntryView : IReadOnlyDictionary<string, JournalEntry>
    {
        private readonly JournalIndex? _index;

        public EntryView(JournalIndex? index) => _index = index;

        public int Count => _index?.Count ?? 0;

        public IEnumerable<string> Keys => All().Select(e => e.Id);

        public IEnumerable<JournalEntry> Values => All();

        public JournalEntry this[string key] => _index?.ById(key) ?? throw new KeyNotFoundException($"No item '{key}' in the journal.");

        public bool ContainsKey(string key) => _index?.ById(key) is not null;

        public bool TryGetValue(string key, out JournalEntry value)
        {
            value = _index?.ById(key)!;
            return value is not null;
        }

        public IEnumerator<KeyValuePair<string, JournalEntry>> GetEnumerator() => All().Select(e => new KeyValuePair<string, JournalEntry>(e.Id, e)).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        private IEnumerable<JournalEntry> All() => _index?.All() ?? Enumerable.Empty<JournalEntry>();
    }

    /// <summary>A journal that cannot be used: exists without resume, corrupt, or for another batch.</summary>
    public sealed class JournalException : Exception
    {
        /// <summary>Creates the exception.</summary>
        /// <param name="message">What is wrong.</param>
        /// <param name="errorId">A stable id for the condition.</param>
        public JournalException(string message, string errorId)
            : base(message)
        {
            ErrorId = errorId;
        }

        /// <summary>A stable id: JournalExists, JournalCorrupt, JournalDiffers, JournalInUse.</summary>
        public string ErrorId { get; }
    }
}
