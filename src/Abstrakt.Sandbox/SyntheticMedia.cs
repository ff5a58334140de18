using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Abstrakt.Sandbox
{
    /// <summary>
    /// The sandbox's outputs: real, valid PNG images (APNG for video) and WAV audio, deterministic from the
    /// prompt and seed, and plainly synthetic to a person who opens one (stripes, discs and a SANDBOX banner).
    /// </summary>
    internal static class SyntheticMedia
    {
        public static byte[] Png(string prompt, long seed, int width, int height) =>
            EncodePng(width, height, new[] { Render(prompt, seed, width, height, 0) });

        /// <summary>As <see cref="Png"/>, with an alpha channel: opaque in an ellipse, transparent around it (a cut-out subject).</summary>
        public static byte[] PngWithAlpha(string prompt, long seed, int width, int height)
        {
            var rgb = Render(prompt, seed, width, height, 0);
            var rgba = new byte[height * ((width * 4) + 1)];
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    var from = (y * ((width * 3) + 1)) + 1 + (x * 3);
                    var to = (y * ((width * 4) + 1)) + 1 + (x * 4);
                    Buffer.BlockCopy(rgb, from, rgba, to, 3);
                    var (dx, dy) = (((x + 0.5) / width) - 0.5, ((y + 0.5) / height) - 0.5);
                    rgba[to + 3] = (dx * dx) + (dy * dy) <= 0.16 ? (byte)255 : (byte)0;
                }
            }

            return EncodePng(width, height, new[] { rgba }, colourType: 6);
        }

        /// <summary>An animated PNG: a few frames of the same picture with its discs moving.</summary>
        public static byte[] AnimatedPng(string prompt, long seed, int width, int height, int frames)
        {
            var pixels = new List<byte[]>();
            for (var i = 0; i < frames; i++)
            {
                pixels.Add(Render(prompt, seed, width, height, i));
            }

            return EncodePng(width, height, pixels);
        }

        /// <summary>A mono 16-bit WAV of tones chosen from the prompt.</summary>
        public static byte[] Wav(string text, long seed, double seconds)
        {
            const int Rate = 16000;
            var samples = (int)(Rate * seconds);
            var random = new Random(Hash(text, seed));
            var tone = 220 + random.Next(440);
            using var stream = new MemoryStream();
            using var writer = new BinaryWriter(stream);
            writer.Write(Encoding.ASCII.GetBytes("RIFF"));
            writer.Write(36 + (samples * 2));
            writer.Write(Encoding.ASCII.GetBytes("WAVEfmt "));
            writer.Write(16);
            writer.Write((short)1);
            writer.Write((short)1);
            writer.Write(Rate);
            writer.Write(Rate * 2);
            writer.Write((short)2);
            writer.Write((short)16);
            writer.Write(Encoding.ASCII.GetBytes("data"));
            writer.Write(samples * 2);
            for (var i = 0; i < samples; i++)
            {
                var envelope = Math.Min(1.0, Math.Min(i, samples - i) / 800.0);
                writer.Write((short)(Math.Sin(2 * Math.PI * tone * i / Rate) * 8000 * envelope));
            }

            writer.Flush();
            return stream.ToArray();
        }

        private static int Hash(string text, long seed)
        {
            using var sha = SHA256.Create();
            var digest = sha.ComputeHash(Encoding.UTF8.GetBytes(text + "\u0000" + seed.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            return BitConverter.ToInt32(digest, 0);
        }

        /// <summary>RGB rows, each prefixed by PNG filter byte 0.</summary>
        private static byte[] Render(string prompt, long seed, int width, int height, int frame)
        {
            var random = new Random(Hash(prompt, seed));
            byte C() => (byte)random.Next(40, 216);
            var (r1, g1, b1, r2, g2, b2) = (C(), C(), C(), C(), C(), C());
            var discs = new (int X, int Y, int R, byte Cr, byte Cg, byte Cb, int Dx)[3 + random.Next(4)];
            for (var i = 0; i < discs.Length; i++)
            {
                discs[i] = (random.Next(width), random.Next(height), Math.Max(4, random.Next(Math.Min(width, height) / 4)), C(), C(), C(), random.Next(-12, 13));
            }

            var stride = (width * 3) + 1;
            var data = new byte[stride * height];
            for (var y = 0; y < height; y++)
            {
                var row = y * stride;
                for (var x = 0; x < width; x++)
                {
                    // A diagonal gradient with stripes: obviously not a photograph.
                    var t = (x + y) / (double)(width + height);
                    var stripe = ((x + y) / 24) % 2 == 0 ? 1.0 : 0.85;
                    var p = row + 1 + (x * 3);
                    data[p] = (byte)(((r1 * (1 - t)) + (r2 * t)) * stripe);
                    data[p + 1] = (byte)(((g1 * (1 - t)) + (g2 * t)) * stripe);
                    data[p + 2] = (byte)(((b1 * (1 - t)) + (b2 * t)) * stripe);
                }
            }

            foreach (var d in discs)
            {
                var cx = d.X + (d.Dx * frame);
                for (var y = Math.Max(0, d.Y - d.R); y < Math.Min(height, d.Y + d.R); y++)
                {
                    for (var x = Math.Max(0, cx - d.R); x < Math.Min(width, cx + d.R); x++)
                    {
                        if (((x - cx) * (x - cx)) + ((y - d.Y) * (y - d.Y)) <= d.R * d.R)
                        {
                            var p = (y * stride) + 1 + (x * 3);
                            data[p] = d.Cr;
                            data[p + 1] = d.Cg;
                            data[p + 2] = d.Cb;
                        }
                    }
                }
            }

            DrawBanner(data, stride, width, height);
            return data;
        }

        // 5x7 glyphs for the banner text, one row of bits per byte (bit 4 = leftmost column).
        private static readonly Dictionary<char, byte[]> Glyphs = new Dictionary<char, byte[]>
        {
            ['S'] = new byte[] { 0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E },
            ['A'] = new byte[] { 0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11 },
            ['N'] = new byte[] { 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11 },
            ['D'] = new byte[] { 0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E },
            ['B'] = new byte[] { 0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E },
            ['O'] = new byte[] { 0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E },
            ['X'] = new byte[] { 0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11 },
        };

        private static void DrawBanner(byte[] data, int stride, int width, int height)
        {
            const string Text = "SANDBOX";
            var scale = Math.Max(1, width / 160);
            var textWidth = Text.Length * 6 * scale;
            if (textWidth + (4 * scale) > width || 11 * scale > height)
            {
                return;
            }

            var left = (width - textWidth) / 2;
            var top = height - (12 * scale);
            for (var y = top - (2 * scale); y < top + (9 * scale); y++)
            {
                for (var x = left - (2 * scale); x < left + textWidth + scale; x++)
                {
                    var p = (y * stride) + 1 + (x * 3);
                    data[p] = data[p + 1] = data[p + 2] = 0;
                }
            }

            for (var i = 0; i < Text.Length; i++)
            {
                var glyph = Glyphs[Text[i]];
                for (var gy = 0; gy < 7; gy++)
                {
                    for (var gx = 0; gx < 5; gx++)
                    {
                        if ((glyph[gy] & (0x10 >> gx)) == 0)
                        {
                            continue;
                        }

                        for (var sy = 0; sy < scale; sy++)
                        {
                            for (var sx = 0; sx < scale; sx++)
                            {
                                var x = left + (((i * 6) + gx) * scale) + sx;
                                var y = top + (gy * scale) + sy;
                                var p = (y * stride) + 1 + (x * 3);
                                data[p] = data[p + 1] = data[p + 2] = 255;
                            }
                        }
                    }
                }
            }
        }

        private static byte[] EncodePng(int width, int height, IReadOnlyList<byte[]> frames, byte colourType = 2)
        {
            using var png = new MemoryStream();
            png.Write(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, 0, 8);
            var header = new byte[13];
            WriteInt(header, 0, width);
            WriteInt(header, 4, height);
            header[8] = 8; // bit depth
            header[9] = colourType; // 2: truecolour RGB, 6: RGB with alpha
            WriteChunk(png, "IHDR", header);
            if (frames.Count == 1)
            {
                WriteChunk(png, "IDAT", Zlib(frames[0]));
            }
            else
            {
                var control = new byte[8];
                WriteInt(control, 0, frames.Count);
                WriteChunk(png, "acTL", control); // loops = 0: forever
                var sequence = 0;
                for (var i = 0; i < frames.Count; i++)
                {
                    var fctl = new byte[26];
                    WriteInt(fctl, 0, sequence++);
                    WriteInt(fctl, 4, width);
                    WriteInt(fctl, 8, height);
                    fctl[21] = 1;  // delay 1/8 s
                    fctl[23] = 8;
                    WriteChunk(png, "fcTL", fctl);
                    var compressed = Zlib(frames[i]);
                    if (i == 0)
                    {
                        WriteChunk(png, "IDAT", compressed);
                    }
                    else
                    {
                        var fdat = new byte[compressed.Length + 4];
                        WriteInt(fdat, 0, sequence++);
                        Buffer.BlockCopy(compressed, 0, fdat, 4, compressed.Length);
                        WriteChunk(png, "fdAT", fdat);
                    }
                }
            }

            WriteChunk(png, "IEND", Array.Empty<byte>());
            return png.ToArray();
        }

        private static byte[] Zlib(byte[] raw)
        {
            using var output = new MemoryStream();
            output.WriteByte(0x78);
            output.WriteByte(0x01);
            using (var deflate = new DeflateStream(output, CompressionLevel.Fastest, leaveOpen: true))
            {
                deflate.Write(raw, 0, raw.Length);
            }

            uint a = 1, b = 0;
            foreach (var x in raw)
            {
                a = (a + x) % 65521;
                b = (b + a) % 65521;
            }

            var adler = new byte[4];
            WriteInt(adler, 0, (int)((b << 16) | a));
            output.Write(adler, 0, 4);
            return output.ToArray();
        }

        private static void WriteChunk(Stream stream, string type, byte[] data)
        {
            var length = new byte[4];
            WriteInt(length, 0, data.Length);
            stream.Write(length, 0, 4);
            var typeBytes = Encoding.ASCII.GetBytes(type);
            stream.Write(typeBytes, 0, 4);
            stream.Write(data, 0, data.Length);
            var crc = Crc32.Compute(typeBytes, data);
            var crcBytes = new byte[4];
            WriteInt(crcBytes, 0, (int)crc);
            stream.Write(crcBytes, 0, 4);
        }

        private static void WriteInt(byte[] buffer, int offset, int value)
        {
            buffer[offset] = (byte)(value >> 24);
            buffer[offset + 1] = (byte)(value >> 16);
            buffer[offset + 2] = (byte)(value >> 8);
            buffer[offset + 3] = (byte)value;
        }

        private static class Crc32
        {
            private static readonly uint[] Table = BuildTable();

            public static uint Compute(byte[] type, byte[] data)
            {
                var crc = 0xFFFFFFFFu;
                foreach (var b in type)
                {
                    crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
                }

                foreach (var b in data)
                {
                    crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
                }

                return crc ^ 0xFFFFFFFFu;
            }

            private static uint[] BuildTable()
            {
                var table = new uint[256];
                for (uint n = 0; n < 256; n++)
                {
                    var c = n;
                    for (var k = 0; k < 8; k++)
                    {
                        c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                    }

                    table[n] = c;
                }

                return table;
            }
        }
    }
}
