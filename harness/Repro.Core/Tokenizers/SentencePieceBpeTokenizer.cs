using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Repro.Core.Tokenizers;

/// <summary>
/// SentencePiece-style BPE (Llama-2, Mistral, Aya's predecessors): text with spaces as '▁' and a dummy prefix, split into
/// code points, merged by <see cref="BpeMergeLoop"/> (best priority first, leftmost among equals), and pieces the
/// vocabulary lacks spelled as <c>&lt;0xNN&gt;</c> byte pieces (byte fallback) or <c>&lt;unk&gt;</c>. Read from a
/// <c>tokenizer.json</c> (merge rank = priority; Metaspace or Prepend/Replace normalizers) or from a
/// <c>tokenizer.model</c> (piece score = priority, SentencePiece's own order; identity normalizer). Special tokens
/// written in a text (<c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, <c>&lt;unk&gt;</c>, and any added token) become their ids,
/// as Hugging Face's tokenizer does by default; SentencePiece itself would spell them as characters.
/// </summary>
public sealed class SentencePieceBpeTokenizer : ITextTokenizer
{
    const char Space = '▁';

    readonly Dictionary<string, int> vocab;
    readonly Func<string, string, double?> priority;
    readonly int[]? byteIds;
    readonly int? unkId;
    readonly AddedTokenMatcher matcher;
    readonly Dictionary<int, string> pieceById;
    readonly HashSet<int> specialIds;
    readonly PrependScheme prepend;
    readonly bool splitWords;
    readonly bool metaspace;
    readonly bool removeExtraWhitespaces;

    enum PrependScheme { Never, First, Always }

