using Repro.Core.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Calibration;

/// <summary>
/// Draws calibration windows as the wanda/SparseGPT reference does (METHODS §1), with a documented generator:
/// per language, a <see cref="SplitMix64"/> seeded with <see cref="SubSeed"/>.Derive("calibration", seed, language)
/// draws a document uniformly with replacement, tokenizes it whole (with the tokenizer's BOS when it adds one),
/// accepts it only if it has <b>more</b> than seqlen tokens, and draws the window start uniformly in
/// <c>[0, ntok − seqlen − 1]</c> from the same generator; rejected documents are redrawn, up to
/// <see cref="MaxDrawsPerSample"/> draws per wanted sample. A language whose documents longer than seqlen hold fewer
/// tokens than its share × seqlen is refused (its windows would have to repeat the same text) unless the caller allows
/// repeated text; the reference samples with replacement and never checks. A mix gives each language its share
/// (<see cref="CalibrationSpec.Shares"/>) and concatenates the languages in listed order, so a language's
/// samples in a mix are exactly the first ones it gives alone with the same seed.
/// It reads each language's <c>calibration</c> split: calibration and evaluation (validation/test) never share a
/// document because the corpus builder splits by document.
/// </summary>
/// <remarks>
/// Draws pick documents anywhere in the split, so the sampler needs every document's length, and the tokens of any
/// it accepts, before its first draw. It reads the split once as a stream and keeps token ids, never text: the ids
/// of the documents longer than seqlen (the only ones a window can come from) and the length of every other
/// (<see cref="TokenizedCorpus"/>). That tokenizes the whole split, where holding the text would have tokenized only
/// the documents counted and drawn; in exchange memory is 4 bytes per token of the long documents, and 4 bytes for
/// each shorter one, instead of 2 bytes per character of every document.
/// </remarks>
public static class CalibrationSampler
{
    public const string Split = "calibration";

    /// <summary>
    /// The reference redraws forever; Repro gives up after this many draws per wanted sample and says how many
    /// documents are long enough. With 1 in 100 documents long enough a sample needs 100 draws on average.
    /// </summary>
    public const int MaxDrawsPerSample = 1000;

    /// <summary>Samples from the calibration split of each language in <paramref name="corpora"/>.</summary>
    /// <param name="allowRepeatedText">Sample a language whose text is shorter than its share × seqlen anyway (windows then repeat text).</param>
    public static CalibrationSet Sample(CalibrationSpec spec, CorpusDirectory corpora, ITextTokenizer tokenizer, bool allowRepeatedText = false) =>
        Sample(spec, language => corpora.Stream(language, Split), tokenizer, allowRepeatedText);

    /// <summary>Samples with in-memory corpora from <paramref name="corpusOf"/> (called once per language, in listed order).</summary>
    /// <param name="allowRepeatedText">Sample a language whose text is shorter than its share × seqlen anyway (windows then repeat text).</param>
    public static CalibrationSet Sample(CalibrationSpec spec, Func<string, Corpus> corpusOf, ITextTokenizer tokenizer, bool allowRepeatedText = false) =>
        Sample(spec, language => corpusOf(language).AsStream(), tokenizer, allowRepeatedText);

    /// <summary>Samples with corpora streamed from <paramref name="corpusOf"/> (called once per language, in listed order; each read once).</summary>
    /// <param name="allowRepeatedText">Sample a language whose text is shorter than its share × seqlen anyway (windows then repeat text).</param>
    public static CalibrationSet Sample(CalibrationSpec spec, Func<string, CorpusStream> corpusOf, ITextTokenizer tokenizer, bool allowRepeatedText = false)
    {
        var shares = spec.Shares();           // validates
        var ids = new long[(long)spec.NSamples * spec.Seqlen];
        var samples = new List<CalibrationSample>(spec.NSamples);
        var languages = new List<CalibrationLanguage>();
        var row = 0;
        foreach (var (language, count) in shares)
        {
            var corpus = TokenizedCorpus.Read(corpusOf(language), tokenizer, spec.Seqlen);
            var subSeed = SubSeed.Derive("calibration", spec.Seed, language);
            var drawn = SampleLanguage(corpus, count, spec.Seqlen, subSeed, allowRepeatedText);
            for (var i = 0; i < drawn.Samples.Count; i++, row++)
            {
                samples.Add(drawn.Samples[i] with { Language = language });
                drawn.Windows[i].AsSpan().CopyTo(ids.AsSpan(row * spec.Seqlen, spec.Seqlen));
            }
            languages.Add(new CalibrationLanguage(language, count, corpus.SourcePath, corpus.ContentSha256, corpus.Count, drawn.Draws, subSeed,
                                                  drawn.TextTokens, drawn.RepeatsText));
        }
        return new CalibrationSet(spec, ids, samples, languages);
    }

    /// <summary>Windows of one language: <paramref name="count"/> samples from <paramref name="corpus"/> with a generator seeded by <paramref name="seed"/>.</summary>
    /// <param name="allowRepeatedText">
    /// When false (the default), a corpus whose documents longer than <paramref name="seqlen"/> hold fewer than
    /// <c>count × seqlen</c> tokens is a <see cref="CalibrationException"/>; when true it is sampled all the same and
    /// <see cref="LanguageSamples.RepeatsText"/> says so.
    /// </param>
    public static LanguageSamples SampleLanguage(Corpus corpus, int count, int seqlen, ulong seed, ITextTokenizer tokenizer,
                                                 bool allowRepeatedText = false) =>
        SampleLanguage(corpus.AsStream(), count, seqlen, seed, tokenizer, allowRepeatedText);

