using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Repro.Core.Tokenizers;

/// <summary>
/// A Hugging Face tokenizer.json byte-level BPE (GPT-2, Llama-3, Qwen2/3, Aya/Command-R). Merging is done
/// by Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> (created with <c>BpeOptions.ByteLevel = true</c>);
/// the steps around it are done here because the library has no reader for tokenizer.json and its
/// pre-tokenizer drops the text between regex matches, whereas HF's <c>Split(behavior: Isolated)</c> keeps it:
/// <list type="number">
/// <item>added tokens are cut out of the text first (leftmost, longest);</item>
/// <item>the normalizer runs (NFC for Qwen2; none for Llama-3);</item>
/// <item>each pre-tokenizer step isolates its regex matches: Split's pattern, ByteLevel's GPT-2 regex when
///   <c>use_regex</c>, Digits;</item>
/// <item>each piece becomes one word for BPE; with <c>ignore_merges</c> (Llama-3) a piece that is already a
///   vocabulary entry is taken whole, as tiktoken does.</item>
/// </list>
/// The regexes match code points, not UTF-16 units (<see cref="CodePointRegex"/>), so characters outside the Basic
/// Multilingual Plane (mathematical digits, CJK extensions, emoji) fall into the classes HF puts them in.
/// </summary>
public sealed class ByteLevelBpeTokenizer : ITextTokenizer
{
    /// <summary>GPT-2's pre-tokenizer regex, used by HF's ByteLevel pre-tokenizer when use_regex is true.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    readonly BpeTokenizer bpe;
    readonly Dictionary<string, int> vocab;
    readonly Dictionary<int, string> idToToken;
    readonly Dictionary<int, string> addedById;
    readonly AddedTokenMatcher matcher;
    readonly Func<string, string> normalize;
    readonly Regex[] splits;
    readonly bool addPrefixSpace;
    readonly bool ignoreMerges;

