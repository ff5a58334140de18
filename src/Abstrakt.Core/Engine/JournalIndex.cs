using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;

namespace Abstrakt.Engine
{
    /// <summary>
    /// What a journal held when it was opened, kept small: per item its state, its resubmission count, and the file
    /// offsets of the two records a resume reads back (the last <c>accepted</c> and the last record that set the
    /// state), about 24 bytes an item. The full <see cref="JournalEntry"/> is read back from the file when asked for.
    /// Items are found by index (prompt items) or by id (image items, named by their content): ids are not held as
    /// strings but as a hash, and every hash match is confirmed against the id in the file, so a collision costs a
    /// read, never a wrong item.
    /// </summary>
    /// <remarks>
    /// The journal is read once, line by line, with the rules it always had: a line that is not JSON is a torn
    /// write (tolerated where a crash leaves one), a line of JSON of the wrong shape is JournalCorrupt naming the
    /// line. Well-formed ASCII lines, all that the journal's writer produces, are read with a forward-only reader;
    /// any other line takes the original path (decode, parse, check field by field), so errors say what they said.
    /// Thread-safe for lookups once built.
    /// </remarks>
    internal sealed class JournalIndex : IDisposable
    {
        private const int ChunkBits = 16;
        private const int ChunkSize = 1 << ChunkBits;
        private const int RecentIds = 4096;
        private const byte ResubmissionsOverflow = byte.MaxValue;

        private readonly string _path;
        private readonly IdHasher _hash;
        private readonly FileStream _reader;
        private readonly object _readLock = new object();
        private readonly byte[] _readBuffer = new byte[4096];
        private Slot[][] _chunks = new Slot[4][];
        private int _count;
        private int[] _buckets = new int[1024];
        private int[] _byIndexDense = new int[1024];
        private Dictionary<long, int>? _byIndexSparse;
        private Dictionary<int, int>? _bigResubmissions;
        private bool _byIndexStale;
        private Dictionary<int, byte[]> _recent = new Dictionary<int, byte[]>();
        private readonly int[] _recentOrder = new int[RecentIds];
        private int _recentNext;

        private JournalIndex(string path, IdHasher? hash)
        {
            _path = path;
            _hash = hash ?? Fnv1a64;
            // Shared with the batch's own append handle (FileShare.Read there): lines are read back from offsets
            // found here, all written before the batch appends anything, so no flush ordering is involved.
            _reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 64 * 1024);
            for (var i = 0; i < _byIndexDense.Length; i++)
            {
                _byIndexDense[i] = -1;
            }
        }

        /// <summary>A 64-bit hash of an item id's UTF-8 bytes (a seam: tests make every id collide).</summary>
        internal delegate ulong IdHasher(ReadOnlySpan<byte> utf8Id);

        private enum Record : byte
        {
            Batch,
            Accepted,
            Sent,
            Unsent,
            Created,
            Completed,
            Failed,
            Cancelled,
        }

        /// <summary>An item's state as the journal last recorded it (unsent puts it back to accepted).</summary>
        private enum State : byte
        {
            Accepted,
            Sent,
            Created,
            Completed,
            Failed,
            Cancelled,
        }

        /// <summary>How many items the journal holds.</summary>
        public int Count => _count;

        /// <summary>The batch's id, from the batch record.</summary>
        public string BatchId { get; private set; } = string.Empty;

        /// <summary>The model of the batch record.</summary>
        public string? Model { get; private set; }

        /// <summary>Reads the journal at <paramref name="path"/>.</summary>
        /// <param name="path">The journal's full path.</param>
        /// <param name="hash">The id hash; null for the default (FNV-1a, 64-bit).</param>
        /// <returns>The index; dispose it to close its read handle.</returns>
        /// <exception cref="JournalException">JournalCorrupt, naming the file and the line.</exception>
        public static JournalIndex Read(string path, IdHasher? hash = null)
        {
            var index = new JournalIndex(path, hash);
            try
            {
                index.ReadAll();
                return index;
            }
            catch
            {
                index.Dispose();
                throw;
            }
        }

        /// <summary>The item last accepted at <paramref name="index"/>, read back from the file; null when none.</summary>
        /// <param name="index">The item's index.</param>
        /// <returns>The entry, or null.</returns>
        public JournalEntry? ByIndex(long index)
        {
            var slot = ByIndexSlot(index);
            return slot < 0 ? null : Materialize(slot);
        }

