using System.IO.Compression;
using System.Text;
using Repro.Core.Corpora;

namespace Repro.Core.Tests.Corpora;

public sealed class CorpusReaderTests
{
    const string JsonLines =
        "{\"text\": \"Hello world\", \"url\": \"https://x\", \"timestamp\": \"2020\"}\n" +
        "\n" +
        "{\"timestamp\": 1, \"text\": \"مرحبا\\nبالعالم\"}\n" +
        "   \n" +
        "{\"text\": \"你好 😀 \\\"quoted\\\"\"}\n";

    static readonly string[] Expected = ["Hello world", "مرحبا\nبالعالم", "你好 😀 \"quoted\""];

    [Test]
    public void Jsonl_yields_the_text_field_of_each_line_and_skips_blank_lines()
    {
        using var dir = new TempFolder();
        var corpus = CorpusReader.Read(dir.File("ar.jsonl", JsonLines));
        Assert.That(corpus.Documents, Is.EqualTo(Expected));
        Assert.That(corpus.Language, Is.EqualTo("ar"));
    }

    [TestCase("ar.jsonl.gz")]
    [TestCase("c4-ar-validation.tfrecord-00000-of-00008.json.gz")]
    public void Gzipped_json_lines_read_the_same_as_plain_ones(string name)
    {
        using var dir = new TempFolder();
        var path = dir.File(name);
        WriteGzip(path, JsonLines);
        var corpus = CorpusReader.Read(path, "ar");
        Assert.That(corpus.Documents, Is.EqualTo(Expected));
        Assert.That(corpus.ContentSha256(), Is.EqualTo(CorpusReader.Read(dir.File("plain.jsonl", JsonLines)).ContentSha256()));
    }

    [Test]
    public void Txt_separates_documents_by_blank_lines()
    {
        using var dir = new TempFolder();
        var path = dir.File("de.txt", "\nErster Absatz\nzweite Zeile\r\n\r\n\n  \nZweites Dokument\n\n");
        Assert.That(CorpusReader.Read(path).Documents, Is.EqualTo(new[] { "Erster Absatz\nzweite Zeile", "Zweites Dokument" }));
    }

    [Test]
    public void Gzipped_txt_is_read_too()
    {
        using var dir = new TempFolder();
        var path = dir.File("sw.txt.gz");
        WriteGzip(path, "a\n\nb\n");
        Assert.That(CorpusReader.Read(path).Documents, Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public void A_line_without_a_text_string_fails_naming_file_and_line()
    {
        using var dir = new TempFolder();
        var path = dir.File("en.jsonl", "{\"text\": \"ok\"}\n\n{\"url\": \"x\", \"content\": \"no text\"}\n");
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("line 3").And.Contain("\"text\"").And.Contain("content"));
    }

    [TestCase("{\"text\": 42}", "line 1")]
    [TestCase("[\"text\"]", "line 1")]
    [TestCase("{\"text\": \"unterminated", "line 1")]
    public void Malformed_lines_fail_with_the_line_number(string line, string expected)
    {
        using var dir = new TempFolder();
        var path = dir.File("en.jsonl", line + "\n");
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain(expected));
    }

    [Test]
    public void Invalid_utf8_is_rejected_rather_than_replaced()
    {
        using var dir = new TempFolder();
        var path = dir.File("en.jsonl");
        File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes("{\"text\": \"ok\"}\n{\"text\": \"bad "), 0xC3, 0x28, .. "\"}\n"u8.ToArray()]);
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path))!;
        Assert.That(e.Message, Does.Contain("UTF-8").And.Contain("line 2"));
    }

    [Test]
    public void A_corrupt_gzip_file_names_the_file()
    {
        using var dir = new TempFolder();
        var path = dir.File("en.jsonl.gz", "this is not gzip");
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("gzip"));
    }

    // Many documents, so that a cut lands inside compressed data with whole documents decoded before it.
    static string ManyDocuments() =>
        string.Concat(Enumerable.Range(0, 4000).Select(i => $"document {i} {i * 7919 % 1000:D3} holds a line of text\n\n"));

    [TestCase(0.5, TestName = "A gzip corpus cut in half is refused as truncated")]
    [TestCase(-4, TestName = "A gzip corpus missing the size field of its trailer is refused")]
    [TestCase(-8, TestName = "A gzip corpus cut where its trailer starts is refused")]
    public void A_truncated_gzip_corpus_is_an_error_naming_the_file(double cut)
    {
        using var dir = new TempFolder();
        var path = dir.File("sw.txt.gz");
        WriteGzip(path, ManyDocuments());
        var bytes = File.ReadAllBytes(path);
        Assert.That(CorpusReader.Read(path).Documents, Has.Count.EqualTo(4000), "the whole file reads");
        var keep = cut > 0 ? (int)(bytes.Length * cut) : bytes.Length + (int)cut;
        File.WriteAllBytes(path, bytes[..keep]);
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("truncated or corrupt gzip").And.Contain("ends early"));
    }

    [Test]
    public void A_gzip_corpus_with_a_damaged_trailer_is_refused()
    {
        using var dir = new TempFolder();
        var path = dir.File("sw.jsonl.gz");
        WriteGzip(path, JsonLines);
        var bytes = File.ReadAllBytes(path);
        bytes[^5] ^= 0x01;   // the CRC-32's last byte
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path))!;
        // zlib itself checks a trailer that is there (its message is unhelpful); GzipFile checks one that is missing.
        Assert.That(e.Message, Does.StartWith(path + ": truncated or corrupt gzip file"));
    }

    [Test]
    public void A_multi_member_gzip_corpus_is_refused_with_the_remedy()
    {
        using var dir = new TempFolder();
        var a = dir.File("a.txt.gz");
        var b = dir.File("b.txt.gz");
        WriteGzip(a, "first document\n\n");
        WriteGzip(b, "second document\n");
        var path = dir.File("en.txt.gz");
        File.WriteAllBytes(path, [.. File.ReadAllBytes(a), .. File.ReadAllBytes(b)]);
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("several gzip members").And.Contain("gzip it again"));
    }

    [Test]
    public void An_unknown_extension_lists_the_supported_ones()
    {
        using var dir = new TempFolder();
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(dir.File("en.arrow", "x")))!;
        Assert.That(e.Message, Does.Contain(".jsonl.gz").And.Contain(".txt").And.Contain(".parquet"));
    }

    [Test]
    public void The_language_of_a_split_file_is_its_folder()
    {
        using var dir = new TempFolder();
        Assert.That(CorpusReader.Read(dir.File("zh/validation.jsonl", "{\"text\":\"x\"}")).Language, Is.EqualTo("zh"));
    }

    [Test]
    public void The_content_hash_is_sha256_of_length_prefixed_documents()
    {
        var corpus = new Corpus("en", ["ab", "c"], "memory");
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            [2, 0, 0, 0, 0, 0, 0, 0, (byte)'a', (byte)'b', 1, 0, 0, 0, 0, 0, 0, 0, (byte)'c']));
        Assert.That(corpus.ContentSha256(), Is.EqualTo(expected));
        Assert.That(new Corpus("en", ["a", "bc"], "memory").ContentSha256(), Is.Not.EqualTo(expected));
        Assert.That(corpus.Take(1).ContentSha256(), Is.EqualTo(Corpus.HashDocuments(["ab"])));
    }

    static void WriteGzip(string path, string text)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(Encoding.UTF8.GetBytes(text));
    }
}
