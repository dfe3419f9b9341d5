using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Evaluation;

/// <summary>Where a comparison is, for progress bars: layer <see cref="Layer"/> (0-based) of <see cref="Layers"/>.</summary>
public readonly record struct HiddenStateProgress(int Layer, int Layers, int SamplesDone, int SamplesTotal, TimeSpan Elapsed);

/// <summary>
/// Runs a dense model and its compressed version side by side, layer by layer, from two memory-mapped checkpoints,
/// and measures every decoder layer's output with <see cref="HiddenStateMetrics"/>. Each model is fed its own
/// previous outputs. Memory: one decoder layer of each model and one activation buffer <c>[windows, seqlen, hidden]</c>
/// per model, updated in place; never two whole models.
/// </summary>
public static class HiddenStateMetricsEvaluator
{
    const string EmbeddingName = "model.embed_tokens.weight";

    /// <summary>
    /// Compares the model folders <paramref name="denseDir"/> and <paramref name="prunedDir"/> (same architecture) on token
    /// windows <paramref name="ids"/> <c>[windows, seqlen]</c>; positions holding <paramref name="excludedTokenIds"/>
    /// (BOS, EOS, padding) are run but not measured (METHODS §7).
    /// </summary>
    public static HiddenStateMetricsResult Compare(string denseDir, string prunedDir, long[,] ids, IReadOnlyCollection<long> excludedTokenIds,
                                                   Device device, ScalarType dtype, IProgress<HiddenStateProgress>? progress = null,
                                                   CancellationToken cancellationToken = default)
    {
        using var dense = HfCheckpoint.Open(denseDir);
        using var pruned = HfCheckpoint.Open(prunedDir);
        var config = ModelConfig.FromJson(dense.ConfigJson, dense.ConfigPath);
        var prunedConfig = ModelConfig.FromJson(pruned.ConfigJson, pruned.ConfigPath);
        if (Architecture(config) != Architecture(prunedConfig))
            throw new CheckpointFormatException(pruned.ConfigPath,
                $"describes {prunedConfig}, but the dense model {denseDir} is {config}; compare a model with a compressed version of itself");
        dense.Require(config.ExpectedTensorNames(), config.ModelType);
        pruned.Require(prunedConfig.ExpectedTensorNames(), prunedConfig.ModelType);
        return Compare(dense, pruned, config, ids, excludedTokenIds, device, dtype, progress, cancellationToken, prunedConfig,
                       (denseDir, prunedDir));
    }

    /// <summary>
    /// A config without what compression may change: the stored dtype, and the head and channel counts that structured
    /// pruning (LLM-Pruner, Lang-Prune) reduces. Hidden size, layers, vocabulary, RoPE and norms must still agree.
    /// </summary>
    static ModelConfig Architecture(ModelConfig c) =>
        c with { TorchDtype = null, PerLayerWidths = null, NumAttentionHeads = 1, NumKeyValueHeads = 1, IntermediateSize = 1 };

    /// <summary>
    /// The same over any two tensor sources with the architecture <paramref name="config"/>; <paramref name="prunedConfig"/>
    /// gives the compressed model's own widths when structured pruning changed them (default: <paramref name="config"/>).
    /// </summary>
    public static HiddenStateMetricsResult Compare(ITensorSource dense, ITensorSource pruned, ModelConfig config, long[,] ids,
                                                   IReadOnlyCollection<long> excludedTokenIds, Device device, ScalarType dtype,
                                                   IProgress<HiddenStateProgress>? progress = null, CancellationToken cancellationToken = default,
                                                   ModelConfig? prunedConfig = null, (string Dense, string Pruned)? names = null)
    {
        prunedConfig ??= config;
        var (denseName, prunedName) = names ?? ("the dense model", "the compressed model");
        var (windows, seqlen) = (ids.GetLength(0), ids.GetLength(1));
        if (windows < 1 || seqlen < 1) throw new ArgumentException($"need at least one window of at least one token, got [{windows}, {seqlen}]");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var excluded = excludedTokenIds.ToHashSet();
        var keepFlags = new bool[ids.Length];
        var k = 0;
        foreach (var id in ids) keepFlags[k++] = !excluded.Contains(id);

        using var noGrad = no_grad();
        using var rope = new RotaryEmbedding(config);
        using var keep = tensor(keepFlags, [windows, seqlen]);
        Tensor? denseStates = null, prunedStates = null;
        var layers = new List<LayerStateMetrics>();
        try
        {
            denseStates = Embed(dense, ids, config, device, dtype);
            prunedStates = Embed(pruned, ids, config, device, dtype);
            RequireFinite(denseStates, denseName, "the embedding", dtype);
            RequireFinite(prunedStates, prunedName, "the embedding", dtype);
            for (var l = 0; l < config.NumHiddenLayers; l++)
            {
                using var layerScope = NewDisposeScope();
                using var denseLayer = DecoderLayer.Create(config, l, rope);
                denseLayer.LoadWeights(dense, device, dtype);
                using var prunedLayer = DecoderLayer.Create(prunedConfig, l, rope);
                prunedLayer.LoadWeights(pruned, device, dtype);
                for (var i = 0; i < windows; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    // In place: a window's output replaces its input, which nothing needs any more.
                    var d = denseStates.narrow(0, i, 1);
                    d.copy_(denseLayer.call(d));
                    var p = prunedStates.narrow(0, i, 1);
                    p.copy_(prunedLayer.call(p));
                    progress?.Report(new HiddenStateProgress(l, config.NumHiddenLayers, i + 1, windows, clock.Elapsed));
                }
                RequireFinite(denseStates, denseName, $"decoder layer {l}", dtype);
                RequireFinite(prunedStates, prunedName, $"decoder layer {l}", dtype);
                layers.Add(HiddenStateMetrics.Compute(denseStates, prunedStates, keep, l));
            }
        }
        finally
        {
            denseStates?.Dispose();
            prunedStates?.Dispose();
        }
        return new HiddenStateMetricsResult(layers);
    }

