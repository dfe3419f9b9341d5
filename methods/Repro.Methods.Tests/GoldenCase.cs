using System.Globalization;
using Repro.Core;
using Repro.Core.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

/// <summary>
/// One golden file written by <c>tools/reference/wanda_golden.py</c> from the reference implementation
/// (locuslab/wanda): the dense weight, for Wanda the calibration inputs <c>[samples, tokens, in]</c> and the
/// reference's accumulator <c>scaler_row</c>, and the reference's pruned weight and mask (true = pruned).
/// </summary>
public sealed class GoldenCase : IDisposable
{
    public static string Folder => Path.Combine(RepoPaths.Root, "methods", "Repro.Methods.Tests", "Golden", "wanda");

    GoldenCase(string name, SafetensorsFile file)
    {
        Name = name;
        Metadata = file.Metadata;
        Weight = file.Load("weight").DetachFromDisposeScope();
        Mask = file.Load("mask").DetachFromDisposeScope();
        Pruned = file.Load("pruned").DetachFromDisposeScope();
        Inputs = file.Contains("inputs") ? file.Load("inputs").DetachFromDisposeScope() : null;
        Scaler = file.Contains("scaler") ? file.Load("scaler").DetachFromDisposeScope() : null;
    }

    public static GoldenCase Load(string name)
    {
        using var file = SafetensorsFile.Open(Path.Combine(Folder, name + ".safetensors"));
        return new GoldenCase(name, file);
    }

    public string Name { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public Tensor Weight { get; }
    public Tensor Mask { get; }
    public Tensor Pruned { get; }
    public Tensor? Inputs { get; }
    public Tensor? Scaler { get; }

    public decimal Sparsity => decimal.Parse(Metadata["sparsity_ratio"], CultureInfo.InvariantCulture);
    public NmPattern? Pattern => Metadata["sparsity_type"] == "unstructured" ? null : NmPattern.Parse(Metadata["sparsity_type"]);
    public bool UseVariant => Metadata["use_variant"] == "true";

    /// <summary>The calibration samples one sequence at a time, <c>[1, tokens, in]</c>, as prune_wanda feeds its hooks.</summary>
    public IEnumerable<Tensor> Samples()
    {
        var inputs = Inputs ?? throw new InvalidOperationException($"{Name} has no calibration inputs");
        for (var j = 0; j < inputs.shape[0]; j++) yield return inputs.narrow(0, j, 1);
    }

    public void Dispose()
    {
        Weight.Dispose();
        Mask.Dispose();
        Pruned.Dispose();
        Inputs?.Dispose();
        Scaler?.Dispose();
    }
}
