using System.Globalization;
using System.Runtime.InteropServices;
using Repro.Core.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Pipeline;

/// <summary>
/// Pruning masks, bit-packed, one safetensors file per decoder layer under <c>masks/</c> of a pruned model folder
/// (<c>masks/layer-00003.safetensors</c>), so the pipeline writes each layer's masks as soon as it is done and
/// never holds more than one layer's.
/// </summary>
/// <remarks>
/// Format <see cref="FormatName"/>: each tensor is named after the weight it masks
/// (<c>model.layers.3.mlp.down_proj.weight</c>) and is a 1-D <c>U8</c> tensor of <c>ceil(numel / 8)</c> bytes.
/// Element <c>k</c> of the row-major flattened mask is bit <c>k mod 8</c> of byte <c>k div 8</c>, bit 0 being the
/// least significant (numpy's <c>packbits(…, bitorder="little")</c>); a set bit means <b>pruned</b>; trailing bits of the
/// last byte are 0. The header's <c>__metadata__</c> holds <c>repro.mask_format</c> = <see cref="FormatName"/> and,
/// per tensor, <c>shape.&lt;name&gt;</c> = the mask's shape as comma-separated integers (<c>"4096,14336"</c>).
/// Quantizers produce no masks; a layer without masks has no file.
/// </remarks>
public static class MaskFile
{
    public const string FormatName = "bitpacked-le/1";
    public const string FolderName = "masks";
    public const string FormatKey = "repro.mask_format";
    const string ShapePrefix = "shape.";

    public static string LayerFileName(int layer) => $"layer-{layer:D5}.safetensors";