        /// <summary>The item with id <paramref name="id"/>, read back from the file; null when none.</summary>
        /// <param name="id">The item id.</param>
        /// <returns>The entry, or null.</returns>
        public JournalEntry? ById(string id)
        {
            var utf8 = Encoding.UTF8.GetBytes(id);
            var hash = _hash(utf8);
            var check = (uint)(hash >> 32);
            var mask = _buckets.Length - 1;
            for (var b = Bucket(hash, mask); _buckets[b] != 0; b = (b + 1) & mask)
            {
                var slot = _buckets[b] - 1;
                if (SlotAt(slot).Check == check)
                {
                    // The hash matched: the id in the file says whether it is this item.
                    var entry = Materialize(slot);
                    if (string.Equals(entry.Id, id, StringComparison.Ordinal))
                    {
                        return entry;
                    }
                }
            }

            return null;
        }

        /// <summary>Every item, in the order the journal first named them, read back from the file.</summary>
        /// <returns>The entries.</returns>
        public IEnumerable<JournalEntry> All()
        {
            for (var slot = 0; slot < _count; slot++)
            {
                yield return Materialize(slot);
            }
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            lock (_readLock)
            {
                _reader.Dispose();
            }
        }

        private static int Bucket(ulong hash, int mask) => (int)(hash >> 32) & mask;

        private ref Slot SlotAt(int slot) => ref _chunks[slot >> ChunkBits][slot & (ChunkSize - 1)];

        /// <summary>Builds the item's entry as the journal's records made it: its last accepted record, then the record that set its state.</summary>
        private JournalEntry Materialize(int slot)
        {
            var s = SlotAt(slot);
            var entry = new JournalEntry();
            var id = ApplyAt(s.AcceptedAt, entry, null);
            id = ApplyAt(s.StateAt, entry, id);
            entry.Id = id ?? throw Changed();
            entry.State = StateName(s.State);
            entry.Resubmissions = s.Resubmissions == ResubmissionsOverflow && _bigResubmissions is not null && _bigResubmissions.TryGetValue(slot, out var big) ? big : s.Resubmissions;
            return entry;
        }

        /// <summary>Applies the record at <paramref name="offset"/> (none when negative) to the entry; the item's id.</summary>
        private string? ApplyAt(long offset, JournalEntry entry, string? id)
        {
            if (offset < 0)
            {
                return id;
            }

            using var doc = Parse(ReadLineAt(offset));
            string? batchId = null, model = null;
            var recordId = Journal.ApplyRecord(doc.RootElement, _ => entry, ref batchId, ref model);
            if (recordId is null || (id is not null && !string.Equals(id, recordId, StringComparison.Ordinal)))
            {
                throw Changed();
            }

            return recordId;
        }

        /// <summary>A line as the journal was always parsed: its bytes when ASCII, else its text decoded as UTF-8 (invalid bytes replaced).</summary>
        private static JsonDocument Parse(byte[] line)
        {
            foreach (var b in line)
            {
                if (b >= 0x80)
                {
                    return JsonDocument.Parse(Encoding.UTF8.GetString(line));
                }
            }

            return JsonDocument.Parse(line);
        }

        private JournalException Changed() =>
            new JournalException($"The journal '{_path}' changed while the batch ran: a record is not where it was read.", "JournalCorrupt");

        private static string StateName(byte state) => (State)state switch
        {
            State.Sent => "sent",
            State.Created => "created",
            State.Completed => "completed",
            State.Failed => "failed",
            State.Cancelled => "cancelled",
            _ => "accepted",
        };

        /// <summary>The bytes of the line that starts at <paramref name="offset"/>.</summary>
        private byte[] ReadLineAt(long offset)
        {
            lock (_readLock)
            {
                _reader.Position = offset;
                var buffer = _readBuffer;
                var length = 0;
                while (true)
                {
                    var scanned = length;
                    if (length == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }

                    var read = _reader.Read(buffer, length, buffer.Length - length);
                    length += read;
                    var end = new ReadOnlySpan<byte>(buffer, scanned, length - scanned).IndexOfAny((byte)'\n', (byte)'\r');
                    if (end >= 0 || read == 0)
                    {
                        var line = new byte[end >= 0 ? scanned + end : length];
                        Buffer.BlockCopy(buffer, 0, line, 0, line.Length);
                        return line;
                    }
                }
            }
        }

