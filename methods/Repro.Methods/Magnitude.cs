using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>
/// Magnitude pruning, the calibration-free baseline (METHODS.md §3; wanda <c>prune_magnitude</c>): score <c>|W_ij|</c>,
/// compared within the whole matrix; or the N smallest of every aligned group of M inputs of each row.
/// </summary>
/// <remarks>
/// <b>Deliberate deviation from the reference</b> (METHODS.md §3): the reference takes
/// <c>thr = sort(|W|.flatten())[int(numel·s)]</c> and prunes <c>|W| ≤ thr</c>, i.e. one weight more than
/// <c>floor(numel·s)</c>, plus every further weight tied with <c>thr</c>. Repro prunes exactly <c>floor(numel·s)</c>
/// (computed in decimal), the smallest first, ties to the lower flat (row-major) index, so that the achieved
/// sparsity is what was asked for. The golden test (MagnitudeGoldenTests) checks that the reference's mask is
/// Repro's plus exactly the entries with <c>|w| = thr</c>. N:M ties: lower index first (the reference's
/// <c>topk</c> leaves them unspecified). Sparsity 0 leaves the weight bit-identical.
/// </remarks>
public sealed class Magnitude : ICompressionMethod
{
    /// <summary>Unstructured: the smallest <c>floor(numel·s)</c> magnitudes of each whole matrix.</summary>
    public Magnitude(Sparsity sparsity) => Sparsity = sparsity;

    /// <summary>N:M: the N smallest magnitudes of each aligned group of M inputs of each row.</summary>
    public Magnitude(NmPattern pattern) => Pattern = pattern ?? throw new ArgumentNullException(nameof(pattern));

    /// <summary>Unstructured sparsity (unused when <see cref="Pattern"/> is set).</summary>
    public Sparsity Sparsity { get; }

    /// <summary>N:M pattern, or null for unstructured.</summary>
    public NmPattern? Pattern { get; }

    public string Name => "magnitude";

    public bool NeedsCalibration => false;
    public bool MasksOnly => true;

    public JsonObject HyperParameters => new()
    {
        ["sparsity"] = Pattern is { } p ? (decimal)p.N / p.M : Sparsity.Fraction,
        ["structure"] = Pattern?.ToString() ?? "unstructured",
        ["group"] = Pattern is null ? ScoreMask.Name(ComparisonGroup.PerMatrix) : "nm",
        ["ties"] = "lower index first",
    };

    public ISublayerCompressor Begin(string name, Linear sublayer) => new Compressor(this, name, sublayer);

    /// <summary>Unstructured mask (true = pruned): exactly <c>floor(numel·s)</c> smallest |w| of the matrix, ties to the lower flat index.</summary>
    public static Tensor Mask(Tensor weight, Sparsity sparsity)
    {
        ScoreMask.RequireMatrix(weight, "weight");
        using var scope = NewDisposeScope();
        return ScoreMask.LowestPerMatrix(Magnitudes(weight), sparsity).MoveToOuterDisposeScope();
    }

    /// <summary>N:M mask (true = pruned): the N smallest |w| of each aligned group of M inputs of each row.</summary>
    public static Tensor Mask(Tensor weight, NmPattern pattern)
    {
        ScoreMask.RequireMatrix(weight, "weight");
        using var scope = NewDisposeScope();
        return ScoreMask.LowestPerNmGroup(Magnitudes(weight), pattern).MoveToOuterDisposeScope();
    }

    /// <summary>|W| in float32 (exact for fp16/bf16 weights, so the order is the weight's own); float64 stays float64.</summary>
    static Tensor Magnitudes(Tensor weight) =>
        weight.to(weight.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32).abs();

    sealed class Compressor(Magnitude method, string name, Linear sublayer) : ISublayerCompressor
    {
        bool applied;

        /// <summary>Magnitude ignores activations; the pipeline may still call this, and it costs nothing.</summary>
        public void Observe(Tensor input)
        {
            if (applied) throw new InvalidOperationException($"{name}: Observe after Apply; a sublayer compressor is used for one calibration pass only");
        }

        public SublayerResult Apply()
        {
            if (applied) throw new InvalidOperationException($"{name}: Apply called twice");
            applied = true;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var weight = sublayer.weight ?? throw new InvalidOperationException($"{name}: the sublayer has no weight");
            ScoreMask.RequireFiniteWeight(name, weight);
            var mask = method.Pattern is { } pattern ? Mask(weight, pattern) : Mask(weight, method.Sparsity);
            return ScoreMask.Prune(name, weight, mask, []);
        }

        public void Dispose() { }
    }
}
