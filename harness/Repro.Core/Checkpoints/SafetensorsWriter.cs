using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;

namespace Repro.Core.Checkpoints;

/// <summary>
/// Writes one <c>.safetensors</c> file the way the reference implementation does, atomically:
/// the bytes go to a temporary file beside the target, are flushed to disk, and only then renamed
/// over it, so a crash or an exception never leaves a half-written file under the real name.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Written into every header unless the caller overrides it: transformers refuses files whose metadata lacks a known format.</summary>
    public static IReadOnlyDictionary<string, string> DefaultMetadata { get; } = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/>. The sequence is enumerated once,
    /// up front, because the header (names, shapes, offsets) precedes the data; tensors are then
    /// copied to the file one at a time, each made contiguous on the CPU only for as long as it is written.
    /// </summary>
    /// <param name="metadata">Header <c>__metadata__</c> strings, laid over <see cref="DefaultMetadata"/>.</param>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
                             IReadOnlyDictionary<string, string>? metadata = null)
    {
        var planned = PlannedTensor.FromTensors(tensors, floatType: null);
        var temp = WriteTemporary(path, planned, metadata);
        Commit(temp, path);
    }

    /// <summary>Writes the file under a temporary name beside <paramref name="path"/> and returns that name; on failure, removes it and rethrows.</summary>
    internal static string WriteTemporary(string path, IReadOnlyList<PlannedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var (header, order) = BuildHeader(tensors, metadata);
        var temp = TemporaryPathFor(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> length = stackalloc byte[8];
                BitConverter.TryWriteBytes(length, (ulong)header.Length);
                if (!BitConverter.IsLittleEndian) length.Reverse();
                stream.Write(length);
                stream.Write(header);
                foreach (var tensor in order) tensor.WriteData(stream, path);
                stream.Flush(flushToDisk: true);
            }
            return temp;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// The header JSON, padded with spaces to a multiple of 8 bytes as the reference writer does so the
    /// data section starts aligned, and the data order: widest elements first, then by name, which keeps
    /// every tensor aligned to its element size. The JSON lists names in ordinal order for stable bytes.
    /// </summary>
    static (byte[] Header, IReadOnlyList<PlannedTensor> Order) BuildHeader(IReadOnlyList<PlannedTensor> tensors,
                                                                          IReadOnlyDictionary<string, string>? metadata)
    {
        var order = tensors.OrderByDescending(t => SafetensorsDType.SizeOf(t.Type)).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
        var offsets = new Dictionary<string, (long Begin, long End)>(StringComparer.Ordinal);
        long position = 0;
        foreach (var t in order)
        {
            offsets[t.Name] = (position, position + t.ByteCount);
            position += t.ByteCount;
        }

        var merged = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in DefaultMetadata) merged[k] = v;
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>()) merged[k] = v;

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (k, v) in merged) json.WriteString(k, v);
            json.WriteEndObject();
            foreach (var t in tensors.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", SafetensorsDType.NameOf(t.Type));
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offsets[t.Name].Begin);
                json.WriteNumberValue(offsets[t.Name].End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        var padding = (int)((8 - buffer.Length % 8) % 8);
        for (var i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return (buffer.ToArray(), order);
    }

    /// <summary>A hidden name in the target's own directory, so the final rename never crosses file systems.</summary>
    internal static string TemporaryPathFor(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        return System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!,
                                      $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
    }

    /// <summary>Renames a finished temporary file over its target: atomic on POSIX and NTFS within one directory.</summary>
    internal static void Commit(string temporary, string path)
    {
        try
        {
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the caller is already reporting the failure that matters.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>
/// A tensor scheduled for writing: what the header needs now (name, stored type, shape), and how to
/// fetch the data later, so a source can be streamed to disk one tensor at a time.
/// </summary>
sealed class PlannedTensor(string name, torch.ScalarType type, long[] shape, Func<torch.Tensor> open, bool owned)
{
    public string Name => name;
    public torch.ScalarType Type => type;
    public long[] Shape => shape;
    public long ByteCount { get; } = checked(shape.Aggregate(1L, (a, b) => a * b) * SafetensorsDType.SizeOf(type));

    /// <summary>Plans borrowed tensors (the caller keeps ownership); float tensors are stored as <paramref name="floatType"/> when given.</summary>
    public static IReadOnlyList<PlannedTensor> FromTensors(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, torch.ScalarType? floatType)
    {
        var planned = new List<PlannedTensor>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            CheckName(name, names);
            ArgumentNullException.ThrowIfNull(tensor, name);
            planned.Add(new PlannedTensor(name, StoredType(name, tensor.dtype, floatType), tensor.shape, () => tensor, owned: false));
        }
        return planned;
    }

    /// <summary>Plans a source's tensors from their descriptions alone; each is loaded only when written, then released.</summary>
    public static IReadOnlyList<PlannedTensor> FromSource(ITensorSource source, torch.ScalarType? floatType)
    {
        var planned = new List<PlannedTensor>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in source.Names)
        {
            CheckName(name, names);
            var info = source.Describe(name);
            var type = StoredType(name, SafetensorsDType.ToScalarType(info.DType), floatType);
            planned.Add(new PlannedTensor(name, type, info.Shape, () => source.Load(name, type), owned: true));
        }
        return planned;
    }

    static void CheckName(string name, HashSet<string> seen)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("a tensor name is empty; safetensors needs a name per tensor");
        if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved by safetensors and cannot name a tensor");
        if (!seen.Add(name)) throw new ArgumentException($"tensor '{name}' is given twice; names in a checkpoint must be unique");
    }

    static torch.ScalarType StoredType(string name, torch.ScalarType type, torch.ScalarType? floatType)
    {
        try
        {
            SafetensorsDType.SizeOf(type);
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"tensor '{name}': {e.Message}", e);
        }
        return floatType is { } f && SafetensorsDType.IsFloating(type) ? f : type;
    }

    /// <summary>Converts to the stored type on the CPU, contiguous, and streams the bytes; temporaries die here.</summary>
    public void WriteData(Stream stream, string path)
    {
        var source = open();
        try
        {
            if (!source.shape.SequenceEqual(shape))
                throw new InvalidOperationException(
                    $"{path}: tensor '{name}' changed shape from [{string.Join(", ", shape)}] to [{string.Join(", ", source.shape)}] while it was being written");
            using var detached = source.detach();
            using var converted = detached.to(type, torch.CPU);
            using var contiguous = converted.contiguous();
            TensorBytes.WriteTo(contiguous, stream);
        }
        finally
        {
            if (owned) source.Dispose();
        }
    }
}
