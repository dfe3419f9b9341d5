using Parquet;
using Parquet.Schema;
using Repro.Core.Corpora;

namespace Repro.Core.Tests.Corpora;

public sealed class ParquetCorpusTests
{
    static readonly string[] Documents = ["Hello world", "مرحبا\nبالعالم", "你好 😀 \"quoted\"", "", "שלום"];

    /// <summary>Writes <paramref name="columns"/> (name → values of one CLR type) as row groups of <paramref name="rowsPerGroup"/> rows.</summary>
    static string Write(string path, int rowsPerGroup, params (DataField Field, Array Values)[] columns)
    {
        var schema = new ParquetSchema(columns.Select(c => (Field)c.Field).ToArray());
        var rows = columns[0].Values.Length;
        Task.Run(async () =>
        {
            await using var file = File.Create(path);
            await using var writer = await ParquetWriter.CreateAsync(schema, file);
            for (var start = 0; start < rows; start += rowsPerGroup)
            {
                using var group = writer.CreateRowGroup();
                var count = Math.Min(rowsPerGroup, rows - start);
                foreach (var (field, values) in columns)
                {
                    switch (values)
                    {
                        case string?[] strings: await group.WriteAsync(field, strings.Skip(start).Take(count).ToArray()); break;
                        case byte[][] bytes: await group.WriteAsync(field, bytes.Skip(start).Take(count).ToArray()); break;
                        case long[] longs: await group.WriteAsync<long>(field, longs.AsMemory(start, count)); break;
                        default: throw new ArgumentException(values.GetType().Name);
                    }
                }
            }
        }).GetAwaiter().GetResult();
        return path;
    }

    static (DataField, Array) Text(string?[] values) => (new DataField<string>("text"), values);

    [Test]
    public void Each_row_of_the_text_column_is_a_document_in_order_over_row_groups_other_columns_ignored()
    {
        using var dir = new TempFolder();
        var path = Write(dir.File("ar.parquet"), rowsPerGroup: 2,
                         (new DataField<long>("id"), Documents.Select((_, i) => (long)i).ToArray()), Text(Documents),
                         (new DataField<string>("url"), Documents.Select(d => "https://example.org/" + d.Length).ToArray()));

        var corpus = CorpusReader.Read(path);

        Assert.That(corpus.Documents, Is.EqualTo(Documents));
        Assert.That(corpus.Language, Is.EqualTo("ar"));
        Assert.That(corpus.ContentSha256(), Is.EqualTo(new Corpus("ar", Documents, "other").ContentSha256()), "the same text hashes the same whatever the format");
    }

    [Test]
    public void A_corpus_folder_serves_a_parquet_split()
    {
        using var dir = new TempFolder();
        Write(dir.File("de/validation.parquet"), 10, Text(["Validierung"]));
        Write(dir.File("de/calibration.parquet"), 10, Text(["Kalibrierung"]));

        var corpora = CorpusDirectory.Open(dir.Path);

        Assert.That(corpora.Load("de", "validation").Documents, Is.EqualTo(new[] { "Validierung" }));
        Assert.That(corpora.Load("de", "calibration").Documents, Is.EqualTo(new[] { "Kalibrierung" }));
    }

    [Test]
    public void A_binary_text_column_is_decoded_as_utf8()
    {
        using var dir = new TempFolder();
        var path = Write(dir.File("zh.parquet"), 10, (new DataField<byte[]>("text"), Documents.Select(d => System.Text.Encoding.UTF8.GetBytes(d)).ToArray()));
        Assert.That(CorpusReader.Read(path).Documents, Is.EqualTo(Documents));
    }

    [Test]
    public void Invalid_utf8_is_an_error_naming_the_row()
    {
        using var dir = new TempFolder();
        var path = Write(dir.File("ru.parquet"), 1, (new DataField<byte[]>("text"), new[] { "ok"u8.ToArray(), new byte[] { 0x41, 0xC3, 0x28 } }));
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path));
        Assert.That(e!.Message, Does.StartWith(path + ": row 1: \"text\" is not valid UTF-8"));
    }

    [Test]
    public void A_null_text_is_an_error_naming_the_row()
    {
        using var dir = new TempFolder();
        var path = Write(dir.File("es.parquet"), 2, Text(["uno", "dos", null, "cuatro"]));
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path));
        Assert.That(e!.Message, Is.EqualTo(path + ": row 2: \"text\" is null; every row must hold a document"));
    }

    [Test]
    public void A_file_without_a_text_column_lists_its_columns()
    {
        using var dir = new TempFolder();
        var path = Write(dir.File("en.parquet"), 10, (new DataField<string>("content"), new[] { "a" }), (new DataField<long>("id"), new[] { 1L }));
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path));
        Assert.That(e!.Message, Does.StartWith(path + ": no top-level \"text\" column (columns: content, id)"));
    }

    [Test]
    public void A_text_column_of_numbers_is_refused()
    {
        using var dir = new TempFolder();
        var path = Write(dir.File("en.parquet"), 10, (new DataField<long>("text"), new[] { 1L }));
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path));
        Assert.That(e!.Message, Does.StartWith(path + ": \"text\" holds Int64 values, not strings"));
    }

    [TestCase(0.5)]
    [TestCase(0.97)]
    public void A_truncated_file_is_refused_as_not_parquet(double keep)
    {
        using var dir = new TempFolder();
        var path = Write(dir.File("sw.parquet"), 10, Text(Documents));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * keep)]);
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path));
        Assert.That(e!.Message, Does.StartWith(path + ": not a Parquet file"));
    }

    [Test]
    public void Corrupted_bytes_give_a_corpus_format_error_or_the_same_documents_never_another_exception()
    {
        using var dir = new TempFolder();
        var documents = Enumerable.Range(0, 200).Select(i => $"document {i} " + new string('x', i % 50)).ToArray();
        var path = Write(dir.File("x.parquet"), 200, Text(documents));
        var good = File.ReadAllBytes(path);
        var rng = new Random(1);
        var refused = 0;
        for (var trial = 0; trial < 200; trial++)
        {
            var bad = (byte[])good.Clone();
            var at = rng.Next(4, bad.Length - 12);          // inside the file: the PAR1 markers stay, the footer length too
            for (var k = 0; k < 4; k++) bad[at + k] ^= (byte)rng.Next(1, 256);
            File.WriteAllBytes(path, bad);
            try
            {
                var read = CorpusReader.Read(path).Documents;
                if (!read.SequenceEqual(documents))
                    Assert.That(read, Has.Count.EqualTo(documents.Length), $"trial {trial}: a corruption that reads must still give one document per row");
            }
            catch (CorpusFormatException e)
            {
                Assert.That(e.Message, Does.StartWith(path + ": "), $"trial {trial}");
                refused++;
            }
        }
        Assert.That(refused, Is.GreaterThan(100), "most corruptions are detected");
    }

    [Test]
    public void A_text_file_named_parquet_is_refused_as_not_parquet()
    {
        using var dir = new TempFolder();
        var path = dir.File("id.parquet", "{\"text\": \"this is jsonl\"}\n");
        var e = Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path));
        Assert.That(e!.Message, Does.StartWith(path + ": not a Parquet file"));
    }
}
