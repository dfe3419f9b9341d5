using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Calibration;
using Repro.Core.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Calibration;

public sealed class CalibrationSamplerTests
{
    static readonly ByteTokenizer Bytes = new();
    static readonly ByteTokenizer BytesNoBos = new(addsBos: false);
    static readonly string[] Pool = ["ar", "de", "en", "es", "ru", "sw", "zh"];

    /// <summary>Random corpora: per language 1–12 documents of 0–80 characters, at least one longer than seqlen.</summary>
    sealed record Case(Dictionary<string, Corpus> Corpora, CalibrationSpec Spec);

    static Gen<string> Document(int minLength) =>
        from length in Gen.Choose(minLength, minLength + 60)
        from chars in Gen.Elements("abcdefghij ÄöéжЖ中文".ToCharArray()).ArrayOf(length)
        select new string(chars);

    static Arbitrary<Case> Cases() =>
        (from seqlen in Gen.Choose(2, 24)
         from count in Gen.Choose(1, Pool.Length)
         from order in Gen.Shuffle(Pool)
         from nsamples in Gen.Choose(1, 20)
         from seed in Gen.Choose(-5, 1000)
         from docs in (from n in Gen.Choose(0, 11)
                       from shortOnes in Document(0).ArrayOf(n)
                       from longOne in Document(seqlen + 1)
                       from at in Gen.Choose(0, n)
                       select shortOnes.Take(at).Append(longOne).Concat(shortOnes.Skip(at)).ToArray()).ArrayOf(count)
         let languages = order.Take(count).ToArray()
         select new Case(languages.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => new Corpus(x.l, docs[x.i], $"mem/{x.l}/calibration.jsonl")),
                         new CalibrationSpec(languages, nsamples, seqlen, seed))).ToArbitrary();

    /// <summary>The random corpora are far shorter than nsamples × seqlen as a rule: these properties are about the draws, so repeats are allowed.</summary>
    static CalibrationSet Sample(Case c, ITextTokenizer? tokenizer = null, bool allowRepeatedText = true) =>
        CalibrationSampler.Sample(c.Spec, l => c.Corpora[l], tokenizer ?? Bytes, allowRepeatedText);

    /// <summary>Tokens of the documents longer than seqlen, all of them (the sampler may stop counting once it has enough).</summary>
    static long LongDocumentTokens(Corpus corpus, int seqlen) =>
        corpus.Documents.Select(d => (long)Bytes.Encode(d, addBos: true).Ids.Count).Where(n => n > seqlen).Sum();

    [FsCheck.NUnit.Property(MaxTest = 150)]
    public Property The_same_spec_gives_identical_ids_and_provenance() =>
        Prop.ForAll(Cases(), c =>
        {
            var a = Sample(c);
            var b = Sample(c with { Spec = c.Spec with { Languages = [.. c.Spec.Languages] } });
            return (a.TokenIds.SequenceEqual(b.TokenIds) && a.Samples.SequenceEqual(b.Samples)
                    && a.Languages.SequenceEqual(b.Languages)).Label("two samplings differ");
        });

    [FsCheck.NUnit.Property(MaxTest = 150)]
    public Property Every_window_is_a_contiguous_slice_of_one_document_longer_than_seqlen() =>
        Prop.ForAll(Cases(), c =>
        {
            var set = Sample(c);
            var bad = Enumerable.Range(0, set.NSamples).Where(i =>
            {
                var s = set.Samples[i];
                var ids = Bytes.Encode(c.Corpora[s.Language].Documents[s.DocumentIndex], addBos: true).Ids;
                return ids.Count <= c.Spec.Seqlen || s.WindowStart < 0 || s.WindowStart > ids.Count - c.Spec.Seqlen - 1
                       || !set.Row(i).ToArray().SequenceEqual(ids.Skip(s.WindowStart).Take(c.Spec.Seqlen).Select(x => (long)x));
            }).ToList();
            return (bad.Count == 0).Label($"bad rows: {string.Join(",", bad)}");
        });

    [FsCheck.NUnit.Property(MaxTest = 150)]
    public Property Languages_get_equal_shares_with_the_remainder_to_the_first_ones_and_rows_in_listed_order() =>
        Prop.ForAll(Cases(), c =>
        {
            var set = Sample(c);
            var l = c.Spec.Languages.Count;
            var want = c.Spec.Languages.Select((lang, i) => (lang, c.Spec.NSamples / l + (i < c.Spec.NSamples % l ? 1 : 0))).ToList();
            var rows = set.Samples.Select(s => s.Language).ToList();
            var expectedRows = want.SelectMany(w => Enumerable.Repeat(w.lang, w.Item2)).ToList();
            return set.Languages.Select(x => (x.Language, x.Count)).SequenceEqual(want).Label("realised counts")
                .And(rows.SequenceEqual(expectedRows)).Label("rows grouped by language in listed order")
                .And(set.Languages.Sum(x => x.Count) == c.Spec.NSamples).Label("counts sum to nsamples")
                .And(set.Languages.All(x => x.CorpusSha256 == c.Corpora[x.Language].ContentSha256())).Label("corpus hashes");
        });

    [FsCheck.NUnit.Property(MaxTest = 150)]
    public Property A_languages_samples_in_a_mix_are_the_first_ones_it_gives_alone_with_the_same_seed() =>
        Prop.ForAll(Cases(), c =>
        {
            var mix = Sample(c);
            var row = 0;
            foreach (var share in mix.Languages)
            {
                var alone = CalibrationSampler.SampleLanguage(c.Corpora[share.Language], share.Count, c.Spec.Seqlen,
                    SubSeed.Derive("calibration", c.Spec.Seed, share.Language), Bytes, allowRepeatedText: true);
                var single = Sample(c with { Spec = c.Spec with { Languages = [share.Language] } });
                for (var i = 0; i < share.Count; i++, row++)
                {
                    if (!mix.Row(row).SequenceEqual(alone.Windows[i]) || mix.Samples[row] != alone.Samples[i] with { Language = share.Language })
                        return false.Label($"{share.Language} sample {i} differs from the single-language sampler");
                    if (!mix.Row(row).SequenceEqual(single.Row(i)))
                        return false.Label($"{share.Language} sample {i} is not the single-language spec's sample {i}");
                }
            }
            return true.ToProperty();
        });

    [Test]
    public void Different_seeds_usually_give_different_windows()
    {
        var documents = Enumerable.Range(0, 50).Select(i => string.Concat(Enumerable.Repeat($"document {i} ", 20))).ToList();
        Corpus Of(string l) => new(l, documents, "mem");
        var differing = Enumerable.Range(0, 20).Count(seed =>
            !CalibrationSampler.Sample(new CalibrationSpec(["de"], 8, 16, seed), Of, Bytes).TokenIds
                .SequenceEqual(CalibrationSampler.Sample(new CalibrationSpec(["de"], 8, 16, seed + 1), Of, Bytes).TokenIds));
        Assert.That(differing, Is.GreaterThanOrEqualTo(19));
    }

    [Test]
    public void The_tokenizers_BOS_starts_a_document_and_a_window_from_its_start()
    {
        var corpus = new Corpus("de", ["abcdefgh"], "mem");
        var with = CalibrationSampler.SampleLanguage(corpus, 64, 8, 1, Bytes, allowRepeatedText: true);
        Assert.That(with.Windows.Where((_, i) => with.Samples[i].WindowStart == 0), Has.All.Matches<long[]>(w => w[0] == Bytes.BosId));
        Assert.That(with.Samples.Select(s => s.WindowStart).Distinct(), Is.EquivalentTo(new[] { 0 }), "9 tokens, seqlen 8: the only start is 0");
        var without = CalibrationSampler.SampleLanguage(corpus with { Documents = ["abcdefghi"] }, 4, 8, 1, BytesNoBos, allowRepeatedText: true);
        Assert.That(without.Windows[0][0], Is.EqualTo((long)'a'));
    }

    [Test]
    public void Too_few_long_documents_fail_with_language_file_seqlen_and_counts()
    {
        var corpus = new Corpus("sw", ["short", "tiny", "also short"], "fixtures/corpora/sw/calibration.jsonl.gz");
        var e = Assert.Throws<CalibrationException>(() => CalibrationSampler.Sample(new CalibrationSpec(["sw"], 4, 32, 0), _ => corpus, Bytes, allowRepeatedText: true));
        Assert.That(e!.Message, Does.StartWith("fixtures/corpora/sw/calibration.jsonl.gz: calibration language 'sw': only 0 of 3 documents are longer than seqlen = 32 tokens"));
    }

    [Test]
    public void A_corpus_shorter_than_nsamples_times_seqlen_is_refused_with_file_and_token_counts()
    {
        // Two documents of 20 bytes + BOS = 21 tokens each are longer than seqlen 10; "short" is not: 42 tokens of text.
        var corpus = new Corpus("sw", ["abcdefghijklmnopqrst", "short", "ABCDEFGHIJKLMNOPQRST"], "fixtures/corpora/sw/calibration.jsonl.gz");
        var e = Assert.Throws<CalibrationException>(() => CalibrationSampler.Sample(new CalibrationSpec(["sw"], 5, 10, 0), _ => corpus, Bytes));
        Assert.That(e!.Message, Does.StartWith(
            "fixtures/corpora/sw/calibration.jsonl.gz: calibration language 'sw' is too short for 5 samples × 10 tokens = 50 tokens: " +
            "its 2 of 3 documents longer than seqlen hold 42 tokens in all"));
        Assert.That(e.Message, Does.Contain("--allow-repeated-text"));
    }

    [Test]
    public void Exactly_enough_text_is_sampled_without_repeats_and_one_token_less_is_not()
    {
        var corpus = new Corpus("sw", ["abcdefghijklmnopqrst", "short", "ABCDEFGHIJKLMNOPQRST"], "mem");
        var exact = CalibrationSampler.SampleLanguage(corpus, 6, 7, 3, Bytes);         // 6 × 7 = 42 = the text
        Assert.That((exact.TextTokens, exact.RepeatsText, exact.Samples.Count), Is.EqualTo((42L, false, 6)));
        Assert.Throws<CalibrationException>(() => CalibrationSampler.SampleLanguage(corpus with { Documents = ["abcdefghijklmnopqrs", "ABCDEFGHIJKLMNOPQRST"] }, 6, 7, 3, Bytes));
    }

    [FsCheck.NUnit.Property(MaxTest = 150)]
    public Property Repeated_text_is_flagged_exactly_when_the_long_documents_are_short_refused_unless_allowed_and_changes_no_draw() =>
        Prop.ForAll(Cases(), c =>
        {
            var allowed = Sample(c);
            var shortOnes = allowed.Languages
                .Where(l => LongDocumentTokens(c.Corpora[l.Language], c.Spec.Seqlen) < (long)l.Count * c.Spec.Seqlen && l.Count > 0)
                .Select(l => l.Language).ToList();
            var flags = allowed.Languages.Where(l => l.RepeatsText).Select(l => l.Language).ToList();
            var textCounted = allowed.Languages.All(l => l.RepeatsText
                ? l.TextTokens == LongDocumentTokens(c.Corpora[l.Language], c.Spec.Seqlen)
                : l.TextTokens >= (long)l.Count * c.Spec.Seqlen);
            if (shortOnes.Count > 0)
            {
                var e = Assert.Throws<CalibrationException>(() => Sample(c, allowRepeatedText: false));
                return flags.SequenceEqual(shortOnes).Label($"flagged [{string.Join(",", flags)}], short [{string.Join(",", shortOnes)}]")
                    .And(textCounted).Label("text tokens")
                    .And(e!.Message.Contains($"'{shortOnes[0]}' is too short")).Label($"refusal names the first short language: {e.Message}");
            }
            var strict = Sample(c, allowRepeatedText: false);
            return (flags.Count == 0).Label("nothing flagged")
                .And(textCounted).Label("text tokens")
                .And(strict.TokenIds.SequenceEqual(allowed.TokenIds) && strict.Samples.SequenceEqual(allowed.Samples)).Label("same draws either way");
        });

    [Test]
    public void An_empty_corpus_fails_with_its_file_named()
    {
        var e = Assert.Throws<CalibrationException>(() => CalibrationSampler.Sample(new CalibrationSpec(["de"], 1, 4, 0), l => new Corpus(l, [], "x.jsonl"), Bytes));
        Assert.That(e!.Message, Does.StartWith("x.jsonl: calibration language 'de': the corpus has no documents"));
    }

    [Test]
    public void The_calibration_split_of_a_corpus_folder_is_read()
    {
        using var dir = new Repro.Core.Tests.Corpora.TempFolder();
        dir.File("de/calibration.jsonl", "{\"text\": \"calibration text that is long enough\"}\n");
        dir.File("de/validation.jsonl", "{\"text\": \"validation text that must never be used\"}\n");
        var set = CalibrationSampler.Sample(new CalibrationSpec(["de"], 3, 8, 0), CorpusDirectory.Open(dir.Path), Bytes);
        Assert.That(set.Languages[0].CorpusFile, Does.EndWith(Path.Combine("de", "calibration.jsonl")));
        Assert.That(set.Samples.Select(s => s.DocumentIndex), Has.All.EqualTo(0));
    }

    [Test]
    public void The_tensor_has_shape_nsamples_by_seqlen_and_int64_ids()
    {
        var set = CalibrationSampler.Sample(new CalibrationSpec(["de", "en"], 3, 5, 7), l => new Corpus(l, [$"{l} some longer text"], "mem"), Bytes);
        using var tensor = set.ToTensor();
        Assert.That(tensor.shape, Is.EqualTo(new long[] { 3, 5 }));
        Assert.That(tensor.dtype, Is.EqualTo(TorchSharp.torch.int64));
        Assert.That(tensor.data<long>().ToArray(), Is.EqualTo(set.TokenIds));
    }
}
