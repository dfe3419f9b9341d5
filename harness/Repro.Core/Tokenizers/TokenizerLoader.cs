using System.Text.Json.Nodes;

namespace Repro.Core.Tokenizers;

/// <summary>
/// Picks the tokenizer of a Hugging Face model folder, the way <c>AutoTokenizer</c> prefers the fast
/// tokenizer: tokenizer.json first (byte-level BPE, or SentencePiece-style BPE with Metaspace and byte fallback),
/// tokenizer.model (SentencePiece) when tokenizer.json is missing or holds a model type other than BPE.
/// </summary>
public static class TokenizerLoader
{
    /// <summary>
    /// The tokenizer of the model folder <paramref name="folder"/>, refused when it can produce an id outside the model's
    /// vocabulary (its <c>config.json</c> <c>vocab_size</c>): such an id would index past the embedding table.
    /// </summary>
    public static ITextTokenizer ForModel(string folder)
    {
        var tokenizer = FromFolder(folder);
        var configPath = Path.Combine(folder, "config.json");
        var config = Models.ModelConfig.FromJson(Checkpoints.HfCheckpoint.ReadConfig(configPath), configPath);
        RequireFits(tokenizer, config.VocabSize, folder);
        return tokenizer;
    }

    /// <summary>Fails, naming <paramref name="folder"/>, when <paramref name="tokenizer"/> has ids at or past <paramref name="vocabSize"/>.</summary>
    public static void RequireFits(ITextTokenizer tokenizer, int vocabSize, string folder)
    {
        if (tokenizer.VocabSize > vocabSize)
            throw new TokenizerFormatException(folder,
                $"the tokenizer has {tokenizer.VocabSize} ids (up to {tokenizer.VocabSize - 1}) but config.json declares vocab_size {vocabSize}; " +
                "the tokenizer does not belong to this model");
    }

    public static ITextTokenizer FromFolder(string folder)
    {
        if (!Directory.Exists(folder))
            throw new TokenizerFormatException(folder, "the model folder does not exist; check the path (or REPRO_MODELS)");
        var json = Path.Combine(folder, "tokenizer.json");
        var spModel = Path.Combine(folder, "tokenizer.model");

        if (File.Exists(json))
        {
            var files = HfTokenizerFiles.Read(folder);
            var type = files.ModelType;
            if (type == "BPE" && IsByteLevel(files))
                return AsByteTokenizer(files) ?? (ITextTokenizer)ByteLevelBpeTokenizer.FromFiles(files);
            // SentencePiece-style BPE (Metaspace, byte fallback): read from tokenizer.json, as HF's fast tokenizer does.
            if (type == "BPE") return SentencePieceBpeTokenizer.FromFiles(files);
            if (File.Exists(spModel)) return SentencePiece(spModel, files.Config);
            throw files.Problem($"model type '{type}' is not supported; Repro reads BPE tokenizer.json files (byte-level as Llama-3 and Qwen, " +
                                "or SentencePiece-style as Llama-2) or a SentencePiece tokenizer.model, and this folder has no tokenizer.model");
        }
        if (File.Exists(spModel))
        {
            var configPath = Path.Combine(folder, "tokenizer_config.json");
            return SentencePiece(spModel, File.Exists(configPath) ? HfTokenizerFiles.ReadObject(configPath) : null);
        }

        var found = Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(20).ToList();
        throw new TokenizerFormatException(folder,
            $"no tokenizer.json or tokenizer.model (found: {(found.Count == 0 ? "nothing" : string.Join(", ", found))}); " +
            "download the model's tokenizer files into this folder");
    }

    static ITextTokenizer SentencePiece(string modelPath, JsonObject? config)
    {
        // HF's LlamaTokenizer adds BOS unless tokenizer_config.json says add_bos_token: false.
        var addsBos = config?["add_bos_token"] is not JsonValue v || !v.TryGetValue<bool>(out var adds) || adds;
        // BPE models with the identity normalizer (Llama-2, Mistral) run Repro's own merge loop in SentencePiece's order;
        // Unigram models and other normalizers go through Microsoft.ML.Tokenizers.
        return SentencePieceBpeTokenizer.FromModel(SentencePieceModelFile.Read(modelPath), addsBos)
               ?? (ITextTokenizer)SentencePieceTextTokenizer.FromFile(modelPath, addsBos);
    }

    static bool IsByteLevel(HfTokenizerFiles files)
    {
        if (files.Model["byte_fallback"] is JsonValue v && v.TryGetValue<bool>(out var fallback) && fallback) return false;
        return Steps(files.Root["pre_tokenizer"]).Any(s => (string?)s["type"] == "ByteLevel");
    }

    static IEnumerable<JsonNode> Steps(JsonNode? node) => node switch
    {
        null => [],
        _ when (string?)node["type"] == "Sequence" => (node["pretokenizers"] as JsonArray ?? []).SelectMany(Steps),
        _ => [node],
    };

    /// <summary>
    /// The fixture form written by <see cref="ByteTokenizer.WriteHfFiles"/>: exactly the 256 byte symbols as ids
    /// 0..255, no merges, no normalizer, no prefix space, added tokens numbered on from 256. Such a tokenizer
    /// spells one token per byte whatever the pre-tokenizer does, so the fast class gives the same ids.
    /// </summary>
    static ByteTokenizer? AsByteTokenizer(HfTokenizerFiles files)
    {
        if (files.Root["normalizer"] is not null || files.Merges().Count != 0) return null;
        if (Steps(files.Root["pre_tokenizer"]).Any(s => (string?)s["type"] == "ByteLevel"
                && !(s["add_prefix_space"] is JsonValue p && p.TryGetValue<bool>(out var prefix) && !prefix)))
            return null;
        var vocab = files.Vocab();
        if (vocab.Count != 256) return null;
        for (var b = 0; b < 256; b++)
            if (!vocab.TryGetValue(ByteLevelAlphabet.Symbols[b], out var id) || id != b) return null;
        var added = files.AddedTokens().OrderBy(t => t.Id).ToList();
        for (var i = 0; i < added.Count; i++)
            if (added[i].Id != 256 + i) return null;
        var specials = added.Select(t => t.Content).ToList();
        if (specials.Distinct().Count() != specials.Count) return null;

        var defaultBos = files.DefaultBosToken();
        var bos = defaultBos ?? files.ConfigToken("bos_token");
        var eos = files.ConfigToken("eos_token");
        if ((bos is not null && !specials.Contains(bos)) || (eos is not null && !specials.Contains(eos))) return null;
        return new ByteTokenizer(specials, bos, eos, addsBos: defaultBos is not null);
    }
}
