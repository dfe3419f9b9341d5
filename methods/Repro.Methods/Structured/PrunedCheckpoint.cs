using Repro.Core.Checkpoints;
using Repro.Core.Models;
using static TorchSharp.torch;

namespace Repro.Methods.Structured;

/// <summary>
/// A checkpoint with the structures of <see cref="LayerPlan"/>s removed, as a tensor source: every tensor the pruned
/// architecture needs, under its HF name, with the kept rows and columns of its stored tensor (stored dtype, so kept
/// weights stay bit-identical). Tensors are sliced one at a time when read, so writing it holds one tensor in memory.
/// </summary>
public sealed class PrunedCheckpoint : ITensorSource
{
    readonly ITensorSource source;
    readonly Dictionary<string, (TensorSpec Spec, int Dim, long[]? Keep)> tensors = new(StringComparer.Ordinal);

    /// <param name="pruned">The config of the smaller model (its per-layer widths).</param>
    /// <param name="plans">The plan of every pruned layer, by layer index; other layers are copied whole.</param>
    public PrunedCheckpoint(ITensorSource source, ModelConfig pruned, IReadOnlyDictionary<int, LayerPlan> plans)
    {
        this.source = source;
        foreach (var spec in pruned.ExpectedTensors()) tensors[spec.Name] = (spec, 0, null);
        foreach (var (layer, plan) in plans)
        {
            var p = ModelConfig.LayerPrefix(layer);
            var s = plan.Structures;
            var q = s.QueryRows(plan.KeptUnits);
            var kv = s.KeyValueRows(plan.KeptUnits);
            long[] channels = [.. plan.KeptChannels.Select(c => (long)c)];
            void Slice(string name, int dim, long[] keep)
            {
                if (tensors.TryGetValue(p + name, out var t)) tensors[p + name] = (t.Spec, dim, keep);
            }
            Slice("self_attn.q_proj.weight", 0, q);
            Slice("self_attn.q_proj.bias", 0, q);
            Slice("self_attn.k_proj.weight", 0, kv);
            Slice("self_attn.k_proj.bias", 0, kv);
            Slice("self_attn.v_proj.weight", 0, kv);
            Slice("self_attn.v_proj.bias", 0, kv);
            Slice("self_attn.o_proj.weight", 1, q);
            if (pruned.IsCohere && pruned.HasQkNorm)
            {
                // Cohere's q/k norms hold one row per head; Qwen3's are shared by all heads and stay whole.
                Slice("self_attn.q_norm.weight", 0, s.QueryHeads(plan.KeptUnits));
                Slice("self_attn.k_norm.weight", 0, [.. plan.KeptUnits.Select(k => (long)k)]);
            }
            Slice("mlp.gate_proj.weight", 0, channels);
            Slice("mlp.gate_proj.bias", 0, channels);
            Slice("mlp.up_proj.weight", 0, channels);
            Slice("mlp.up_proj.bias", 0, channels);
            Slice("mlp.down_proj.weight", 1, channels);
        }
    }

    public IReadOnlyCollection<string> Names => tensors.Keys;

    public bool Contains(string name) => tensors.ContainsKey(name);

    public TensorInfo Describe(string name)
    {
        var (spec, _, _) = tensors[name];
        var stored = source.Describe(name);
        return stored with { Shape = spec.Shape, ByteCount = stored.ByteCount / Math.Max(1, stored.ElementCount) * spec.ElementCount };
    }

    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        var (spec, dim, keep) = tensors[name];
        using var scope = NewDisposeScope();
        var whole = source.Load(name, dtype, CPU);
        var result = keep is null ? whole : whole.index_select(dim, tensor(keep)).contiguous();
        if (!result.shape.SequenceEqual(spec.Shape))
            throw new InvalidOperationException($"{name}: sliced to [{string.Join(", ", result.shape)}] but the pruned config needs [{string.Join(", ", spec.Shape)}]");
        return (device is null ? result : result.to(device)).MoveToOuterDisposeScope();
    }

    /// <summary>The source belongs to the caller.</summary>
    public void Dispose() { }
}
