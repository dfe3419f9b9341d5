using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Methods.Pipeline;

namespace Repro.Methods.Structured;

/// <summary>
/// What one structured-pruning run did, written as the output's <c>prune.json</c> (format <c>repro-prune/structured-1</c>,
/// camelCase): method and every choice, calibration, the parameter reduction it realised, and per layer the widths
/// before and after, the removed units and channels, and their scores.
/// </summary>
public sealed record StructuredReport
{
    public const string CurrentFormat = "repro-prune/structured-1";

    public string Format { get; init; } = CurrentFormat;
    public required string Method { get; init; }
    public required JsonObject HyperParameters { get; init; }
    public required CalibrationRecord Calibration { get; init; }
    public required int? Seed { get; init; }
    /// <summary>Windows per importance: <c>all</c> for LLM-Pruner, one entry per language for Lang-Prune.</summary>
    public required IReadOnlyDictionary<string, int> CalibrationGroups { get; init; }
    /// <summary>
    /// Per language, the share of its most language-specific MLP channels (top 30 % by specificity) the pruned model keeps
    /// (Lang-Prune §3.2); null unless the calibration spans two or more languages.
    /// </summary>
    public required IReadOnlyDictionary<string, double>? Recall { get; init; }
    public required StructuredInput InputModel { get; init; }
    public required string Device { get; init; }
    /// <summary>Compute dtype of the gradient pass; written tensors keep their stored dtype.</summary>
    [JsonPropertyName("dtype")] public required string DType { get; init; }
    public required ParameterReduction Parameters { get; init; }
    public required IReadOnlyList<StructuredLayer> Layers { get; init; }
    /// <summary>Peak resident memory of the process while the model was loaded for gradients (Linux VmHWM after a reset); null where unavailable.</summary>
    public required long? PeakMemoryBytes { get; init; }
    /// <summary>Wall-clock seconds: <c>gradients</c> (loading, forward/backward passes and scores), <c>write</c>.</summary>
    public required IReadOnlyDictionary<string, double> Seconds { get; init; }
    public required string CodeVersion { get; init; }
    public required DateTimeOffset StartedUtc { get; init; }
    public required double TotalSeconds { get; init; }

    public void Write(string path) => ResultFiles.WriteJson(path, this);
}

public sealed record StructuredInput(string Path, string ConfigSha256, string ModelType, int Layers, long Parameters);

/// <summary>Parameters of the whole model (embeddings and head included) before and after; <see cref="Fraction"/> is the realised reduction.</summary>
public sealed record ParameterReduction(long Before, long After)
{
    public double Fraction => Before == 0 ? 0 : 1 - (double)After / Before;
}

/// <param name="Pruned">Whether the layer was in the pruned range; layers outside it are copied whole.</param>
/// <param name="UnitScores">The (merged) score of every attention unit before pruning; null for dense layers.</param>
/// <param name="LanguageUnitScores">Lang-Prune: each language's raw unit scores (before normalisation).</param>
public sealed record StructuredLayer(int Index, bool Pruned, LayerWidths Before, LayerWidths After,
                                     IReadOnlyList<int> RemovedUnits, IReadOnlyList<int> RemovedChannels,
                                     IReadOnlyList<double>? UnitScores, IReadOnlyDictionary<string, IReadOnlyList<double>>? LanguageUnitScores)
{
    public static StructuredLayer Dense(int index, LayerWidths widths) => new(index, false, widths, widths, [], [], null, null);

    public static StructuredLayer Of(LayerPlan plan, LayerWidths before, LayerImportance merged, IReadOnlyDictionary<string, LayerImportance>? languages) =>
        new(plan.Structures.Layer, true, before, plan.Widths, plan.RemovedUnits, plan.RemovedChannels, merged.Units,
            languages?.ToDictionary(p => p.Key, p => (IReadOnlyList<double>)p.Value.Units));
}

/// <summary>
/// The process's peak resident memory over a stretch of work: Linux's <c>VmHWM</c>, reset at the start by writing 5 to
/// <c>/proc/self/clear_refs</c>. Null where either is unavailable (other systems, a kernel that refuses the reset).
/// </summary>
public sealed class PeakMemory
{
    readonly bool reset;

    PeakMemory(bool reset) => this.reset = reset;

    public static PeakMemory Start()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return new PeakMemory(true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return new PeakMemory(false);
        }
    }

    public long? Stop()
    {
        if (!reset) return null;
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            var parts = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts is { Length: >= 2 } && long.TryParse(parts[1], out var kb) ? kb * 1024 : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
