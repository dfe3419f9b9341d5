using System.Text.Json;
using System.Text.Json.Nodes;

namespace Repro.Core.Tokenizers;

/// <summary>An entry of tokenizer.json's <c>added_tokens</c>.</summary>
public sealed record AddedToken(int Id, string Content, bool Special);

/// <summary>
/// The parts of a Hugging Face tokenizer folder that decide encoding: tokenizer.json (model, added tokens,
/// normalizer, pre-tokenizer, post-processor) and tokenizer_config.json (bos/eos names, add_bos_token).
/// Only JSON is read; nothing from a model folder is executed.
/// </summary>
sealed class HfTokenizerFiles
{
    HfTokenizerFiles(string tokenizerJsonPath, JsonObject root, string? configPath, JsonObject? config)
    {
        TokenizerJsonPath = tokenizerJsonPath;
        Root = root;
        ConfigPath = configPath;
        Config = config;
    }

    public string TokenizerJsonPath { get; }
    public JsonObject Root { get; }
    public string? ConfigPath { get; }
    public JsonObject? Config { get; }

    public static HfTokenizerFiles Read(string folder)
    {
        var jsonPath = Path.Combine(folder, "tokenizer.json");
        var root = ReadObject(jsonPath);
        var configPath = Path.Combine(folder, "tokenizer_config.json");
        var config = File.Exists(configPath) ? ReadObject(configPath) : null;
        return new HfTokenizerFiles(jsonPath, root, config is null ? null : configPath, config);
    }

    public static JsonObject ReadObject(string path)
    {
        try
        {
            var options = new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };
            using var stream = File.OpenRead(path);
            var root = JsonNode.Parse(stream, documentOptions: options) as JsonObject
                       ?? throw new TokenizerFormatException(path, "the file holds JSON but not an object; re-download the tokenizer files");
            if (JsonStrings.FindInvalid(root) is { } invalid)
                throw new TokenizerFormatException(path, $"{invalid}; the file is corrupt or crafted: re-download it");
            return root;
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, $"not valid JSON ({e.Message}); the file is truncated or corrupt: re-download it");
        }
    }

    public JsonObject Model => Root["model"] as JsonObject
        ?? throw Problem("has no \"model\" object; it is not a Hugging Face tokenizers file");

    public string ModelType => (string?)Model["type"]
        ?? (Model["merges"] is not null ? "BPE" : throw Problem("\"model\" has no \"type\""));

    public TokenizerFormatException Problem(string problem) => new(TokenizerJsonPath, problem);

    /// <summary>
    /// The largest token id: a vocabulary's size is its largest id + 1, which must fit an int, so int.MaxValue itself
    /// would wrap the size to a negative number that every vocab_size check passes.
    /// </summary>
    public const int MaxId = int.MaxValue - 1;

    const string IdRange = "token ids are 0 to 2147483646 (the vocabulary size, the largest id + 1, must fit a 32-bit int)";

    public IReadOnlyList<AddedToken> AddedTokens()
    {
        if (Root["added_tokens"] is not JsonArray array) return [];
        var tokens = new List<AddedToken>();
        foreach (var node in array)
        {
            if (node is not JsonObject o || o["id"] is not JsonValue idValue || !idValue.TryGetValue<int>(out var id)
                || (string?)o["content"] is not { } content)
                throw Problem($"an entry of \"added_tokens\" lacks an integer \"id\" or a string \"content\": {node?.ToJsonString()}");
            if (id is < 0 or > MaxId) throw Problem($"added token '{content}' has id {id}; {IdRange}");
            tokens.Add(new AddedToken(id, content, o["special"] is JsonValue s && s.TryGetValue<bool>(out var special) && special));
        }
        return tokens;
    }

    /// <summary>The id of a token named by the post-processor or tokenizer_config (BOS, EOS): an added token or a vocab entry.</summary>
    public int? TokenId(string? content, string role, IReadOnlyList<AddedToken> added, IReadOnlyDictionary<string, int> vocab)
    {
        if (content is null) return null;
        if (added.FirstOrDefault(t => t.Content == content) is { } token) return token.Id;
        if (vocab.TryGetValue(content, out var id)) return id;
        throw Problem($"the {role} token '{content}' (from {Path.GetFileName(ConfigPath) ?? "the post-processor"}) is neither an added token nor in the vocab");
    }

    /// <summary>The vocabulary of a BPE model: token string → id.</summary>
    public Dictionary<string, int> Vocab()
    {
        if (Model["vocab"] is not JsonObject vocab) throw Problem("the BPE model has no \"vocab\" object");
        var result = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        foreach (var (token, value) in vocab)
        {
            if (value is not JsonValue v || !v.TryGetValue<int>(out var id))
                throw Problem($"vocab entry '{token}' has no integer id");
            if (id is < 0 or > MaxId) throw Problem($"vocab entry '{token}' has id {id}; {IdRange}");
            result[token] = id;
        }
        return result;
    }

    /// <summary>Merges as pairs; tokenizers ≥ 0.20 write <c>["a","b"]</c>, older ones <c>"a b"</c>.</summary>
    public List<(string Left, string Right)> Merges()
    {
        var merges = new List<(string, string)>();
        if (Model["merges"] is not JsonArray array) return merges;
        foreach (var node in array)
        {
            switch (node)
            {
                case JsonArray { Count: 2 } pair when (string?)pair[0] is { } a && (string?)pair[1] is { } b:
                    merges.Add((a, b));
                    break;
                case JsonValue value when value.TryGetValue<string>(out var text) && text.Split(' ') is [var a, var b]:
                    merges.Add((a, b));
                    break;
                default:
                    throw Problem($"merge #{merges.Count} is neither \"left right\" nor [\"left\", \"right\"]: {node?.ToJsonString()}");
            }
        }
        return merges;
    }

    /// <summary>
    /// The BOS the tokenizer adds by default: the special token in front of <c>$A</c> in a TemplateProcessing
    /// post-processor (Llama-3), else tokenizer_config's bos_token when add_bos_token is true (Llama-2 style
    /// configs). ByteLevel-only post-processors (Qwen, GPT-2) add none.
    /// </summary>
    public string? DefaultBosToken()
    {
        if (FindTemplate(Root["post_processor"]) is { } template && template["single"] is JsonArray single)
        {
            foreach (var piece in single)
            {
                if (piece?["Sequence"] is not null) return null;
                if ((string?)piece?["SpecialToken"]?["id"] is { } special)
                {
                    var ids = template["special_tokens"]?[special]?["tokens"] as JsonArray;
                    return ids is [JsonNode first, ..] && (string?)first is { } content ? content : special;
                }
            }
            return null;
        }
        return Config?["add_bos_token"] is JsonValue add && add.TryGetValue<bool>(out var adds) && adds
            ? ConfigToken("bos_token")
            : null;
    }

    /// <summary>A token named in tokenizer_config.json: a string, or an AddedToken object with "content".</summary>
    public string? ConfigToken(string key) => Config?[key] switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonObject o => (string?)o["content"],
        _ => null,
    };

    static JsonObject? FindTemplate(JsonNode? processor) => processor switch
    {
        JsonObject o when (string?)o["type"] == "TemplateProcessing" => o,
        JsonObject o when (string?)o["type"] == "Sequence" && o["processors"] is JsonArray list =>
            list.Select(FindTemplate).FirstOrDefault(t => t is not null),
        _ => null,
    };
}
