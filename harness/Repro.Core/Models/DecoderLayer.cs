using Repro.Core.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>
/// One decoder block, hidden <c>[batch, tokens, hidden]</c> → hidden, with its sublayers registered
/// under HF's names (<c>self_attn.q_proj</c>, …, <c>mlp.down_proj</c>). It builds its own causal
/// mask and takes RoPE from the shared <see cref="RotaryEmbedding"/>, so the layer-by-layer pipeline
/// (METHODS §2) runs it with <c>layer.call(hidden)</c> and nothing else.
/// </summary>
/// <remarks>
/// Pre-norm block (Llama, Mistral, Qwen): <c>h += attn(norm₁(h)); h += mlp(norm₂(h))</c>.
/// Cohere's parallel block: <c>h + attn(norm(h)) + mlp(norm(h))</c>, one input_layernorm.
/// A layer is created without storage (<see cref="Create"/>) and filled by <see cref="LoadWeights"/>,
/// so a pipeline can stream one layer at a time from a memory-mapped checkpoint.
/// </remarks>
public sealed class DecoderLayer : nn.Module<Tensor, Tensor>
{
    // Field names are TorchSharp component names, hence HF's snake_case.
    readonly ScaleNorm input_layernorm;
    readonly SelfAttention self_attn;
    readonly GatedMlp mlp;
    readonly ScaleNorm? post_attention_layernorm;
    readonly ModelConfig config;

    DecoderLayer(ModelConfig config, int index, RotaryEmbedding rope) : base(nameof(DecoderLayer))
    {
        this.config = config;
        Index = index;
        input_layernorm = NewNorm(config);
        var widths = config.Widths(index);
        self_attn = new SelfAttention(config, widths, rope);
        mlp = new GatedMlp(config, widths.IntermediateSize);
        if (!config.IsCohere) post_attention_layernorm = NewNorm(config);
        RegisterComponents();
    }

    /// <summary>A layer with the shapes of layer <paramref name="index"/> and no weights yet (parameters on the meta device).</summary>
    public static DecoderLayer Create(ModelConfig config, int index, RotaryEmbedding rope)
    {
        config.Validated();
        if (index < 0 || index >= config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(index), $"layer {index} does not exist: the model has {config.NumHiddenLayers} layers");
        return new DecoderLayer(config, index, rope);
    }

    internal static ScaleNorm NewNorm(ModelConfig config) => config.IsCohere
        ? new CohereLayerNorm([config.HiddenSize], config.NormEps)
        : new RmsNorm([config.HiddenSize], config.NormEps);

    public int Index { get; }
    public ModelConfig Config => config;
    public bool IsLoaded { get; private set; }
    public Device? Device { get; private set; }
    public ScalarType DType { get; private set; } = ScalarType.Float32;

    public ScaleNorm InputLayerNorm => input_layernorm;
    public SelfAttention SelfAttention => self_attn;
    public GatedMlp Mlp => mlp;
    /// <summary>Null for Cohere, whose parallel block has one norm.</summary>
    public ScaleNorm? PostAttentionLayerNorm => post_attention_layernorm;

    /// <summary>The seven prunable projections in pipeline order q, k, v, o, gate, up, down, with their HF short names.</summary>
    public IReadOnlyList<(string Name, Linear Module)> Linears() =>
    [
        ("self_attn.q_proj", self_attn.QProj), ("self_attn.k_proj", self_attn.KProj),
        ("self_attn.v_proj", self_attn.VProj), ("self_attn.o_proj", self_attn.OProj),
        ("mlp.gate_proj", mlp.GateProj), ("mlp.up_proj", mlp.UpProj), ("mlp.down_proj", mlp.DownProj),
    ];

    /// <summary>
    /// Copies this layer's tensors (<c>model.layers.{Index}.…</c>) out of <paramref name="source"/> onto
    /// <paramref name="device"/> in <paramref name="dtype"/>, replacing any loaded before. Shapes are
    /// checked against the config first; a missing tensor or a mismatch is a <see cref="CheckpointFormatException"/>.
    /// Parameters are frozen (<c>requires_grad = false</c>); a method that needs gradients turns them on.
    /// </summary>
    public void LoadWeights(ITensorSource source, Device device, ScalarType dtype)
    {
        var prefix = ModelConfig.LayerPrefix(Index);
        var specs = config.LayerTensors(Index);
        foreach (var spec in specs) WeightLoading.Check(source, spec);   // all or nothing: fail before replacing any weight

        var slots = Slots();
        foreach (var spec in specs)
        {
            var local = spec.Name[prefix.Length..];
            if (!slots.TryGetValue(local, out var install))
                throw new InvalidOperationException($"DecoderLayer has no parameter for '{spec.Name}'; ModelConfig.LayerTensors and DecoderLayer disagree");
            install(WeightLoading.Load(source, spec, device, dtype));
        }
        (IsLoaded, Device, DType) = (true, device, dtype);
    }

    /// <summary>Where each HF tensor of this layer goes, by its name relative to the layer.</summary>
    Dictionary<string, Action<Parameter>> Slots()
    {
        var slots = new Dictionary<string, Action<Parameter>>
        {
            ["input_layernorm.weight"] = input_layernorm.SetWeight,
        };
        foreach (var (name, linear) in Linears())
        {
            slots[name + ".weight"] = p => linear.weight = p;
            slots[name + ".bias"] = p => linear.bias = p;
        }
        if (self_attn.QNorm is { } qn) slots["self_attn.q_norm.weight"] = qn.SetWeight;
        if (self_attn.KNorm is { } kn) slots["self_attn.k_norm.weight"] = kn.SetWeight;
        if (post_attention_layernorm is { } post) slots["post_attention_layernorm.weight"] = post.SetWeight;
        return slots;
    }

    public override Tensor forward(Tensor hidden) => Block(hidden, self_attn.call);

    /// <summary>
    /// The block for tokens that follow a prefix whose keys and values at this layer are <paramref name="past"/> (null:
    /// a whole sequence); <paramref name="keys"/> receives this call's own, outliving the call with its output.
    /// </summary>
    public Tensor Forward(Tensor hidden, SelfAttention.KeyValues? past, out SelfAttention.KeyValues keys)
    {
        SelfAttention.KeyValues? own = null;
        var output = Block(hidden, normed =>
        {
            var attended = self_attn.Attend(normed, past, out var k);
            own = new SelfAttention.KeyValues(k.Keys.MoveToOuterDisposeScope(), k.Values.MoveToOuterDisposeScope());
            return attended;
        });
        keys = own!;
        return output;
    }

    Tensor Block(Tensor hidden, Func<Tensor, Tensor> attention)
    {
        if (!IsLoaded) throw new InvalidOperationException($"decoder layer {Index} has no weights: call LoadWeights first");
        // One scope per layer: attention and MLP temporaries die here, not at the end of a whole model pass.
        using var scope = NewDisposeScope();
        var normed = input_layernorm.call(hidden);
        Tensor output;
        if (post_attention_layernorm is null)
            output = hidden + attention(normed) + mlp.call(normed);   // HF order: (residual + attn) + mlp
        else
        {
            var h = hidden + attention(normed);
            output = h + mlp.call(post_attention_layernorm.call(h));
        }
        return output.MoveToOuterDisposeScope();
    }
}