    ByteLevelBpeTokenizer(BpeTokenizer bpe, Dictionary<string, int> vocab, IReadOnlyList<AddedToken> added,
                          Func<string, string> normalize, Regex[] splits, bool addPrefixSpace, bool ignoreMerges,
                          int? bosId, int? eosId, string source)
    {
        this.bpe = bpe;
        this.vocab = vocab;
        this.normalize = normalize;
        this.splits = splits;
        this.addPrefixSpace = addPrefixSpace;
        this.ignoreMerges = ignoreMerges;
        idToToken = vocab.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => g.First().Key);
        addedById = added.GroupBy(t => t.Id).ToDictionary(g => g.Key, g => g.First().Content);
        matcher = new AddedTokenMatcher(added.Select(t => KeyValuePair.Create(t.Content, t.Id)));
        VocabSize = checked(Math.Max(idToToken.Keys.DefaultIfEmpty(-1).Max(), addedById.Keys.DefaultIfEmpty(-1).Max()) + 1);   // ids are at most HfTokenizerFiles.MaxId
        BosId = bosId;
        EosId = eosId;
        Source = source;
    }

    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }

    /// <summary>The tokenizer.json this was read from.</summary>
    public string Source { get; }

    /// <summary>Reads a byte-level BPE tokenizer.json (and tokenizer_config.json beside it, if present).</summary>
    public static ByteLevelBpeTokenizer FromFolder(string folder) => FromFiles(HfTokenizerFiles.Read(folder));

    internal static ByteLevelBpeTokenizer FromFiles(HfTokenizerFiles files)
    {
        var model = files.Model;
        if (files.ModelType != "BPE")
            throw files.Problem($"model type is '{files.ModelType}', not BPE");
        foreach (var key in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if ((string?)model[key] is { Length: > 0 } value)
                throw files.Problem($"BPE with {key} '{value}' is a word-piece style BPE, not byte-level; only byte-level BPE tokenizer.json files are supported");
        if (model["byte_fallback"] is JsonValue fallback && fallback.TryGetValue<bool>(out var byteFallback) && byteFallback)
            throw files.Problem("BPE with byte_fallback is SentencePiece-style (Llama-2), not byte-level; put the model's tokenizer.model beside it to use the SentencePiece tokenizer");

        var (splits, addPrefixSpace) = PreTokenizerSteps(files);
        var normalize = Normalizer(files, files.Root["normalizer"]);
        var vocab = files.Vocab();
        var missing = Enumerable.Range(0, 256)
            .Where(b => b is not (0xC0 or 0xC1) && b < 0xF5 && !vocab.ContainsKey(ByteLevelAlphabet.Symbols[b]))
            .ToList();
        if (missing.Count > 0)
            throw files.Problem($"vocab lacks the byte-level symbols of {missing.Count} bytes (first: 0x{missing[0]:X2} '{ByteLevelAlphabet.Symbols[missing[0]]}'); " +
                                "it is not a byte-level BPE vocabulary");
        var merges = files.Merges();
        if (merges.FirstOrDefault(m => m.Left.Contains(' ') || m.Right.Contains(' ')) is { Left: not null } spaced)
            throw files.Problem($"merge '{spaced.Left}' + '{spaced.Right}' contains a space, which a byte-level vocabulary never holds");

        var bpe = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges.Select(m => $"{m.Left} {m.Right}"),
            ByteLevel = true,
        });

        var added = files.AddedTokens();
        int? IdOf(string? content, string role) => files.TokenId(content, role, added, vocab);

        var ignoreMerges = model["ignore_merges"] is JsonValue im && im.TryGetValue<bool>(out var ignore) && ignore;
        return new ByteLevelBpeTokenizer(bpe, vocab, added, normalize, splits, addPrefixSpace, ignoreMerges,
            IdOf(files.DefaultBosToken(), "bos"), IdOf(files.ConfigToken("eos_token"), "eos"), files.TokenizerJsonPath);
    }

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
            var segment = normalize(text.Substring(start, length));
            if (addPrefixSpace && !segment.StartsWith(' '))
            {
                spelled.MarkPhantom(spelled.Bytes.Count);
                segment = " " + segment;
            }
            foreach (var piece in PreTokenize(segment)) EncodePiece(piece, spelled);
        }
        return spelled.Build();
    }

    void EncodePiece(string piece, SpelledText spelled)
    {
        if (ignoreMerges && vocab.TryGetValue(ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(piece)), out var whole))
        {
            spelled.Add(whole, Encoding.UTF8.GetBytes(piece));
            return;
        }
        foreach (var token in bpe.EncodeToTokens(piece, out _, considerPreTokenization: false, considerNormalization: false))
        {
            if (!ByteLevelAlphabet.TryDecode(token.Value, spelled.Bytes))
                throw new InvalidOperationException($"{Source}: BPE produced token {token.Id} '{token.Value}', which is not byte-level; the vocabulary is not byte-level");
            spelled.EndToken(token.Id);
        }
    }

    IEnumerable<string> PreTokenize(string segment)
    {
        IEnumerable<string> pieces = [segment];
        foreach (var split in splits) pieces = pieces.SelectMany(p => Isolate(split, p));
        return pieces;
    }

    /// <summary>HF's <c>SplitDelimiterBehavior::Isolated</c>: matches and the text between them are all pieces.</summary>
    static IEnumerable<string> Isolate(Regex regex, string text)
    {
        var at = 0;
        foreach (var (index, length) in CodePointRegex.Matches(regex, text))
        {
            if (length == 0) continue;
            if (index > at) yield return text[at..index];
            yield return text.Substring(index, length);
            at = index + length;
        }
        if (at < text.Length) yield return text[at..];
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var text = new StringBuilder();
        var pending = new List<byte>();
        foreach (var id in ids)
        {
            if (addedById.TryGetValue(id, out var content))
            {
                Flush();
                text.Append(content);
            }
            else if (idToToken.TryGetValue(id, out var token))
            {
                if (!ByteLevelAlphabet.TryDecode(token, pending))
                    throw new InvalidOperationException($"{Source}: token {id} '{token}' is not byte-level");
            }
            else throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} is not in the vocabulary of {Source}");
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            text.Append(Encoding.UTF8.GetString([.. pending]));
            pending.Clear();
        }
    }

    static (Regex[] Splits, bool AddPrefixSpace) PreTokenizerSteps(HfTokenizerFiles files)
    {
        var splits = new List<Regex>();
        var sawByteLevel = false;
        var addPrefixSpace = false;
        Collect(files.Root["pre_tokenizer"]);
        if (!sawByteLevel)
            throw files.Problem("the pre-tokenizer has no ByteLevel step, so the BPE is not byte-level; only byte-level BPE tokenizer.json files are supported");
        return ([.. splits], addPrefixSpace);

        void Collect(JsonNode? node)
        {
            if (node is null) return;
            var type = (string?)node["type"];
            if (sawByteLevel && type is not ("Sequence" or "ByteLevel"))
                throw files.Problem($"pre-tokenizer step '{type}' comes after ByteLevel; Repro supports splits before the byte mapping only");
            switch (type)
            {
                case "Sequence":
                    foreach (var step in node["pretokenizers"] as JsonArray ?? []) Collect(step);
                    break;
                case "ByteLevel":
                    sawByteLevel = true;
                    addPrefixSpace = Flag(node, "add_prefix_space", defaultValue: true);
                    if (Flag(node, "use_regex", defaultValue: true)) splits.Add(Compile(Gpt2Pattern));
                    break;
                case "Split":
                    var behavior = (string?)node["behavior"];
                    if (!string.Equals(behavior, "Isolated", StringComparison.OrdinalIgnoreCase) || Flag(node, "invert", false))
                        throw files.Problem($"Split pre-tokenizer with behavior '{behavior}'{(Flag(node, "invert", false) ? " and invert" : "")} is not supported (only Isolated)");
                    var pattern = (string?)node["pattern"]?["Regex"]
                                  ?? ((string?)node["pattern"]?["String"] is { } literal ? Regex.Escape(literal)
                                      : throw files.Problem("Split pre-tokenizer has neither pattern.Regex nor pattern.String"));
                    splits.Add(Compile(pattern));
                    break;
                case "Digits":
                    splits.Add(Compile(Flag(node, "individual_digits", false) ? @"\p{N}" : @"\p{N}+"));
                    break;
                default:
                    throw files.Problem($"pre-tokenizer '{type}' is not supported for byte-level BPE (supported: ByteLevel, Split, Digits, Sequence)");
            }
        }

        Regex Compile(string pattern)
        {
            try
            {
                return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
            }
            catch (ArgumentException e)
            {
                throw files.Problem($"pre-tokenizer regex does not compile in .NET ({e.Message}): {pattern}");
            }
        }
    }

    static Func<string, string> Normalizer(HfTokenizerFiles files, JsonNode? node)
    {
        if (node is null) return s => s;
        var type = (string?)node["type"];
        if (type is "NFC" or "NFD" or "NFKC" or "NFKD" && !UnicodeNormalization.IsAvailable(out var why))
            throw files.Problem($"the normalizer is {type}, which this process cannot apply: {why}");
        return type switch
        {
            "NFC" => s => UnicodeNormalization.Normalize(s, NormalizationForm.FormC),
            "NFD" => s => UnicodeNormalization.Normalize(s, NormalizationForm.FormD),
            "NFKC" => s => UnicodeNormalization.Normalize(s, NormalizationForm.FormKC),
            "NFKD" => s => UnicodeNormalization.Normalize(s, NormalizationForm.FormKD),
            "Lowercase" => s => s.ToLowerInvariant(),
            "Sequence" => (node["normalizers"] as JsonArray ?? [])
                .Select(n => Normalizer(files, n))
                .Aggregate((Func<string, string>)(s => s), (f, g) => s => g(f(s))),
            _ => throw files.Problem($"normalizer '{type}' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Sequence)"),
        };
    }

    static bool Flag(JsonNode node, string key, bool defaultValue) =>
        node[key] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : defaultValue;
}
