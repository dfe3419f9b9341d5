using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

/// <summary>Integer codes k = round(v/scale + zero) of values under the grids a GPTQ run used, per column.</summary>
static class GridCodes
{
    public static Tensor Of(GptqResult result, Tensor values)
    {
        using var scope = NewDisposeScope();
        var (scale, zero) = PerEntry(result);
        return (values.to(scale.dtype) / scale + zero).round().MoveToOuterDisposeScope();
    }

    /// <summary>Scale and zero of each entry's grid, [rows, columns].</summary>
    public static (Tensor Scale, Tensor Zero) PerEntry(GptqResult result)
    {
        using var scope = NewDisposeScope();
        var columns = result.GridOfColumn.Length;
        var scales = cat(Enumerable.Range(0, columns).Select(c => result.Grids[result.GridOfColumn[c]].Scale).ToArray(), 1);
        var zeros = cat(Enumerable.Range(0, columns).Select(c => result.Grids[result.GridOfColumn[c]].Zero).ToArray(), 1);
        return (scales.MoveToOuterDisposeScope(), zeros.MoveToOuterDisposeScope());
    }
}
