using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Repro.Core.Tokenizers;

/// <summary>
/// One token per UTF-8 byte (ids 0..255), then special tokens from 256 on (<c>&lt;|bos|&gt;</c>=256,
/// <c>&lt;|eos|&gt;</c>=257, <c>&lt;|pad|&gt;</c>=258 by default). The fixture models use it because it needs no
/// trained vocabulary and spells every language, and because it is expressible as a genuine Hugging Face
/// byte-level BPE (256 byte symbols, no merges): <see cref="WriteHfFiles"/> writes that folder, so fixtures
/// go through the same loader as real checkpoints, and <see cref="TokenizerLoader"/> maps it back to this
/// fast implementation.
/// </summary>
public sealed class ByteTokenizer : ITextTokenizer
{
    public const string BosToken = "<|bos|>";
    public const string EosToken = "<|eos|>";
    public const string PadToken = "<|pad|>";
    public const int DefaultVocabSize = 259;

    readonly string[] specialTokens;
    readonly AddedTokenMatcher matcher;
    readonly int? bosTokenId;

    /// <summary>
    /// Repro's fixture layout: bos, eos, pad, then <c>&lt;|reserved_k|&gt;</c> up to <paramref name="vocabSize"/>
    /// (a model may pad its embedding table; reserving the ids keeps the tokenizer and the model the same size).
    /// </summary>
    public ByteTokenizer(int vocabSize = DefaultVocabSize, bool addsBos = true)
        : this(DefaultSpecialTokens(vocabSize), BosToken, EosToken, addsBos)
    {
    }