    /// <summary>Writes <paramref name="masks"/> (bool, any shape, any device; borrowed) to one file, atomically.</summary>
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Mask)> masks)
    {
        using var scope = NewDisposeScope();
        var metadata = new Dictionary<string, string> { [FormatKey] = FormatName };
        var packed = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, mask) in masks)
        {
            metadata[ShapePrefix + name] = string.Join(",", mask.shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
            packed.Add(KeyValuePair.Create(name, Pack(mask)));
        }
        SafetensorsWriter.Write(path, packed, metadata);
    }

    /// <summary>
    /// Reads masks as bool CPU tensors (true = pruned), owned by the caller: from one mask file, or from every
    /// file under <c>masks/</c> when <paramref name="path"/> is a model folder (empty when it has none).
    /// </summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (Directory.Exists(path))
        {
            var folder = Path.Combine(path, FolderName);
            var all = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            if (!Directory.Exists(folder)) return all;
            foreach (var file in Directory.EnumerateFiles(folder, "layer-*.safetensors").Order(StringComparer.Ordinal))
                foreach (var (name, mask) in ReadFile(file))
                    if (!all.TryAdd(name, mask))
                        throw new CheckpointFormatException(file, $"holds the mask of '{name}', which another mask file holds too; the masks folder mixes two runs");
            return all;
        }
        return ReadFile(path);
    }

    static Dictionary<string, Tensor> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "mask file not found");
        using var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue(FormatKey, out var format) || format != FormatName)
            throw new CheckpointFormatException(path, $"is not a Repro mask file: its metadata '{FormatKey}' is {(format is null ? "absent" : $"'{format}'")}, expected '{FormatName}'");
        var masks = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var name in file.Names.Order(StringComparer.Ordinal))
            {
                if (!file.Metadata.TryGetValue(ShapePrefix + name, out var shapeText))
                    throw new CheckpointFormatException(path, $"mask '{name}' has no '{ShapePrefix}{name}' entry in the metadata, so its shape is unknown");
                long[] shape;
                try
                {
                    shape = shapeText.Length == 0 ? [] : shapeText.Split(',').Select(s => long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
                }
                catch (FormatException)
                {
                    throw new CheckpointFormatException(path, $"mask '{name}' has shape '{shapeText}', not comma-separated non-negative integers");
                }
                var info = file.Describe(name);
                var numel = shape.Aggregate(1L, (a, b) => a * b);
                if (info.DType != "U8" || info.Shape.Length != 1 || info.Shape[0] != (numel + 7) / 8)
                    throw new CheckpointFormatException(path,
                        $"mask '{name}' is {info.DType} [{string.Join(", ", info.Shape)}] but shape [{shapeText}] needs U8 [{(numel + 7) / 8}]");
                using var packed = file.Load(name);
                masks[name] = Unpack(packed, shape);
            }
        }
        catch
        {
            foreach (var m in masks.Values) m.Dispose();
            throw;
        }
        return masks;
    }

    /// <summary>Bool mask, any shape → 1-D uint8 on the CPU, little-endian bit order (see the class remarks).</summary>
    /// <remarks>
    /// Eight mask bytes (each 0 or 1, as torch stores bool) are read as one little-endian 64-bit word w, and
    /// <c>(w · 0x0102040810204080) &gt;&gt; 56</c> gathers byte k's low bit into bit k: one multiply per output byte,
    /// about ten times faster than torch's multiply-and-sum over rows of eight.
    /// </remarks>
    public static Tensor Pack(Tensor mask)
    {
        if (mask.dtype != ScalarType.Bool) throw new ArgumentException($"a mask must be bool, got {mask.dtype}", nameof(mask));
        using var scope = NewDisposeScope();
        var flat = mask.detach().to(CPU).contiguous().view(-1);
        var numel = flat.shape[0];
        if (numel > int.MaxValue || !BitConverter.IsLittleEndian) return PackWithTorch(flat).MoveToOuterDisposeScope();
        // Written in place in native memory: a managed array per mask would be large-object garbage that the GC
        // keeps around long enough to show in the pipeline's peak RssAnon.
        var result = zeros((numel + 7) / 8, ScalarType.Byte);
        if (numel == 0) return result.MoveToOuterDisposeScope();
        ReadOnlySpan<byte> bits = flat.bytes;
        var packed = result.bytes;
        var words = MemoryMarshal.Cast<byte, ulong>(bits);
        for (var i = 0; i < words.Length; i++) packed[i] = (byte)((words[i] * 0x0102040810204080UL) >> 56);
        for (var k = words.Length * 8; k < bits.Length; k++) packed[k >> 3] |= (byte)(bits[k] << (k & 7));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The same packing with tensor operations, for masks too large for one span or big-endian hosts.</summary>
    internal static Tensor PackWithTorch(Tensor flat)
    {
        var bytes = flat.to(ScalarType.Byte);
        var padding = (8 - bytes.shape[0] % 8) % 8;
        if (padding > 0) bytes = cat([bytes, zeros(padding, ScalarType.Byte)]);
        var weights = tensor(new byte[] { 1, 2, 4, 8, 16, 32, 64, 128 });
        return (bytes.view(-1, 8) * weights).sum(1, type: ScalarType.Int32).to(ScalarType.Byte);
    }

    /// <summary>Inverse of <see cref="Pack"/>: 1-D uint8 → bool CPU tensor of <paramref name="shape"/>.</summary>
    public static Tensor Unpack(Tensor packed, long[] shape)
    {
        var numel = shape.Aggregate(1L, (a, b) => a * b);
        if (packed.dtype != ScalarType.Byte || packed.dim() != 1 || packed.shape[0] != (numel + 7) / 8)
            throw new ArgumentException($"packed mask is {packed.dtype} [{string.Join(", ", packed.shape)}]; shape [{string.Join(", ", shape)}] needs uint8 [{(numel + 7) / 8}]");
        using var scope = NewDisposeScope();
        var weights = tensor(new byte[] { 1, 2, 4, 8, 16, 32, 64, 128 });
        var bits = packed.to(CPU).unsqueeze(1).bitwise_and(weights).ne(0).flatten();
        return bits.narrow(0, 0, numel).reshape(shape).contiguous().MoveToOuterDisposeScope();
    }
}
