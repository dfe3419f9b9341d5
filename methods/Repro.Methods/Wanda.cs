using System.Text.Json.Nodes;
using Repro.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>
/// Wanda (Sun et al. 2023; METHODS.md §4): score <c>S_ij = |W_ij| · ‖X_j‖₂</c>, prune the lowest scores of each
/// output row (or of the whole matrix, or the N lowest of every aligned group of M inputs of a row).
/// The mask comes from the dense weight and the calibration inputs alone; kept weights never change.
/// </summary>
/// <remarks>
/// Choices where the sources are silent or loose, all fixed here:
/// <list type="bullet">
/// <item>Prune count: exactly <c>floor(c·s)</c> per row, computed in decimal. The reference computes
/// <c>int(c * s)</c> in double, which is one less where the double product falls just below an integer
/// (0.29 · 100 = 28.999… → 28 there, 29 here).</item>
/// <item>Ties: lower column first (the reference's stable sort; the golden files agree exactly). N:M ties: lower
/// index first, where the reference's <c>topk</c> leaves them unspecified.</item>
/// <item>N:M needs <c>in_features mod M = 0</c> (the reference prunes a ragged last group too).</item>
/// <item>Scores in float32 (a float64 weight or norm vector keeps float64): the reference multiplies an fp16
/// weight by its float32 scaler, which promotes to float32 the same way.</item>
/// <item>A dead input channel (all inputs 0) has norm 0 and score 0: its weights are pruned first, no NaN.
/// A NaN/Inf weight or statistic is an error naming the sublayer (the reference would rank NaN last).</item>
/// <item>Sparsity 0 prunes nothing and leaves the weight bit-identical (the reference skips pruning then).</item>
/// <item><c>use_variant</c>: see <see cref="MaskVariant"/>.</item>
/// </list>
/// </remarks>
public sealed class Wanda : ICompressionMethod
{
    /// <summary>Unstructured Wanda at <paramref name="sparsity"/>; <paramref name="useVariant"/> is the reference's <c>--use_variant</c> (per row only).</summary>
    public Wanda(Sparsity sparsity, ComparisonGroup group = ComparisonGroup.PerRow, bool useVariant = false)
    {
        if (!Enum.IsDefined(group)) throw new ArgumentOutOfRangeException(nameof(group), group, "unknown comparison group");
        if (useVariant && group != ComparisonGroup.PerRow)
            throw new ArgumentException(
                "Wanda's use_variant picks a threshold per output row; it has no per-matrix form. Use the per-row group with the variant, or the per-matrix group without it",
                nameof(useVariant));
        (Sparsity, Group, UseVariant) = (sparsity, group, useVariant);
    }

    /// <summary>Semi-structured N:M Wanda: the N lowest scores of every aligned group of M inputs of every row.</summary>
    public Wanda(NmPattern pattern)
    {
        Pattern = pattern ?? throw new ArgumentNullException(nameof(pattern));
        Group = ComparisonGroup.PerRow;
    }

    /// <summary>Unstructured sparsity (unused when <see cref="Pattern"/> is set).</summary>
    public Sparsity Sparsity { get; }

    /// <summary>N:M pattern, or null for unstructured.</summary>
    public NmPattern? Pattern { get; }

    public ComparisonGroup Group { get; }

    public bool UseVariant { get; }

    public string Name => "wanda";

    public bool NeedsCalibration => true;
    public bool MasksOnly => true;

    public JsonObject HyperParameters => new()
    {
        ["sparsity"] = Pattern is { } p ? (decimal)p.N / p.M : Sparsity.Fraction,
        ["structure"] = Pattern?.ToString() ?? "unstructured",
        ["group"] = Pattern is null ? ScoreMask.Name(Group) : "nm",
        ["useVariant"] = UseVariant,
        ["statistics"] = "float32",
        ["ties"] = "lower index first",
    };