    /// <summary>
    /// Non-finite hidden states make SNR and pruning error meaningless (NaN compares as "identical" to NaN): they are
    /// an error naming the model and the layer whose output first holds them.
    /// </summary>
    static void RequireFinite(Tensor states, string model, string where, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var bad = logical_not(isfinite(states)).sum().item<long>();
        if (bad == 0) return;
        throw new NonFiniteStatesException(model,
            $"the output of {where} holds {bad:N0} non-finite values (NaN or ±∞) in {dtype}: the model's weights hold NaN or ∞, " +
            "or its activations overflow this dtype (try --dtype float32); hidden-state metrics cannot be computed");
    }

    /// <summary>
    /// Token ids that are run but not measured (METHODS §7): BOS, EOS and padding of the tokenizer and of config.json.
    /// </summary>
    public static IReadOnlyList<long> SpecialTokenIds(ITextTokenizer tokenizer, ModelConfig config) =>
        [.. new[] { tokenizer.BosId, tokenizer.EosId, config.BosTokenId, config.PadTokenId }
            .Concat(config.EosTokenIds.Select(i => (int?)i)).OfType<int>().Select(i => (long)i).Distinct()];

    /// <summary>Hidden states entering layer 0. The table is loaded in its stored dtype and only the used rows converted.</summary>
    static Tensor Embed(ITensorSource source, long[,] ids, ModelConfig config, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var flat = new long[ids.Length];
        var k = 0;
        foreach (var id in ids)
        {
            if (id < 0 || id >= config.VocabSize)
                throw new InputException($"token id {id} is outside the model's vocabulary of {config.VocabSize}; the ids come from another tokenizer");
            flat[k++] = id;
        }
        var table = source.Load(EmbeddingName);
        var rows = table.index_select(0, tensor(flat)).view(ids.GetLength(0), ids.GetLength(1), -1);
        return rows.to(dtype, device).contiguous().DetachFromDisposeScope();
    }

    /// <summary>
    /// Evaluation windows of one language: the text tokenized once with BOS at its start only (the PPL evaluation's
    /// <see cref="BosPolicy.StreamOnly"/> windows, EVALUATION §1), cut into non-overlapping windows of <paramref name="seqlen"/>;
    /// the first <paramref name="nsamples"/> (all when null), or that many drawn with <paramref name="seed"/>.
    /// </summary>
    public static long[,] Windows(LanguageCorpusText text, ITextTokenizer tokenizer, int seqlen, int? nsamples, int? seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seqlen, 1);
        var tokens = tokenizer.Encode(text.Text, addBos: true);
        var available = tokens.Count / seqlen;
        if (available == 0)
            throw new InputException($"{text.Language}: the text has {tokens.Count} tokens, fewer than one window of {seqlen}; use a shorter --seqlen or more text");
        var selected = WindowedPerplexity.SelectWindows(available, nsamples, seed);
        var ids = new long[selected.Length, seqlen];
        for (var w = 0; w < selected.Length; w++)
            for (var t = 0; t < seqlen; t++) ids[w, t] = tokens.Ids[selected[w] * seqlen + t];
        return ids;
    }
}

/// <summary>A model whose hidden states are not finite; the message names the model folder and the layer.</summary>
public sealed class NonFiniteStatesException(string model, string problem) : InputFileException(model, problem);
