using System.Buffers.Binary;
using System.Text;
using TorchSharp;

namespace Repro.Core.Tests.Checkpoints;

/// <summary>A fresh directory under the system temp folder, removed with everything in it on dispose.</summary>
sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateDirectory(
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), "repro-checkpoint-tests", Guid.NewGuid().ToString("N"))).FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Names of hidden temporary files a writer may have left behind.</summary>
    public IReadOnlyList<string> LeftoverTemporaries() =>
        Directory.EnumerateFiles(Path).Select(p => System.IO.Path.GetFileName(p)).Where(n => n.EndsWith(".tmp", StringComparison.Ordinal)).ToList();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A test that failed may still hold a file open; the temp folder is cleaned by the OS eventually.
        }
    }
}

/// <summary>Hand-made safetensors bytes, for files no correct writer would produce.</summary>
static class CraftedSafetensors
{
    /// <summary>8-byte little-endian length (the header's own unless <paramref name="declaredLength"/> is given), the header, then <paramref name="dataBytes"/> bytes 0, 1, 2, ...</summary>
    public static byte[] Bytes(string header, int dataBytes, ulong? declaredLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        for (var i = 0; i < dataBytes; i++) bytes[8 + json.Length + i] = (byte)i;
        return bytes;
    }

    public static string Write(TempDirectory dir, string name, byte[] bytes)
    {
        var path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}

/// <summary>Small tensors of every dtype, with the float values that expose a lossy copy (signed zero, infinities, NaN, subnormals).</summary>
static class SampleTensors
{
    static readonly float[] Awkward = [0f, -0f, 1f, -1.5f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e-40f, 3.14159265f, 65504f, -2.5e-5f, 1e30f];

    public static torch.Tensor Of(torch.ScalarType type, long seed = 1)
    {
        var generator = new torch.Generator((ulong)seed);
        return type switch
        {
            torch.ScalarType.Float32 or torch.ScalarType.Float64 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16 =>
                torch.cat([torch.tensor(Awkward), torch.randn(new long[] { 12 }, generator: generator)]).reshape(3, 8).to(type),
            torch.ScalarType.Bool => torch.randn(new long[] { 2, 5 }, generator: generator) > 0,
            torch.ScalarType.Byte => torch.randint(0, 256, new long[] { 2, 5 }, torch.ScalarType.Byte, generator: generator),
            torch.ScalarType.Int8 => torch.randint(-128, 128, new long[] { 2, 5 }, torch.ScalarType.Int8, generator: generator),
            torch.ScalarType.Int16 => torch.randint(-32768, 32768, new long[] { 2, 5 }, torch.ScalarType.Int16, generator: generator),
            torch.ScalarType.Int32 => torch.randint(int.MinValue, int.MaxValue, new long[] { 2, 5 }, torch.ScalarType.Int32, generator: generator),
            torch.ScalarType.Int64 => torch.cat([torch.tensor(new[] { long.MinValue, long.MaxValue, -1L, 0L }),
                                                torch.randint(long.MinValue / 2, long.MaxValue / 2, new long[] { 6 }, torch.ScalarType.Int64, generator: generator)]),
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
        };
    }

    /// <summary>The raw storage bytes, for bit-exact comparisons that NaN != NaN would spoil.</summary>
    public static byte[] BytesOf(torch.Tensor t)
    {
        using var c = t.contiguous();
        return c.bytes.ToArray();
    }
}
