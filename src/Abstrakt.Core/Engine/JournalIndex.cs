using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;

namespace Abstrakt.Engine
{
    /// <summary>
    /// What a journal held when it was opened, kept small: per item the file offsets of the two records a resume reads
    /// back (its last <c>accepted</c> and the last record that set its state), its state, its resubmission count and 32
    /// bits of its id's hash, 16 bytes (<see cref="Slot"/>), and 4 more for the lookup by index. The full
    /// <see cref="JournalEntry"/> is read back from the file when asked for.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Items are found by index (prompt items) or by id (image items, named by their content). Ids are not held as
    /// strings: a prompt item's id starts with its position (<c>{index}-{hash}</c>), so it is found there; any other id
    /// through a hash table of slot numbers. Every match is confirmed against the id itself (the ids the pass met last
    /// are kept at hand, the others read back from the file), so a hash collision costs a read, never a wrong item.
    /// </para>
    /// <para>
    /// The journal is read once, line by line, with the rules it always had: a line that is not JSON is a torn write
    /// (tolerated where a crash leaves one), a line of JSON of the wrong shape is JournalCorrupt naming the line.
    /// Well-formed ASCII lines, all that the journal's writer produces, are read with a forward-only reader
    /// (<see cref="FastRecord"/>); any other line takes the original path (decode, parse, check field by field), so
    /// errors say what they said. Thread-safe for lookups once built.
    /// </para>
    /// </remarks>
    internal sealed partial class JournalIndex : IDisposable
    {
        private const int ChunkBits = 16;
        private const int ChunkSize = 1 << ChunkBits;
        private const byte ResubmissionsOverflow = byte.MaxValue;

        private readonly string _path;
        private readonly IdHasher _hash;
        private readonly ConcurrentBag<Reader> _readers = new ConcurrentBag<Reader>();
        private volatile bool _disposed;
        private int _pooled;
        private Slot[][] _chunks = new Slot[4][];
        private int _count;
        private int[] _buckets = new int[1024];
        private int _inTable;
        private SlotsByIndex _byIndex = new SlotsByIndex();
        private Dictionary<int, int>? _bigResubmissions;
        private bool _byIndexStale;
        private RecentIds? _recent = new RecentIds();
        private string? _batchId;

        private JournalIndex(string path, IdHasher? hash)
        {
            _path = path;
            _hash = hash ?? Fnv1a64;
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
        public string BatchId => _batchId ?? string.Empty;

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
            var slot = _byIndex.Get(index);
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
            var at = PositionOf(utf8) is long position ? _byIndex.Get(position) : -1;
            if (at >= 0 && SlotAt(at).Check == check && Materialize(at) is { } found && string.Equals(found.Id, id, StringComparison.Ordinal))
            {
                return found;
            }

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
            _disposed = true;
            while (_readers.TryTake(out var reader))
            {
                reader.Dispose();
            }
        }

        private static int Bucket(ulong hash, int mask) => (int)(hash >> 32) & mask;

        private ref Slot SlotAt(int slot) => ref _chunks[slot >> ChunkBits][slot & (ChunkSize - 1)];

        /// <summary>Builds the item's entry as the journal's records made it: its last accepted record, then the record that set its state.</summary>
        private JournalEntry Materialize(int slot)
        {
            var s = SlotAt(slot);
            var entry = new JournalEntry();
            var reader = Rent();
            try
            {
                var id = ApplyAt(reader, s.AcceptedAt, entry, null);
                id = ApplyAt(reader, s.StateAt, entry, id);
                entry.Id = id ?? throw Changed();
            }
            finally
            {
                Return(reader);
            }

            entry.State = StateName(s.State);
            entry.Resubmissions = s.Resubmissions == ResubmissionsOverflow && _bigResubmissions is not null && _bigResubmissions.TryGetValue(slot, out var big) ? big : s.Resubmissions;
            return entry;
        }

