using Repro.Core.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>Checked copies of named checkpoint tensors into module parameters.</summary>
static class WeightLoading
{
    /// <summary>
    /// Loads <paramref name="spec"/> as a frozen parameter, after checking the stored shape against the
    /// one config.json implies: a mismatch is caught from the header, before any data is read.
    /// </summary>
    public static Parameter Load(ITensorSource source, TensorSpec spec, Device device, ScalarType dtype)
    {
        Check(source, spec);
        return new Parameter(source.Load(spec.Name, dtype, device), requires_grad: false);
    }

    /// <summary>Throws <see cref="CheckpointFormatException"/> unless the source holds <paramref name="spec"/> with its shape.</summary>
    public static void Check(ITensorSource source, TensorSpec spec)
    {
        if (!source.Contains(spec.Name))
            throw new CheckpointFormatException(Describe(source),
                $"tensor '{spec.Name}' is missing, but config.json declares an architecture that needs it; " +
                "the checkpoint is incomplete or belongs to another config.json");
        var info = source.Describe(spec.Name);
        if (!info.Shape.SequenceEqual(spec.Shape))
            throw new CheckpointFormatException(info.File,
                $"tensor '{spec.Name}' has shape [{string.Join(", ", info.Shape)}] but config.json implies " +
                $"[{string.Join(", ", spec.Shape)}]; the checkpoint and its config.json disagree");
    }

    /// <summary>A name for a tensor source in errors: the folder its tensors live in, or what the source calls itself.</summary>
    public static string Describe(ITensorSource source)
    {
        var first = source.Names.FirstOrDefault();
        if (first is null) return "(empty tensor source)";
        var file = source.Describe(first).File;
        return Path.GetDirectoryName(file) is { Length: > 0 } folder ? folder : file;
    }

    /// <summary>A parameter with the right shape and no storage: a module's placeholder until its weights are loaded.</summary>
    public static Parameter Placeholder(long[] shape) =>
        (Parameter)new Parameter(empty(shape, ScalarType.Float32, META), requires_grad: false).DetachFromDisposeScope();

    public static Linear PlaceholderLinear(long inFeatures, long outFeatures, bool bias) =>
        nn.Linear(Placeholder([outFeatures, inFeatures]), bias ? Placeholder([outFeatures]) : null);
}
