using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>
/// The upper Cholesky factor U of the dampened inverse Hessian (<c>H⁻¹ = UᵀU</c>) that SparseGPT and
/// GPTQ sweep with; <paramref name="DampRetries"/> says how many times the dampening had to grow.
/// </summary>
public sealed record InverseHessianFactor(Tensor Upper, int DampRetries, double PercDamp)
{
    /// <summary>Wall time of the factorisation, every attempt included.</summary>
    public double Seconds { get; init; }
}

/// <summary>
/// Where an OBS solve spent its time: the Cholesky factorisations, the column-by-column loop (vector ops and
/// rank-1 updates, outside any matrix multiply), and the lazy block updates <c>Err · U[i1:i2, i2:]</c> (one matrix
/// multiply per block). On CUDA each block is synchronised before it is timed, so the split holds there too.
/// </summary>
public sealed record SolveTimings(double FactorSeconds, double ColumnLoopSeconds, double BlockUpdateSeconds)
{
    public static SolveTimings None { get; } = new(0, 0, 0);
}

/// <summary>
/// The steps SparseGPT (METHODS.md §5) and GPTQ (§6) share: dead inputs, dampening and the factor of
/// the inverse Hessian, and the blocked column sweep that replaces one column at a time and spreads its
/// error over the columns still to come (the Optimal Brain Surgeon update with lazy block updates).
/// </summary>
public static class OptimalBrainSurgeon
{
    /// <summary>
    /// The reference has no fallback when Cholesky fails (the run aborts). Repro retries with percdamp
    /// ×10 up to twice (0.01 → 0.1 → 1), records the count, and only then gives up (METHODS.md §5).
    /// </summary>
    public const int MaxDampRetries = 2;

    /// <summary>Factor by which percdamp grows on each retry.</summary>
    public const double DampGrowth = 10;

    /// <summary>
    /// Inputs that were always zero on the calibration data (<c>H_jj = 0</c>) carry no information: the
    /// reference sets <c>H_jj = 1</c> and zeroes the weight column, in place. Returns the dead mask.
    /// </summary>
    public static Tensor ZeroDeadInputs(Tensor hessian, Tensor weight)
    {
        var dead = hessian.diagonal() == 0;
        hessian.diagonal().masked_fill_(dead, 1);
        weight.masked_fill_(dead.unsqueeze(0), 0);
        return dead;
    }

    /// <summary>
    /// <c>H += λI</c> with <c>λ = percdamp · mean(diag H)</c> (on a copy), then <c>L = chol(H)</c>,
    /// <c>H⁻¹ = cholesky_inverse(L)</c>, <c>U = chol(H⁻¹)ᵀ</c>. The reference asks for the upper factor
    /// directly; the transposed lower factor is the same matrix (LAPACK may order sums differently).
    /// On failure (not positive definite, or a non-finite factor) the dampening is recomputed from the
    /// undamped H with percdamp ×10, at most <see cref="MaxDampRetries"/> times.
    /// </summary>
    /// <param name="hessian">H after <see cref="ZeroDeadInputs"/>, undamped; dampened in place while factored and given back
    /// bit-identical (only its diagonal changes, and it is restored from a copy).</param>
    /// <param name="consume">The caller hands <paramref name="hessian"/> over: it is freed as soon as its Cholesky factor
    /// exists, so the peak holds two n×n matrices instead of three.</param>
    public static InverseHessianFactor Factor(Tensor hessian, double percDamp, string sublayer, bool consume = false)
    {
        if (!(percDamp > 0) || double.IsInfinity(percDamp))
            throw new ArgumentOutOfRangeException(nameof(percDamp), percDamp, "percdamp must be a positive number, e.g. 0.01");
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        var meanDiagonal = hessian.diagonal().mean();
        var undamped = hessian.diagonal().clone();
        var tried = new List<double>();
        for (var retry = 0; retry <= MaxDampRetries; retry++)
        {
            var damp = percDamp * Math.Pow(DampGrowth, retry);
            tried.Add(damp);
            using var attempt = NewDisposeScope();
            // Dampening touches only the diagonal, so H is dampened in place and its diagonal restored afterwards
            // (exactly, from a copy) instead of cloning n×n; each n×n intermediate is freed as soon as the next exists.
            // For a down_proj of width 8192 each is 256 MiB.
            hessian.diagonal().add_(meanDiagonal * damp);
            var (lower, info) = linalg.cholesky_ex(hessian);
            var factored = info.item<int>() == 0;
            if (factored && consume) hessian.Dispose();
            else hessian.diagonal().copy_(undamped);
            if (!factored) continue;
            var inverse = cholesky_inverse(lower);
            lower.Dispose();
            var (lowerOfInverse, info2) = linalg.cholesky_ex(inverse);
            inverse.Dispose();
            if (info2.item<int>() != 0 || !lowerOfInverse.isfinite().all().item<bool>()) continue;
            var upper = lowerOfInverse.mT.contiguous();
            lowerOfInverse.Dispose();
            return new InverseHessianFactor(upper.MoveToOtherDisposeScope(scope).MoveToOuterDisposeScope(), retry, damp)
            {
                Seconds = clock.Elapsed.TotalSeconds,
            };
        }
        throw new SublayerCompressionException(sublayer,
            "the dampened Hessian of the calibration inputs is not positive definite even with percdamp " +
            string.Join(", ", tried.Select(d => d.ToString("G4", CultureInfo.InvariantCulture))) +
            $" (mean of its diagonal: {meanDiagonal.item<double>().ToString("G6", CultureInfo.InvariantCulture)}); " +
            "the calibration inputs of this sublayer are degenerate or overflow float32: check them, use more calibration samples, or raise percdamp");
    }

