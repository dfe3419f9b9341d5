using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>SwiGLU MLP: <c>down(silu(gate(x)) ⊙ up(x))</c>; down_proj's pre-hook sees <c>silu(gate)⊙up</c>, as METHODS §2 says.</summary>
public sealed class GatedMlp : nn.Module<Tensor, Tensor>
{
    // Field names are TorchSharp component names, hence HF's snake_case.
    readonly Linear gate_proj, up_proj, down_proj;

    /// <param name="intermediateSize">This layer's MLP channels (fewer in a structurally pruned layer).</param>
    public GatedMlp(ModelConfig config, int intermediateSize) : base(nameof(GatedMlp))
    {
        gate_proj = WeightLoading.PlaceholderLinear(config.HiddenSize, intermediateSize, config.HasMlpBias);
        up_proj = WeightLoading.PlaceholderLinear(config.HiddenSize, intermediateSize, config.HasMlpBias);
        down_proj = WeightLoading.PlaceholderLinear(intermediateSize, config.HiddenSize, config.HasMlpBias);
        RegisterComponents();
    }

    public Linear GateProj => gate_proj;
    public Linear UpProj => up_proj;
    public Linear DownProj => down_proj;

    public override Tensor forward(Tensor x)
    {
        // In place only without autograd: silu_ and mul_ would destroy what a backward pass (Taylor
        // importance for LLM-Pruner) needs; without it they save two [tokens, intermediate] buffers.
        var inPlace = !is_grad_enabled();
        var gate = nn.functional.silu(gate_proj.call(x), inplace: inPlace);
        var up = up_proj.call(x);
        return down_proj.call(inPlace ? gate.mul_(up) : gate * up);
    }
}