    /// <param name="specialTokens">Contents of the special tokens, in id order from 256.</param>
    /// <param name="bosToken">Which of them is BOS, if any.</param>
    /// <param name="eosToken">Which of them is EOS, if any.</param>
    /// <param name="addsBos">Whether the tokenizer puts BOS in front of a text by default (see <see cref="ITextTokenizer.BosId"/>).</param>
    public ByteTokenizer(IReadOnlyList<string> specialTokens, string? bosToken, string? eosToken, bool addsBos)
    {
        this.specialTokens = [.. specialTokens];
        var duplicate = specialTokens.GroupBy(t => t).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"special token '{duplicate.Key}' is listed twice");
        if (specialTokens.Any(t => t.Length == 0)) throw new ArgumentException("a special token is empty");
        matcher = new AddedTokenMatcher(specialTokens.Select((t, i) => KeyValuePair.Create(t, 256 + i)));
        BosTokenId = bosToken is null ? null : IdOf(bosToken, "bos");
        EosId = eosToken is null ? null : IdOf(eosToken, "eos");
        bosTokenId = addsBos ? BosTokenId : null;
        if (addsBos && BosTokenId is null) throw new ArgumentException("addsBos needs a BOS token");
    }

    public int VocabSize => 256 + specialTokens.Length;
    public int? BosId => bosTokenId;
    public int? EosId { get; }

    /// <summary>The BOS token's id even when the tokenizer does not add it by default.</summary>
    public int? BosTokenId { get; }

    public IReadOnlyList<string> SpecialTokens => specialTokens;

    public TokenizedText Encode(string text, bool addBos)
    {
        var spelled = new SpelledText();
        if (addBos && BosId is { } bos) spelled.EndToken(bos);
        foreach (var (start, length, id) in matcher.Split(text))
        {
            var bytes = Encoding.UTF8.GetBytes(text, start, length);
            if (id is { } special)
            {
                spelled.Add(special, bytes);
                continue;
            }
            foreach (var b in bytes) spelled.Add(b, [b]);
        }
        return spelled.Build();
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        var text = new StringBuilder();
        var pending = new List<byte>();
        foreach (var id in ids)
        {
            if (id is >= 0 and < 256)
            {
                pending.Add((byte)id);
                continue;
            }
            Flush();
            if (id < 256 || id >= VocabSize)
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {id} is outside the byte tokenizer's vocabulary 0..{VocabSize - 1}");
            text.Append(specialTokens[id - 256]);
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            // Invalid UTF-8 becomes U+FFFD, as Hugging Face's ByteLevel decoder does (errors="replace").
            text.Append(Encoding.UTF8.GetString([.. pending]));
            pending.Clear();
        }
    }

    /// <summary>
    /// Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into <paramref name="directory"/>
    /// so that <c>AutoTokenizer.from_pretrained</c> and <see cref="TokenizerLoader.FromFolder"/> both read it.
    /// </summary>
    public void WriteHfFiles(string directory, int modelMaxLength = 8192)
    {
        Directory.CreateDirectory(directory);
        var options = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        var vocab = new JsonObject();
        for (var b = 0; b < 256; b++) vocab[ByteLevelAlphabet.Symbols[b]] = b;
        var added = new JsonArray([.. specialTokens.Select((t, i) => (JsonNode)new JsonObject
        {
            ["id"] = 256 + i, ["content"] = t, ["single_word"] = false, ["lstrip"] = false,
            ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
        })]);
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = ByteLevelStep(useRegex: false),
            ["post_processor"] = PostProcessor(),
            ["decoder"] = ByteLevelStep(useRegex: true),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false,
                ["ignore_merges"] = false, ["vocab"] = vocab, ["merges"] = new JsonArray(),
            },
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString(options));

        var decoderEntries = new JsonObject();
        for (var i = 0; i < specialTokens.Length; i++)
            decoderEntries[(256 + i).ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = specialTokens[i], ["lstrip"] = false, ["normalized"] = false,
                ["rstrip"] = false, ["single_word"] = false, ["special"] = true,
            };
        var config = new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["add_bos_token"] = BosId is not null,
            ["add_eos_token"] = false,
            ["bos_token"] = TokenContent(BosTokenId),
            ["eos_token"] = TokenContent(EosId),
            ["pad_token"] = specialTokens.Contains(PadToken) ? PadToken : null,
            ["model_max_length"] = modelMaxLength,
            ["clean_up_tokenization_spaces"] = false,
            ["added_tokens_decoder"] = decoderEntries,
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(options));

        var map = new JsonObject();
        if (BosTokenId is not null) map["bos_token"] = TokenContent(BosTokenId);
        if (EosId is not null) map["eos_token"] = TokenContent(EosId);
        if (specialTokens.Contains(PadToken)) map["pad_token"] = PadToken;
        File.WriteAllText(Path.Combine(directory, "special_tokens_map.json"), map.ToJsonString(options));
    }

    JsonNode PostProcessor()
    {
        if (BosId is not { } bos) return ByteLevelStep(useRegex: false);
        var content = specialTokens[bos - 256];
        JsonNode Special() => new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = content, ["type_id"] = 0 } };
        JsonNode Sequence(string id) => new JsonObject { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };
        return new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = new JsonArray(Special(), Sequence("A")),
            ["pair"] = new JsonArray(Special(), Sequence("A"), Special(), Sequence("B")),
            ["special_tokens"] = new JsonObject
            {
                [content] = new JsonObject { ["id"] = content, ["ids"] = new JsonArray(bos), ["tokens"] = new JsonArray(content) },
            },
        };
    }

    static JsonObject ByteLevelStep(bool useRegex) => new()
    {
        ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = useRegex,
    };

    string? TokenContent(int? id) => id is { } i ? specialTokens[i - 256] : null;

    int IdOf(string token, string role)
    {
        var index = Array.IndexOf(specialTokens, token);
        if (index < 0) throw new ArgumentException($"the {role} token '{token}' is not among the special tokens");
        return 256 + index;
    }

    static string[] DefaultSpecialTokens(int vocabSize)
    {
        if (vocabSize < DefaultVocabSize)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"a byte tokenizer needs at least {DefaultVocabSize} ids (256 bytes + bos, eos, pad), got {vocabSize}");
        return [BosToken, EosToken, PadToken, .. Enumerable.Range(0, vocabSize - DefaultVocabSize).Select(k => $"<|reserved_{k}|>")];
    }
}
