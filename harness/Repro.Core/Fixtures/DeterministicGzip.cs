using System.Buffers.Binary;
using System.IO.Compression;

namespace Repro.Core.Fixtures;

/// <summary>
/// gzip (RFC 1952) whose bytes depend on the content alone. .NET's <see cref="GZipStream"/> writes a zero
/// modification time and no file name, but takes the header's OS byte from the zlib build (3 on Unix, another
/// value elsewhere), so the same text would hash differently on Windows. Here the 10-byte header is fixed
/// (no flags, mtime 0, XFL 0, OS 255 = unknown), the body is raw deflate from <see cref="DeflateStream"/> at
/// <see cref="CompressionLevel.SmallestSize"/>, and the trailer is CRC-32 and length mod 2^32, little-endian.
/// The deflate bytes themselves follow the runtime's bundled zlib; a new .NET may change them, which the
/// manifest's content hashes (independent of compression) tell apart from a change of text.
/// </summary>
public static class DeterministicGzip
{
    static readonly byte[] Header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

    public static byte[] Compress(ReadOnlySpan<byte> data)
    {
        using var output = new MemoryStream();
        output.Write(Header);
        using (var deflate = new DeflateStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
            deflate.Write(data);
        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, Crc32(data));
        BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], unchecked((uint)data.Length));
        output.Write(trailer);
        return output.ToArray();
    }

    static readonly uint[] Table = MakeTable();

    static uint[] MakeTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>CRC-32 as gzip and zip use it (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }
}
