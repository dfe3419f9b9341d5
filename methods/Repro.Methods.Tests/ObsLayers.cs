using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

/// <summary>
/// A random small linear layer with calibration inputs, for SparseGPT and GPTQ properties. The
/// tensors come from a seeded torch generator (printing a few thousand floats would not help a
/// reader); the record prints its shape and seed, which reproduce it exactly.
/// </summary>
/// <remarks>
/// Inputs are mixed across columns and scaled per column, so H is far from diagonal and the OBS
/// updates matter. Few tokens against many columns make H singular, which dampening must absorb.
/// </remarks>
public sealed record ObsLayer(int Rows, int Columns, int Sequences, int Tokens, long Seed, int? DeadColumn, bool ZeroRow)
{
    public Tensor Weight(ScalarType dtype = ScalarType.Float64)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)Seed);
        var w = 0.1 * randn(Rows, Columns, ScalarType.Float64, generator: generator);
        if (ZeroRow) w[0].zero_();
        return w.to(dtype).MoveToOuterDisposeScope();
    }

    /// <summary>[Sequences, Tokens, Columns].</summary>
    public Tensor Inputs(ScalarType dtype = ScalarType.Float64)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator((ulong)Seed + 1_000_003);
        var mixing = 0.5 * eye(Columns, dtype: ScalarType.Float64) + randn(Columns, Columns, ScalarType.Float64, generator: generator) / Math.Sqrt(Columns);
        var scales = (0.5 * randn(Columns, ScalarType.Float64, generator: generator)).exp();
        var x = randn(Sequences, Tokens, Columns, ScalarType.Float64, generator: generator).matmul(mixing) * scales;
        if (DeadColumn is { } dead) x[.., .., dead] = 0;
        return x.to(dtype).MoveToOuterDisposeScope();
    }

    public Tensor Hessian(ScalarType dtype = ScalarType.Float64)
    {
        using var hessian = new Methods.Hessian(Columns, dtype: dtype);
        hessian.Add(Inputs(dtype));
        return hessian.Matrix.clone();
    }

    /// <summary><c>‖(W − Ŵ)X‖²</c> summed over all calibration tokens.</summary>
    public double OutputError(Tensor weight, Tensor compressed)
    {
        using var scope = NewDisposeScope();
        var x = Inputs(ScalarType.Float64).reshape(-1, Columns);
        var difference = (weight.to(ScalarType.Float64) - compressed.to(ScalarType.Float64)).matmul(x.t());
        return difference.square().sum().item<double>();
    }

    public override string ToString() =>
        $"ObsLayer {Rows}x{Columns}, X {Sequences}x{Tokens}, seed {Seed}, dead column {DeadColumn?.ToString() ?? "none"}, zero row {ZeroRow}";
}

public static class ObsLayers
{
    /// <summary>1–6 rows; 1–4 sequences of 1–24 tokens (often fewer tokens than columns, so H is singular
    /// until damped); a dead input column in a third of the layers, an all-zero first row in a third.</summary>
    public static Gen<ObsLayer> Layers(int[] columnChoices, int maxRows = 6) =>
        from rows in Gen.Choose(1, maxRows)
        from columns in Gen.Elements(columnChoices)
        from sequences in Gen.Choose(1, 4)
        from tokens in Gen.Choose(1, 24)
        from seed in Gen.Choose(0, int.MaxValue)
        from dead in Gen.OneOf(Gen.Constant<int?>(null), Gen.Constant<int?>(null), Gen.Choose(0, columns - 1).Select(c => (int?)c))
        from zeroRow in Gen.Elements(false, false, true)
        select new ObsLayer(rows, columns, sequences, tokens, seed, dead, zeroRow);

    /// <summary>Widths that are multiples of 4, so 1:4 and 2:4 tile every one (and 4:8 those divisible by 8).</summary>
    public static readonly int[] Widths = [4, 8, 12, 16, 24, 32];

    public static Arbitrary<ObsLayer> Any() => Layers(Widths).ToArbitrary();

    /// <summary>
    /// A layer for the statistical error comparisons: 4–16 rows, 16–64 columns, at least as many
    /// tokens as columns (H of full rank), no dead column, no zero row.
    /// </summary>
    public static ObsLayer Seeded(int seed)
    {
        var random = new Random(seed);
        var columns = 16 * random.Next(1, 5);
        var sequences = random.Next(2, 5);
        return new ObsLayer(random.Next(4, 17), columns, sequences, random.Next(columns / 2, 2 * columns), seed, null, false);
    }
}
