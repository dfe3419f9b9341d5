using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;

namespace Repro.Core.Models;

/// <summary>The decoder-only families Repro runs, named by HF's <c>model_type</c>.</summary>
public enum ModelFamily { Llama, Mistral, Qwen2, Qwen3, Cohere }

/// <summary>
/// RoPE frequency scaling (HF <c>rope_scaling</c>, or <c>rope_parameters</c> in transformers v5).
/// <c>linear</c> divides every inverse frequency by <see cref="Factor"/>; <c>llama3</c> (Llama 3.1+)
/// divides only the low frequencies and interpolates between the two bands.
/// </summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4,
                                 int OriginalMaxPositionEmbeddings = 8192)
{
    public const string LinearType = "linear";
    public const string Llama3Type = "llama3";
}

/// <summary>
/// The widths of one decoder layer: query heads, KV heads and MLP channels. Structured pruning (LLM-Pruner, Lang-Prune)
/// removes whole heads and channels from some layers, so a pruned model's layers differ.
/// </summary>
public sealed record LayerWidths(int NumAttentionHeads, int NumKeyValueHeads, int IntermediateSize)
{
    public int QueriesPerKeyValue => NumAttentionHeads / NumKeyValueHeads;
}

/// <summary>One tensor a checkpoint must hold for the declared architecture, under its HF name.</summary>
public sealed record TensorSpec(string Name, long[] Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    // A record compares arrays by reference; a spec is equal to another with the same name and shape.
    public bool Equals(TensorSpec? other) => other is not null && Name == other.Name && Shape.SequenceEqual(other.Shape);
    public override int GetHashCode() => HashCode.Combine(Name, Shape.Length);
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}

/// <summary>
/// The architecture of a decoder-only checkpoint as its HF <c>config.json</c> declares it, for the
/// families Repro runs (Llama-2/3, Mistral, Qwen2, Qwen3, Cohere/Aya). Missing optional fields take
/// the defaults of the matching HF config class, so a folder loads as transformers would load it;
/// fields whose HF default would be a surprising guess (Mistral/Qwen <c>num_key_value_heads</c>,
/// Qwen3 <c>head_dim</c>) are required instead.
/// </summary>
public sealed record ModelConfig
{
    public required ModelFamily Family { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }

    /// <summary><c>rms_norm_eps</c>, or <c>layer_norm_eps</c> for Cohere.</summary>
    public double NormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public bool TieWordEmbeddings { get; init; }

    /// <summary>Llama/Qwen3/Cohere: biases on q, k, v and o. Qwen2 always has q/k/v biases (and never o); Mistral never.</summary>
    public bool AttentionBias { get; init; }

    /// <summary>Llama only: biases on gate, up and down.</summary>
    public bool MlpBias { get; init; }

    /// <summary>Cohere only (<c>use_qk_norm</c>): per-head LayerNorm of q and k, weights <c>[heads, head_dim]</c>.</summary>
    public bool UseQkNorm { get; init; }

    /// <summary>Mistral only: a token attends to itself and the <c>SlidingWindow − 1</c> tokens before it.</summary>
    public int? SlidingWindow { get; init; }

