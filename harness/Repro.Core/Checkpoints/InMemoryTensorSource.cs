using TorchSharp;

namespace Repro.Core.Checkpoints;

/// <summary>Tensors held in memory under their checkpoint names: for generated models and tests.</summary>
public sealed class InMemoryTensorSource(IReadOnlyDictionary<string, torch.Tensor> tensors) : ITensorSource
{
    public IReadOnlyCollection<string> Names => tensors.Keys.ToList();
    public bool Contains(string name) => tensors.ContainsKey(name);

    public TensorInfo Describe(string name)
    {
        var t = Get(name);
        // Safetensors dtype names, as HfCheckpoint reports them, so callers need not care which source they have.
        return new TensorInfo(name, SafetensorsDType.NameOf(t.dtype), t.shape, "(memory)", 0, t.NumberOfElements * t.ElementSize);
    }

    public torch.Tensor Load(string name, torch.ScalarType? dtype = null, torch.Device? device = null)
    {
        var t = Get(name);
        return t.to(dtype ?? t.dtype, device ?? torch.CPU, copy: true).detach();
    }

    torch.Tensor Get(string name) =>
        tensors.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"tensor '{name}' is not in this in-memory source");

    public void Dispose() { }
}
