using TorchSharp;

namespace Repro.Core.Checkpoints;

/// <summary>Where a stored tensor lives and what it holds, as its safetensors header says.</summary>
/// <remarks><see cref="DType"/> is the safetensors name ("F32", "BF16", ...); <see cref="SafetensorsDType"/> maps it to a torch type.</remarks>
public sealed record TensorInfo(string Name, string DType, long[] Shape, string File, long DataOffset, long ByteCount)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Named tensors that can be materialised one at a time (a memory-mapped checkpoint, or an
/// in-memory dictionary in tests), so a model can be loaded or streamed layer by layer.
/// </summary>
public interface ITensorSource : IDisposable
{
    IReadOnlyCollection<string> Names { get; }
    bool Contains(string name);
    TensorInfo Describe(string name);

    /// <summary>Copies one tensor out of storage, converted to <paramref name="dtype"/> (default: stored dtype) on <paramref name="device"/> (default: CPU).</summary>
    torch.Tensor Load(string name, torch.ScalarType? dtype = null, torch.Device? device = null);
}
