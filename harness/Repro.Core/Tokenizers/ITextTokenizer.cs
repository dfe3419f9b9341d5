namespace Repro.Core.Tokenizers;

/// <summary>
/// What the harness needs from a tokenizer: ids for a text, and for each id the UTF-8 bytes of
/// text it spells, because bits per byte (EVALUATION §1.3) divides by bytes, not tokens.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>Number of ids the tokenizer can produce (largest id + 1), added tokens included.</summary>
    int VocabSize { get; }

    /// <summary>
    /// The token the model's own tokenizer puts in front of a text by default (Llama-3's
    /// <c>&lt;|begin_of_text|&gt;</c>, Llama-2's <c>&lt;s&gt;</c>); null for tokenizers that add none (Qwen, GPT-2),
    /// so that "BOS or not" follows the model, as EVALUATION §1.4 requires.
    /// </summary>
    int? BosId { get; }

    /// <summary>End-of-sequence token, if the tokenizer declares one.</summary>
    int? EosId { get; }

    /// <summary>
    /// Tokenizes <paramref name="text"/>; with <paramref name="addBos"/> and a non-null <see cref="BosId"/>
    /// the BOS token comes first and spells no bytes.
    /// </summary>
    TokenizedText Encode(string text, bool addBos);

    /// <summary>The text the ids spell; special tokens appear as their content.</summary>
    string Decode(IReadOnlyList<int> ids);
}

/// <summary>Half-open range <c>[Start, End)</c> of UTF-8 bytes in the text a token sequence spells.</summary>
public readonly record struct ByteSpan(int Start, int End)
{
    public int Length => End - Start;
}

/// <summary>
/// Token ids and, per token, the bytes of text it covers. Spans are contiguous and together cover
/// the whole text, so the byte count of any run of tokens is the difference of two offsets.
/// A token that ends inside a multi-byte character (byte-level BPE or byte-fallback pieces) gets an
/// empty span and the token that completes the character gets all its bytes: EVALUATION §1.3 says
/// to attribute a split character to the window where it completes.
/// </summary>
public sealed record TokenizedText
{
    public TokenizedText(int[] ids, ByteSpan[] spans)
    {
        if (ids.Length != spans.Length)
            throw new ArgumentException($"{ids.Length} ids but {spans.Length} byte spans: every token needs a span");
        Ids = ids;
        Spans = spans;
    }

    public IReadOnlyList<int> Ids { get; }
    public IReadOnlyList<ByteSpan> Spans { get; }
    public int Count => Ids.Count;

    /// <summary>UTF-8 bytes spelled by all tokens (the end of the last span).</summary>
    public int TextBytes => Spans.Count == 0 ? 0 : Spans[^1].End;

    /// <summary>Bytes covered by tokens <c>[start, start + count)</c>.</summary>
    public long BytesOf(int start, int count)
    {
        long bytes = 0;
        for (var i = start; i < start + count; i++) bytes += Spans[i].Length;
        return bytes;
    }
}
