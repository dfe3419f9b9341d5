using System.IO.Compression;
using System.Text;
using Repro.Core.Fixtures;

namespace Repro.Core.Tests.Fixtures;

public sealed class DeterministicGzipTests
{
    [Test]
    public void Crc32_matches_the_standard_check_value()
    {
        Assert.That(DeterministicGzip.Crc32("123456789"u8), Is.EqualTo(0xCBF43926u));
    }

    [Test]
    public void The_output_is_a_gzip_file_that_GZipStream_reads_back()
    {
        var data = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"{{\"text\": \"Zeile {i} – 行 {i}\"}}\n")));
        var gz = DeterministicGzip.Compress(data);
        using var input = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        Assert.That(output.ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void The_header_has_no_time_no_name_and_a_fixed_os_byte()
    {
        var gz = DeterministicGzip.Compress("x"u8);
        Assert.That(gz[..10], Is.EqualTo(new byte[] { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff }));
        Assert.That(DeterministicGzip.Compress("x"u8), Is.EqualTo(gz));
    }
}