    public ISublayerCompressor Begin(string name, Linear sublayer) => new Compressor(this, name, sublayer);

    /// <summary><c>|W| · norms</c> broadcast over rows, in float32 (float64 when either input is float64).</summary>
    public static Tensor Scores(Tensor weight, Tensor inputNorms)
    {
        var (_, columns) = ScoreMask.RequireMatrix(weight, "weight");
        if (inputNorms.dim() != 1 || inputNorms.shape[0] != columns)
            throw new ArgumentException(
                $"input norms must be a vector of in_features = {columns} entries, got [{string.Join(", ", inputNorms.shape)}]", nameof(inputNorms));
        var dtype = weight.dtype == ScalarType.Float64 || inputNorms.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        using var scope = NewDisposeScope();
        return (weight.to(dtype).abs() * inputNorms.to(dtype, weight.device).unsqueeze(0)).MoveToOuterDisposeScope();
    }

    /// <summary>Unstructured mask (true = pruned): the lowest <c>floor(n·s)</c> scores of each group, ties to the lower index.</summary>
    public static Tensor Mask(Tensor weight, Tensor inputNorms, Sparsity sparsity, ComparisonGroup group = ComparisonGroup.PerRow)
    {
        using var scope = NewDisposeScope();
        return ScoreMask.Lowest(Scores(weight, inputNorms), sparsity, group).MoveToOuterDisposeScope();
    }

