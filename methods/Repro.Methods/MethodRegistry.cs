using Repro.Core;
using System.Globalization;
using Repro.Methods.Pipeline;
using Repro.Methods.Structured;

namespace Repro.Methods;

/// <summary>Which front ends offer a method: pruning (<c>repro prune</c>), quantization (<c>repro quantize</c>), or both.</summary>
[Flags]
public enum MethodKinds { Pruning = 1, Quantization = 2, Both = Pruning | Quantization }

/// <summary>Everything a run says about a method; each factory reads what it needs.</summary>
/// <param name="Sparsity">Fraction of weights to prune (or N/M when only <paramref name="Nm"/> is given); pruning.</param>
/// <param name="Nm">Semi-structured N:M pattern, e.g. 2:4; pruning.</param>
/// <param name="Bits">Bits per weight; quantization.</param>
/// <param name="GroupSize">Columns per quantization group, −1 for one group per row; quantization.</param>
/// <param name="Symmetric">Symmetric grid; quantization.</param>
/// <param name="ActOrder">Columns in order of decreasing Hessian diagonal; quantization.</param>
/// <param name="Structured">Importance, reduction, layer range and aggregation; structured pruning (llm-pruner, lang-prune).</param>
public sealed record MethodOptions(Sparsity Sparsity, NmPattern? Nm = null, int Bits = 4, int GroupSize = 128,
                                   bool Symmetric = false, bool ActOrder = false, StructuredOptions? Structured = null)
{
    /// <summary>
    /// How result files and table rows name the method with these options: <c>wanda-0.5</c>, <c>sparsegpt-2of4</c>,
    /// <c>gptq-4b-g128</c>, <c>lang-prune-max-0.3</c>, <c>llm-pruner-0.3-l1to3</c> (a layer range other than the default).
    /// </summary>
    public string Label(string method, MethodKinds kind)
    {
        if (kind == MethodKinds.Quantization) return $"{method}-{Bits}b-g{GroupSize}{(Symmetric ? "-sym" : "")}{(ActOrder ? "-act" : "")}";
        if (Nm is { } nm) return $"{method}-{nm.N}of{nm.M}";
        var fraction = Sparsity.Fraction.ToString(CultureInfo.InvariantCulture);
        if (Structured is not { } s) return $"{method}-{fraction}";
        var merge = method == StructuredPruner.LangPruneName ? $"-{s.Merge.ToString().ToLowerInvariant()}" : "";
        var layers = s.Range == LayerRange.Default ? "" : $"-l{s.Range.Start}to{s.Range.End}";
        var variant = s.Importance == TaylorVariant.ParamFirst ? "" : $"-{StructuredOptions.Name(s.Importance)}";
        var reduction = s.Reduction == GroupReduction.Sum ? "" : $"-{s.Reduction.ToString().ToLowerInvariant()}";
        return $"{method}{merge}-{fraction}{layers}{variant}{reduction}";
    }
}

/// <summary>One method: its name, the front ends that offer it, and how to build it from the options.</summary>
public sealed record MethodRegistration(string Name, MethodKinds Kinds, string Description, Func<MethodOptions, IMethod> Create);

/// <summary>The methods runs, <c>repro prune</c>, <c>quantize</c> and <c>bench prune</c> know, by name.</summary>
public static class MethodRegistry
{
    /// <summary>
    /// Adding a method is one line here, e.g.
    /// <c>new("name", MethodKinds.Pruning, "what it does", options => new Method(options.Sparsity)),</c>
    /// </summary>
    public static IReadOnlyList<MethodRegistration> Default { get; } =
    [
        new("magnitude", MethodKinds.Pruning, "smallest |W| per matrix (METHODS §3)",
            o => o.Nm is { } nm ? new Magnitude(nm) : new Magnitude(o.Sparsity)),
        new("wanda", MethodKinds.Pruning, "|W|·‖X‖ per output row (METHODS §4)",
            o => o.Nm is { } nm ? new Wanda(nm) : new Wanda(o.Sparsity)),
        new("sparsegpt", MethodKinds.Pruning, "OBS updates with adaptive block masks (METHODS §5)", o => new SparseGpt(o.Sparsity, o.Nm)),
        new("gptq", MethodKinds.Quantization, "OBS-based quantization (METHODS §6)",
            o => new Gptq(o.Bits, o.GroupSize, o.Symmetric, o.ActOrder)),
        new(StructuredPruner.LlmPrunerName, MethodKinds.Pruning, "structured: removes attention heads and MLP channels by Taylor importance (METHODS §8)",
            o => o.Nm is null ? StructuredPruner.LlmPruner(o.Sparsity, o.Structured) : throw new InputException("llm-pruner removes whole heads and channels; --nm does not apply")),
        new(StructuredPruner.LangPruneName, MethodKinds.Pruning, "structured: per-language Taylor importance, min-max normalised and merged (METHODS §9)",
            o => o.Nm is null ? StructuredPruner.LangPrune(o.Sparsity, o.Structured) : throw new InputException("lang-prune removes whole heads and channels; --nm does not apply")),
        new("identity", MethodKinds.Both, "changes no weight: the pipeline's own cost, and a check of the output folder", _ => new IdentityMethod()),
    ];

    /// <summary>The registration named <paramref name="name"/> (case-insensitive) for <paramref name="kind"/>, or an error listing the known ones.</summary>
    public static MethodRegistration Find(IReadOnlyList<MethodRegistration> registry, string name, MethodKinds kind)
    {
        var candidates = registry.Where(r => (r.Kinds & kind) != 0).ToList();
        var what = kind == MethodKinds.Quantization ? "quantization" : kind == MethodKinds.Pruning ? "pruning" : "";
        return candidates.FirstOrDefault(r => string.Equals(r.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
               ?? throw new InputException($"unknown {what} method '{name}'; known: {string.Join(", ", candidates.Select(r => r.Name))}".Replace("unknown  ", "unknown "));
    }
}
