using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

/// <summary>A random small layer for the mask properties: weight, per-column input norms, sparsity.</summary>
/// <remarks>
/// Weights are multiples of 1/64 below 16 and norms multiples of 1/16 below 63 (10 significant bits each), so every
/// score |w|·n is exact in float32 and a plain C# sort of the same products is an exact oracle. Half of the layers
/// use weights in quarters from −1 to 1 so that ties, the case where tie rules matter, are everywhere. Norms include 0
/// (a dead input channel).
/// </remarks>
public sealed record SmallLayer(float[,] W, float[] Norms, decimal S)
{
    public int Rows => W.GetLength(0);
    public int Columns => W.GetLength(1);

    public Tensor Weight() => tensor(W);
    public Tensor NormTensor() => tensor(Norms);

    public override string ToString() =>
        $"SmallLayer {Rows}x{Columns}, s = {S}\n W = [{string.Join("; ", Enumerable.Range(0, Rows).Select(r => string.Join(" ", Enumerable.Range(0, Columns).Select(c => W[r, c]))))}]\n" +
        $" norms = [{string.Join(" ", Norms)}]";
}

public static class SmallLayers
{
    public static Gen<float[,]> Weights(int rows, int columns) => Gen.OneOf(
        Gen.Choose(-999, 999).Select(v => v / 64f).Array2DOf(rows, columns),
        Gen.Choose(-4, 4).Select(v => v / 4f).Array2DOf(rows, columns));

    public static Gen<float[]> Norms(int columns) => Gen.OneOf(
        Gen.Choose(0, 999).Select(v => v / 16f).ArrayOf(columns),
        Gen.Choose(0, 3).Select(v => (float)v).ArrayOf(columns));

    /// <summary>Sparsity in hundredths, 0 to 0.99, with 0 and 0.5 drawn often.</summary>
    public static Gen<decimal> Sparsities() => Gen.OneOf(
        Gen.Choose(0, 99).Select(p => p / 100m),
        Gen.Elements(0m, 0.5m));

    public static Arbitrary<SmallLayer> Any(int maxRows = 6, int maxColumns = 48) =>
        (from rows in Gen.Choose(1, maxRows)
         from columns in Gen.Choose(1, maxColumns)
         from w in Weights(rows, columns)
         from n in Norms(columns)
         from s in Sparsities()
         select new SmallLayer(w, n, s)).ToArbitrary();

    /// <summary>Layers whose column count is a multiple of M (for N:M), with a pattern N:M.</summary>
    public static Arbitrary<(SmallLayer Layer, NmPattern Pattern)> WithPattern() =>
        (from m in Gen.Elements(1, 2, 4, 8)
         from n in Gen.Choose(1, m)
         from rows in Gen.Choose(1, 6)
         from groups in Gen.Choose(1, 6)
         from w in Weights(rows, groups * m)
         from norms in Norms(groups * m)
         select (new SmallLayer(w, norms, 0.5m), new NmPattern(n, m))).ToArbitrary();

    /// <summary>The bool mask as a [rows, columns] array.</summary>
    public static bool[,] ToArray(Tensor mask)
    {
        var (rows, columns) = ((int)mask.shape[0], (int)mask.shape[1]);
        var flat = mask.cpu().data<bool>().ToArray();
        var result = new bool[rows, columns];
        for (var i = 0; i < flat.Length; i++) result[i / columns, i % columns] = flat[i];
        return result;
    }

    /// <summary>Bit patterns of a float32 tensor, for "bit-identical" checks (0 and −0 differ, NaN payloads too).</summary>
    public static int[] Bits(Tensor t) => t.cpu().data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>A bias-free linear layer holding a copy of <paramref name="weight"/>.</summary>
    public static TorchSharp.Modules.Linear LinearWith(Tensor weight)
    {
        var linear = nn.Linear(weight.shape[1], weight.shape[0], hasBias: false);
        using (no_grad()) linear.weight!.copy_(weight);
        return linear;
    }

    /// <summary>The exact specification of "lowest k, ties to the lower index": indices sorted by (score, index), first k.</summary>
    public static HashSet<int> LowestByOracle(IReadOnlyList<double> scores, long k) =>
        Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ThenBy(i => i).Take((int)k).ToHashSet();
}
