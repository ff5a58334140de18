using System;
using System.Collections.Generic;
using System.IO;

namespace Abstrakt.Engine
{
    /// <summary>How <see cref="JournalIndex"/> keeps its items small, and reads their lines back.</summary>
    internal sealed partial class JournalIndex
    {
        /// <summary>
        /// A read handle on the journal, shared with the batch's own append handle (FileShare.Read there). It reads only
        /// lines found by the pass, all written before the batch appends anything, so no flush ordering is involved.
        /// </summary>
        private sealed class Reader : IDisposable
        {
            private readonly FileStream _file;
            private byte[] _buffer = new byte[512];

            public Reader(string path) => _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 32 * 1024);

            public byte[] LineAt(long offset)
            {
                _file.Position = offset;
                var length = 0;
                while (true)
                {
                    var scanned = length;
                    if (length == _buffer.Length)
                    {
                        Array.Resize(ref _buffer, _buffer.Length * 2);
                    }

                    var read = _file.Read(_buffer, length, _buffer.Length - length);
                    length += read;
                    var end = new ReadOnlySpan<byte>(_buffer, scanned, length - scanned).IndexOfAny((byte)'\n', (byte)'\r');
                    if (end >= 0 || read == 0)
                    {
                        var line = new byte[end >= 0 ? scanned + end : length];
                        Buffer.BlockCopy(_buffer, 0, line, 0, line.Length);
                        return line;
                    }
                }
            }

            public void Dispose() => _file.Dispose();
        }

        /// <summary>
        /// One item, 16 bytes: the offsets of its last accepted record and of the record that set its state (40 bits each,
        /// a terabyte of journal; none is -1), 32 bits of its id's hash, its state, where it is kept, its resubmissions.
        /// </summary>
        internal struct Slot
        {
            private const long Mask40 = (1L << 40) - 1;
            private ulong _a;
            private ulong _b;

            public long AcceptedAt
            {
                readonly get => (long)(_a & Mask40) - 1;
                set => _a = (_a & ~(ulong)Mask40) | Offset(value);
            }

            public long StateAt
            {
                readonly get => (long)((_a >> 40) | ((_b & 0xFFFF) << 24)) - 1;
                set
                {
                    var v = Offset(value);
                    _a = (_a & (ulong)Mask40) | (v << 40);
                    _b = (_b & ~0xFFFFUL) | (v >> 24);
                }
            }

            public uint Check
            {
                readonly get => (uint)(_b >> 16);
                set => _b = (_b & ~(0xFFFFFFFFUL << 16)) | ((ulong)value << 16);
            }

            public byte State
            {
                readonly get => (byte)((_b >> 48) & 0x7F);
                set => _b = (_b & ~(0x7FUL << 48)) | ((ulong)(value & 0x7F) << 48);
            }

            /// <summary>Kept in the hash table, rather than found at the position its id starts with.</summary>
            public bool InTable
            {
                readonly get => (_b & (0x80UL << 48)) != 0;
                set => _b = value ? _b | (0x80UL << 48) : _b & ~(0x80UL << 48);
            }

            public byte Resubmissions
            {
                readonly get => (byte)(_b >> 56);
                set => _b = (_b & ~(0xFFUL << 56)) | ((ulong)value << 56);
            }

            private static ulong Offset(long offset) => offset >= Mask40
                ? throw new JournalException("The journal is larger than a terabyte; start a new one.", "JournalCorrupt")
                : (ulong)(offset + 1);
        }

        /// <summary>
        /// The item a lookup by index finds: the last one first named at or moved to it. In chunks of an array for a
        /// batch's 1..N (nothing copied as it grows), or a dictionary when indexes are far apart.
        /// </summary>
        private sealed class SlotsByIndex
        {
            private const int Bits = 16;
            private int[]?[] _chunks = new int[]?[16];
            private Dictionary<long, int>? _sparse;

            /// <summary>The slot at <paramref name="index"/>, or -1.</summary>
            public int Get(long index)
            {
                if (_sparse is not null)
                {
                    return _sparse.TryGetValue(index, out var s) ? s : -1;
                }

                var chunk = index >= 0 && (index >> Bits) < _chunks.Length ? _chunks[index >> Bits] : null;
                return chunk is null ? -1 : chunk[index & ((1 << Bits) - 1)] - 1;
            }

            /// <summary>Puts <paramref name="slot"/> at <paramref name="index"/> unless a later slot is there.</summary>
            public void Set(long index, int slot, int count)
            {
                if (_sparse is null && (index < 0 || index >= (4L * count) + (1L << 20)))
                {
                    // Not a batch's 1..N: a dictionary rather than an array mostly empty.
                    _sparse = new Dictionary<long, int>();
                    for (var c = 0; c < _chunks.Length; c++)
                    {
                        for (var i = 0; _chunks[c] is int[] chunk && i < chunk.Length; i++)
                        {
                            if (chunk[i] > 0)
                            {
                                _sparse[((long)c << Bits) + i] = chunk[i] - 1;
                            }
                        }
                    }

                    _chunks = Array.Empty<int[]?>();
                }

                if (_sparse is not null)
                {
                    _sparse[index] = _sparse.TryGetValue(index, out var had) ? Math.Max(had, slot) : slot;
                    return;
                }

                var c2 = (int)(index >> Bits);
                if (c2 >= _chunks.Length)
                {
                    Array.Resize(ref _chunks, Math.Max(c2 + 1, _chunks.Length * 2));
                }

                var at = _chunks[c2] ??= new int[1 << Bits];
                var i2 = (int)(index & ((1 << Bits) - 1));
                at[i2] = Math.Max(at[i2], slot + 1);
            }
        }

        /// <summary>
        /// The ids of the items the pass met last, in fixed buffers: an item's records mostly follow each other within a
        /// few hundred lines, so a hash match is confirmed here without reading the file, and without an allocation per item.
        /// </summary>
        private sealed class RecentIds
        {
            private const int Size = 4096;
            private const int Width = 48;
            private readonly byte[] _bytes = new byte[Size * Width];
            private readonly byte[]?[] _long = new byte[Size][];
            private readonly int[] _lengths = new int[Size];
            private readonly int[] _slots = new int[Size];
            private readonly Dictionary<int, int> _at = new Dictionary<int, int>(Size);
            private int _next;

            public RecentIds()
            {
                for (var i = 0; i < Size; i++)
                {
                    _slots[i] = -1;
                }
            }

            public bool TryCompare(int slot, ReadOnlySpan<byte> id, out bool same)
            {
                if (!_at.TryGetValue(slot, out var at))
                {
                    same = false;
                    return false;
                }

                same = id.SequenceEqual(_long[at] is byte[] longId ? longId : new ReadOnlySpan<byte>(_bytes, at * Width, _lengths[at]));
                return true;
            }

            public void Add(int slot, ReadOnlySpan<byte> id)
            {
                // The oldest goes: its place in the buffers is this one.
                if (_slots[_next] >= 0 && _at.TryGetValue(_slots[_next], out var was) && was == _next)
                {
                    _at.Remove(_slots[_next]);
                }

                _at[slot] = _next;
                _slots[_next] = slot;
                _lengths[_next] = id.Length;
                if (id.Length <= Width)
                {
                    _long[_next] = null;
                    id.CopyTo(new Span<byte>(_bytes, _next * Width, Width));
                }
                else
                {
                    _long[_next] = id.ToArray();
                }

                _next = (_next + 1) % Size;
            }
        }
    }
}
