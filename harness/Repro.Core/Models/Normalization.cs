using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>
/// A normalization with a learned scale and no bias, over the last axis. The weight is a parameter
/// named <c>weight</c> (as in HF), replaceable when a layer streams its weights in.
/// </summary>
public abstract class ScaleNorm : nn.Module<Tensor, Tensor>
{
    // Field names are TorchSharp component names: this one is the HF parameter "weight".
    Parameter weight;

    protected ScaleNorm(string name, long[] shape, double eps) : base(name)
    {
        Eps = eps;
        // Shape only, no storage, until a layer loads its weights.
        weight = WeightLoading.Placeholder(shape);
        RegisterComponents();
    }

    public double Eps { get; }
    public Parameter Weight => weight;

    /// <summary>Installs a loaded weight (same shape, any device/dtype), disposing the previous one.</summary>
    internal void SetWeight(Parameter value)
    {
        var old = weight;
        weight = (Parameter)value.DetachFromDisposeScope();
        ConditionallyRegisterParameter(nameof(weight), weight);
        old.Dispose();
    }
}

/// <summary>
/// RMSNorm as HF Llama/Qwen compute it: statistics in float32, cast back to the input dtype
/// <i>before</i> multiplying by the weight (so bf16 results match transformers, not a fused kernel).
/// </summary>
public sealed class RmsNorm(long[] shape, double eps) : ScaleNorm(nameof(RmsNorm), shape, eps)
{
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * (x32.square().mean([-1L], keepdim: true) + Eps).rsqrt();
        return (Weight * normed.to(x.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Cohere's LayerNorm: mean-centred, no bias, computed in float32 with the weight applied in float32,
/// then cast back. As q/k norm its weight is <c>[heads, head_dim]</c> and still normalizes head_dim only.
/// </summary>
public sealed class CohereLayerNorm(long[] shape, double eps) : ScaleNorm(nameof(CohereLayerNorm), shape, eps)
{
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var normed = nn.functional.layer_norm(x32, [x.shape[^1]], eps: Eps);
        return (Weight.to(ScalarType.Float32) * normed).to(x.dtype).MoveToOuterDisposeScope();
    }
}