        /// <summary>Applies the record at <paramref name="offset"/> (none when negative) to the entry; the item's id.</summary>
        private string? ApplyAt(Reader reader, long offset, JournalEntry entry, string? id)
        {
            if (offset < 0)
            {
                return id;
            }

            var line = reader.LineAt(offset);
            string? recordId;
            if (FastRecord.TryRead(line, out var fast))
            {
                recordId = fast.Apply(line, entry);
            }
            else
            {
                using var doc = Parse(line);
                string? batchId = null, model = null;
                recordId = Journal.ApplyRecord(doc.RootElement, _ => entry, ref batchId, ref model);
            }

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

        /// <summary>The bytes of the line at <paramref name="offset"/>.</summary>
        private byte[] LineAt(long offset)
        {
            var reader = Rent();
            try
            {
                return reader.LineAt(offset);
            }
            finally
            {
                Return(reader);
            }
        }

        /// <summary>A read handle of its own for each worker that reads at once, so lookups never wait on each other.</summary>
        private Reader Rent()
        {
            if (_readers.TryTake(out var reader))
            {
                Interlocked.Decrement(ref _pooled);
                return reader;
            }

            return new Reader(_path);
        }

        private void Return(Reader reader)
        {
            if (_disposed || Interlocked.Increment(ref _pooled) > 8)
            {
                Interlocked.Decrement(ref _pooled);
                reader.Dispose();
                return;
            }

            _readers.Add(reader);
            if (_disposed && _readers.TryTake(out var late))
            {
                late.Dispose();
            }
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

            if (_batchId is null)
            {
                throw new JournalException($"'{_path}' is not an Abstrakt batch journal (no batch record).", "JournalCorrupt");
            }

            if (_byIndexStale)
            {
                RebuildByIndex();
            }

            // Only the pass needs the ids seen lately.
            _recent = null;
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
                string? batchId = _batchId, model = Model;
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
                    _batchId = batchId;
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
            var position = PositionOf(id);
            var slot = FindAt(position, (uint)(hash >> 32), id);
            if (slot < 0)
            {
                slot = Find(hash, id);
            }

            if (slot < 0)
            {
                slot = Add(hash, id, type == Record.Accepted ? index : 0, type == Record.Accepted && position == index);
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

        /// <summary>
        /// The item named <paramref name="id"/> found by the position its id starts with (a prompt item's id is
        /// <c>{index}-{hash}</c>, and such an item is kept there rather than in the hash table); -1 when not there.
        /// </summary>
        private int FindAt(long? position, uint check, ReadOnlySpan<byte> id)
        {
            var slot = position is long at ? _byIndex.Get(at) : -1;
            return slot >= 0 && !SlotAt(slot).InTable && SlotAt(slot).Check == check && SameId(slot, id) ? slot : -1;
        }

        /// <summary>The item named <paramref name="id"/> in the hash table, or -1.</summary>
        private int Find(ulong hash, ReadOnlySpan<byte> id)
        {
            var check = (uint)(hash >> 32);
            var mask = _buckets.Length - 1;
            for (var b = Bucket(hash, mask); _buckets[b] != 0; b = (b + 1) & mask)
            {
                var slot = _buckets[b] - 1;
                if (SlotAt(slot).Check == check && SameId(slot, id))
                {
                    return slot;
                }
            }

            return -1;
        }

        /// <summary>The number an id starts with, before a '-' (a prompt item's position); null when it has none.</summary>
        private static long? PositionOf(ReadOnlySpan<byte> id)
        {
            var negative = id.Length > 0 && id[0] == '-';
            long value = 0;
            var i = negative ? 1 : 0;
            var start = i;
            for (; i < id.Length && id[i] >= '0' && id[i] <= '9'; i++)
            {
                if (i - start == 18)
                {
                    return null;
                }

                value = (value * 10) + (id[i] - '0');
            }

            return i > start && i < id.Length && id[i] == '-' ? (negative ? -value : value) : null;
        }

        /// <summary>Whether item <paramref name="slot"/> is named <paramref name="id"/>: from the ids seen lately, else from the file.</summary>
        private bool SameId(int slot, ReadOnlySpan<byte> id)
        {
            if (_recent!.TryCompare(slot, id, out var same))
            {
                return same;
            }

            var s = SlotAt(slot);
            using var doc = Parse(LineAt(s.AcceptedAt >= 0 ? s.AcceptedAt : s.StateAt));
            var known = Encoding.UTF8.GetBytes(doc.RootElement.GetProperty("id").GetString()!);
            _recent.Add(slot, known);
            return id.SequenceEqual(known);
        }

        /// <summary>A new item. One accepted at the position its id starts with is kept there; any other goes in the hash table.</summary>
        private int Add(ulong hash, ReadOnlySpan<byte> id, long index, bool atItsPosition)
        {
            var slot = _count;
            if ((slot >> ChunkBits) == _chunks.Length)
            {
                Array.Resize(ref _chunks, _chunks.Length * 2);
            }

            _chunks[slot >> ChunkBits] ??= new Slot[ChunkSize];
            SlotAt(slot) = new Slot { AcceptedAt = -1, StateAt = -1, Check = (uint)(hash >> 32) };
            _count++;
            _recent!.Add(slot, id);
            if (!atItsPosition || _byIndex.Get(index) >= 0)
            {
                InsertIntoTable(slot);
            }

            // The newest item at an index is the one a lookup by index finds.
            SetByIndex(index, slot);
            return slot;
        }

        /// <summary>Sets the item found at an index; one kept there by its position that loses the place goes in the hash table.</summary>
        private void SetByIndex(long index, int slot)
        {
            var had = _byIndex.Get(index);
            _byIndex.Set(index, slot, _count);
            if (had >= 0 && had != slot && _byIndex.Get(index) != had && !SlotAt(had).InTable)
            {
                InsertIntoTable(had);
            }
        }

        private void InsertIntoTable(int slot)
        {
            ref var s = ref SlotAt(slot);
            s.InTable = true;
            _inTable++;
            if (_inTable * 10L > _buckets.Length * 7L)
            {
                Grow();
                return;
            }

            var mask = _buckets.Length - 1;
            var b = (int)s.Check & mask;
            while (_buckets[b] != 0)
            {
                b = (b + 1) & mask;
            }

            _buckets[b] = slot + 1;
        }

        /// <summary>An item accepted again (a later run found nothing at its index): it moves to its new index.</summary>
        private void Reaccepted(int slot, long index)
        {
            var old = IndexAt(SlotAt(slot).AcceptedAt);
            if (old == index)
            {
                return;
            }

            if (!SlotAt(slot).InTable)
            {
                // No longer at the position its id starts with.
                InsertIntoTable(slot);
            }

            SetByIndex(index, slot);
            if (_byIndex.Get(old) == slot)
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

            var line = LineAt(offset);
            if (FastRecord.TryRead(line, out var fast))
            {
                return fast.Index;
            }

            using var doc = Parse(line);
            return doc.RootElement.TryGetProperty("index", out var i) ? i.GetInt64() : 0;
        }

        /// <summary>After an item moved index: the lookup by index again from every item's accepted record, as first built.</summary>
        private void RebuildByIndex()
        {
            _byIndex = new SlotsByIndex();
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
                if (!SlotAt(slot).InTable)
                {
                    continue;
                }

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
    }
}
