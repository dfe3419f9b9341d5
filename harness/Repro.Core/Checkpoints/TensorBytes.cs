using TorchSharp;

namespace Repro.Core.Checkpoints;

/// <summary>
/// Raw byte copies into and out of a CPU tensor's storage, without an intermediate managed array.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 exposes a tensor's storage only through <c>Tensor.bytes</c>, a
/// <see cref="Span{T}"/> over the native data pointer; a span cannot exceed int.MaxValue bytes, and
/// an embedding matrix of a 250k-token vocabulary in F32 does. So large tensors are walked through
/// flat <c>narrow</c> views of at most <see cref="ChunkBytes"/> each: a view's <c>bytes</c> starts at
/// its own offset in the shared storage, and copying into it writes the parent tensor.
/// </remarks>
static class TensorBytes
{
    /// <summary>Largest span handed out at once; a multiple of every element size.</summary>
    internal const long ChunkBytes = 1L << 30;

    /// <summary>Fills a fresh, contiguous CPU tensor with <paramref name="byteCount"/> bytes of unmanaged memory at <paramref name="source"/> (a mapped file).</summary>
    public static unsafe void CopyInto(torch.Tensor target, IntPtr source, long byteCount, long chunkBytes = ChunkBytes)
    {
        if (byteCount == 0) return;
        ForEachChunk(target, byteCount, chunkBytes,
                     (chunk, offset) => new ReadOnlySpan<byte>((byte*)source + offset, chunk.Length).CopyTo(chunk));
    }

    /// <summary>Writes the bytes of a contiguous CPU tensor to <paramref name="stream"/>.</summary>
    public static void WriteTo(torch.Tensor source, Stream stream, long chunkBytes = ChunkBytes)
    {
        var byteCount = source.NumberOfElements * source.ElementSize;
        if (byteCount == 0) return;
        ForEachChunk(source, byteCount, chunkBytes, (chunk, _) => stream.Write(chunk));
    }

    delegate void ChunkAction(Span<byte> chunk, long offset);

    static void ForEachChunk(torch.Tensor tensor, long byteCount, long chunkBytes, ChunkAction action)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new InvalidOperationException("raw byte access needs a contiguous CPU tensor");
        if (byteCount != tensor.NumberOfElements * tensor.ElementSize)
            throw new InvalidOperationException($"tensor holds {tensor.NumberOfElements * tensor.ElementSize} bytes, not {byteCount}");

        if (byteCount <= chunkBytes)
        {
            action(tensor.bytes, 0);
            return;
        }
        var elementSize = tensor.ElementSize;
        var perChunk = Math.Max(1, chunkBytes / elementSize);
        using var flat = tensor.view(-1);
        for (long start = 0; start < flat.shape[0]; start += perChunk)
        {
            using var part = flat.narrow(0, start, Math.Min(perChunk, flat.shape[0] - start));
            action(part.bytes, start * elementSize);
        }
    }
}
