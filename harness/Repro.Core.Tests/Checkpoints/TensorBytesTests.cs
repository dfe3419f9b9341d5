using System.Runtime.InteropServices;
using Repro.Core.Checkpoints;
using TorchSharp;

namespace Repro.Core.Tests.Checkpoints;

/// <summary>
/// The chunked path exists for tensors over 2 GB (a span's limit); these tests force it with
/// chunks of a few bytes, so it is exercised without allocating gigabytes.
/// </summary>
public sealed class TensorBytesTests
{
    [TestCase(12L)]    // 3 floats a chunk, 26 floats: a short last chunk
    [TestCase(5L)]     // not a multiple of the element size: rounded down to 1 float
    [TestCase(1L)]     // smaller than one element: one element at a time
    [TestCase(1L << 30)]
    public void Chunked_copies_in_and_out_match_one_big_copy(long chunkBytes)
    {
        using var scope = torch.NewDisposeScope();
        var original = torch.randn(new long[] { 2, 13 }, generator: new torch.Generator(7));
        var expected = original.bytes.ToArray();

        using var written = new MemoryStream();
        TensorBytes.WriteTo(original, written, chunkBytes);
        Assert.That(written.ToArray(), Is.EqualTo(expected));

        var copy = torch.empty(original.shape, torch.ScalarType.Float32);
        var handle = GCHandle.Alloc(expected, GCHandleType.Pinned);
        try
        {
            TensorBytes.CopyInto(copy, handle.AddrOfPinnedObject(), expected.Length, chunkBytes);
        }
        finally
        {
            handle.Free();
        }
        Assert.That(copy.bytes.ToArray(), Is.EqualTo(expected));
    }

    [Test]
    public void Views_that_are_not_contiguous_are_refused_rather_than_copied_wrongly()
    {
        using var scope = torch.NewDisposeScope();
        var transposed = torch.zeros(2, 3).t();
        Assert.Throws<InvalidOperationException>(() => TensorBytes.WriteTo(transposed, Stream.Null));
    }

    [Test]
    public void Loading_with_a_conversion_leaves_no_tensor_behind()
    {
        using var dir = new TempDirectory();
        var path = dir.File("t.safetensors");
        using (var scope = torch.NewDisposeScope())
            SafetensorsWriter.Write(path, [KeyValuePair.Create("w", torch.ones(4, dtype: torch.ScalarType.BFloat16))]);
        using var file = SafetensorsFile.Open(path);

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var t = file.Load("w", torch.ScalarType.Float32)) Assert.That(t.dtype, Is.EqualTo(torch.ScalarType.Float32));
        using (var scope = torch.NewDisposeScope()) file.Load("w", torch.ScalarType.Float64);
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
    }
}
