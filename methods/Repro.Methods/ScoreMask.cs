using Repro.Core;
using Repro.Core.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>Which weights compete with each other for the prune budget.</summary>
public enum ComparisonGroup
{
    /// <summary>Each output row on its own: exactly floor(c·s) per row (Wanda's default, METHODS.md §4).</summary>
    PerRow,

    /// <summary>The whole matrix as one group: exactly floor(numel·s) per matrix (magnitude's, METHODS.md §3; Wanda's "per layer" ablation).</summary>
    PerMatrix,
}

/// <summary>
/// The ranking rules shared by magnitude and Wanda: from a score matrix <c>[rows, columns]</c>, a bool mask
/// (true = pruned) of the lowest scores of each comparison group.
/// </summary>
/// <remarks>
/// Ties: always the lower index first (a stable ascending sort; flat row-major index for a whole matrix).
/// The reference's per-row sort is stable too (<c>torch.sort(..., stable=True)</c> in <c>prune_wanda</c>), so
/// its unstructured masks agree with these exactly. Its N:M masks use <c>torch.topk(largest=False)</c>,
/// whose tie order is unspecified; there Repro fixes "lower index first" and agrees whenever the
/// scores of a group are distinct. Results are new tensors on the scores' device, in the caller's scope.
/// </remarks>
public static class ScoreMask
{
    /// <summary>The lowest <c>floor(s·n)</c> scores of each group of <paramref name="group"/>.</summary>
    public static Tensor Lowest(Tensor scores, Sparsity sparsity, ComparisonGroup group) => group switch
    {
        ComparisonGroup.PerRow => LowestPerRow(scores, sparsity),
        ComparisonGroup.PerMatrix => LowestPerMatrix(scores, sparsity),
        _ => throw new ArgumentOutOfRangeException(nameof(group), group, "unknown comparison group"),
    };

