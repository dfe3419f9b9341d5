using Repro.Core;
using System.Globalization;

namespace Repro.Methods.Structured;

/// <summary>LLM-Pruner's <c>--taylor</c> estimators (METHODS §8); <see cref="ParamFirst"/> is its argparse default and Lang-Prune's eq. 1.</summary>
public enum TaylorVariant { ParamFirst, Vectorize, ParamSecond, ParamMix }

/// <summary>How one coupled structure's member vectors become one score per channel (LLM-Pruner's <c>--grouping_strategy</c>).</summary>
public enum GroupReduction { Sum, Mean, Max, Prod, First }

/// <summary>Lang-Prune's merge of the min–max normalised per-language importances (METHODS §9 step 3).</summary>
public enum LanguageMerge { Max, Mean, Min }

/// <summary>
/// The decoder layers whose heads and MLP channels are pruned, <c>[Start, End)</c>; an <see cref="End"/> of zero or less
/// counts from the end, so the default <c>4:-2</c> is METHODS §8's <c>[4, L−2)</c> (LLM-Pruner's README range for 32
/// layers). Layers outside the range stay dense.
/// </summary>
public sealed record LayerRange(int Start, int End)
{
    public static LayerRange Default { get; } = new(4, -2);

    /// <summary><c>start:end</c>, e.g. <c>4:-2</c> or <c>1:3</c>.</summary>
    public static LayerRange Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            || !int.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var end))
            throw new InputException($"layer range '{text}' is not start:end (end exclusive; zero or negative counts from the last layer), e.g. 4:-2 or 1:3");
        return new LayerRange(start, end);
    }

    /// <summary>The absolute range for a model of <paramref name="layers"/> layers; an empty or out-of-range one is an error naming both.</summary>
    public (int Start, int End) Resolve(int layers)
    {
        var end = End <= 0 ? layers + End : End;
        if (Start < 0 || end > layers || Start >= end)
            throw new InputException($"layer range {this} is [{Start}, {end}) for a model of {layers} layers, which prunes no layer or a layer that " +
                                        $"does not exist; give a range within [0, {layers}), e.g. --layers 1:{Math.Max(2, layers - 1)}");
        return (Start, end);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Start}:{End}");
}

/// <summary>Everything a structured-pruning run says besides the sparsity.</summary>
/// <param name="MicroBatch">Calibration sequences per forward/backward pass; gradients are accumulated, so memory is one micro-batch's.</param>
/// <param name="Epsilon">Lang-Prune's ε in the min–max denominator.</param>
public sealed record StructuredOptions(TaylorVariant Importance = TaylorVariant.ParamFirst, GroupReduction Reduction = GroupReduction.Sum,
                                       LayerRange? Layers = null, LanguageMerge Merge = LanguageMerge.Max, int MicroBatch = 4,
                                       double Epsilon = 1e-12)
{
    public LayerRange Range => Layers ?? LayerRange.Default;

    public static string Name(TaylorVariant v) => v switch
    {
        TaylorVariant.ParamFirst => "param_first", TaylorVariant.Vectorize => "vectorize",
        TaylorVariant.ParamSecond => "param_second", _ => "param_mix",
    };

    public static TaylorVariant ParseImportance(string text) =>
        Enum.GetValues<TaylorVariant>().FirstOrDefault(v => Name(v) == text.Trim().ToLowerInvariant(), (TaylorVariant)(-1)) is var v && (int)v >= 0 ? v
        : throw new InputException($"unknown Taylor importance '{text}'; known: {string.Join(", ", Enum.GetValues<TaylorVariant>().Select(Name))}");

    public static GroupReduction ParseReduction(string text) =>
        Enum.TryParse<GroupReduction>(text.Trim(), ignoreCase: true, out var r) && Enum.IsDefined(r) && !text.Trim().All(char.IsDigit) ? r
        : throw new InputException($"unknown group reduction '{text}'; known: {string.Join(", ", Enum.GetNames<GroupReduction>().Select(n => n.ToLowerInvariant()))}");

    public static LanguageMerge ParseMerge(string text) =>
        Enum.TryParse<LanguageMerge>(text.Trim(), ignoreCase: true, out var m) && Enum.IsDefined(m) && !text.Trim().All(char.IsDigit) ? m
        : throw new InputException($"unknown aggregation '{text}'; known: max, mean, min");
}
