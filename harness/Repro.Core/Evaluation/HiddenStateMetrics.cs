using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Evaluation;

/// <summary>
/// Pruning error and SNR of one decoder layer's outputs (Kurz et al. App. D.1 as METHODS §7 / EVALUATION §3
/// reconstruct them), over the same evaluation tokens for the dense and the compressed model.
/// </summary>
/// <param name="Sequences">Evaluation sequences (windows).</param>
/// <param name="Tokens">Token positions that entered the sums (special tokens excluded).</param>
/// <param name="PruningError">
/// <c>PE_l</c>: Σ over tokens and features of <c>(H̃ − Ĥ̃)²</c> per sequence, averaged over sequences, where each model's
/// states are divided by their own average token-vector norm over all evaluated tokens.
/// </param>
/// <param name="SnrDb"><c>10·log10(Σ H̃² / Σ (H̃ − Ĥ̃)²)</c>; +∞ when the states are identical (PE 0).</param>
/// <param name="PruningErrorPerToken">Σ (H̃ − Ĥ̃)² ÷ tokens: the same error independent of window length.</param>
/// <param name="DenseMeanNorm">Average token-vector norm of the dense outputs (the normaliser of H).</param>
/// <param name="PrunedMeanNorm">Average token-vector norm of the compressed outputs (the normaliser of Ĥ).</param>
public sealed record LayerStateMetrics(int Layer, int Sequences, long Tokens, double PruningError, double SnrDb,
                                       double PruningErrorPerToken, double DenseMeanNorm, double PrunedMeanNorm)
{
    /// <summary>PE 0: the layer's normalised outputs are identical, SNR is infinite and left out of <see cref="HiddenStateMetricsResult.MeanSnrDb"/>.</summary>
    public bool Identical => PruningError == 0;
}

/// <summary>Per-layer metrics of one evaluation set and their model-level means.</summary>
public sealed record HiddenStateMetricsResult(IReadOnlyList<LayerStateMetrics> Layers)
{
    /// <summary>Mean of the finite per-layer SNRs (layers with PE 0 excluded); NaN when every layer is identical.</summary>
    public double MeanSnrDb => Layers.Where(l => !l.Identical).Select(l => l.SnrDb).DefaultIfEmpty(double.NaN).Average();

    /// <summary>Mean of <c>PE_l</c> over all layers (the paper's aggregation is unstated; Repro takes the mean, EVALUATION §3).</summary>
    public double MeanPruningError => Layers.Count == 0 ? double.NaN : Layers.Average(l => l.PruningError);

    public double MeanPruningErrorPerToken => Layers.Count == 0 ? double.NaN : Layers.Average(l => l.PruningErrorPerToken);

    /// <summary>Layers whose SNR is infinite and therefore not in <see cref="MeanSnrDb"/>.</summary>
    public int IdenticalLayers => Layers.Count(l => l.Identical);
}

/// <summary>The per-layer metric itself, a pure function of two stacks of hidden states.</summary>
public static class HiddenStateMetrics
{
    /// <summary>
    /// Metrics of one layer from its dense outputs <paramref name="dense"/> and compressed outputs <paramref name="pruned"/>,
    /// both <c>[sequences, tokens, hidden]</c> for the same evaluation tokens. <paramref name="keep"/> (<c>[sequences, tokens]</c>
    /// bool, optional) marks the positions that count; excluded positions (BOS, padding) enter neither the norms nor the sums.
    /// </summary>
    /// <remarks>
    /// Two passes over the sequences, in float64: first both average norms, then the normalised sums, so a nearly
    /// lossless layer gets its small error exactly rather than as the difference of two large sums. Identical inputs
    /// give exactly PE = 0. Works one sequence at a time, so the float64 copies stay one window large.
    /// </remarks>
    public static LayerStateMetrics Compute(Tensor dense, Tensor pruned, Tensor? keep = null, int layer = 0)
    {
        if (dense.dim() != 3 || !dense.shape.SequenceEqual(pruned.shape))
            throw new ArgumentException($"dense and pruned states must both be [sequences, tokens, hidden], got [{string.Join(", ", dense.shape)}] and [{string.Join(", ", pruned.shape)}]");
        if (keep is not null && (keep.dtype != ScalarType.Bool || !keep.shape.SequenceEqual(dense.shape[..2])))
            throw new ArgumentException($"keep must be bool [{dense.shape[0]}, {dense.shape[1]}], got {keep.dtype} [{string.Join(", ", keep.shape)}]");
        var sequences = (int)dense.shape[0];

        double denseNorms = 0, prunedNorms = 0;
        long tokens = 0;
        for (var s = 0; s < sequences; s++)
        {
            using var scope = NewDisposeScope();
            var (h, p) = Sequence(dense, pruned, keep, s);
            denseNorms += h.norm(1).sum().item<double>();
            prunedNorms += p.norm(1).sum().item<double>();
            tokens += h.shape[0];
        }
        if (tokens == 0) throw new InputException("no token positions to compare: every position is excluded");
        var (a, b) = (denseNorms / tokens, prunedNorms / tokens);

        double signal = 0, error = 0;
        for (var s = 0; s < sequences; s++)
        {
            using var scope = NewDisposeScope();
            var (h, p) = Sequence(dense, pruned, keep, s);
            var hn = a == 0 ? h : h / a;
            var pn = b == 0 ? p : p / b;
            signal += hn.square().sum().item<double>();
            error += (hn - pn).square().sum().item<double>();
        }
        var snr = error == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / error);
        return new LayerStateMetrics(layer, sequences, tokens, error / sequences, snr, error / tokens, a, b);
    }

    /// <summary>Sequence <paramref name="s"/> of both stacks as float64 <c>[kept tokens, hidden]</c>.</summary>
    static (Tensor Dense, Tensor Pruned) Sequence(Tensor dense, Tensor pruned, Tensor? keep, int s)
    {
        var h = dense[s].to(ScalarType.Float64);
        var p = pruned[s].to(ScalarType.Float64, dense.device);
        if (keep is null) return (h, p);
        var index = keep[s].to(h.device).nonzero().squeeze(1);
        return (h.index_select(0, index), p.index_select(0, index));
    }
}
