using Repro.Core;
using Repro.Core.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Methods.Structured;

/// <summary>Importance of one layer's structures: one score per attention unit and per MLP channel.</summary>
public sealed record LayerImportance(int Layer, double[] Units, double[] Channels);

/// <summary>The calibration-loss gradient (and, for the second-order variants, the mean squared per-sample gradient) of one weight.</summary>
public sealed class WeightGradient(Tensor gradient, Tensor? squared) : IDisposable
{
    public Tensor Gradient { get; } = gradient;
    /// <summary><c>A = (1/N) Σ_s G_s²</c> from per-sample passes; null for the first-order variants.</summary>
    public Tensor? Squared { get; } = squared;

    public void Dispose()
    {
        Gradient.Dispose();
        Squared?.Dispose();
    }
}

/// <summary>
/// LLM-Pruner's first-order Taylor importance through the whole model (METHODS §8): the token-mean NLL of the
/// calibration batch (labels = inputs), one backward pass accumulated over micro-batches, then per coupled structure
/// the member vectors of <c>|W⊙G|</c> (or the chosen variant) reduced to one score per channel and summed per head.
/// </summary>
/// <remarks>
/// Only the seven projection weights of the layers being pruned get gradients; every other parameter stays frozen.
/// Micro-batches of equal-length windows each add <c>Σ NLL / (all tokens)</c>, so the accumulated gradient is the one
/// full batch would give, and memory holds one micro-batch's activations. The second-order variants need per-sample
/// gradients: they run one sample per pass and accumulate <c>G</c> and <c>G²</c>.
/// </remarks>
public static class TaylorImportance
{
    /// <summary>The seven projections of a layer in the order the importance reads them.</summary>
    static IEnumerable<Linear> Projections(DecoderLayer layer) => layer.Linears().Select(l => l.Module);

    /// <summary>
    /// Gradients of the token-mean NLL of rows <paramref name="rows"/> of <paramref name="ids"/> for the projection weights
    /// of <paramref name="layers"/>. The model's parameters are frozen again afterwards.
    /// </summary>
    public static Dictionary<Linear, WeightGradient> Gradients(CausalLM model, long[,] ids, IReadOnlyList<int> rows, IReadOnlyList<int> layers,
                                                               TaylorVariant variant, int microBatch, Action<int, int>? progress = null)
    {
        if (rows.Count == 0) throw new ArgumentException("no calibration rows to take gradients on");
        if (microBatch < 1) throw new InputException($"micro-batch must be at least 1, got {microBatch}");
        var seqlen = ids.GetLength(1);
        if (seqlen < 2) throw new InputException($"calibration windows of {seqlen} token have no next token to predict; use --seqlen 2 or more");
        var weights = layers.SelectMany(l => Projections(model.Layers[l])).ToList();
        var secondOrder = variant is TaylorVariant.ParamSecond or TaylorVariant.ParamMix;
        var size = secondOrder ? 1 : microBatch;
        // Float32 sums (4 bytes a weight, the weights' own size in float32): half-precision gradients would round each addition.
        var sums = weights.ToDictionary(w => w, w => (G: zeros_like(w.weight!, dtype: ScalarType.Float32).DetachFromDisposeScope(),
                                                      A: secondOrder ? zeros_like(w.weight!, dtype: ScalarType.Float32).DetachFromDisposeScope() : null));
        try
        {
            foreach (var w in weights) w.weight!.requires_grad = true;
            var tokens = (double)rows.Count * (seqlen - 1);
            for (var start = 0; start < rows.Count; start += size)
            {
                using var scope = NewDisposeScope();
                var batch = rows.Skip(start).Take(size).ToList();
                foreach (var w in weights) w.weight!.grad = null;
                var input = Batch(ids, batch).to(model.Device);
                var logits = model.call(input);
                var predicted = logits[.., ..^1, ..].reshape(-1, logits.shape[2]);
                var targets = input[.., 1..].reshape(-1);
                // Second order: each sample's own token-mean loss (its G_s); first order: this micro-batch's share of the full-batch mean.
                var divisor = secondOrder ? seqlen - 1 : tokens;
                var loss = nn.functional.cross_entropy(predicted, targets, reduction: nn.Reduction.Sum) / divisor;
                loss.backward();
                using (no_grad())
                    foreach (var w in weights)
                    {
                        var g = w.weight!.grad!.to(ScalarType.Float32);
                        var (sumG, sumA) = sums[w];
                        if (secondOrder)
                        {
                            sumG.add_(g, alpha: 1.0 / rows.Count);
                            sumA!.add_(g.square(), alpha: 1.0 / rows.Count);
                        }
                        else sumG.add_(g);
                    }
                progress?.Invoke(Math.Min(start + size, rows.Count), rows.Count);
            }
            return sums.ToDictionary(p => p.Key, p => new WeightGradient(p.Value.G, p.Value.A));
        }
        catch
        {
            foreach (var (g, a) in sums.Values) { g.Dispose(); a?.Dispose(); }
            throw;
        }
        finally
        {
            foreach (var w in weights)
            {
                w.weight!.grad = null;
                w.weight!.requires_grad = false;
            }
        }
    }

