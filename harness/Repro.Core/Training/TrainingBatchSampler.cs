using Repro.Core.Corpora;

namespace Repro.Core.Training;

/// <summary>Token ids of one step, <c>[Rows, Columns]</c> row-major, and the language of every row.</summary>
public sealed record TrainingBatch(long[] Ids, int Rows, int Columns, IReadOnlyList<string> Languages);

/// <summary>
/// Draws training windows of <c>seqlen + 1</c> tokens (inputs are the first seqlen, targets the last seqlen)
/// from several languages, deterministically from a seed, with one <see cref="SplitMix64"/> for every choice.
/// </summary>
/// <remarks>
/// <para><b>Languages in equal shares.</b> Rows are dealt in rounds of one row per language, each round in an
/// order drawn afresh, so every language gets exactly the same number of windows up to the last partial round,
/// whatever the size of its training text. The fixture models are judged per language, so a small language
/// must not be starved; equal shares up-weight it (its text is revisited more often) without a tuning knob.</para>
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
    readonly Queue<int> round = new();

    public TrainingBatchSampler(IReadOnlyList<LanguageStream> streams, int seqlen, int bosId, double documentStartShare, ulong seed)
    {
        if (streams.Count == 0) throw new ArgumentException("no training language: the sampler needs at least one stream");
        if (seqlen < 1) throw new ArgumentOutOfRangeException(nameof(seqlen), $"seqlen must be at least 1, got {seqlen}");
        if (!(documentStartShare is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(documentStartShare), $"the share of document-start windows must be in [0, 1], got {documentStartShare}");
        var duplicate = streams.GroupBy(s => s.Language).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"language '{duplicate.Key}' has two training streams");
        foreach (var s in streams)
            if (s.Count < seqlen + 1)
                throw new ArgumentException(
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
    }

    public int Seqlen => seqlen;
    public double DocumentStartShare { get; }
    public IReadOnlyList<string> Languages => [.. streams.Select(s => s.Language)];

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
        if (round.Count == 0)
        {
            // Fisher–Yates over the languages: a fresh order for every round.
            var order = Enumerable.Range(0, streams.Count).ToArray();
            for (var i = order.Length - 1; i > 0; i--)
            {
                var j = (int)random.NextBelow(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
            foreach (var i in order) round.Enqueue(i);
        }
        return round.Dequeue();
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
