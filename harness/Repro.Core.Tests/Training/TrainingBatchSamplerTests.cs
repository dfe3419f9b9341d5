using Repro.Core.Corpora;
using Repro.Core.Tokenizers;
using Repro.Core.Training;

namespace Repro.Core.Tests.Training;

public sealed class TrainingBatchSamplerTests
{
    const int Bos = 256;

    static LanguageStream Stream(string language, int documents, int length, char letter) =>
        LanguageStream.From(new Corpus(language, [.. Enumerable.Range(0, documents).Select(d => $"{d}{new string(letter, length)}")], $"/synthetic/{language}.jsonl"),
                            new ByteTokenizer());

    // Sizes differ by 30×: equal shares must not follow size.
    static readonly IReadOnlyList<LanguageStream> Streams =
        [Stream("aa", 3, 40, 'a'), Stream("bb", 30, 40, 'b'), Stream("cc", 90, 40, 'c')];

    [Test]
    public void Stream_joins_documents_with_a_blank_line_and_marks_their_starts()
    {
        var s = LanguageStream.From(new Corpus("xx", ["ab", "", "c"], "/x.jsonl"), new ByteTokenizer());
        Assert.That(s.Tokens, Is.EqualTo(new[] { 'a', 'b', '\n', '\n', 'c' }.Select(c => (int)c)));
        Assert.That(s.DocumentStarts, Is.EqualTo(new[] { 0, 4 }));
    }

    [Test]
    public void Same_seed_gives_the_same_batches_and_another_seed_other_ones()
    {
        static List<long[]> Draw(ulong seed)
        {
            var sampler = new TrainingBatchSampler(Streams, seqlen: 16, Bos, documentStartShare: 0.25, languageExponent: 0.3, seed);
            return [.. Enumerable.Range(0, 5).Select(_ => sampler.Next(6).Ids)];
        }
        var first = Draw(7);
        Assert.That(Draw(7), Is.EqualTo(first));
        Assert.That(Draw(8), Is.Not.EqualTo(first));
    }

    [TestCase(0.0)]
    [TestCase(0.3)]
    [TestCase(1.0)]
    public void Languages_get_their_shares_size_to_the_power_alpha(double alpha)
    {
        var sizes = Streams.Select(s => (double)s.Count).ToArray();
        var expected = sizes.Select(n => Math.Pow(n, alpha) / sizes.Sum(m => Math.Pow(m, alpha))).ToArray();
        var sampler = new TrainingBatchSampler(Streams, seqlen: 16, Bos, documentStartShare: 0.125, alpha, seed: 3);
        Assert.That(sampler.Shares, Is.EqualTo(expected).Within(1e-12));

        const int rows = 6000;
        var languages = Enumerable.Range(0, rows / 8).SelectMany(_ => sampler.Next(8).Languages).ToList();
        for (var i = 0; i < Streams.Count; i++)
        {
            var observed = languages.Count(l => l == Streams[i].Language);
            var sigma = Math.Sqrt(rows * expected[i] * (1 - expected[i]));
            Assert.That(observed, Is.EqualTo(rows * expected[i]).Within(5 * sigma), $"{Streams[i].Language} at α = {alpha}");
        }
    }

    [Test]
    public void Equal_shares_at_alpha_zero_whatever_the_size() =>
        Assert.That(TrainingBatchSampler.SharesOf([10, 1000, 100000], 0), Is.EqualTo(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }).Within(1e-15));

    [Test]
    public void Rows_are_stream_slices_or_bos_then_a_document_start()
    {
        var byLanguage = Streams.ToDictionary(s => s.Language);
        var sampler = new TrainingBatchSampler(Streams, seqlen: 16, Bos, documentStartShare: 0.5, languageExponent: 0.3, seed: 11);
        int documentStarts = 0, rows = 0;
        for (var b = 0; b < 40; b++)
        {
            var batch = sampler.Next(5);
            Assert.That(batch.Columns, Is.EqualTo(17), "seqlen inputs plus one target");
            for (var r = 0; r < batch.Rows; r++, rows++)
            {
                var row = batch.Ids.AsSpan(r * batch.Columns, batch.Columns).ToArray();
                var stream = byLanguage[batch.Languages[r]];
                Assert.That(row.Skip(1), Has.None.EqualTo(Bos), "BOS is never a target");
                if (row[0] == Bos)
                {
                    documentStarts++;
                    Assert.That(stream.DocumentStarts.Any(s => Matches(stream, s, row[1..])), Is.True,
                                $"row {rows} starts with BOS but not with a document of '{stream.Language}'");
                }
                else
                    Assert.That(Enumerable.Range(0, stream.Count - row.Length + 1).Any(s => Matches(stream, s, row)), Is.True,
                                $"row {rows} is not a slice of the '{stream.Language}' stream");
            }
        }
        Assert.That(documentStarts / (double)rows, Is.EqualTo(0.5).Within(0.1), "share of document-start windows");
    }

    static bool Matches(LanguageStream stream, int start, long[] tokens) =>
        start + tokens.Length <= stream.Count && tokens.Select((t, i) => t == stream.Tokens[start + i]).All(x => x);

    [TestCase(0.0, 0)]
    [TestCase(1.0, 60)]
    public void Document_start_share_zero_and_one(double share, int expectedBosRows)
    {
        var sampler = new TrainingBatchSampler(Streams, seqlen: 16, Bos, share, languageExponent: 0.3, seed: 5);
        var bosRows = Enumerable.Range(0, 10).Sum(_ =>
        {
            var batch = sampler.Next(6);
            return Enumerable.Range(0, batch.Rows).Count(r => batch.Ids[r * batch.Columns] == Bos);
        });
        Assert.That(bosRows, Is.EqualTo(expectedBosRows));
    }

    [Test]
    public void A_language_shorter_than_one_window_is_named_with_its_file()
    {
        var shortStream = Stream("zz", 1, 5, 'z');
        Assert.That(() => new TrainingBatchSampler([Streams[0], shortStream], seqlen: 16, Bos, 0.1, 0.3, seed: 1),
                    Throws.InstanceOf<InputException>().With.Message.Contains("/synthetic/zz.jsonl").And.Message.Contains("'zz'"));
    }
}