    static Tensor Batch(long[,] ids, IReadOnlyList<int> rows)
    {
        var seqlen = ids.GetLength(1);
        var flat = new long[rows.Count * seqlen];
        for (var i = 0; i < rows.Count; i++)
            for (var j = 0; j < seqlen; j++) flat[i * seqlen + j] = ids[rows[i], j];
        return tensor(flat, [rows.Count, seqlen]);
    }

    /// <summary>
    /// Scores of layer <paramref name="layer"/>'s structures from its projections' gradients. A non-finite score (NaN
    /// weights or a diverging loss) is an error naming the layer.
    /// </summary>
    public static LayerImportance Score(DecoderLayer layer, IReadOnlyDictionary<Linear, WeightGradient> gradients, TaylorVariant variant, GroupReduction reduction)
    {
        using var scope = NewDisposeScope();
        var attn = layer.SelfAttention;
        var mlp = layer.Mlp;
        var s = LayerStructures.Of(layer.Config, layer.Index);
        Tensor Sal(Linear l)
        {
            var w = l.weight!.detach().to(ScalarType.Float64);
            var g = gradients[l];
            var first = w * g.Gradient.to(ScalarType.Float64);
            if (variant is TaylorVariant.ParamFirst or TaylorVariant.Vectorize) return first;
            var second = w * g.Squared!.to(ScalarType.Float64) * w;
            return variant == TaylorVariant.ParamSecond ? second : first - 0.5 * second;
        }
        Tensor Rows(Linear l) => variant == TaylorVariant.Vectorize ? Sal(l).sum([1L]).abs() : Sal(l).abs().sum([1L]);
        Tensor Cols(Linear l) => variant == TaylorVariant.Vectorize ? Sal(l).sum([0L]).abs() : Sal(l).abs().sum([0L]);
        // Query-side vectors (heads·d) onto the root's channels (units·d): query head k·n+r, dim i → unit k, dim i.
        Tensor OntoUnits(Tensor v) => v.view(s.Units, s.QueriesPerUnit, s.HeadDim).sum([1L]).reshape(-1);

        Tensor k = Rows(attn.KProj), v = Rows(attn.VProj), q = OntoUnits(Rows(attn.QProj)), o = OntoUnits(Cols(attn.OProj));
        // The root first: k_proj under GQA (llama3.py), q_proj without (hf_prune.py).
        var members = s.QueriesPerUnit > 1 ? new[] { k, q, v, o } : [q, k, v, o];
        var perChannel = Reduce(stack(members), reduction);
        var units = perChannel.view(s.Units, s.HeadDim).sum([1L]);
        var channels = Reduce(stack([Rows(mlp.GateProj), Rows(mlp.UpProj), Cols(mlp.DownProj)]), reduction);
        var result = new LayerImportance(layer.Index, units.data<double>().ToArray(), channels.data<double>().ToArray());
        if (result.Units.Concat(result.Channels).FirstOrDefault(x => !double.IsFinite(x), 0) is var bad && !double.IsFinite(bad))
            throw new InputException($"layer {layer.Index}: importance {bad} is not finite; the model's weights or its calibration loss are not finite");
        return result;
    }

    static Tensor Reduce(Tensor stacked, GroupReduction reduction) => reduction switch
    {
        GroupReduction.Sum => stacked.sum([0L]),
        GroupReduction.Mean => stacked.mean([0L]),
        GroupReduction.Max => stacked.max(0L).values,
        GroupReduction.Prod => stacked.prod(0L),
        _ => stacked[0],
    };
}