    /// <summary>
    /// What replaces each column during <see cref="Sweep"/>: a pruning mask (SparseGPT) or a quantizer (GPTQ).
    /// </summary>
    internal interface IColumnRule
    {
        /// <summary>Before the columns of block <c>[i1, i1 + block.shape[1])</c>.</summary>
        /// <param name="weight">the whole matrix, holding the lazy updates through the previous block only.</param>
        /// <param name="block">the block's working copy, updated column by column.</param>
        /// <param name="upper">the block's square of U.</param>
        void BeginBlock(Tensor weight, Tensor block, Tensor upper, long i1);

        /// <summary>
        /// <c>w − q</c> for column <paramref name="i"/> (block-relative) of <paramref name="block"/>, shape [rows], where q
        /// is the column's replacement; the rule keeps q if <see cref="EndBlock"/> needs it.
        /// </summary>
        Tensor Residual(Tensor weight, Tensor block, Tensor upper, long i1, long i);

        /// <summary>The block's replacement columns Q, given the block after every column step.</summary>
        Tensor EndBlock(Tensor block);
    }

    /// <summary>
    /// The blocked sweep of METHODS.md §5 step 4, in place on <paramref name="weight"/>: for each block
    /// <c>[i1, i2)</c>, each column i gets <c>q = rule(i)</c>, <c>err = (w − q)/U_ii</c>, and the block's
    /// later columns absorb <c>err ⊗ U[i, i:]</c>; after the block its columns become Q and the columns
    /// right of it absorb <c>Err · U[i1:i2, i2:]</c> at once. Returns the loss <c>Σ err² / 2</c> (the reference's
    /// <c>Σ (w − q)²/U_ii² / 2</c>) and the seconds spent in the column loops and in the block updates.
    /// </summary>
    /// <remarks>
    /// The column loop is a chain of small ops per column, so its cost is their number, not their arithmetic: each
    /// column does only the residual, the scaled error written straight into its column of Err, and the rank-1 update
    /// (an outer product, the same single roundings as the reference's <c>[r,1]·[1,c]</c> matmul). The loss comes from
    /// Err after the block, and U's diagonal is read once per block.
    /// </remarks>
    internal static SweepResult Sweep(Tensor weight, Tensor upper, long blockSize, IColumnRule rule)
    {
        var (rows, columns) = (weight.shape[0], weight.shape[1]);
        using var scope = NewDisposeScope();
        var losses = zeros(rows, weight.dtype, weight.device);
        var columnLoop = new Stopwatch();
        var blockUpdates = new Stopwatch();
        for (long i1 = 0; i1 < columns; i1 += blockSize)
        {
            Synchronize(weight.device);
            columnLoop.Start();
            using var blockScope = NewDisposeScope();
            var i2 = Math.Min(i1 + blockSize, columns);
            var count = i2 - i1;
            var block = weight.narrow(1, i1, count).clone();
            var err1 = zeros_like(block);
            var u1 = upper.narrow(0, i1, count).narrow(1, i1, count);
            // Exact: U is float32 and each entry converts to double and back unchanged.
            var diagonal = u1.diagonal().to(float64).cpu().data<double>().ToArray();
            rule.BeginBlock(weight, block, u1, i1);
            for (long i = 0; i < count; i++)
            {
                using var columnScope = NewDisposeScope();
                var err = err1.select(1, i);
                err.copy_(rule.Residual(weight, block, u1, i1, i)).div_(diagonal[i]);
                // Column i itself is in the update, as in the reference: it becomes w − err·U_ii.
                block.narrow(1, i, count - i).sub_(err.outer(u1.select(0, i).narrow(0, i, count - i)));
            }
            weight.narrow(1, i1, count).copy_(rule.EndBlock(block));
            losses.add_(err1.square().sum(1) / 2);
            Synchronize(weight.device);
            columnLoop.Stop();
            if (i2 < columns)
            {
                blockUpdates.Start();
                weight.narrow(1, i2, columns - i2).sub_(err1.matmul(upper.narrow(0, i1, count).narrow(1, i2, columns - i2)));
                Synchronize(weight.device);
                blockUpdates.Stop();
            }
        }
        return new SweepResult(losses.sum().to(float64).item<double>(), columnLoop.Elapsed.TotalSeconds, blockUpdates.Elapsed.TotalSeconds);
    }

    /// <summary>What <see cref="Sweep"/> returns: the loss and where its time went.</summary>
    internal sealed record SweepResult(double Loss, double ColumnLoopSeconds, double BlockUpdateSeconds)
    {
        public SolveTimings Timings(InverseHessianFactor factor) => new(factor.Seconds, ColumnLoopSeconds, BlockUpdateSeconds);
    }

    /// <summary>Waits for queued CUDA work, so a stopwatch measures the work and not its launch; nothing on CPU.</summary>
    internal static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>An empty Hessian would mark every input dead and zero the whole weight: refuse it.</summary>
    internal static void RequireCalibrated(Hessian hessian, string sublayer)
    {
        // A bug of the pipeline or the model code, not of the input.
        if (hessian.Sequences == 0)
            throw new InvalidOperationException($"{sublayer}: " +
                "no calibration inputs reached this sublayer (its forward pre-hook never fired), so there is no Hessian; " +
                "check that the layer calls the sublayer through call(), not forward()");
    }

    /// <summary>Fails unless every entry of <paramref name="tensor"/> is finite.</summary>
    internal static void RequireFinite(Tensor tensor, string sublayer, string what, string advice)
    {
        if (ScoreMask.NonFinite(tensor) is { } bad)
            throw new SublayerCompressionException(sublayer, $"{what} has {bad.Count} NaN or infinite entries of {tensor.numel()}; {advice}");
    }
}
