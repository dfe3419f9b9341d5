using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;

namespace Repro.Methods;

/// <summary>
/// What every method says of itself, whichever way it runs: layer by layer (<see cref="ICompressionMethod"/>) or on
/// the whole model at once (<see cref="Structured.IStructuredMethod"/>).
/// </summary>
public interface IMethod
{
    /// <summary>Short name recorded in results: "magnitude", "wanda", "sparsegpt", "gptq", "llm-pruner".</summary>
    string Name { get; }

    /// <summary>False for methods that ignore activations (magnitude): the pipeline may skip calibration passes.</summary>
    bool NeedsCalibration { get; }

    /// <summary>Every hyper-parameter that changes the result, as recorded in prune.json.</summary>
    JsonObject HyperParameters { get; }
}

/// <summary>
/// A pruning or quantization method as the layer-by-layer pipeline sees it (METHODS.md §2): the
/// pipeline owns layers, hooks, no_grad, devices and dispose scopes; a method owns the statistics it
/// collects from a linear sublayer's inputs and the rule that rewrites that sublayer's weight.
/// </summary>
public interface ICompressionMethod : IMethod
{
    /// <summary>
    /// True when <see cref="ISublayerCompressor.Apply"/> only zeroes the weights its mask marks (magnitude, Wanda) or
    /// changes none: the pipeline then writes the stored tensor with the mask applied, so every kept weight stays
    /// bit-identical to the input whatever the compute dtype. False for methods that update weights (SparseGPT, GPTQ):
    /// their weights are written from the compute dtype, and prune.json says when that cast rounds them.
    /// </summary>
    bool MasksOnly => false;

    /// <summary>Starts one sublayer (e.g. "model.layers.3.mlp.down_proj") of the layer being processed.</summary>
    ISublayerCompressor Begin(string name, Linear sublayer);
}

/// <summary>One sublayer's statistics and rule; lives from the first calibration sample to <see cref="Apply"/>.</summary>
public interface ISublayerCompressor : IDisposable
{
    /// <summary>Called from the sublayer's forward pre-hook with its input <c>[batch, tokens, in_features]</c>; keeps no reference to it.</summary>
    void Observe(torch.Tensor input);

    /// <summary>Rewrites the sublayer's weight in place (under no_grad) and says what it did.</summary>
    SublayerResult Apply();
}

/// <summary>
/// What one sublayer's compression did. <paramref name="Mask"/> (bool, true = pruned, the weight's shape,
/// on CPU) is set by pruning methods and null for quantizers; the caller owns and disposes it.
/// </summary>
public sealed record SublayerResult(string Name, long Elements, long Zeros, torch.Tensor? Mask,
                                    IReadOnlyDictionary<string, double> Diagnostics)
{
    public double AchievedSparsity => Elements == 0 ? 0 : (double)Zeros / Elements;
}