        /// <summary>The one pass over the file: lines by byte offset, each applied to the index.</summary>
        private void ReadAll()
        {
            using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            var buffer = new byte[1 << 20];
            var length = 0;
            var start = 0;
            var scanFrom = 0;
            long bufferOffset = 0;
            var eof = false;
            var lineNumber = 0;
            int? pendingCorrupt = null;

            // As File.ReadAllLines did: a UTF-8 byte order mark is not part of the first line.
            length = Fill(file, buffer, 0);
            eof = length == 0;
            if (length >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF)
            {
                start = scanFrom = 3;
            }

            while (true)
            {
                var end = new ReadOnlySpan<byte>(buffer, scanFrom, length - scanFrom).IndexOfAny((byte)'\n', (byte)'\r');
                if (end < 0 || (buffer[scanFrom + end] == '\r' && scanFrom + end + 1 == length && !eof))
                {
                    if (eof)
                    {
                        if (start < length)
                        {
                            Line(buffer, start, length - start, bufferOffset + start, ++lineNumber, ref pendingCorrupt);
                        }

                        break;
                    }

                    // Keep the line begun so far, then read on.
                    var kept = length - start;
                    if (start == 0 && kept == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                    else
                    {
                        Buffer.BlockCopy(buffer, start, buffer, 0, kept);
                        bufferOffset += start;
                    }

                    scanFrom = end < 0 ? kept : scanFrom - start + end;
                    start = 0;
                    length = kept;
                    var read = Fill(file, buffer, length);
                    eof = read == 0;
                    length += read;
                    continue;
                }

                var at = scanFrom + end;
                Line(buffer, start, at - start, bufferOffset + start, ++lineNumber, ref pendingCorrupt);
                // \r\n, \n and \r each end a line, as ReadAllLines had it, so line numbers in errors stay the same.
                start = at + (buffer[at] == '\r' && at + 1 < length && buffer[at + 1] == '\n' ? 2 : 1);
                scanFrom = start;
            }

            if (BatchId.Length == 0)
            {
                throw new JournalException($"'{_path}' is not an Abstrakt batch journal (no batch record).", "JournalCorrupt");
            }

            if (_byIndexStale)
            {
                RebuildByIndex();
            }

            // Only the pass needs the ids seen lately.
            _recent = new Dictionary<int, byte[]>();
        }

        private static int Fill(FileStream file, byte[] buffer, int at)
        {
            var total = 0;
            while (at + total < buffer.Length)
            {
                var read = file.Read(buffer, at + total, buffer.Length - at - total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }

        /// <summary>One line: blank lines are skipped, torn lines tolerated where a crash leaves them, anything else applied.</summary>
        private void Line(byte[] buffer, int start, int length, long offset, int lineNumber, ref int? pendingCorrupt)
        {
            var line = new ReadOnlySpan<byte>(buffer, start, length);
            if (IsBlank(line))
            {
                return;
            }

            if (pendingCorrupt is int corrupt)
            {
                // An unreadable line ending in '}' is a torn write only when nothing but blank lines follows it.
                throw new JournalException($"The journal '{_path}' is corrupt at line {corrupt}.", "JournalCorrupt");
            }

            if (FastRecord.TryRead(line, out var fast))
            {
                Apply(fast.Type, line.Slice(fast.IdStart, fast.IdLength), fast.Index, fast.Resubmissions, offset, lineNumber);
                return;
            }

            // The original path, word for word: decode, parse, check each field.
            var text = Encoding.UTF8.GetString(buffer, start, length);
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(text);
            }
            catch (JsonException)
            {
                // A torn line is what a crash leaves: tolerated when it cannot be a whole record (our writer starts
                // a new line after reopening), or when nothing follows it.
                if (text.TrimEnd().EndsWith("}", StringComparison.Ordinal))
                {
                    pendingCorrupt = lineNumber;
                }

                return;
            }

            using (doc)
            {
                var scratch = new JournalEntry();
                string? batchId = BatchId.Length == 0 ? null : BatchId, model = Model;
                string? id;
                try
                {
                    id = Journal.ApplyRecord(doc.RootElement, _ => scratch, ref batchId, ref model);
                }
                catch (Exception ex) when (ex is InvalidOperationException or FormatException)
                {
                    // Valid JSON of the wrong shape is not a torn line: it is corrupt, and we say where.
                    throw new JournalException($"The journal '{_path}' is corrupt at line {lineNumber}: {ex.Message}", "JournalCorrupt");
                }

                if (id is null)
                {
                    BatchId = batchId!;
                    Model = model;
                    return;
                }

                var type = doc.RootElement.GetProperty("type").GetString();
                Apply(FastRecord.TypeOf(Encoding.UTF8.GetBytes(type!)) ?? Record.Batch, Encoding.UTF8.GetBytes(id), scratch.Index, scratch.Resubmissions, offset, lineNumber);
            }
        }

        /// <summary>Blank as string.IsNullOrWhiteSpace saw the decoded line.</summary>
        private static bool IsBlank(ReadOnlySpan<byte> line)
        {
            var ascii = true;
            foreach (var b in line)
            {
                if (b >= 0x80)
                {
                    ascii = false;
                }
                else if (!(b == ' ' || (b >= '\t' && b <= '\r')))
                {
                    return false;
                }
            }

            return ascii || string.IsNullOrWhiteSpace(Encoding.UTF8.GetString(line.ToArray()));
        }

        private void Apply(Record type, ReadOnlySpan<byte> id, long index, int resubmissions, long offset, int lineNumber)
        {
            var hash = _hash(id);
            var slot = Find(hash, id, out var bucket);
            if (slot < 0)
            {
                slot = Add(hash, bucket, id, type == Record.Accepted ? index : 0);
            }
            else if (type == Record.Accepted)
            {
                Reaccepted(slot, index);
            }

            ref var s = ref SlotAt(slot);
            if (type == Record.Accepted)
            {
                s.AcceptedAt = offset;
                return;
            }

            s.State = (byte)(type switch
            {
                Record.Sent => State.Sent,
                Record.Unsent => State.Accepted,
                Record.Created => State.Created,
                Record.Completed => State.Completed,
                Record.Failed => State.Failed,
                Record.Cancelled => State.Cancelled,
                _ => throw new JournalException($"The journal '{_path}' is corrupt at line {lineNumber}.", "JournalCorrupt"),
            });
            if (type is Record.Sent or Record.Created)
            {
                SetResubmissions(slot, ref s, resubmissions);
            }

            s.StateAt = offset;
        }

        private void SetResubmissions(int slot, ref Slot s, int resubmissions)
        {
            if (resubmissions >= 0 && resubmissions < ResubmissionsOverflow)
            {
                s.Resubmissions = (byte)resubmissions;
                _bigResubmissions?.Remove(slot);
                return;
            }

            s.Resubmissions = ResubmissionsOverflow;
            (_bigResubmissions ??= new Dictionary<int, int>())[slot] = resubmissions;
        }

        /// <summary>The item named <paramref name="id"/>, or -1 with the free bucket to add it in.</summary>
        private int Find(ulong hash, ReadOnlySpan<byte> id, out int bucket)
        {
            var check = (uint)(hash >> 32);
            var mask = _buckets.Length - 1;
            var b = Bucket(hash, mask);
            for (; _buckets[b] != 0; b = (b + 1) & mask)
            {
                var slot = _buckets[b] - 1;
                if (SlotAt(slot).Check == check && SameId(slot, id))
                {
                    bucket = b;
                    return slot;
                }
            }

            bucket = b;
            return -1;
        }

        /// <summary>Whether item <paramref name="slot"/> is named <paramref name="id"/>: from the ids seen lately, else from the file.</summary>
        private bool SameId(int slot, ReadOnlySpan<byte> id)
        {
            if (!_recent.TryGetValue(slot, out var known))
            {
                var s = SlotAt(slot);
                using var doc = Parse(ReadLineAt(s.AcceptedAt >= 0 ? s.AcceptedAt : s.StateAt));
                known = Encoding.UTF8.GetBytes(doc.RootElement.GetProperty("id").GetString()!);
                Remember(slot, known);
            }

            return id.SequenceEqual(known);
        }

        private void Remember(int slot, byte[] id)
        {
            if (_recent.Count == RecentIds)
            {
                _recent.Remove(_recentOrder[_recentNext]);
            }

            _recent[slot] = id;
            _recentOrder[_recentNext] = slot;
            _recentNext = (_recentNext + 1) % RecentIds;
        }

        private int Add(ulong hash, int bucket, ReadOnlySpan<byte> id, long index)
        {
            var slot = _count;
            if ((slot >> ChunkBits) == _chunks.Length)
            {
                Array.Resize(ref _chunks, _chunks.Length * 2);
            }

            _chunks[slot >> ChunkBits] ??= new Slot[ChunkSize];
            SlotAt(slot) = new Slot { AcceptedAt = -1, StateAt = -1, Check = (uint)(hash >> 32) };
            _count++;
            _buckets[bucket] = slot + 1;
            if (_count * 10L > _buckets.Length * 7L)
            {
                Grow();
            }

            Remember(slot, id.ToArray());
            // The newest item at an index is the one a lookup by index finds.
            SetByIndex(index, slot);
            return slot;
        }

        /// <summary>An item accepted again (a later run found nothing at its index): it moves to its new index.</summary>
        private void Reaccepted(int slot, long index)
        {
            var old = IndexAt(SlotAt(slot).AcceptedAt);
            if (old == index)
            {
                return;
            }

            SetByIndex(index, slot);
            if (ByIndexSlot(old) == slot)
            {
                // An earlier item may have the old index too: it is the one found there now, known once the pass is over.
                _byIndexStale = true;
            }
        }

        /// <summary>The index of the accepted record at <paramref name="offset"/>; 0 when there is none, as the journal always had it.</summary>
        private long IndexAt(long offset)
        {
            if (offset < 0)
            {
                return 0;
            }

            var line = ReadLineAt(offset);
            if (FastRecord.TryRead(line, out var fast))
            {
                return fast.Index;
            }

            using var doc = Parse(line);
            return doc.RootElement.TryGetProperty("index", out var i) ? i.GetInt64() : 0;
        }

        private int ByIndexSlot(long index) =>
            _byIndexSparse is not null ? (_byIndexSparse.TryGetValue(index, out var s) ? s : -1)
                : index >= 0 && index < _byIndexDense.Length ? _byIndexDense[index] : -1;

        private void SetByIndex(long index, int slot)
        {
            if (_byIndexSparse is null && index >= 0 && index >= _byIndexDense.Length && index < (4L * _count) + ChunkSize)
            {
                var grown = new int[Math.Max(_byIndexDense.Length * 2, index + 1)];
                Array.Copy(_byIndexDense, grown, _byIndexDense.Length);
                for (var i = _byIndexDense.Length; i < grown.Length; i++)
                {
                    grown[i] = -1;
                }

                _byIndexDense = grown;
            }

            if (_byIndexSparse is null && (index < 0 || index >= _byIndexDense.Length))
            {
                // Indexes far apart (not a batch's 1..N): a dictionary instead of an array.
                _byIndexSparse = new Dictionary<long, int>();
                for (var i = 0; i < _byIndexDense.Length; i++)
                {
                    if (_byIndexDense[i] >= 0)
                    {
                        _byIndexSparse[i] = _byIndexDense[i];
                    }
                }

                _byIndexDense = Array.Empty<int>();
            }

            if (_byIndexSparse is not null)
            {
                _byIndexSparse[index] = _byIndexSparse.TryGetValue(index, out var had) ? Math.Max(had, slot) : slot;
            }
            else
            {
                _byIndexDense[index] = Math.Max(_byIndexDense[index], slot);
            }
        }

        /// <summary>After an item moved index: the lookup by index again from every item's accepted record, as first built.</summary>
        private void RebuildByIndex()
        {
            _byIndexSparse = null;
            _byIndexDense = new int[1024];
            for (var i = 0; i < _byIndexDense.Length; i++)
            {
                _byIndexDense[i] = -1;
            }

            for (var slot = 0; slot < _count; slot++)
            {
                SetByIndex(IndexAt(SlotAt(slot).AcceptedAt), slot);
            }
        }

        private void Grow()
        {
            var buckets = new int[_buckets.Length * 2];
            var mask = buckets.Length - 1;
            for (var slot = 0; slot < _count; slot++)
            {
                var b = (int)SlotAt(slot).Check & mask;
                while (buckets[b] != 0)
                {
                    b = (b + 1) & mask;
                }

                buckets[b] = slot + 1;
            }

            _buckets = buckets;
        }

        /// <summary>FNV-1a over the id's bytes, then a 64-bit finalizer so both halves are well mixed.</summary>
        internal static ulong Fnv1a64(ReadOnlySpan<byte> bytes)
        {
            var hash = 14695981039346656037UL;
            foreach (var b in bytes)
            {
                hash = (hash ^ b) * 1099511628211UL;
            }

            hash ^= hash >> 33;
            hash *= 0xff51afd7ed558ccdUL;
            hash ^= hash >> 33;
            hash *= 0xc4ceb9fe1a85ec53UL;
            hash ^= hash >> 33;
            return hash;
        }

        /// <summary>One item, 24 bytes: where its records are, what state they left it in.</summary>
        private struct Slot
        {
            public long AcceptedAt;
            public long StateAt;
            public uint Check;
            public byte State;
            public byte Resubmissions;
        }

        /// <summary>The fields whose types the original path checks.</summary>
        private enum Field
        {
            Other,
            Type,
            Id,
            Index,
            Resubmissions,
            Credits,
            Strings,
            Text,
        }

        /// <summary>
        /// A record read without building a document: only a well-formed, all-ASCII line whose fields have the types the
        /// journal writes. Anything else (escaped ids, odd types, other records) is left to the original path.
        /// </summary>
        private ref struct FastRecord
        {
            public Record Type;
            public int IdStart;
            public int IdLength;
            public long Index;
            public int Resubmissions;

            public static bool TryRead(ReadOnlySpan<byte> line, out FastRecord record)
            {
                record = default;
                foreach (var b in line)
                {
                    if (b >= 0x80)
                    {
                        return false;
                    }
                }

                try
                {
                    return Read(line, ref record);
                }
                catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
                {
                    return false;
                }
            }

            private static bool Read(ReadOnlySpan<byte> line, ref FastRecord record)
            {
                var reader = new Utf8JsonReader(line, isFinalBlock: true, state: default);
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                {
                    return false;
                }

                var type = (Record?)null;
                var hasId = false;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueIsEscaped)
                    {
                        return false;
                    }

                    var field = FieldOf(reader.ValueSpan);
                    reader.Read();
                    switch (field)
                    {
                        case Field.Type:
                            type = reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped ? TypeOf(reader.ValueSpan) : null;
                            if (type is null)
                            {
                                return false;
                            }

                            break;
                        case Field.Id:
                            if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped)
                            {
                                return false;
                            }

                            hasId = true;
                            record.IdStart = (int)reader.TokenStartIndex + 1;
                            record.IdLength = reader.ValueSpan.Length;
                            break;
                        case Field.Index:
                            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out record.Index))
                            {
                                return false;
                            }

                            break;
                        case Field.Resubmissions:
                            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out record.Resubmissions))
                            {
                                return false;
                            }

                            break;
                        case Field.Credits:
                            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out _))
                            {
                                return false;
                            }

                            break;
                        case Field.Strings:
                            if (reader.TokenType == JsonTokenType.StartArray)
                            {
                                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                                {
                                    if (reader.TokenType != JsonTokenType.Null && !IsString(ref reader))
                                    {
                                        return false;
                                    }
                                }
                            }
                            else
                            {
                                reader.Skip();
                            }

                            break;
                        case Field.Text:
                            // Read as strings when they are strings: one that cannot be (a lone surrogate) is the original path's error.
                            if (reader.TokenType == JsonTokenType.String && !IsString(ref reader))
                            {
                                return false;
                            }

                            reader.Skip();
                            break;
                        default:
                            reader.Skip();
                            break;
                    }
                }

                if (reader.TokenType != JsonTokenType.EndObject || reader.Read() || type is null || !hasId)
                {
                    return false;
                }

                record.Type = type.Value;
                return true;
            }

            private static Field FieldOf(ReadOnlySpan<byte> name) =>
                name.SequenceEqual("type"u8) ? Field.Type
                : name.SequenceEqual("id"u8) ? Field.Id
                : name.SequenceEqual("index"u8) ? Field.Index
                : name.SequenceEqual("resubmissions"u8) ? Field.Resubmissions
                : name.SequenceEqual("credits"u8) ? Field.Credits
                : name.SequenceEqual("urls"u8) || name.SequenceEqual("files"u8) ? Field.Strings
                : name.SequenceEqual("prompt"u8) || name.SequenceEqual("model"u8) || name.SequenceEqual("job_id"u8) || name.SequenceEqual("code"u8) || name.SequenceEqual("message"u8) ? Field.Text
                : Field.Other;

            private static bool IsString(ref Utf8JsonReader reader)
            {
                if (reader.TokenType != JsonTokenType.String)
                {
                    return false;
                }

                if (reader.ValueIsEscaped)
                {
                    _ = reader.GetString();
                }

                return true;
            }

            public static Record? TypeOf(ReadOnlySpan<byte> type) =>
                type.SequenceEqual("accepted"u8) ? Record.Accepted
                : type.SequenceEqual("sent"u8) ? Record.Sent
                : type.SequenceEqual("unsent"u8) ? Record.Unsent
                : type.SequenceEqual("created"u8) ? Record.Created
                : type.SequenceEqual("completed"u8) ? Record.Completed
                : type.SequenceEqual("failed"u8) ? Record.Failed
                : type.SequenceEqual("cancelled"u8) ? Record.Cancelled
                : null;
        }
    }
}
