using Repro.Core.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>
/// A decoder-only causal LM (Llama, Mistral, Qwen2, Qwen3, Cohere) in HF's module layout, so
/// <c>named_parameters()</c> / <c>state_dict()</c> yield checkpoint names (<c>model.layers.0.self_attn.q_proj.weight</c>, …)
/// and a pruned model exports under the names it was loaded from.
/// </summary>
/// <remarks>
/// <see cref="Logits"/> runs under no_grad in its own dispose scope (memory stays flat across calls);
/// <c>call(ids)</c> / <c>forward</c> is the same pass without those, for methods that need gradients.
/// Within a pass each layer's output is disposed once the next layer has consumed it: a forward hook
/// that keeps a layer output must keep a clone.
/// </remarks>
public sealed class CausalLM : nn.Module<Tensor, Tensor>, ILanguageModel
{
    // Field names are TorchSharp component names: HF's "model" and "lm_head" (absent when tied).
    readonly DecoderStack model;
    readonly Linear? lm_head;
    readonly RotaryEmbedding rope;
    readonly ModelConfig config;
    readonly IReadOnlyList<DecoderLayer> layers;

    CausalLM(ModelConfig config, DecoderStack model, Linear? lmHead, RotaryEmbedding rope, Device device, ScalarType dtype)
        : base(nameof(CausalLM))
    {
        this.config = config;
        this.model = model;
        lm_head = lmHead;
        this.rope = rope;
        layers = model.Layers.AsReadOnly();
        Device = device;
        DType = dtype;
        RegisterComponents();
    }

    public ModelConfig Config => config;
    public int VocabSize => config.VocabSize;
    public Device Device { get; }
    public ScalarType DType { get; }
    public RotaryEmbedding Rope => rope;
    public TokenEmbedding Embedding => model.embed_tokens;
    public IReadOnlyList<DecoderLayer> Layers => layers;
    public ScaleNorm FinalNorm => model.norm;
    /// <summary>Null when the embeddings are tied: the head then multiplies by <see cref="Embedding"/>'s weight.</summary>
    public Linear? LmHead => lm_head;

    /// <summary>
    /// Builds the model <paramref name="config"/> declares from <paramref name="source"/>, on
    /// <paramref name="device"/> in <paramref name="dtype"/>. Every expected tensor is checked first
    /// (all missing ones listed, then shapes), so a bad checkpoint fails before gigabytes are copied.
    /// Tensors the architecture does not use (e.g. old <c>rotary_emb.inv_freq</c> buffers) are ignored.
    /// </summary>
    public static CausalLM Load(ModelConfig config, ITensorSource source, Device device, ScalarType dtype)
    {
        config.Validated();
        var expected = config.ExpectedTensors();
        var missing = expected.Where(t => !source.Contains(t.Name)).Select(t => t.Name).ToList();
        if (missing.Count > 0)
            throw new CheckpointFormatException(WeightLoading.Describe(source),
                $"{missing.Count} of the {expected.Count} tensors that config.json's {config.Architecture} needs are missing: " +
                $"{string.Join(", ", missing.Take(12))}{(missing.Count > 12 ? ", …" : "")}; " +
                "the checkpoint is incomplete (a missing shard?) or config.json describes another model");
        foreach (var spec in expected) WeightLoading.Check(source, spec);

        var rope = new RotaryEmbedding(config);
        var built = new List<IDisposable> { rope };
        try
        {
            var embed = new TokenEmbedding(config.VocabSize, config.HiddenSize);
            built.Add(embed);
            embed.SetWeight(WeightLoading.Load(source, expected[0], device, dtype));
            var decoderLayers = new DecoderLayer[config.NumHiddenLayers];
            for (var i = 0; i < decoderLayers.Length; i++)
            {
                decoderLayers[i] = DecoderLayer.Create(config, i, rope);
                built.Add(decoderLayers[i]);
                decoderLayers[i].LoadWeights(source, device, dtype);
            }
            var norm = DecoderLayer.NewNorm(config);
            built.Add(norm);
            norm.SetWeight(WeightLoading.Load(source, expected.Single(t => t.Name == "model.norm.weight"), device, dtype));
            Linear? head = null;
            if (!config.TieWordEmbeddings)
            {
                head = nn.Linear(WeightLoading.Load(source, expected.Single(t => t.Name == "lm_head.weight"), device, dtype));
                built.Add(head);
            }
            return new CausalLM(config, new DecoderStack(embed, decoderLayers, norm), head, rope, device, dtype);
        }
        catch
        {
            foreach (var d in built) d.Dispose();
            throw;
        }
    }

    /// <summary>Token ids <c>[batch, tokens]</c> (int64, any device) → hidden states entering layer 0, in the model dtype.</summary>
    public Tensor Embed(Tensor inputIds) => model.embed_tokens.call(inputIds.to(Device));

