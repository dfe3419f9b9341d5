using System.IO.Compression;
using System.Text;
using Repro.Core.Calibration;
using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Corpora;

public sealed class CorpusStreamTests
{
    const int Documents = 100_000;

    static string Line(int i) => $"{{\"text\": \"document {i} {i * 7919 % 1000:D3} holds a line of text that the reader has to decode\"}}\n";

    /// <summary>A gzip jsonl file of <see cref="Documents"/> documents (about 8 MB of text), cut to its first <paramref name="keep"/> of its bytes.</summary>
    static (string Path, long TextBytes) LargeGzip(TempFolder dir, string relative, double keep = 1)
    {
        var path = dir.File(relative);
        long textBytes = 0;
        using (var file = File.Create(path))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
            for (var i = 0; i < Documents; i++)
            {
                var bytes = Encoding.UTF8.GetBytes(Line(i));
                textBytes += bytes.Length;
                gzip.Write(bytes);
            }
        if (keep < 1)
        {
            var all = File.ReadAllBytes(path);
            File.WriteAllBytes(path, all[..(int)(all.Length * keep)]);
        }
        return (path, textBytes);
    }

    [Test]
    public void The_first_documents_of_a_large_gzip_file_are_read_without_reading_the_rest()
    {
        using var dir = new TempFolder();
        // Cut in half: a reader that went on past the documents taken would reach the cut and fail.
        var (path, textBytes) = LargeGzip(dir, "de.jsonl.gz", keep: 0.5);
        var stream = CorpusReader.Open(path);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var first = stream.Documents.Take(10).ToList();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(first, Has.Count.EqualTo(10));
        Assert.That(first[9], Does.StartWith("document 9 "));
        Assert.That(allocated, Is.LessThan(textBytes / 20), $"{allocated:N0} bytes allocated for 10 documents of a {textBytes:N0}-byte text");
        Assert.That(stream.Language, Is.EqualTo("de"));
    }

    [Test]
    public void A_truncated_gzip_file_is_an_error_naming_it_when_the_stream_reaches_the_cut()
    {
        using var dir = new TempFolder();
        var (path, _) = LargeGzip(dir, "de.jsonl.gz", keep: 0.5);
        var stream = CorpusReader.Open(path);
        var read = 0;

        var e = Assert.Throws<CorpusFormatException>(() => { foreach (var _ in stream.Documents) read++; })!;

        Assert.That(e.Message, Does.StartWith(path).And.Contain("truncated or corrupt gzip").And.Contain("ends early"));
        Assert.That(read, Is.GreaterThan(1000).And.LessThan(Documents), "the documents before the cut were streamed first");
        Assert.Throws<CorpusFormatException>(() => CorpusReader.Read(path), "reading it whole fails the same way");
    }

    [Test]
    public void Opening_checks_the_file_and_reading_its_bytes_waits_for_the_stream()
    {
        using var dir = new TempFolder();
        var path = dir.File("en.jsonl.gz", "this is not gzip");

        var stream = CorpusReader.Open(path);

        Assert.Throws<CorpusFormatException>(() => stream.Documents.ToList());
        Assert.That(Assert.Throws<CorpusFormatException>(() => CorpusReader.Open(dir.File("missing.jsonl")))!.Message, Does.Contain("does not exist"));
    }

    [Test]
    public void A_stream_reads_the_file_again_on_each_enumeration_and_equals_reading_it_whole()
    {
        using var dir = new TempFolder();
        var (path, _) = LargeGzip(dir, "zh/validation.jsonl.gz");
        var folder = CorpusDirectory.Open(dir.Path);
        var stream = folder.Stream("zh", "validation");
        var whole = folder.Load("zh", "validation");

        Assert.That(stream.Documents.Count(), Is.EqualTo(Documents));
        Assert.That(stream.Documents.Take(3), Is.EqualTo(whole.Documents.Take(3)));
        Assert.That(stream.ContentSha256(), Is.EqualTo(whole.ContentSha256()));
        Assert.That(stream.SourcePath, Is.EqualTo(path));
    }

    [Test]
    public void Leading_text_takes_only_the_documents_it_needs_from_an_endless_stream()
    {
        var pulled = 0;
        IEnumerable<string> Endless()
        {
            for (var i = 0; ; i++)
            {
                pulled++;
                yield return $"document {i} of an endless corpus";
            }
        }
        var tokenizer = new ByteTokenizer();
        var options = new PerplexityOptions(Seqlen: 64);

        var text = LanguageCorpusText.Leading(new CorpusStream("de", Endless(), "endless"), tokenizer, options, windows: 3);

        Assert.That(pulled, Is.EqualTo(text.Documents), "no document beyond those the text joins");
        Assert.That(text.AvailableWindows, Is.GreaterThanOrEqualTo(3));
        var inMemory = new Corpus("de", [.. Enumerable.Range(0, text.Documents + 5).Select(i => $"document {i} of an endless corpus")], "endless");
        Assert.That(LanguageCorpusText.Leading(inMemory, tokenizer, options, windows: 3), Is.EqualTo(text));
    }

    [Test]
    public void Evaluation_reads_the_leading_documents_of_a_cut_file_and_calibration_which_reads_it_all_names_it()
    {
        using var dir = new TempFolder();
        var (path, _) = LargeGzip(dir, "de/calibration.jsonl.gz", keep: 0.5);
        var folder = CorpusDirectory.Open(dir.Path);
        var tokenizer = new ByteTokenizer();

        var text = LanguageCorpusText.Leading(folder.Stream("de", "calibration"), tokenizer, new PerplexityOptions(Seqlen: 128), windows: 4);
        var e = Assert.Throws<CorpusFormatException>(() => CalibrationSampler.Sample(new CalibrationSpec(["de"], 4, 32, 0), folder, tokenizer))!;

        Assert.That(text.AvailableWindows, Is.GreaterThanOrEqualTo(4));
        Assert.That(e.Message, Does.StartWith(path).And.Contain("truncated or corrupt gzip"));
    }

    [Test]
    public void Sampling_a_corpus_folder_gives_what_its_documents_in_memory_give()
    {
        var folder = CorpusDirectory.Open(Path.Combine(RepoPaths.Fixtures, "corpora"));
        var spec = new CalibrationSpec(["zh", "de", "sw"], 24, 96, 3);
        ITextTokenizer tokenizer = new ByteTokenizer();

        var streamed = CalibrationSampler.Sample(spec, folder, tokenizer, allowRepeatedText: true);
        var inMemory = CalibrationSampler.Sample(spec, l => folder.Load(l, CalibrationSampler.Split), tokenizer, allowRepeatedText: true);

        Assert.That(streamed.TokenIds, Is.EqualTo(inMemory.TokenIds));
        Assert.That(streamed.Samples, Is.EqualTo(inMemory.Samples));
        Assert.That(streamed.Languages, Is.EqualTo(inMemory.Languages));
        Assert.That(streamed.Languages.Select(l => l.CorpusSha256), Is.EqualTo(spec.Languages.Select(l => folder.Load(l, CalibrationSampler.Split).ContentSha256())));
    }
}
