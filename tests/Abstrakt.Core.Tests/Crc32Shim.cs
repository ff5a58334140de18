namespace System.IO.Hashing;

/// <summary>An independent CRC-32 (bitwise, no table) to check the sandbox's PNG chunks.</summary>
internal static class Crc32Shim
{
    public static uint Compute(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