    /// <summary>Final norm, lm_head (model dtype) and Cohere's logit scale → float32 logits <c>[batch, tokens, vocab]</c>.</summary>
    public Tensor Head(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var normed = model.norm.call(hidden);
        var logits = lm_head is null ? nn.functional.linear(normed, model.embed_tokens.Weight) : lm_head.call(normed);
        if (config.LogitScale != 1) logits = logits * config.LogitScale;   // HF scales in the model dtype, then upcasts
        return logits.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Float32 logits for token ids, under no_grad; only the result outlives the call.</summary>
    public Tensor Logits(Tensor inputIds)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return call(inputIds).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="ILanguageModel.LogitSlices"/> with the decoder run once and the head (final norm, lm_head, logit scale)
    /// per slice of positions: peak memory is the hidden states plus one slice of logits, not every position's logits.
    /// </summary>
    public IEnumerable<Tensor> LogitSlices(Tensor inputIds, int positions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(positions, 1);
        Tensor hidden;
        using (no_grad())
        using (var scope = NewDisposeScope())
            hidden = Trunk(inputIds).DetachFromDisposeScope();
        try
        {
            for (long start = 0; start < hidden.shape[1]; start += positions)
            {
                using var noGrad = no_grad();
                yield return Head(hidden.narrow(1, start, Math.Min(positions, hidden.shape[1] - start)));
            }
        }
        finally
        {
            hidden.Dispose();
        }
    }

    /// <summary>
    /// <see cref="ILanguageModel.LogitsSharingPrefix"/> with the prefix run once: its keys and values at every layer are
    /// kept, and every suffix row attends to them (positions continue after the prefix). Equal to the joined rows'
    /// logits up to float rounding (the matrix products have other shapes); the head runs only where logits are asked.
    /// </summary>
    public (Tensor Shared, Tensor Rows) LogitsSharingPrefix(long[] prefix, Tensor suffixes, long sharedFrom)
    {
        PrefixArguments.Check(prefix, suffixes, sharedFrom);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var hidden = Embed(tensor(prefix).unsqueeze(0));
        var past = new SelfAttention.KeyValues[layers.Count];
        for (var i = 0; i < layers.Count; i++) hidden = layers[i].Forward(hidden, null, out past[i]);
        var shared = Head(hidden.narrow(1, sharedFrom, prefix.Length - sharedFrom))[0];
        var rows = Embed(suffixes);
        for (var i = 0; i < layers.Count; i++) rows = layers[i].Forward(rows, past[i], out _);
        return (shared.MoveToOuterDisposeScope(), Head(rows).MoveToOuterDisposeScope());
    }

    public override Tensor forward(Tensor inputIds)
    {
        var hidden = Trunk(inputIds);
        var logits = Head(hidden);
        hidden.Dispose();
        return logits;
    }

    /// <summary>Embedding and every decoder layer: the hidden states the head reads, <c>[batch, tokens, hidden]</c>.</summary>
    Tensor Trunk(Tensor inputIds)
    {
        if (inputIds.dim() != 2)
            throw new ArgumentException($"token ids must be [batch, tokens], got [{string.Join(", ", inputIds.shape)}]", nameof(inputIds));
        var hidden = Embed(inputIds);
        foreach (var layer in layers)
        {
            var next = layer.call(hidden);
            hidden.Dispose();
            hidden = next;
        }
        return hidden;
    }

    /// <summary>
    /// A complete HF-named state dict for <paramref name="config"/>, deterministic for <paramref name="seed"/>
    /// (one CPU generator, tensors drawn in <see cref="ModelConfig.ExpectedTensors"/> order, in float32,
    /// then cast): projections, biases and embeddings ~ N(0, 0.02²) as HF's initializer_range, norm weights 1.
    /// Biases are random rather than HF's zeros so tests notice a bias that is loaded but not applied.
    /// The caller owns the tensors (or its dispose scope does).
    /// </summary>
    public static IReadOnlyDictionary<string, Tensor> RandomWeights(ModelConfig config, long seed, ScalarType dtype = ScalarType.Float32)
    {
        config.Validated();
        using var noGrad = no_grad();
        using var generator = new Generator(unchecked((ulong)seed));
        var weights = new Dictionary<string, Tensor>();
        foreach (var spec in config.ExpectedTensors())
        {
            using var scope = NewDisposeScope();
            var value = spec.Name.EndsWith("norm.weight", StringComparison.Ordinal)
                ? ones(spec.Shape, ScalarType.Float32)
                : randn(spec.Shape, ScalarType.Float32, generator: generator).mul_(0.02);
            weights[spec.Name] = value.to(dtype).MoveToOuterDisposeScope();
        }
        return weights;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) rope.Dispose();
    }

    /// <summary>HF's <c>model</c> submodule: embed_tokens, layers.{i}, norm.</summary>
    sealed class DecoderStack : nn.Module
    {
        // Field names are TorchSharp component names, hence HF's snake_case.
        public readonly TokenEmbedding embed_tokens;
        public readonly ModuleList<DecoderLayer> layers;
        public readonly ScaleNorm norm;

        public DecoderStack(TokenEmbedding embed, DecoderLayer[] decoderLayers, ScaleNorm finalNorm) : base(nameof(DecoderStack))
        {
            embed_tokens = embed;
            layers = new ModuleList<DecoderLayer>(decoderLayers);
            norm = finalNorm;
            RegisterComponents();
        }

        public List<DecoderLayer> Layers => [.. layers];
    }
}