    /// <summary>Exactly <c>floor(c·s)</c> pruned in every row: the lowest scores, ties to the lower column.</summary>
    public static Tensor LowestPerRow(Tensor scores, Sparsity sparsity)
    {
        var (rows, columns) = RequireMatrix(scores);
        RequireFinite(scores, "scores");
        using var scope = NewDisposeScope();
        var k = sparsity.PruneCount(columns);
        var mask = k > 0 && rows > 0 ? LowestAlong(scores, k, 1) : zeros(rows, columns, ScalarType.Bool, scores.device);
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>Exactly <c>floor(numel·s)</c> pruned in the whole matrix: the lowest scores, ties to the lower flat (row-major) index.</summary>
    public static Tensor LowestPerMatrix(Tensor scores, Sparsity sparsity)
    {
        var (rows, columns) = RequireMatrix(scores);
        RequireFinite(scores, "scores");
        using var scope = NewDisposeScope();
        var k = sparsity.PruneCount(rows * columns);
        var flat = k > 0 ? LowestAlong(scores.reshape(-1), k, 0) : zeros(rows * columns, ScalarType.Bool, scores.device);
        return flat.reshape(rows, columns).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// N:M: in every row, in every aligned group of M consecutive columns, the N lowest scores (ties to the
    /// lower column). Needs <c>columns mod M = 0</c>: the reference silently leaves a ragged last group
    /// with fewer than M columns and still prunes N of it; Repro refuses instead (METHODS.md §4).
    /// </summary>
    public static Tensor LowestPerNmGroup(Tensor scores, NmPattern pattern)
    {
        var (rows, columns) = RequireMatrix(scores);
        if (columns % pattern.M != 0)
            throw new InputException(
                $"N:M sparsity {pattern} needs in_features to be a multiple of {pattern.M}, but the weight has {columns} columns " +
                $"({columns % pattern.M} left over); use unstructured sparsity for this sublayer or a pattern whose M divides {columns}");
        RequireFinite(scores, "scores");
        using var scope = NewDisposeScope();
        var groups = scores.reshape(rows, columns / pattern.M, pattern.M);
        var lowest = groups.sort(2, stable: true).Indices.narrow(2, 0, pattern.N);
        var mask = zeros_like(groups, ScalarType.Bool);
        mask.scatter_(2, lowest, ones_like(lowest, ScalarType.Bool));
        return mask.reshape(rows, columns).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The first <paramref name="k"/> entries along <paramref name="dim"/> in the order of a stable ascending sort, as a
    /// bool mask, without sorting: every score below the k-th smallest, then, of the scores equal to it, the ones with
    /// the lowest indices until k are taken. A selection (O(n)) instead of a sort (O(n log n)): the same set, exactly.
    /// </summary>
    internal static Tensor LowestAlong(Tensor scores, long k, long dim)
    {
        using var scope = NewDisposeScope();
        var kth = scores.kthvalue(k, dim, keepdim: true).values;
        // Usually exactly k scores per group are at or below the k-th smallest (no tie straddles it), and those are
        // the answer; only groups with ties there need the index order below.
        var atOrBelow = scores <= kth;
        var counts = scores.dim() == 1 ? atOrBelow.count_nonzero() : atOrBelow.sum(dim, keepdim: true, type: ScalarType.Int32);
        if (counts.eq(k).all().item<bool>()) return atOrBelow.MoveToOuterDisposeScope();
        var below = scores < kth;
        var tied = scores == kth;
        var missing = k - below.sum(dim, keepdim: true);
        return below.logical_or_(tied.logical_and_(tied.cumsum(dim) <= missing)).MoveToOuterDisposeScope();
    }

    /// <summary>The group's name in hyper-parameters: "per-row", "per-matrix".</summary>
    public static string Name(ComparisonGroup group) => group switch
    {
        ComparisonGroup.PerRow => "per-row",
        ComparisonGroup.PerMatrix => "per-matrix",
        _ => throw new ArgumentOutOfRangeException(nameof(group), group, "unknown comparison group"),
    };

    internal static (long Rows, long Columns) RequireMatrix(Tensor t, string what = "scores")
    {
        if (t.dim() != 2)
            throw new ArgumentException($"{what} must be a matrix [out_features, in_features], got [{string.Join(", ", t.shape)}]");
        return (t.shape[0], t.shape[1]);
    }

    /// <summary>NaN sorts last and Inf ties with Inf: a non-finite score would silently decide a mask, so it is refused.</summary>
    internal static void RequireFinite(Tensor t, string what)
    {
        var bad = NonFinite(t);
        if (bad is { } b)
            throw new InputException($"{what} hold {b.Count} NaN or infinite value(s), the first at {b.First}; a mask cannot be ranked from them");
    }

    /// <summary>Count and first index (as "[i, j]") of non-finite entries, or null when all are finite.</summary>
    internal static (long Count, string First)? NonFinite(Tensor t)
    {
        if (TensorCounts.AllFinite(t)) return null;
        using var scope = NewDisposeScope();
        var bad = t.isfinite().logical_not();
        var count = bad.sum().item<long>();
        var first = bad.nonzero()[0].cpu().data<long>().ToArray();
        return (count, $"[{string.Join(", ", first)}]");
    }

    /// <summary>Zeroes the masked entries in place (only those: kept weights stay bit-identical) and builds the result.</summary>
    internal static SublayerResult Prune(string name, Tensor weight, Tensor mask, Dictionary<string, double> diagnostics)
    {
        var pruned = TensorCounts.Count(mask);
        if (pruned > 0) weight.masked_fill_(mask.to(weight.device), 0);
        diagnostics["pruned"] = pruned;
        var zeros = TensorCounts.Zeros(weight);
        return new SublayerResult(name, weight.numel(), zeros, mask.cpu().DetachFromDisposeScope(), diagnostics);
    }

    internal static void RequireFiniteWeight(string name, Tensor weight)
    {
        if (ScoreMask.NonFinite(weight) is { } bad)
            throw new InvalidDataException(
                $"{name}: the weight holds {bad.Count} NaN or infinite value(s), the first at {bad.First}; no mask can be ranked from it. " +
                "The checkpoint is corrupt or was converted with overflow: re-export it, or check its dtype");
    }
}