    SentencePieceBpeTokenizer(Dictionary<string, int> vocab, Func<string, string, double?> priority, bool byteFallback, int? unkId,
                              IEnumerable<KeyValuePair<string, int>> specials, PrependScheme prepend, bool splitWords, bool metaspace,
                              bool removeExtraWhitespaces, int? bosId, int? eosId, string source, IReadOnlyDictionary<string, int>? allPieces = null)
    {
        this.vocab = vocab;
        this.priority = priority;
        this.unkId = unkId;
        this.prepend = prepend;
        this.splitWords = splitWords;
        this.metaspace = metaspace;
        this.removeExtraWhitespaces = removeExtraWhitespaces;
        var specialList = specials.ToList();
        matcher = new AddedTokenMatcher(specialList);
        specialIds = [.. specialList.Select(s => s.Value)];
        allPieces ??= vocab;
        pieceById = allPieces.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => g.First().Key);
        foreach (var (content, id) in specialList) pieceById.TryAdd(id, content);
        if (byteFallback)
        {
            byteIds = new int[256];
            for (var b = 0; b < 256; b++)
                byteIds[b] = allPieces.TryGetValue(ByteName(b), out var id) ? id
                    : throw new TokenizerFormatException(source, $"byte fallback is on but the vocabulary has no piece {ByteName(b)}");
        }
        VocabSize = checked(pieceById.Keys.DefaultIfEmpty(-1).Max() + 1);   // ids are at most HfTokenizerFiles.MaxId
        BosId = bosId;
        EosId = eosId;
        Source = source;
    }

    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }

    /// <summary>The tokenizer.json or tokenizer.model this was read from.</summary>
    public string Source { get; }

    static string ByteName(int b) => $"<0x{b:X2}>";

    /// <summary>
    /// A BPE <c>tokenizer.model</c>; null for a Unigram model or a normalizer other than identity (which
    /// <see cref="SentencePieceTextTokenizer"/> reads). <paramref name="addsBos"/> is HF's add_bos_token.
    /// </summary>
    public static SentencePieceBpeTokenizer? FromModel(SentencePieceModelFile model, bool addsBos)
    {
        if (model.ModelType != SentencePieceModelFile.Bpe) return null;
        if (model.NormalizerName != "identity" && model.PrecompiledCharsmapBytes > 0) return null;
        if (!model.EscapeWhitespaces)
            throw new TokenizerFormatException(model.Path, "escape_whitespaces is off; Repro reads SentencePiece BPE models that spell spaces as '▁'");
        var all = new Dictionary<string, int>(StringComparer.Ordinal);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);          // pieces a symbol may become
        var mergeable = new Dictionary<string, float>(StringComparer.Ordinal);
        for (var id = 0; id < model.Pieces.Count; id++)
        {
            var p = model.Pieces[id];
            all.TryAdd(p.Piece, id);
            if (p.Type is not (PieceType.Normal or PieceType.UserDefined)) continue;
            vocab.TryAdd(p.Piece, id);
            mergeable.TryAdd(p.Piece, p.Score);
        }
        // SentencePiece merges the pair whose joined piece scores highest.
        double? Priority(string a, string b) => mergeable.TryGetValue(a + b, out var score) ? -score : null;
        // HF's converted tokenizer lists <unk>, <s>, </s> (the control and unknown pieces) as special added tokens.
        var specials = model.Pieces.Select((p, id) => (p, id)).Where(x => x.p.Type is PieceType.Control or PieceType.Unknown && x.p.Piece.Length > 0)
            .Select(x => KeyValuePair.Create(x.p.Piece, x.id));
        int? Valid(int id) => id >= 0 && id < model.Pieces.Count ? id : null;
        return new SentencePieceBpeTokenizer(vocab, Priority, model.ByteFallback, Valid(model.UnkId), specials,
            model.AddDummyPrefix ? PrependScheme.Always : PrependScheme.Never, splitWords: false, metaspace: false, model.RemoveExtraWhitespaces,
            addsBos ? Valid(model.BosId) : null, Valid(model.EosId), model.Path, all);
    }

    /// <summary>A SentencePiece-style BPE <c>tokenizer.json</c> (byte_fallback, Metaspace or Prepend/Replace normalizer).</summary>
    internal static SentencePieceBpeTokenizer FromFiles(HfTokenizerFiles files)
    {
        var model = files.Model;
        var vocab = files.Vocab();
        var ranks = new Dictionary<(string, string), int>();
        foreach (var (left, right) in files.Merges()) ranks.TryAdd((left, right), ranks.Count);
        var ignoreMerges = model["ignore_merges"] is JsonValue im && im.TryGetValue<bool>(out var ignore) && ignore;
        if (ignoreMerges) throw files.Problem("a SentencePiece-style BPE with ignore_merges is not supported");
        double? Priority(string a, string b) => ranks.TryGetValue((a, b), out var rank) ? rank : null;
        var byteFallback = model["byte_fallback"] is JsonValue bf && bf.TryGetValue<bool>(out var fallback) && fallback;
        var unkToken = (string?)model["unk_token"];
        int? unk = unkToken is not null && vocab.TryGetValue(unkToken, out var u) ? u : null;

        var (prepend, split, metaspace) = Steps(files);
        var added = files.AddedTokens();
        int? IdOf(string? content, string role) => files.TokenId(content, role, added, vocab);
        return new SentencePieceBpeTokenizer(vocab, Priority, byteFallback, unk, added.Select(t => KeyValuePair.Create(t.Content, t.Id)),
            prepend, split, metaspace, removeExtraWhitespaces: false, IdOf(files.DefaultBosToken(), "bos"), IdOf(files.ConfigToken("eos_token"), "eos"),
            files.TokenizerJsonPath);
    }

    /// <summary>How the file turns spaces into '▁' and adds the dummy prefix: a Metaspace pre-tokenizer, or the normalizer
    /// <c>Sequence[Prepend("▁"), Replace(" ", "▁")]</c> of older Llama-2 files.</summary>
    static (PrependScheme Prepend, bool Split, bool Metaspace) Steps(HfTokenizerFiles files)
    {
        PrependScheme? prepend = null;
        var replaced = false;
        var split = false;
        var metaspace = false;
        foreach (var step in Flatten(files.Root["normalizer"], "normalizers"))
        {
            switch ((string?)step["type"])
            {
                case "Prepend" when ((string?)step["prepend"]) == Space.ToString():
                    prepend = PrependScheme.Always;
                    break;
                case "Replace" when ((string?)(step["pattern"]?["String"])) == " " && ((string?)step["content"]) == Space.ToString():
                    replaced = true;
                    break;
                default:
                    throw files.Problem($"normalizer step {step.ToJsonString()} is not supported for SentencePiece-style BPE " +
                                        "(supported: Prepend \"▁\", Replace \" \" → \"▁\")");
            }
        }
        foreach (var step in Flatten(files.Root["pre_tokenizer"], "pretokenizers"))
        {
            if ((string?)step["type"] != "Metaspace")
                throw files.Problem($"pre-tokenizer '{(string?)step["type"]}' is not supported for SentencePiece-style BPE (supported: Metaspace)");
            if ((string?)step["replacement"] is { } r && r != Space.ToString())
                throw files.Problem($"Metaspace replacement '{r}' is not '▁'");
            replaced = true;
            metaspace = true;
            var scheme = (string?)step["prepend_scheme"]
                         ?? (step["add_prefix_space"] is JsonValue a && a.TryGetValue<bool>(out var add) && !add ? "never" : "always");
            prepend = scheme switch
            {
                "always" => PrependScheme.Always,
                "first" => PrependScheme.First,
                "never" => PrependScheme.Never,
                _ => throw files.Problem($"Metaspace prepend_scheme '{scheme}' is not always, first or never"),
            };
            split = step["split"] is not JsonValue s || !s.TryGetValue<bool>(out var splits) || splits;
        }
        if (!replaced) throw files.Problem("neither a Metaspace pre-tokenizer nor a Replace(\" \", \"▁\") normalizer: spaces would not become '▁'");
        return (prepend ?? PrependScheme.Never, split, metaspace);
    }

    static IEnumerable<JsonNode> Flatten(JsonNode? node, string listKey) => node switch
    {
        null => [],
        _ when (string?)node["type"] == "Sequence" => (node[listKey] as JsonArray ?? []).SelectMany(n => Flatten(n, listKey)),
        _ => [node],
    };

    public TokenizedText Encode(string text, bool addBos)
    {
        var spelled = new SpelledText();
        if (addBos && BosId is { } bos) spelled.EndToken(bos);
        foreach (var (start, length, id) in matcher.Split(text))
        {
            if (id is { } special)
            {
                spelled.Add(special, Encoding.UTF8.GetBytes(text, start, length));
                continue;
            }
            var segment = text.Substring(start, length);
            if (removeExtraWhitespaces) segment = CollapseSpaces(segment);
            if (segment.Length == 0) continue;
            var normalized = segment.Replace(' ', Space);
            if (prepend == PrependScheme.Always || prepend == PrependScheme.First && start == 0)
                if (!(metaspace && normalized[0] == Space))   // Metaspace adds no second '▁' before a leading space; Prepend and SentencePiece do
                {
                    spelled.MarkPhantom(spelled.Bytes.Count);
                    normalized = Space + normalized;
                }
            foreach (var word in splitWords ? Words(normalized) : [normalized]) EncodeWord(word, spelled);
        }
        return spelled.Build();
    }

    /// <summary>SentencePiece's remove_extra_whitespaces: no leading or trailing spaces, runs of spaces as one.</summary>
    static string CollapseSpaces(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var ch in text.Trim(' '))
            if (ch != ' ' || builder.Length == 0 || builder[^1] != ' ') builder.Append(ch);
        return builder.ToString();
    }

    /// <summary>Metaspace's split: a word starts at every '▁'.</summary>
    static IEnumerable<string> Words(string text)
    {
        var start = 0;
        for (var i = 1; i < text.Length; i++)
            if (text[i] == Space)
            {
                yield return text[start..i];
                start = i;
            }
        yield return text[start..];
    }

    void EncodeWord(string word, SpelledText spelled)
    {
        var symbols = new List<string>();
        for (var i = 0; i < word.Length; i += char.IsSurrogatePair(word, i) ? 2 : 1)
            symbols.Add(word.Substring(i, char.IsSurrogatePair(word, i) ? 2 : 1));
        var pendingUnk = false;
        foreach (var symbol in BpeMergeLoop.Merge(symbols, priority))
        {
            var bytes = Encoding.UTF8.GetBytes(symbol.Replace(Space, ' '));
            if (vocab.TryGetValue(symbol, out var id) && !specialIds.Contains(id))
            {
                pendingUnk = false;
                spelled.Add(id, bytes);
            }
            else if (byteIds is not null)
            {
                pendingUnk = false;
                foreach (var b in bytes) spelled.Add(byteIds[b], [b]);
            }
            else if (unkId is { } unk)
            {
                // Consecutive unknown pieces are one <unk> (HF's fuse_unk, SentencePiece's own behaviour).
                spelled.Bytes.AddRange(bytes);
                if (pendingUnk) spelled.ExtendLastToken();
                else spelled.EndToken(unk);
                pendingUnk = true;
            }
            else throw new InvalidOperationException($"{Source}: '{symbol}' is not in the vocabulary, and there is neither byte fallback nor <unk>");
        }
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var text = new StringBuilder();
        var pending = new List<byte>();
        foreach (var id in ids)
        {
            if (!pieceById.TryGetValue(id, out var piece))
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} is not in the vocabulary of {Source}");
            if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece.EndsWith('>') && byteIds is not null
                && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b) && byteIds[b] == id)
            {
                pending.Add(b);
                continue;
            }
            Flush();
            text.Append(specialIds.Contains(id) ? piece : piece.Replace(Space, ' '));
        }
        Flush();
        var decoded = text.ToString();
        return prepend != PrependScheme.Never && decoded.StartsWith(' ') ? decoded[1..] : decoded;

        void Flush()
        {
            text.Append(Encoding.UTF8.GetString([.. pending]));
            pending.Clear();
        }
    }
}
