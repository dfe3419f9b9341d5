using System.IO.Compression;

namespace Repro.Core.Corpora;

/// <summary>
/// Reads a gzip file and proves it was read whole. .NET's <see cref="GZipStream"/> ends quietly where a cut file
/// ends, even mid-block or with the trailer missing, so a corpus cut in half would be scored as half a corpus. This
/// stream counts the bytes it decompresses and their CRC-32 and, at the end, compares both with the trailer that
/// closes the file (RFC 1952: CRC-32, then the size mod 2³²); a mismatch is an <see cref="InvalidDataException"/>
/// saying the file is truncated or corrupt. A file of several gzip members (<c>cat a.gz b.gz</c>, bgzip) has a
/// trailer for its last member only: it fails the check too, and the message says to recompress it.
/// </summary>
public sealed class GzipFile : Stream
{
    readonly FileStream file;
    readonly GZipStream gzip;
    uint crc = 0xFFFFFFFF;
    long length;
    bool verified;

    GzipFile(FileStream file)
    {
        this.file = file;
        gzip = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
    }

    /// <summary>A decompressing stream over <paramref name="path"/>, checked against its trailer when read to the end.</summary>
    public static Stream OpenRead(string path) => new GzipFile(File.OpenRead(path));

    /// <summary><paramref name="path"/> decompressed when it ends in <c>.gz</c>, else the file itself.</summary>
    public static Stream OpenMaybe(string path) =>
        path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? OpenRead(path) : File.OpenRead(path);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = gzip.Read(buffer);
        if (read == 0 && buffer.Length > 0) Verify();
        else Update(buffer[..read]);
        return read;
    }

    void Update(ReadOnlySpan<byte> bytes)
    {
        length += bytes.Length;
        var c = crc;
        foreach (var b in bytes) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        crc = c;
    }

    void Verify()
    {
        if (verified) return;
        verified = true;
        if (file.Length < 18) throw new InvalidDataException($"the file is {file.Length} bytes, too short for a gzip header and trailer");
        Span<byte> trailer = stackalloc byte[8];
        file.Seek(-8, SeekOrigin.End);
        file.ReadExactly(trailer);
        var expectedCrc = BitConverter.ToUInt32(trailer[..4]);
        var expectedSize = BitConverter.ToUInt32(trailer[4..]);
        var actualCrc = crc ^ 0xFFFFFFFF;
        if (expectedCrc != actualCrc || expectedSize != unchecked((uint)length))
            throw new InvalidDataException(
                $"the gzip stream ends early or is damaged: {length:N0} bytes decompressed (CRC-32 {actualCrc:x8}), " +
                $"but the file's trailer says {expectedSize:N0} bytes mod 2^32 (CRC-32 {expectedCrc:x8}); " +
                "a file of several gzip members (cat a.gz b.gz, bgzip) is not read either: decompress and gzip it again");
    }

    static readonly uint[] Table = MakeTable();

    static uint[] MakeTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            gzip.Dispose();
            file.Dispose();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => length; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
