using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>
/// Wanda's activation statistic (METHODS.md §4; wanda <c>lib/layerwrapper.py</c>, <c>WrappedGPT.add_batch</c>):
/// per input feature j, the running mean over calibration <b>sequences</b> of Σ_tokens x_j², so that
/// after N sequences <c>scaler_j = (1/N) Σ_seq Σ_tok x_j²</c> and <see cref="Norms"/> = sqrt(scaler) = ‖X_j‖₂/√N.
/// </summary>
/// <remarks>
/// The update follows the reference step by step, in float32 by default as the reference does:
/// <c>scaler ← scaler · n/(n+b); n ← n+b; scaler += ‖x_j‖₂² / n</c> over the b·t tokens of a call with
/// b sequences. The counter counts sequences, not tokens (a classic slip): the common 1/N does not move
/// a mask, but a per-token counter would make the scaler depend on how tokens are batched. The result
/// is independent of how samples are split into calls up to float rounding. Like the reference, the
/// input is cast to the accumulator's dtype before squaring (a bf16 activation is squared in float32).
/// The statistic lives outside every dispose scope; <see cref="Dispose"/> frees it.
/// </remarks>
public sealed class InputSquareMean : IDisposable
{
    readonly Tensor scaler;

    /// <param name="features">in_features of the sublayer: the inputs' last dimension.</param>
    /// <param name="device">where the statistic lives; inputs must be on the same device.</param>
    /// <param name="dtype">float32 as in the reference; float64 only for tests that want to see past rounding.</param>
    public InputSquareMean(long features, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "a linear sublayer has at least one input feature");
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "the statistic is kept in float32 (the reference's choice) or float64 (tests)");
        Features = features;
        scaler = zeros(features, dtype, device).DetachFromDisposeScope();
    }

    /// <summary>Number of input features (columns of the weight).</summary>
    public long Features { get; }

    /// <summary>Sequences seen so far: the reference's <c>nsamples</c>, the sum of the batch sizes of all calls.</summary>
    public long Sequences { get; private set; }

    /// <summary>Tokens seen so far (diagnostic only; the statistic itself never uses it).</summary>
    public long Tokens { get; private set; }

    /// <summary>
    /// Adds one hook call's input: <c>[batch, tokens, features]</c> (a batch of sequences) or
    /// <c>[tokens, features]</c> (one sequence, as the reference's <c>unsqueeze(0)</c>). Keeps no reference to it.
    /// </summary>
    public void Add(Tensor input)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (input.dim() is not (2 or 3) || input.shape[^1] != Features)
            throw new ArgumentException(
                $"expected an input [batch, tokens, {Features}] or [tokens, {Features}], got [{string.Join(", ", input.shape)}]; " +
                "the hook is attached to a sublayer with a different in_features", nameof(input));
        var batch = input.dim() == 3 ? input.shape[0] : 1;
        if (batch == 0) return;

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // As the reference: [b·t, c] → [c, b·t], cast, then the squared 2-norm of each feature's row.
        var x = input.reshape(-1, Features).t().to(scaler.dtype);
        var next = Sequences + batch;
        scaler.mul_((double)Sequences / next);
        Sequences = next;
        scaler.add_(x.norm(1).pow(2).div_(next));
        Tokens += x.shape[1];
    }

    /// <summary>The mean over sequences of Σ_tok x_j² (the reference's <c>scaler_row</c>); a new tensor the caller owns.</summary>
    public Tensor Mean()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return scaler.clone();
    }

    /// <summary>sqrt of <see cref="Mean"/>: Wanda's ‖X_j‖₂ up to the common factor 1/√N. A new tensor the caller owns.</summary>
    public Tensor Norms()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return scaler.sqrt();
    }

    bool disposed;

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        scaler.Dispose();
    }
}