    public string HiddenAct { get; init; } = "silu";
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }

    /// <summary>The dtype the checkpoint was saved in (<c>torch_dtype</c>, or <c>dtype</c> in transformers v5), e.g. "bfloat16".</summary>
    public string? TorchDtype { get; init; }

    /// <summary>
    /// Per-layer widths of a structurally pruned model (config.json's <c>layer_num_attention_heads</c>,
    /// <c>layer_num_key_value_heads</c> and <c>layer_intermediate_size</c>, one entry per layer); null when every layer has
    /// the global <see cref="NumAttentionHeads"/>, <see cref="NumKeyValueHeads"/> and <see cref="IntermediateSize"/>.
    /// </summary>
    /// <remarks>
    /// HF's config classes ignore these fields, so transformers refuses such a folder with a shape mismatch instead of
    /// running a wrong model; the global fields keep the unpruned widths. Use <see cref="WithLayerWidths"/> to set them:
    /// uniform widths become the global fields and no list, so such a model stays an ordinary HF folder.
    /// </remarks>
    public IReadOnlyList<LayerWidths>? PerLayerWidths { get; init; }

    /// <summary>Cohere multiplies its logits by this (CohereConfig's default 0.0625 when absent); 1 for the other families, whose HF code ignores it.</summary>
    public double LogitScale { get; init; } = 1;

    public string ModelType => TypeNames[Family];
    public string Architecture => Architectures[Family];
    /// <summary>The widths of layer <paramref name="index"/>: its own when the model is structurally pruned, else the global ones.</summary>
    public LayerWidths Widths(int index) => PerLayerWidths is { } list ? list[index] : new(NumAttentionHeads, NumKeyValueHeads, IntermediateSize);

    /// <summary>
    /// This config with layer <c>i</c> of width <c>widths[i]</c>. Widths equal in every layer become the global fields
    /// (no per-layer lists, an ordinary HF config); otherwise the global fields stay as they are and the lists are set.
    /// </summary>
    public ModelConfig WithLayerWidths(IReadOnlyList<LayerWidths> widths)
    {
        if (widths.Count != NumHiddenLayers)
            throw new ArgumentException($"{widths.Count} layer widths for a model of {NumHiddenLayers} layers");
        if (widths.All(w => w == widths[0]))
            return this with
            {
                NumAttentionHeads = widths[0].NumAttentionHeads, NumKeyValueHeads = widths[0].NumKeyValueHeads,
                IntermediateSize = widths[0].IntermediateSize, PerLayerWidths = null,
            };
        return this with { PerLayerWidths = [.. widths] };
    }

    /// <summary>Query heads per KV head (HF <c>num_key_value_groups</c>).</summary>
    public int QueriesPerKeyValue => NumAttentionHeads / NumKeyValueHeads;
    public bool HasQkvBias => Family == ModelFamily.Qwen2 || (AttentionBias && Family != ModelFamily.Mistral);
    public bool HasOutputBias => AttentionBias && Family is ModelFamily.Llama or ModelFamily.Qwen3 or ModelFamily.Cohere;
    public bool HasMlpBias => MlpBias && Family == ModelFamily.Llama;
    /// <summary>Qwen3 (RMSNorm over head_dim, shared by heads) or Cohere with use_qk_norm (LayerNorm, one weight row per head).</summary>
    public bool HasQkNorm => Family == ModelFamily.Qwen3 || (Family == ModelFamily.Cohere && UseQkNorm);
    /// <summary>Cohere: one input LayerNorm feeds attention and MLP in parallel; LayerNorm without bias instead of RMSNorm; interleaved RoPE.</summary>
    public bool IsCohere => Family == ModelFamily.Cohere;

    static readonly Dictionary<ModelFamily, string> TypeNames = new()
    {
        [ModelFamily.Llama] = "llama", [ModelFamily.Mistral] = "mistral", [ModelFamily.Qwen2] = "qwen2",
        [ModelFamily.Qwen3] = "qwen3", [ModelFamily.Cohere] = "cohere",
    };

    static readonly Dictionary<ModelFamily, string> Architectures = new()
    {
        [ModelFamily.Llama] = "LlamaForCausalLM", [ModelFamily.Mistral] = "MistralForCausalLM",
        [ModelFamily.Qwen2] = "Qwen2ForCausalLM", [ModelFamily.Qwen3] = "Qwen3ForCausalLM",
        [ModelFamily.Cohere] = "CohereForCausalLM",
    };

    static readonly string[] SupportedActivations = ["silu", "swish"];

    // ---------------------------------------------------------------- tensors

    /// <summary>Every tensor the declared architecture needs, in checkpoint order (embedding, layers, final norm, lm_head).</summary>
    public IReadOnlyList<TensorSpec> ExpectedTensors()
    {
        var specs = new List<TensorSpec> { new("model.embed_tokens.weight", [VocabSize, HiddenSize]) };
        for (var i = 0; i < NumHiddenLayers; i++) specs.AddRange(LayerTensors(i));
        specs.Add(new("model.norm.weight", [HiddenSize]));
        if (!TieWordEmbeddings) specs.Add(new("lm_head.weight", [VocabSize, HiddenSize]));
        return specs;
    }

    public IReadOnlyList<string> ExpectedTensorNames() => ExpectedTensors().Select(t => t.Name).ToList();

    /// <summary>The tensors of decoder layer <paramref name="index"/>, named <c>model.layers.{index}.…</c>.</summary>
    public IReadOnlyList<TensorSpec> LayerTensors(int index)
    {
        if (index < 0 || index >= NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(index), $"layer {index} does not exist: the model has {NumHiddenLayers} layers");
        var p = LayerPrefix(index);
        var widths = Widths(index);
        long h = HiddenSize, q = (long)widths.NumAttentionHeads * HeadDim, kv = (long)widths.NumKeyValueHeads * HeadDim, inter = widths.IntermediateSize;
        var specs = new List<TensorSpec> { new(p + "input_layernorm.weight", [h]) };
        void Proj(string name, long outF, long inF, bool bias)
        {
            specs.Add(new(p + name + ".weight", [outF, inF]));
            if (bias) specs.Add(new(p + name + ".bias", [outF]));
        }
        Proj("self_attn.q_proj", q, h, HasQkvBias);
        Proj("self_attn.k_proj", kv, h, HasQkvBias);
        Proj("self_attn.v_proj", kv, h, HasQkvBias);
        Proj("self_attn.o_proj", h, q, HasOutputBias);
        if (HasQkNorm)
        {
            specs.Add(new(p + "self_attn.q_norm.weight", IsCohere ? [widths.NumAttentionHeads, HeadDim] : [HeadDim]));
            specs.Add(new(p + "self_attn.k_norm.weight", IsCohere ? [widths.NumKeyValueHeads, HeadDim] : [HeadDim]));
        }
        Proj("mlp.gate_proj", inter, h, HasMlpBias);
        Proj("mlp.up_proj", inter, h, HasMlpBias);
        Proj("mlp.down_proj", h, inter, HasMlpBias);
        if (!IsCohere) specs.Add(new(p + "post_attention_layernorm.weight", [h]));
        return specs;
    }

    public IReadOnlyList<string> LayerTensorNames(int index) => LayerTensors(index).Select(t => t.Name).ToList();

    public static string LayerPrefix(int index) => $"model.layers.{index}.";

    /// <summary>Parameters of the declared architecture; a tied lm_head counts once, as HF's <c>num_parameters()</c> does.</summary>
    public long ParameterCount() => ExpectedTensors().Sum(t => t.ElementCount);

    // ---------------------------------------------------------------- validation

    /// <summary>Upper bounds on config.json sizes (<see cref="Problems"/>): each is many times the largest published model's.</summary>
    public const long MaxVocabSize = 1 << 24, MaxWidth = 1 << 17, MaxIntermediateSize = 1 << 21, MaxLayers = 4096, MaxHeads = 1 << 14,
                      MaxPositions = 1L << 30;

    /// <summary>Problems that make this architecture unrunnable, as sentences naming the config.json field; empty when valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        void Positive(string field, long value)
        {
            if (value <= 0) problems.Add($"'{field}' must be a positive integer, got {value}");
        }
        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("intermediate_size", IntermediateSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("num_key_value_heads", NumKeyValueHeads);
        Positive("head_dim", HeadDim);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        // Far above any published model, far below what would exhaust memory before the checkpoint is even compared:
        // a crafted or mistyped size is refused from config.json instead of running until the memory killer.
        void AtMost(string field, long value, long limit)
        {
            if (value > limit) problems.Add($"'{field}' is {value.ToString("N0", CultureInfo.InvariantCulture)}, beyond any real model " +
                                          $"(at most {limit.ToString("N0", CultureInfo.InvariantCulture)} is accepted)");
        }
        AtMost("vocab_size", VocabSize, MaxVocabSize);
        AtMost("hidden_size", HiddenSize, MaxWidth);
        AtMost("intermediate_size", IntermediateSize, MaxIntermediateSize);
        AtMost("num_hidden_layers", NumHiddenLayers, MaxLayers);
        AtMost("num_attention_heads", NumAttentionHeads, MaxHeads);
        AtMost("num_key_value_heads", NumKeyValueHeads, MaxHeads);
        AtMost("head_dim", HeadDim, MaxWidth);
        AtMost("max_position_embeddings", MaxPositionEmbeddings, MaxPositions);
        if (PerLayerWidths is { } widths)
            foreach (var lw in widths)
            {
                AtMost("layer_num_attention_heads", lw.NumAttentionHeads, MaxHeads);
                AtMost("layer_num_key_value_heads", lw.NumKeyValueHeads, MaxHeads);
                AtMost("layer_intermediate_size", lw.IntermediateSize, MaxIntermediateSize);
            }
        if (problems.Count > 0) return problems;   // the checks below multiply sizes
        if (NumAttentionHeads > 0 && NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads != 0)
            problems.Add($"'num_attention_heads' ({NumAttentionHeads}) must be a multiple of 'num_key_value_heads' ({NumKeyValueHeads}) for grouped-query attention");
        if (PerLayerWidths is { } perLayer)
        {
            if (perLayer.Count != NumHiddenLayers)
                problems.Add($"the per-layer width lists have {perLayer.Count} entries but 'num_hidden_layers' is {NumHiddenLayers}");
            for (var i = 0; i < perLayer.Count; i++)
            {
                var lw = perLayer[i];
                if (lw.NumAttentionHeads <= 0 || lw.NumKeyValueHeads <= 0 || lw.IntermediateSize <= 0)
                    problems.Add($"layer {i} has widths {lw.NumAttentionHeads}/{lw.NumKeyValueHeads} heads and {lw.IntermediateSize} MLP channels; every width must be positive");
                else if (lw.NumAttentionHeads % lw.NumKeyValueHeads != 0)
                    problems.Add($"layer {i} has {lw.NumAttentionHeads} query heads, not a multiple of its {lw.NumKeyValueHeads} KV heads");
            }
        }
        if (HeadDim % 2 != 0) problems.Add($"'head_dim' ({HeadDim}) must be even: RoPE rotates pairs of coordinates");
        if (!(NormEps > 0) || double.IsInfinity(NormEps)) problems.Add($"'{(IsCohere ? "layer_norm_eps" : "rms_norm_eps")}' must be positive, got {NormEps}");
        if (!(RopeTheta > 0) || double.IsInfinity(RopeTheta)) problems.Add($"'rope_theta' must be positive, got {RopeTheta}");
        if (!double.IsFinite(LogitScale)) problems.Add($"'logit_scale' must be finite, got {LogitScale}");
        if (LogitScale != 1 && !IsCohere) problems.Add($"'logit_scale' is a cohere field; HF's {Architecture} ignores it, so it must stay 1");
        if (!SupportedActivations.Contains(HiddenAct))
            problems.Add($"'hidden_act' is '{HiddenAct}', but only SwiGLU MLPs ('silu') are supported");
        if (SlidingWindow is { } w && w <= 0) problems.Add($"'sliding_window' must be positive or null, got {w}");
        if (SlidingWindow is not null && Family != ModelFamily.Mistral)
            problems.Add($"sliding-window attention is implemented for mistral only, not {ModelType}");
        if (UseQkNorm && Family != ModelFamily.Cohere) problems.Add($"'use_qk_norm' is a cohere field; {ModelType} has no such option");
        if (RopeScaling is { } r)
        {
            if (r.Type is not (RopeScaling.LinearType or RopeScaling.Llama3Type))
                problems.Add($"'rope_scaling' type '{r.Type}' is not supported (supported: default, linear, llama3)");
            if (!(r.Factor > 0)) problems.Add($"'rope_scaling.factor' must be positive, got {r.Factor}");
            if (r.Type == RopeScaling.Llama3Type)
            {
                if (!(r.LowFreqFactor > 0) || !(r.HighFreqFactor > r.LowFreqFactor))
                    problems.Add($"'rope_scaling' needs 0 < low_freq_factor < high_freq_factor, got {r.LowFreqFactor} and {r.HighFreqFactor}");
                if (r.OriginalMaxPositionEmbeddings <= 0)
                    problems.Add($"'rope_scaling.original_max_position_embeddings' must be positive, got {r.OriginalMaxPositionEmbeddings}");
            }
        }
        return problems;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing the problems; for configs built in code rather than parsed.</summary>
    public ModelConfig Validated()
    {
        var problems = Problems();
        return problems.Count == 0 ? this
            : throw new InputException($"invalid {ModelType} model config: {string.Join("; ", problems)}");
    }

    // ---------------------------------------------------------------- equality

    // Records compare lists by reference; two configs are equal when they write the same config.json.
    public bool Equals(ModelConfig? other) => other is not null && ToJson().ToJsonString() == other.ToJson().ToJsonString();
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToJson().ToJsonString());

    // ---------------------------------------------------------------- JSON

    /// <summary>
    /// Parses a HF <c>config.json</c>. <paramref name="sourcePath"/> is the file's path, used in errors:
    /// every problem is a <see cref="CheckpointFormatException"/> naming the file and the field.
    /// </summary>
    public static ModelConfig FromJson(JsonObject json, string sourcePath)
    {
        var reader = new ConfigReader(json, sourcePath);
        var modelType = reader.String("model_type", null)
            ?? throw reader.Error("has no 'model_type'; it must say which architecture the checkpoint has (llama, mistral, qwen2, qwen3 or cohere)");
        var family = TypeNames.FirstOrDefault(kv => kv.Value == modelType).Key;
        if (!TypeNames.ContainsValue(modelType))
            throw reader.Error($"'model_type' is '{modelType}', which Repro does not run; supported: {string.Join(", ", TypeNames.Values)}");
        if (json.ContainsKey("quantization_config") && json["quantization_config"] is not null)
            throw reader.Error("declares a 'quantization_config': quantized checkpoints (GPTQ/AWQ/bitsandbytes) store packed weights " +
                               "Repro cannot read; use the unquantized checkpoint");
        if (reader.Double("partial_rotary_factor", 1) != 1)
            throw reader.Error("'partial_rotary_factor' is not 1; partial RoPE is not supported for these families");

        var cohere = family == ModelFamily.Cohere;
        var heads = reader.Int("num_attention_heads", null);
        var hidden = reader.Int("hidden_size", null);
        int? kvDefault = family is ModelFamily.Llama or ModelFamily.Cohere ? heads : null;
        var kvHeads = reader.Int("num_key_value_heads", kvDefault,
            "HF's config class would assume a family-specific default (8 for Mistral, 32 for Qwen); state it explicitly");
        int headDim;
        if (family == ModelFamily.Qwen3)
            headDim = reader.Int("head_dim", null, "Qwen3's head_dim is independent of hidden_size / num_attention_heads");
        else
        {
            if (heads <= 0) throw reader.Error($"'num_attention_heads' must be a positive integer, got {heads}");
            if (!json.ContainsKey("head_dim") || json["head_dim"] is null)
            {
                if (hidden % heads != 0)
                    throw reader.Error($"has no 'head_dim' and 'hidden_size' ({hidden}) is not a multiple of 'num_attention_heads' ({heads})");
                headDim = hidden / heads;
            }
            else headDim = reader.Int("head_dim", null);
        }

        var maxPositions = reader.Int("max_position_embeddings", family switch
        {
            ModelFamily.Llama => 2048, ModelFamily.Mistral => 4096 * 32, ModelFamily.Cohere => 8192, _ => 32768,
        });
        var (theta, scaling) = reader.Rope(maxPositions);

        int? slidingWindow = null;
        if (family == ModelFamily.Mistral)
            slidingWindow = json.ContainsKey("sliding_window") ? reader.NullableInt("sliding_window") : 4096;
        if (family is ModelFamily.Qwen2 or ModelFamily.Qwen3 && reader.Bool("use_sliding_window", false))
            throw reader.Error("sets 'use_sliding_window': true; sliding-window attention is not implemented for qwen " +
                               "(no released Qwen2/Qwen3 checkpoint enables it)");
        if (!cohere && json.ContainsKey("use_qk_norm") && reader.Bool("use_qk_norm", false))
            throw reader.Error($"sets 'use_qk_norm' but {modelType} has no such option");

        var config = new ModelConfig
        {
            Family = family,
            VocabSize = reader.Int("vocab_size", null),
            HiddenSize = hidden,
            IntermediateSize = reader.Int("intermediate_size", null),
            NumHiddenLayers = reader.Int("num_hidden_layers", null),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            NormEps = cohere ? reader.Double("layer_norm_eps", 1e-5) : reader.Double("rms_norm_eps", 1e-6),
            RopeTheta = theta,
            RopeScaling = scaling,
            MaxPositionEmbeddings = maxPositions,
            TieWordEmbeddings = reader.Bool("tie_word_embeddings", cohere),
            AttentionBias = family is ModelFamily.Llama or ModelFamily.Qwen3 or ModelFamily.Cohere && reader.Bool("attention_bias", false),
            MlpBias = family == ModelFamily.Llama && reader.Bool("mlp_bias", false),
            UseQkNorm = cohere && reader.Bool("use_qk_norm", false),
            SlidingWindow = slidingWindow,
            HiddenAct = reader.String("hidden_act", "silu")!,
            BosTokenId = reader.NullableInt("bos_token_id"),
            EosTokenIds = reader.IntOrList("eos_token_id"),
            PadTokenId = reader.NullableInt("pad_token_id"),
            TorchDtype = reader.String("torch_dtype", null) ?? reader.String("dtype", null),
            LogitScale = cohere ? reader.Double("logit_scale", 0.0625) : 1,
            PerLayerWidths = reader.PerLayerWidths(),
        };
        var problems = config.Problems();
        if (problems.Count > 0) throw reader.Error(string.Join("; ", problems));
        return config;
    }

    /// <summary>
    /// A HF-compatible <c>config.json</c> (architectures, model_type and every field the HF config class
    /// reads for this family), so a generated or pruned model is a folder transformers can load.
    /// </summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(Architecture),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["hidden_act"] = HiddenAct,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            [IsCohere ? "layer_norm_eps" : "rms_norm_eps"] = NormEps,
            ["rope_theta"] = RopeTheta,
            ["rope_scaling"] = RopeScaling switch
            {
                null => null,
                { Type: RopeScaling.Llama3Type } r => new JsonObject
                {
                    ["rope_type"] = r.Type, ["factor"] = r.Factor, ["low_freq_factor"] = r.LowFreqFactor,
                    ["high_freq_factor"] = r.HighFreqFactor, ["original_max_position_embeddings"] = r.OriginalMaxPositionEmbeddings,
                },
                var r => new JsonObject { ["rope_type"] = r.Type, ["factor"] = r.Factor },
            },
            ["tie_word_embeddings"] = TieWordEmbeddings,
        };
        if (Family is ModelFamily.Llama or ModelFamily.Qwen3 or ModelFamily.Cohere) json["attention_bias"] = AttentionBias;
        if (Family == ModelFamily.Llama) json["mlp_bias"] = MlpBias;
        if (Family == ModelFamily.Mistral) json["sliding_window"] = SlidingWindow;
        if (Family is ModelFamily.Qwen2 or ModelFamily.Qwen3) json["use_sliding_window"] = false;
        if (IsCohere)
        {
            json["use_qk_norm"] = UseQkNorm;
            json["logit_scale"] = LogitScale;
        }
        json["bos_token_id"] = BosTokenId;
        json["eos_token_id"] = EosTokenIds.Count switch
        {
            0 => null,
            1 => EosTokenIds[0],
            _ => new JsonArray(EosTokenIds.Select(id => (JsonNode?)id).ToArray()),
        };
        if (PadTokenId is not null) json["pad_token_id"] = PadTokenId;
        if (PerLayerWidths is { } perLayer)
        {
            json[LayerHeadsField] = new JsonArray([.. perLayer.Select(w => (JsonNode?)w.NumAttentionHeads)]);
            json[LayerKeyValueHeadsField] = new JsonArray([.. perLayer.Select(w => (JsonNode?)w.NumKeyValueHeads)]);
            json[LayerIntermediateField] = new JsonArray([.. perLayer.Select(w => (JsonNode?)w.IntermediateSize)]);
        }
        json["torch_dtype"] = TorchDtype;
        json["initializer_range"] = 0.02;
        json["use_cache"] = true;
        return json;
    }

    public const string LayerHeadsField = "layer_num_attention_heads";
    public const string LayerKeyValueHeadsField = "layer_num_key_value_heads";
    public const string LayerIntermediateField = "layer_intermediate_size";

    /// <summary>Typed reads of config.json fields; every failure names the file and the field.</summary>
    sealed class ConfigReader(JsonObject json, string path, string prefix = "")
    {
        public CheckpointFormatException Error(string problem) => new(path, $"config.json {problem}");

        public JsonNode? Node(string field) => json.TryGetPropertyValue(field, out var node) ? node : null;

        public int Int(string field, int? fallback, string? hint = null) =>
            Node(field) is { } node ? AsInt(field, node)
            : fallback ?? throw Error($"has no '{prefix}{field}'{(hint is null ? "" : $" ({hint})")}; add it from the model's original config.json");

        public int? NullableInt(string field) => Node(field) is { } node ? AsInt(field, node) : null;

        public double Double(string field, double fallback) => Node(field) is { } node ? AsDouble(field, node) : fallback;

        public bool Bool(string field, bool fallback) => Node(field) switch
        {
            null => fallback,
            var node when node.GetValueKind() is JsonValueKind.True or JsonValueKind.False => node.GetValue<bool>(),
            var node => throw Error($"field '{prefix}{field}' must be true or false, got {node.ToJsonString()}"),
        };

        public string? String(string field, string? fallback) => Node(field) switch
        {
            null => fallback,
            var node when node.GetValueKind() == JsonValueKind.String => node.GetValue<string>(),
            var node => throw Error($"field '{prefix}{field}' must be a string, got {node.ToJsonString()}"),
        };

        public IReadOnlyList<int> IntOrList(string field) => Node(field) switch
        {
            null => [],
            JsonArray array => array.Select((n, i) => n is null
                ? throw Error($"field '{prefix}{field}' has null at index {i}; it must hold token ids")
                : AsInt($"{field}[{i}]", n)).ToList(),
            var node => [AsInt(field, node)],
        };

        /// <summary>The three per-layer width lists of a structurally pruned model: all or none, integers, one per layer.</summary>
        public IReadOnlyList<LayerWidths>? PerLayerWidths()
        {
            string[] fields = [LayerHeadsField, LayerKeyValueHeadsField, LayerIntermediateField];
            var present = fields.Where(f => Node(f) is not null).ToList();
            if (present.Count == 0) return null;
            if (present.Count != fields.Length)
                throw Error($"has '{string.Join("', '", present)}' but not '{string.Join("', '", fields.Except(present))}'; per-layer widths need all three lists");
            var lists = fields.Select(f => Node(f) is JsonArray array
                ? array.Select((n, i) => n is null ? throw Error($"field '{f}' has null at index {i}") : AsInt($"{f}[{i}]", n)).ToList()
                : throw Error($"field '{f}' must be a list of integers, one per layer")).ToList();
            if (lists.Any(l => l.Count != lists[0].Count))
                throw Error($"per-layer width lists differ in length ({string.Join(", ", lists.Select(l => l.Count))}); each needs one entry per layer");
            return [.. Enumerable.Range(0, lists[0].Count).Select(i => new LayerWidths(lists[0][i], lists[1][i], lists[2][i]))];
        }

        /// <summary>rope_theta and rope_scaling, from the v4 fields or v5's rope_parameters.</summary>
        public (double Theta, RopeScaling? Scaling) Rope(int maxPositions)
        {
            var theta = Double("rope_theta", 10000);
            var field = "rope_scaling";
            var node = Node(field);
            if (Node("rope_parameters") is { } v5)
            {
                field = "rope_parameters";
                node = v5;
            }
            if (node is null) return (theta, null);
            if (node is not JsonObject rope) throw Error($"field '{prefix}{field}' must be an object or null, got {node.ToJsonString()}");
            var sub = new ConfigReader(rope, path, field + ".");
            if (field == "rope_parameters") theta = sub.Double("rope_theta", theta);
            var type = sub.String("rope_type", null) ?? sub.String("type", null) ?? "default";
            double Need(string key) => sub.Node(key) is { } value ? sub.AsDouble(key, value)
                : throw Error($"field '{field}' of type {type} has no '{key}'");
            return type switch
            {
                "default" => (theta, null),
                RopeScaling.LinearType => (theta, new RopeScaling(type, Need("factor"))),
                RopeScaling.Llama3Type => (theta, new RopeScaling(type, Need("factor"), Need("low_freq_factor"),
                    Need("high_freq_factor"), sub.Int("original_max_position_embeddings", maxPositions))),
                _ => throw Error($"field '{prefix}{field}' has rope type '{type}', which is not supported (supported: default, linear, llama3); " +
                                 "dynamic-NTK, YaRN and LongRoPE models need their own RoPE code"),
            };
        }

        int AsInt(string field, JsonNode node)
        {
            if (node.GetValueKind() == JsonValueKind.Number)
            {
                var element = JsonSerializer.SerializeToElement(node);
                if (element.TryGetInt32(out var value)) return value;
                if (element.TryGetDouble(out var d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
            }
            throw Error($"field '{prefix}{field}' must be an integer, got {node.ToJsonString()}");
        }

        public double AsDouble(string field, JsonNode node) => node.GetValueKind() == JsonValueKind.Number
            ? JsonSerializer.SerializeToElement(node).GetDouble()
            : throw Error($"field '{prefix}{field}' must be a number, got {node.ToJsonString()}");
    }

    public override string ToString()
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{ModelType}: {NumHiddenLayers} layers, hidden {HiddenSize}, heads {NumAttentionHeads}/{NumKeyValueHeads}×{HeadDim}, " +
            $"mlp {IntermediateSize}, vocab {VocabSize}");
        return PerLayerWidths is not { } layers ? text
            : string.Create(CultureInfo.InvariantCulture, $"{text}, per layer heads {string.Join(" ", layers.Select(w => $"{w.NumAttentionHeads}/{w.NumKeyValueHeads}"))} " +
                                                          $"mlp {string.Join(" ", layers.Select(w => w.IntermediateSize))}");
    }
}
