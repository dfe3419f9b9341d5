using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>
/// The layer-wise Hessian of SparseGPT and GPTQ (METHODS.md §5): <c>H = (2/N) Σ_s X_s X_sᵀ</c> over the
/// N calibration <b>sequences</b> seen so far, kept as a running mean exactly as the reference's
/// <c>add_batch</c> does, so the result does not depend on how the sequences were split into batches
/// (up to float32 summation order).
/// </summary>
/// <remarks>
/// Per call with b sequences: <c>H ← H·n/(n+b); n ← n+b; X' = sqrt(2/n)·X; H ← H + X'X'ᵀ</c>. The
/// counter counts sequences, not tokens: every token of a sequence adds to H, but the normaliser is
/// the number of sequences, as in the reference. The matrix lives outside any dispose scope (it spans
/// many calibration samples, each with its own scope) and dies with <see cref="Dispose"/>.
/// </remarks>
public sealed class Hessian : IDisposable
{
    readonly Tensor matrix;

    /// <param name="columns">in_features of the sublayer.</param>
    /// <param name="device">where H lives (the sublayer's device); CPU when null.</param>
    /// <param name="dtype">float32 like the reference; tests may ask for float64.</param>
    public Hessian(long columns, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "a Hessian needs at least one input column");
        Columns = columns;
        matrix = zeros(columns, columns, dtype, device ?? CPU).DetachFromDisposeScope();
    }

    public long Columns { get; }

    /// <summary>Sequences added so far (the reference's <c>nsamples</c>).</summary>
    public long Sequences { get; private set; }

    /// <summary>The accumulated H (owned by this object: read it, clone it, do not dispose it).</summary>
    public Tensor Matrix => matrix;

    /// <summary>Adds a batch <c>[batch, tokens, columns]</c>, or one sequence <c>[tokens, columns]</c>.</summary>
    public void Add(Tensor input)
    {
        if (input.dim() is < 2 or > 3 || input.shape[^1] != Columns)
            throw new ArgumentException(
                $"Hessian input must be [batch, tokens, {Columns}] or [tokens, {Columns}], got [{string.Join(", ", input.shape)}]",
                nameof(input));
        using var scope = NewDisposeScope();
        var batch = input.dim() == 3 ? input.shape[0] : 1;
        if (batch == 0) return;
        var x = input.reshape(-1, Columns).t().to(matrix.dtype, matrix.device);
        matrix.mul_((double)Sequences / (Sequences + batch));
        Sequences += batch;
        x = x * Math.Sqrt(2.0 / Sequences);
        // In place (beta = alpha = 1): no n×n temporary, which for a down_proj of width 8192 would be 256 MiB per call.
        matrix.addmm_(x, x.t());
    }

    public void Dispose() => matrix.Dispose();
}