    /// <summary>N:M mask (true = pruned): the N lowest scores of each aligned group of M inputs of each row.</summary>
    public static Tensor Mask(Tensor weight, Tensor inputNorms, NmPattern pattern)
    {
        using var scope = NewDisposeScope();
        return ScoreMask.LowestPerNmGroup(Scores(weight, inputNorms), pattern).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The reference's <c>--use_variant</c> (wanda <c>prune_wanda</c>, <c>return_given_alpha</c>; METHODS.md §4): per row, with
    /// the row's scores sorted ascending (stable), <c>t</c> = the largest sorted score whose cumulative sum is ≤ α·(row sum),
    /// and every score ≤ t of the row is pruned (ties included). α is bisected, starting at 0.4 in [0, 0.8], until the
    /// sparsity achieved over the <b>whole matrix</b> is within 0.001 of s or the bracket is narrower than 0.001.
    /// So per-row counts vary and the total is only approximately floor(numel·s).
    /// </summary>
    /// <remarks>
    /// Reproduced in the reference's arithmetic: cumulative sums, the α·sum product, the achieved sparsity and
    /// both comparisons with s in float32 (as torch does for a float32 tensor against a Python float), the bisection
    /// of α in double. One deviation: when no sorted score of a row is ≤ α·sum (possible for small α), the
    /// reference gathers at index −1 (an error on CPU, an out-of-bounds read on CUDA); Repro prunes nothing in that row.
    /// Sparsity 0 prunes nothing (the reference's main.py skips pruning at 0).
    /// </remarks>
    public static VariantMask MaskVariant(Tensor weight, Tensor inputNorms, Sparsity sparsity)
    {
        using var scope = NewDisposeScope();
        var metric = Scores(weight, inputNorms);
        ScoreMask.RequireFinite(metric, "scores");
        if (sparsity.Fraction == 0m)
            return new VariantMask(zeros_like(metric, ScalarType.Bool).MoveToOuterDisposeScope(), double.NaN, 0f, 0);

        var (sorted, _) = metric.sort(1, stable: true);
        var cumulative = sorted.cumsum(1);
        var rowSum = metric.sum(1);
        var target = (double)sparsity.Fraction;
        var (targetF, tolerance) = ((float)target, (float)0.001);

        (Tensor Mask, float Achieved) Given(double alpha)
        {
            using var inner = NewDisposeScope();
            var threshold = rowSum * alpha;
            var below = cumulative <= threshold.reshape(-1, 1);
            var count = below.sum(1, keepdim: true);
            // count = 0: nothing of the row fits under α·sum; a threshold below the row's minimum keeps the row dense.
            var index = (count - 1).clamp_min(0);
            var cut = sorted.gather(1, index).masked_fill(count == 0, float.NegativeInfinity);
            var mask = metric <= cut;
            var achieved = (float)TensorCounts.Count(mask) / mask.numel();
            return (mask.MoveToOuterDisposeScope(), achieved);
        }

        var alpha = 0.4;
        var (low, high) = (0.0, 0.8);
        var (current, achieved) = Given(alpha);
        var steps = 0;
        while (Math.Abs(achieved - targetF) > tolerance && high - low >= 0.001)
        {
            double next;
            if (achieved > targetF) { next = (alpha + low) / 2.0; high = alpha; }
            else { next = (alpha + high) / 2.0; low = alpha; }
            alpha = next;
            current.Dispose();
            (current, achieved) = Given(alpha);
            steps++;
        }
        return new VariantMask(current.MoveToOuterDisposeScope(), alpha, achieved, steps);
    }

    sealed class Compressor(Wanda method, string name, Linear sublayer) : ISublayerCompressor
    {
        readonly InputSquareMean inputs = new(sublayer.in_features, sublayer.weight?.device);
        bool applied;

        public void Observe(Tensor input)
        {
            if (applied) throw new InvalidOperationException($"{name}: Observe after Apply; a sublayer compressor is used for one calibration pass only");
            if (input.shape.Length == 0 || input.shape[^1] != sublayer.in_features)
                throw new ArgumentException(
                    $"{name}: the hooked input is [{string.Join(", ", input.shape)}] but the sublayer has in_features = {sublayer.in_features}; " +
                    "the hook is attached to the wrong sublayer", nameof(input));
            inputs.Add(input);
        }

        public SublayerResult Apply()
        {
            if (applied) throw new InvalidOperationException($"{name}: Apply called twice");
            applied = true;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var weight = sublayer.weight ?? throw new InvalidOperationException($"{name}: the sublayer has no weight");
            ScoreMask.RequireFiniteWeight(name, weight);
            if (inputs.Sequences == 0)
                throw new InvalidOperationException(
                    $"{name}: Wanda saw no calibration input for this sublayer; the pipeline must run the calibration samples " +
                    "through the layer with call() (hooks do not fire on forward()) before Apply");
            var norms = inputs.Norms();
            if (ScoreMask.NonFinite(norms) is { } bad)
                throw new InvalidDataException(
                    $"{name}: the calibration inputs give {bad.Count} non-finite input norm(s), the first at feature {bad.First}; " +
                    "the activations overflowed or hold NaN: check the preceding layers or compute in a wider dtype");

            var diagnostics = new Dictionary<string, double>
            {
                ["sequences"] = inputs.Sequences,
                ["tokens"] = inputs.Tokens,
                ["deadInputs"] = norms.eq(0).sum().item<long>(),
            };
            Tensor mask;
            if (method.Pattern is { } pattern)
                mask = Mask(weight, norms, pattern);
            else if (method.UseVariant)
            {
                var variant = MaskVariant(weight, norms, method.Sparsity);
                mask = variant.Mask;
                diagnostics["variantAlpha"] = variant.Alpha;
                diagnostics["variantSteps"] = variant.Steps;
                diagnostics["variantSparsity"] = variant.AchievedSparsity;
            }
            else
                mask = Mask(weight, norms, method.Sparsity, method.Group);
            return ScoreMask.Prune(name, weight, mask, diagnostics);
        }

        public void Dispose() => inputs.Dispose();
    }
}

/// <summary>The result of <see cref="Wanda.MaskVariant"/>: the mask (caller disposes), the α found, the whole-matrix sparsity it achieved (float32, as the reference), and bisection steps.</summary>
public sealed record VariantMask(Tensor Mask, double Alpha, float AchievedSparsity, int Steps);
