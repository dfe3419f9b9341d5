using static TorchSharp.torch;

namespace Repro.Core.Torch;

/// <summary>
/// Counts over whole weight matrices, written the cheap way: <c>count_nonzero</c> reads the tensor once, where
/// <c>(w == 0).sum()</c> writes a bool tensor and then widens it to int64 before summing (about five times slower
/// on a CPU, and done several times per sublayer); the finite check asks for the maximum and minimum first
/// (NaN propagates through both, ±inf shows in one) and locates bad entries only when there are some.
/// </summary>
public static class TensorCounts
{
    /// <summary>Entries equal to zero.</summary>
    public static long Zeros(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.numel() - t.count_nonzero().item<long>();
    }

    /// <summary>True entries of a bool tensor (non-zero entries of any other).</summary>
    public static long Count(Tensor mask)
    {
        using var scope = NewDisposeScope();
        return mask.count_nonzero().item<long>();
    }

    /// <summary>Whether every entry is finite (an integer or empty tensor always is).</summary>
    public static bool AllFinite(Tensor t)
    {
        if (!t.is_floating_point() || t.numel() == 0) return true;
        using var scope = NewDisposeScope();
        return t.max().isfinite().item<bool>() && t.min().isfinite().item<bool>();
    }
}
