using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Repro.Core.Tokenizers;

/// <summary>
/// A SentencePiece <c>tokenizer.model</c> (Llama-2 style, BPE or Unigram, usually with byte fallback),
/// encoded and decoded by Microsoft.ML.Tokenizers' <see cref="SentencePieceTokenizer"/>. This class adds
/// the byte spans: a piece spells its text with '▁' as a space, a <c>&lt;0xNN&gt;</c> piece spells one byte,
/// and the dummy-prefix space SentencePiece puts before the text is spelled but counted for no token.
/// </summary>
public sealed class SentencePieceTextTokenizer : ITextTokenizer
{
    readonly SentencePieceTokenizer sp;

    SentencePieceTextTokenizer(SentencePieceTokenizer sp, int? bosId, string source)
    {
        this.sp = sp;
        BosId = bosId;
        EosId = sp.EndOfSentenceId >= 0 ? sp.EndOfSentenceId : null;
        VocabSize = sp.Vocabulary.Values.DefaultIfEmpty(-1).Max() + 1;
        Source = source;
    }

    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }

    /// <summary>The tokenizer.model this was read from.</summary>
    public string Source { get; }

    /// <param name="modelPath">A SentencePiece model (protobuf ModelProto).</param>
    /// <param name="addsBos">Whether the model's tokenizer adds BOS by default (HF's add_bos_token; true for Llama-2).</param>
    public static SentencePieceTextTokenizer FromFile(string modelPath, bool addsBos = true)
    {
        SentencePieceTokenizer sp;
        using var stream = File.OpenRead(modelPath);
        try
        {
            sp = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e)   // protobuf errors derive from IOException; the file itself opened fine
        {
            throw new TokenizerFormatException(modelPath,
                $"not a SentencePiece model Microsoft.ML.Tokenizers can read ({e.GetType().Name}: {e.Message}); " +
                "check that it is the model's own tokenizer.model and not a Git LFS pointer");
        }
        int? bos = addsBos && sp.BeginningOfSentenceId >= 0 ? sp.BeginningOfSentenceId : null;
        return new SentencePieceTextTokenizer(sp, bos, modelPath);
    }

    public TokenizedText Encode(string text, bool addBos)
    {
        var spelled = new SpelledText();
        if (addBos && BosId is { } bos) spelled.EndToken(bos);
        var tokens = sp.EncodeToTokens(text, out var normalized);
        var first = spelled.Bytes.Count;
        foreach (var token in tokens)
        {
            Spell(token, normalized ?? text, spelled.Bytes);
            spelled.EndToken(token.Id);
        }
        // The dummy prefix: SentencePiece spells " " + text. Anything else that differs from the text
        // (normalization) is kept as spelled, since bits per byte counts the bytes the tokens spell.
        var textBytes = Encoding.UTF8.GetBytes(text);
        if (spelled.Bytes.Count - first == textBytes.Length + 1 && spelled.Bytes[first] == (byte)' '
            && spelled.Bytes.Skip(first + 1).SequenceEqual(textBytes))
            spelled.MarkPhantom(first);
        return spelled.Build();
    }

    void Spell(EncodedToken token, string normalized, List<byte> into)
    {
        if (token.Id == sp.BeginningOfSentenceId || token.Id == sp.EndOfSentenceId) return;
        var value = token.Value;
        if (value.Length == 6 && value.StartsWith("<0x", StringComparison.Ordinal) && value.EndsWith('>')
            && byte.TryParse(value.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b))
        {
            into.Add(b);
            return;
        }
        if (token.Id == sp.UnknownId)
        {
            // <unk> does not say what it covers; its offset in the normalized text does.
            var (offset, length) = token.Offset.GetOffsetAndLength(normalized.Length);
            value = normalized.Substring(offset, length);
        }
        into.AddRange(Encoding.UTF8.GetBytes(value.Replace('▁', ' ')));
    }

    public string Decode(IReadOnlyList<int> ids) => sp.Decode(ids) ?? "";
}
