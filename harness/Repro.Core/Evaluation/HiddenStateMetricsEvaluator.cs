using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using Repro.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Evaluation;

/// <summary>
/// Where a comparison is, for progress bars: layer <see cref="Layer"/> (0-based) of <see cref="Layers"/>, window set
/// <see cref="Set"/> (a language, 0-based) with <see cref="SamplesDone"/> of its <see cref="SamplesTotal"/> windows run through it.
/// </summary>
public readonly record struct HiddenStateProgress(int Layer, int Layers, int SamplesDone, int SamplesTotal, TimeSpan Elapsed, int Set = 0);

/// <summary>
/// Runs a dense model and its compressed version side by side, layer by layer, from two memory-mapped checkpoints,
/// and measures every decoder layer's output with <see cref="HiddenStateMetrics"/>. Each model is fed its own
/// previous outputs. Several window sets (one per language) go through each layer in turn, so each layer of each model
/// is read and converted once however many languages are measured.
/// Memory: one decoder layer of each model, and one activation buffer <c>[windows, seqlen, hidden]</c> per model and
/// window set, updated in place; never two whole models, and of the embedding table only the rows the windows use.
/// </summary>
/// <remarks>
/// The trade-off of keeping every set's states: at the paper profile (7 languages × 16 windows × 2048 tokens, hidden 4096,
/// bfloat16) they take 2 models × 7 × 16 × 2048 × 4096 × 2 B = 3.5 GiB (7 GiB in float32), against 0.41 GiB for one
/// Llama-3-8B layer of each model. One language at a time would hold 0.5 GiB of states but read and convert both 16 GB
/// checkpoints once per language (7 × 32 GB instead of 32 GB). A caller short of memory passes fewer sets per call: the
/// arithmetic per set is the same either way, so the results are bit-identical.
/// </remarks>
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
                                                   CancellationToken cancellationToken = default) =>
        Compare(denseDir, prunedDir, [ids], excludedTokenIds, device, dtype, progress, cancellationToken)[0];

    /// <summary>
    /// The same for several window sets (one per language, each <c>[windows, seqlen]</c>, sizes free): one result per set,
    /// in order, each exactly what <see cref="Compare(string, string, long[,], IReadOnlyCollection{long}, Device, ScalarType, IProgress{HiddenStateProgress}?, CancellationToken)"/>
    /// gives for that set alone, with every layer of each model loaded once.
    /// </summary>
    public static IReadOnlyList<HiddenStateMetricsResult> Compare(string denseDir, string prunedDir, IReadOnlyList<long[,]> sets,
                                                                  IReadOnlyCollection<long> excludedTokenIds, Device device, ScalarType dtype,
                                                                  IProgress<HiddenStateProgress>? progress = null,
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
        return Compare(dense, pruned, config, sets, excludedTokenIds, device, dtype, progress, cancellationToken, prunedConfig,
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
                                                   ModelConfig? prunedConfig = null, (string Dense, string Pruned)? names = null) =>
        Compare(dense, pruned, config, [ids], excludedTokenIds, device, dtype, progress, cancellationToken, prunedConfig, names)[0];

    /// <summary>Several window sets over two tensor sources: one result per set, every layer of each model loaded once.</summary>
    public static IReadOnlyList<HiddenStateMetricsResult> Compare(ITensorSource dense, ITensorSource pruned, ModelConfig config,
                                                                  IReadOnlyList<long[,]> sets, IReadOnlyCollection<long> excludedTokenIds,
                                                                  Device device, ScalarType dtype, IProgress<HiddenStateProgress>? progress = null,
                                                                  CancellationToken cancellationToken = default, ModelConfig? prunedConfig = null,
                                                                  (string Dense, string Pruned)? names = null)
    {
        prunedConfig ??= config;
        var (denseName, prunedName) = names ?? ("the dense model", "the compressed model");
        if (sets.Count == 0) throw new ArgumentException("need at least one window set");
        foreach (var ids in sets)
        {
            var (w, t) = (ids.GetLength(0), ids.GetLength(1));
            if (w < 1 || t < 1) throw new ArgumentException($"need at least one window of at least one token, got [{w}, {t}]");
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var excluded = excludedTokenIds.ToHashSet();

        using var noGrad = no_grad();
        using var rope = new RotaryEmbedding(config);
        var keep = new Tensor?[sets.Count];
        var denseStates = new Tensor?[sets.Count];
        var prunedStates = new Tensor?[sets.Count];
        var layers = sets.Select(_ => new List<LayerStateMetrics>()).ToList();
        try
        {
            for (var s = 0; s < sets.Count; s++)
            {
                var ids = sets[s];
                var keepFlags = new bool[ids.Length];
                var k = 0;
                foreach (var id in ids) keepFlags[k++] = !excluded.Contains(id);
                keep[s] = tensor(keepFlags, [ids.GetLength(0), ids.GetLength(1)]);
                denseStates[s] = Embed(dense, ids, config, device, dtype);
                prunedStates[s] = Embed(pruned, ids, config, device, dtype);
            }
            for (var s = 0; s < sets.Count; s++)
            {
                RequireFinite(denseStates[s]!, denseName, "the embedding", dtype);
                RequireFinite(prunedStates[s]!, prunedName, "the embedding", dtype);
            }
            for (var l = 0; l < config.NumHiddenLayers; l++)
            {
                NativeHeap.Trim();   // the previous layers and their temporaries are freed: keep resident memory at what is live
                using var layerScope = NewDisposeScope();
                using var denseLayer = DecoderLayer.Create(config, l, rope);
                denseLayer.LoadWeights(dense, device, dtype);
                using var prunedLayer = DecoderLayer.Create(prunedConfig, l, rope);
                prunedLayer.LoadWeights(pruned, device, dtype);
                for (var s = 0; s < sets.Count; s++)
                {
                    var windows = sets[s].GetLength(0);
                    for (var i = 0; i < windows; i++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        using var scope = NewDisposeScope();
                        // In place: a window's output replaces its input, which nothing needs any more.
                        var d = denseStates[s]!.narrow(0, i, 1);
                        d.copy_(denseLayer.call(d));
                        var p = prunedStates[s]!.narrow(0, i, 1);
                        p.copy_(prunedLayer.call(p));
                        progress?.Report(new HiddenStateProgress(l, config.NumHiddenLayers, i + 1, windows, clock.Elapsed, s));
                    }
                    RequireFinite(denseStates[s]!, denseName, $"decoder layer {l}", dtype);
                    RequireFinite(prunedStates[s]!, prunedName, $"decoder layer {l}", dtype);
                    layers[s].Add(HiddenStateMetrics.Compute(denseStates[s]!, prunedStates[s]!, keep[s]!, l));
                }
            }
        }
        finally
        {
            foreach (var t in denseStates.Concat(prunedStates).Concat(keep)) t?.Dispose();
        }
        return [.. layers.Select(l => new HiddenStateMetricsResult(l))];
    }

    /// <summary>
    /// Non-finite hidden states make SNR and pruning error meaningless (NaN compares as "identical" to NaN): they are
    /// an error naming the model and the layer whose output first holds them.
    /// </summary>
    static void RequireFinite(Tensor states, string model, string where, ScalarType dtype)
    {
        if (TensorCounts.AllFinite(states)) return;
        using var scope = NewDisposeScope();
        var bad = logical_not(isfinite(states)).sum().item<long>();
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

    /// <summary>
    /// Hidden states entering layer 0: only the embedding rows the windows use are read (<see cref="EmbeddingRows"/>;
    /// a paper-scale table is 1–2 GB), each converted from its stored dtype as loading the whole table would.
    /// </summary>
    static Tensor Embed(ITensorSource source, long[,] ids, ModelConfig config, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        foreach (var id in ids)
            if (id < 0 || id >= config.VocabSize)
                throw new InputException($"token id {id} is outside the model's vocabulary of {config.VocabSize}; the ids come from another tokenizer");
        return EmbeddingRows.Lookup(source, EmbeddingName, ids, device, dtype).contiguous().DetachFromDisposeScope();
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
