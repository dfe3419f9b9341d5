using TorchSharp;

namespace Repro.Core.Checkpoints;

/// <summary>
/// The safetensors dtype names ("F32", "BF16", ...) and the torch element types they map to.
/// <see cref="TensorInfo.DType"/> always holds the safetensors name, so a model can ask what a
/// checkpoint stores without loading it, whichever source it came from.
/// </summary>
public static class SafetensorsDType
{
    // Only types libtorch can hold without reinterpretation; safetensors also defines U16/U32/U64,
    // F8_* and complex types, which TorchSharp 0.107 has no ScalarType for.
    static readonly (string Name, torch.ScalarType Type, int Size)[] Known =
    [
        ("F64", torch.ScalarType.Float64, 8),
        ("F32", torch.ScalarType.Float32, 4),
        ("F16", torch.ScalarType.Float16, 2),
        ("BF16", torch.ScalarType.BFloat16, 2),
        ("I64", torch.ScalarType.Int64, 8),
        ("I32", torch.ScalarType.Int32, 4),
        ("I16", torch.ScalarType.Int16, 2),
        ("I8", torch.ScalarType.Int8, 1),
        ("U8", torch.ScalarType.Byte, 1),
        ("BOOL", torch.ScalarType.Bool, 1),
    ];

    /// <summary>The names this reader and writer understand, for error messages.</summary>
    public static IReadOnlyList<string> Names { get; } = Known.Select(k => k.Name).ToArray();

    /// <summary>The torch type for a safetensors dtype name, or false if it is not one we support.</summary>
    public static bool TryParse(string name, out torch.ScalarType type, out int elementSize)
    {
        foreach (var k in Known)
            if (string.Equals(k.Name, name, StringComparison.Ordinal))
            {
                (type, elementSize) = (k.Type, k.Size);
                return true;
            }
        (type, elementSize) = (default, 0);
        return false;
    }

    /// <summary>The torch type for a safetensors dtype name; throws for names we do not support.</summary>
    public static torch.ScalarType ToScalarType(string name) =>
        TryParse(name, out var type, out _)
            ? type
            : throw new NotSupportedException($"safetensors dtype '{name}' is not supported; supported: {string.Join(", ", Names)}");

    /// <summary>The safetensors name of a torch element type; throws for types safetensors cannot hold here (complex, quantized).</summary>
    public static string NameOf(torch.ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Name;
        throw new NotSupportedException(
            $"tensors of type {type} cannot be stored in safetensors by this writer; supported: {string.Join(", ", Known.Select(k => k.Type))}");
    }

    /// <summary>Bytes per element of a torch element type we can store.</summary>
    public static int SizeOf(torch.ScalarType type)
    {
        foreach (var k in Known)
            if (k.Type == type) return k.Size;
        throw new NotSupportedException($"tensors of type {type} cannot be stored in safetensors by this writer");
    }

    /// <summary>Whether every value of <paramref name="stored"/> is exactly a value of <paramref name="compute"/> (F16 and BF16 in F32, all in F64).</summary>
    public static bool Holds(torch.ScalarType compute, torch.ScalarType stored) =>
        compute == stored || compute == torch.ScalarType.Float64 && IsFloating(stored)
        || compute == torch.ScalarType.Float32 && stored is torch.ScalarType.Float16 or torch.ScalarType.BFloat16;
    public static bool IsFloating(torch.ScalarType type) =>
        type is torch.ScalarType.Float64 or torch.ScalarType.Float32 or torch.ScalarType.Float16 or torch.ScalarType.BFloat16;
}
