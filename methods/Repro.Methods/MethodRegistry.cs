using System.Globalization;
using Repro.Methods.Pipeline;

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
public sealed record MethodOptions(Sparsity Sparsity, NmPattern? Nm = null, int Bits = 4, int GroupSize = 128,
                                   bool Symmetric = false, bool ActOrder = false)
{
    /// <summary>How result files and table rows name the method with these options: <c>wanda-0.5</c>, <c>sparsegpt-2of4</c>, <c>gptq-4b-g128</c>.</summary>
    public string Label(string method, MethodKinds kind) => kind == MethodKinds.Quantization
        ? $"{method}-{Bits}b-g{GroupSize}{(Symmetric ? "-sym" : "")}{(ActOrder ? "-act" : "")}"
        : Nm is { } nm ? $"{method}-{nm.N}of{nm.M}" : $"{method}-{Sparsity.Fraction.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>One method: its name, the front ends that offer it, and how to build it from the options.</summary>
public sealed record MethodRegistration(string Name, MethodKinds Kinds, string Description, Func<MethodOptions, ICompressionMethod> Create);

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
        new("identity", MethodKinds.Both, "changes no weight: the pipeline's own cost, and a check of the output folder", _ => new IdentityMethod()),
    ];

    /// <summary>The registration named <paramref name="name"/> (case-insensitive) for <paramref name="kind"/>, or an error listing the known ones.</summary>
    public static MethodRegistration Find(IReadOnlyList<MethodRegistration> registry, string name, MethodKinds kind)
    {
        var candidates = registry.Where(r => (r.Kinds & kind) != 0).ToList();
        var what = kind == MethodKinds.Quantization ? "quantization" : kind == MethodKinds.Pruning ? "pruning" : "";
        return candidates.FirstOrDefault(r => string.Equals(r.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
               ?? throw new ArgumentException($"unknown {what} method '{name}'; known: {string.Join(", ", candidates.Select(r => r.Name))}".Replace("unknown  ", "unknown "));
    }
}
