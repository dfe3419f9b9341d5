namespace Repro.Core.Tokenizers;

/// <summary>
/// Collects the bytes each token spells and turns them into <see cref="ByteSpan"/>s. Spans come from the
/// tokens' own bytes rather than from a library's character offsets, because those offsets are in UTF-16
/// units and give every byte-level piece of a split character the same (or an empty) range.
/// </summary>
sealed class SpelledText
{
    readonly List<int> ids = [];
    readonly List<int> rawEnds = [];
    readonly List<byte> bytes = [];
    readonly SortedSet<int> phantoms = [];

    /// <summary>Everything spelled so far; append a token's bytes here, then call <see cref="EndToken"/>.</summary>
    public List<byte> Bytes => bytes;

    public void EndToken(int id)
    {
        ids.Add(id);
        rawEnds.Add(bytes.Count);
    }

    /// <summary>The last token also spells the bytes appended since it ended (a fused &lt;unk&gt;).</summary>
    public void ExtendLastToken() => rawEnds[^1] = bytes.Count;

    public void Add(int id, ReadOnlySpan<byte> spelled)
    {
        foreach (var b in spelled) bytes.Add(b);
        EndToken(id);
    }

    /// <summary>
    /// Marks the spelled byte at <paramref name="index"/> as not part of the text: a SentencePiece dummy-prefix
    /// space or a ByteLevel add_prefix_space. It counts for no token.
    /// </summary>
    public void MarkPhantom(int index) => phantoms.Add(index);

    /// <summary>Builds the spans; a token end inside a UTF-8 character moves back to that character's start.</summary>
    public TokenizedText Build()
    {
        var spans = new ByteSpan[ids.Count];
        var phantomList = phantoms.ToArray();
        var phantomsBefore = 0;                 // phantom bytes at raw positions < end
        var previousRaw = 0;
        var previousReal = 0;
        for (var i = 0; i < ids.Count; i++)
        {
            var end = rawEnds[i];
            while (end > 0 && end < bytes.Count && (bytes[end] & 0xC0) == 0x80) end--;
            end = Math.Max(previousRaw, end);
            while (phantomsBefore < phantomList.Length && phantomList[phantomsBefore] < end) phantomsBefore++;
            var real = end - phantomsBefore;
            spans[i] = new ByteSpan(previousReal, real);
            (previousRaw, previousReal) = (end, real);
        }
        return new TokenizedText([.. ids], spans);
    }
}
