using Repro.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>
/// One quantization grid per output row: the values <c>Scale·(k − Zero)</c>, <c>k ∈ [0, MaxQ]</c>.
/// <see cref="Scale"/> and <see cref="Zero"/> are <c>[rows, 1]</c>.
/// </summary>
public sealed record QuantizationGrid(Tensor Scale, Tensor Zero, int MaxQ)
{
    /// <summary><c>Scale·(clamp(round(x/Scale) + Zero, 0, MaxQ) − Zero)</c>, x <c>[rows, n]</c> (or <c>[rows, 1]</c>).</summary>
    public Tensor Quantize(Tensor x) => Quantizer.Quantize(x, Scale, Zero, MaxQ);
}

/// <summary>
/// GPTQ's min–max uniform quantizer, per output row (<c>perchannel=True</c>; METHODS.md §6), without
/// the unused MSE grid search. <c>round</c> is torch's, half to even.
/// </summary>
/// <remarks>
/// Quirk kept from the reference: symmetric with an all-non-negative row keeps <c>xmin = 0</c>, so
/// <c>scale = xmax/maxq</c> with <c>zero = (maxq+1)/2</c>, and values above about <c>xmax/2</c> clamp.
/// </remarks>
public sealed class Quantizer
{
    public const int MinBits = 2;
    public const int MaxBits = 8;

    public Quantizer(int bits, bool symmetric)
    {
        if (bits is < MinBits or > MaxBits)
            throw new InputException(
                $"{bits} bits: Repro quantizes to {MinBits}..{MaxBits} bits (4 and 8 in the papers); 16 bits means no quantization, so skip the method instead");
        Bits = bits;
        Symmetric = symmetric;
        MaxQ = (1 << bits) - 1;
    }

    public int Bits { get; }
    public bool Symmetric { get; }

    /// <summary><c>2^bits − 1</c>: the largest integer code.</summary>
    public int MaxQ { get; }

    /// <summary>
    /// The grid of each row of <paramref name="x"/> <c>[rows, n]</c> from its min and max (both
    /// widened to include 0); a row of zeros gets the range [−1, 1] so its scale is not 0.
    /// </summary>
    public QuantizationGrid FindParams(Tensor x)
    {
        if (x.dim() != 2) throw new ArgumentException($"expected [rows, columns], got [{string.Join(", ", x.shape)}]", nameof(x));
        using var scope = NewDisposeScope();
        var zero0 = zeros(x.shape[0], x.dtype, x.device);
        var xmin = minimum(x.min(1).values, zero0);
        var xmax = maximum(x.max(1).values, zero0);
        if (Symmetric)
        {
            xmax = maximum(xmin.abs(), xmax);
            xmin = where(xmin < 0, -xmax, xmin);
        }
        var empty = (xmin == 0) & (xmax == 0);
        xmin = xmin.masked_fill(empty, -1);
        xmax = xmax.masked_fill(empty, 1);
        var scale = (xmax - xmin) / MaxQ;
        var zero = Symmetric ? full_like(scale, (MaxQ + 1) / 2.0) : (-xmin / scale).round();
        return new QuantizationGrid(scale.reshape(-1, 1).MoveToOuterDisposeScope(), zero.reshape(-1, 1).MoveToOuterDisposeScope(), MaxQ);
    }

    /// <summary>The reference's <c>quantize</c>: <c>scale·(clamp(round(x/scale) + zero, 0, maxq) − zero)</c>.</summary>
    public static Tensor Quantize(Tensor x, Tensor scale, Tensor zero, int maxq)
    {
        using var scope = NewDisposeScope();
        var q = (x / scale).round().add_(zero).clamp_(0, maxq);
        return (scale * (q - zero)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Plain round-to-nearest: each row (each group of <paramref name="groupSize"/> columns of a row,
    /// or the whole row when −1) gets its own grid from its own min and max, with no error feedback.
    /// The baseline GPTQ is compared with.
    /// </summary>
    public Tensor RoundToNearest(Tensor weight, int groupSize = -1)
    {
        var columns = weight.shape[1];
        if (groupSize == -1) groupSize = (int)columns;
        if (groupSize < 1 || columns % groupSize != 0)
            throw new InputException($"group size {groupSize} must be -1 or divide the {columns} columns");
        using var scope = NewDisposeScope();
        var result = empty_like(weight);
        for (long c = 0; c < columns; c += groupSize)
        {
            var part = weight.narrow(1, c, groupSize);
            result.narrow(1, c, groupSize).copy_(FindParams(part).Quantize(part));
        }
        return result.MoveToOuterDisposeScope();
    }
}
