using Repro.Core.Corpora;

namespace Repro.Core.Training;

/// <summary>Token ids of one step, <c>[Rows, Columns]</c> row-major, and the language of every row.</summary>
public sealed record TrainingBatch(long[] Ids, int Rows, int Columns, IReadOnlyList<string> Languages);

/// <summary>
/// Draws training windows of <c>seqlen + 1</c> tokens (inputs are the first seqlen, targets the last seqlen)
/// from several languages, deterministically from a seed, with one <see cref="SplitMix64"/> for every choice.
/// </summary>
/// <remarks>
/// <para><b>Language shares.</b> Each row's language is drawn with probability ∝ <c>nᵢ^α</c>, nᵢ being the
/// language's training tokens (temperature sampling, as XLM-R and mT5 mix languages; α = 0.3 there). α = 1 follows
/// size, which starves small languages; α = 0 gives equal shares, which spends a fixed share of compute re-reading
/// a tiny text (Repro's Hebrew train split is under 1 KB) thousands of times. The fixture models are judged per
/// language, so small languages are up-weighted, but not to parity.</para>
/// <para><b>Where a window starts.</b> With probability <see cref="DocumentStartShare"/> a window is BOS followed by
/// the text from a document start, uniformly among documents (the first window of an evaluation looks like this);
/// otherwise it starts at a uniform position of the stream, mostly mid-document, as later evaluation windows do.
/// BOS is therefore only ever an input, never a target: the evaluation never scores it.</para>
/// </remarks>
public sealed class TrainingBatchSampler
{
    const int ShareResolution = 1 << 24;

    readonly IReadOnlyList<LanguageStream> streams;
    readonly SplitMix64 random;
    readonly int seqlen;
    readonly long bosId;
    readonly long documentStartThreshold;
    readonly int[] validDocuments;    // per stream: documents whose start leaves room for a whole window
    readonly double[] cumulativeShares;

    /// <param name="languageExponent">α of the language shares <c>nᵢ^α / Σ nⱼ^α</c>: 0 equal, 1 proportional to size.</param>
    public TrainingBatchSampler(IReadOnlyList<LanguageStream> streams, int seqlen, int bosId, double documentStartShare,
                                double languageExponent, ulong seed)
    {
        if (streams.Count == 0) throw new ArgumentException("no training language: the sampler needs at least one stream");
        if (seqlen < 1) throw new ArgumentOutOfRangeException(nameof(seqlen), $"seqlen must be at least 1, got {seqlen}");
        if (!(languageExponent is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(languageExponent), $"the language-share exponent must be in [0, 1], got {languageExponent}");
        if (!(documentStartShare is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(documentStartShare), $"the share of document-start windows must be in [0, 1], got {documentStartShare}");
        var duplicate = streams.GroupBy(s => s.Language).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"language '{duplicate.Key}' has two training streams");
        foreach (var s in streams)
            if (s.Count < seqlen + 1)
                throw new InputException(
                    $"{s.SourcePath}: language '{s.Language}' has {s.Count} training tokens, fewer than one window of {seqlen + 1}; " +
                    "give it more text, exclude it, or train with a shorter seqlen");
        this.streams = streams;
        this.seqlen = seqlen;
        this.bosId = bosId;
        random = new SplitMix64(seed);
        documentStartThreshold = (long)Math.Round(documentStartShare * ShareResolution);
        // A document-start window holds BOS + seqlen tokens from the start: the start must be at most Count − seqlen.
        validDocuments = [.. streams.Select(s => UpperBound(s.DocumentStarts, s.Count - seqlen))];
        DocumentStartShare = documentStartShare;
        Shares = SharesOf([.. streams.Select(s => (long)s.Count)], languageExponent);
        cumulativeShares = new double[Shares.Count];
        double sum = 0;
        for (var i = 0; i < Shares.Count; i++) cumulativeShares[i] = sum += Shares[i];
    }

    /// <summary>Language shares <c>nᵢ^α / Σ nⱼ^α</c> for token counts <paramref name="sizes"/>.</summary>
    public static IReadOnlyList<double> SharesOf(IReadOnlyList<long> sizes, double exponent)
    {
        var weights = sizes.Select(n => Math.Pow(n, exponent)).ToArray();
        var total = weights.Sum();
        return [.. weights.Select(w => w / total)];
    }

    public int Seqlen => seqlen;
    public double DocumentStartShare { get; }
    public IReadOnlyList<string> Languages => [.. streams.Select(s => s.Language)];
    /// <summary>Probability of each language (in <see cref="Languages"/> order) for every row.</summary>
    public IReadOnlyList<double> Shares { get; }

    public TrainingBatch Next(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        var columns = seqlen + 1;
        var ids = new long[rows * columns];
        var languages = new string[rows];
        for (var r = 0; r < rows; r++)
        {
            var index = NextLanguage();
            var stream = streams[index];
            languages[r] = stream.Language;
            var row = ids.AsSpan(r * columns, columns);
            var documentStart = random.NextBelow(ShareResolution) < documentStartThreshold && validDocuments[index] > 0;
            if (documentStart)
            {
                var start = stream.DocumentStarts[(int)random.NextBelow(validDocuments[index])];
                row[0] = bosId;
                for (var t = 0; t < seqlen; t++) row[t + 1] = stream.Tokens[start + t];
            }
            else
            {
                var start = (int)random.NextBelow(stream.Count - seqlen);   // start + seqlen ≤ Count − 1
                for (var t = 0; t < columns; t++) row[t] = stream.Tokens[start + t];
            }
        }
        return new TrainingBatch(ids, rows, columns, languages);
    }

    int NextLanguage()
    {
        // 53 random bits: a uniform double in [0, 1), then the first language whose cumulative share exceeds it.
        var u = random.NextBelow(1L << 53) / (double)(1L << 53);
        for (var i = 0; i < cumulativeShares.Length - 1; i++)
            if (u < cumulativeShares[i]) return i;
        return cumulativeShares.Length - 1;
    }

    /// <summary>How many of the ascending <paramref name="values"/> are ≤ <paramref name="limit"/>.</summary>
    static int UpperBound(IReadOnlyList<int> values, int limit)
    {
        int lo = 0, hi = values.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (values[mid] <= limit) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