    /// <summary>The same from a stream, read once (not at all when <paramref name="count"/> is 0).</summary>
    public static LanguageSamples SampleLanguage(CorpusStream corpus, int count, int seqlen, ulong seed, ITextTokenizer tokenizer,
                                                 bool allowRepeatedText = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (seqlen < 2) throw new InputException($"seqlen is {seqlen}; it must be at least 2 tokens");
        if (count == 0) return new LanguageSamples([], [], 0, 0, false);
        return SampleLanguage(TokenizedCorpus.Read(corpus, tokenizer, seqlen), count, seqlen, seed, allowRepeatedText);
    }

    static LanguageSamples SampleLanguage(TokenizedCorpus corpus, int count, int seqlen, ulong seed, bool allowRepeatedText)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (seqlen < 2) throw new InputException($"seqlen is {seqlen}; it must be at least 2 tokens");
        var samples = new List<CalibrationSample>(count);
        var windows = new List<long[]>(count);
        if (count == 0) return new LanguageSamples(samples, windows, 0, 0, false);
        var n = corpus.Count;
        if (n == 0)
            throw new CalibrationException(corpus.SourcePath, $"calibration language '{corpus.Language}': the corpus has no documents");

        // The text the windows can come from: tokens of the documents longer than seqlen, counted in document order
        // until they cover count × seqlen (a large corpus stops early, a small one is counted whole). Touches no
        // random draw, so the samples are the same whether or not repeated text is allowed.
        var needed = (long)count * seqlen;
        long supply = 0;
        for (var d = 0; d < n && supply < needed; d++)
        {
            var length = Length(d);
            if (length > seqlen) supply += length;
        }
        var repeats = supply < needed;
        if (repeats && !allowRepeatedText)
        {
            var longEnough = Enumerable.Range(0, n).Count(d => Length(d) > seqlen);
            throw new CalibrationException(corpus.SourcePath,
                $"calibration language '{corpus.Language}' is too short for {count} samples × {seqlen} tokens = {needed} tokens: " +
                $"its {longEnough} of {n} documents longer than seqlen hold {supply} tokens in all, so the windows would repeat the same text. " +
                "Use a smaller nsamples or seqlen or a larger corpus, or allow repeated text (repro prune/quantize --allow-repeated-text) " +
                "to sample with replacement as the reference implementations do");
        }

        var rng = new SplitMix64(seed);
        var draws = 0;
        var maxDraws = (long)MaxDrawsPerSample * count;
        while (samples.Count < count)
        {
            if (draws >= maxDraws)
            {
                var longEnough = Enumerable.Range(0, n).Count(d => Length(d) > seqlen);
                throw new CalibrationException(corpus.SourcePath,
                    $"calibration language '{corpus.Language}': only {longEnough} of {n} documents are longer than seqlen = {seqlen} tokens; " +
                    $"{draws} draws gave {samples.Count} of {count} samples. Use a smaller seqlen or a corpus with longer documents");
            }
            var doc = (int)rng.NextBelow(n);
            draws++;
            if (Length(doc) <= seqlen) continue;
            var tokens = corpus.Tokens(doc);
            var start = (int)rng.NextBelow(tokens.Length - seqlen);
            var window = new long[seqlen];
            for (var t = 0; t < seqlen; t++) window[t] = tokens[start + t];
            samples.Add(new CalibrationSample(corpus.Language, doc, start));
            windows.Add(window);
        }
        return new LanguageSamples(samples, windows, draws, supply, repeats);

        int Length(int doc) => corpus.Length(doc);
    }
}

/// <summary>
/// A calibration split read once as a stream and kept as token ids (with the tokenizer's BOS), never as text: the ids
/// of the documents longer than <c>seqlen</c>, the only ones a window can come from, and the length of every other.
/// Its content hash is computed in the same pass.
/// </summary>
sealed class TokenizedCorpus
{
    readonly List<int> lengths = [];
    readonly Dictionary<int, int[]> longDocuments = [];

    TokenizedCorpus(string language, string sourcePath)
    {
        Language = language;
        SourcePath = sourcePath;
    }

    public string Language { get; }
    public string SourcePath { get; }
    public string ContentSha256 { get; private set; } = "";
    public int Count => lengths.Count;

    public int Length(int document) => lengths[document];

    /// <summary>Ids of a document longer than seqlen.</summary>
    public int[] Tokens(int document) => longDocuments[document];

    public static TokenizedCorpus Read(CorpusStream corpus, ITextTokenizer tokenizer, int seqlen)
    {
        var result = new TokenizedCorpus(corpus.Language, corpus.SourcePath);
        using var hash = new DocumentsHash();
        foreach (var document in corpus.Documents)
        {
            hash.Append(document);
            var ids = tokenizer.Encode(document, addBos: true).Ids;
            if (ids.Count > seqlen) result.longDocuments[result.lengths.Count] = [.. ids];
            result.lengths.Add(ids.Count);
        }
        result.ContentSha256 = hash.Finish();
        return result;
    }
}

/// <summary>One language's windows, their provenance, and how many documents were drawn to get them.</summary>
/// <param name="TextTokens">Tokens of the documents longer than seqlen, counted in document order until they reach the samples' count × seqlen.</param>
/// <param name="RepeatsText">True when even all of that text is shorter than count × seqlen, so windows repeat text.</param>
public sealed record LanguageSamples(IReadOnlyList<CalibrationSample> Samples, IReadOnlyList<long[]> Windows, int Draws, long TextTokens, bool RepeatsText);
