using Repro.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>
/// One sublayer of an OBS-based method (SparseGPT, GPTQ): accumulates the Hessian of the sublayer's
/// inputs, then solves for the new weight in float32 and writes it back in the layer's dtype. Zeros are
/// counted in the weight as written, so a cast that flushes small values shows in the result.
/// </summary>
abstract class HessianCompressor(string name, Linear sublayer) : ISublayerCompressor
{
    readonly Hessian hessian = new(sublayer.in_features, sublayer.weight!.device);

    protected string Name => name;

    public void Observe(Tensor input) => hessian.Add(input);

    /// <summary>
    /// The method's solver on the float32 weight; returns the new weight, for pruning the mask, and where the time went.
    /// The Hessian is the solver's to consume: nothing reads it after <see cref="Apply"/>.
    /// </summary>
    protected abstract (Tensor Weight, Tensor? Mask, SolveTimings Timings) Solve(Tensor weight, Tensor hessian);

    /// <summary>The method's own diagnostics, given the written weight's element and zero counts.</summary>
    protected abstract Dictionary<string, double> Diagnostics(long elements, long zeros);

    public SublayerResult Apply()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var weight = sublayer.weight!;
        OptimalBrainSurgeon.RequireCalibrated(hessian, name);
        var (solved, mask, timings) = Solve(weight.detach().to(ScalarType.Float32), hessian.Matrix);
        weight.copy_(solved.to(weight.dtype));
        var elements = weight.numel();
        var zeros = TensorCounts.Zeros(weight);
        var diagnostics = Diagnostics(elements, zeros);
        diagnostics["calibrationSequences"] = hessian.Sequences;
        diagnostics["factorSeconds"] = timings.FactorSeconds;
        diagnostics["columnLoopSeconds"] = timings.ColumnLoopSeconds;
        diagnostics["blockUpdateSeconds"] = timings.BlockUpdateSeconds;
        return new SublayerResult(name, elements, zeros, mask?.cpu().DetachFromDisposeScope(), diagnostics);
    }

    public void Dispose() => hessian.Dispose();
}
