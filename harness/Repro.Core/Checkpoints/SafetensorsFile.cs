using System.IO.MemoryMappedFiles;
using System.Text.Json;
using TorchSharp;

namespace Repro.Core.Checkpoints;

/// <summary>
/// One <c>.safetensors</c> file, memory-mapped read-only: the header is parsed and checked once,
/// and each tensor is copied straight from the mapping into its own torch storage when asked for,
/// so a 16 GB checkpoint never passes through managed memory and pages in one tensor at a time.
/// </summary>
/// <remarks>
/// Layout (https://github.com/huggingface/safetensors): an unsigned 64-bit little-endian header
/// length N, N bytes of UTF-8 JSON mapping names to <c>{dtype, shape, data_offsets}</c> (offsets
/// relative to the data section that follows) plus an optional <c>__metadata__</c> object of strings,
/// then the data. The file is untrusted input: every count and offset is checked before any pointer
/// arithmetic uses it.
/// </remarks>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The reference implementation refuses headers above 100 MB; a larger one is corruption, not a model.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    readonly MemoryMappedFile map;
    readonly MemoryMappedViewAccessor view;
    byte* basePointer;
    readonly Dictionary<string, Entry> entries;

    sealed record Entry(TensorInfo Info, torch.ScalarType Type);

    /// <summary>The file's path as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>Tensors in data order (ascending offset), so loading them in this order reads the file front to back.</summary>
    public IReadOnlyList<TensorInfo> Entries { get; }

    /// <summary>The header's <c>__metadata__</c> strings (empty when absent), e.g. <c>format: pt</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Absolute file offset where the data section begins (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>Total file length in bytes.</summary>
    public long FileBytes { get; }

    SafetensorsFile(string path, long fileBytes, long dataStart, MemoryMappedFile map, MemoryMappedViewAccessor view,
                    byte* basePointer, Dictionary<string, Entry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        FileBytes = fileBytes;
        DataStart = dataStart;
        this.map = map;
        this.view = view;
        this.basePointer = basePointer;
        this.entries = entries;
        Metadata = metadata;
        Entries = entries.Values.Select(e => e.Info).OrderBy(i => i.DataOffset).ThenBy(i => i.Name, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Opens and validates a safetensors file; throws <see cref="CheckpointFormatException"/> naming the file and the problem.</summary>
    public static SafetensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this reader copies bytes verbatim and needs a little-endian host");
        if (!File.Exists(path))
            throw new CheckpointFormatException(path, "file not found: check the path, or that the download finished");

        var fileBytes = FileLength(path);
        if (fileBytes < 8)
            throw new CheckpointFormatException(path,
                $"file is {fileBytes} bytes, too short for the 8-byte header length every safetensors file starts with; " +
                "it is truncated or not a safetensors file: download or export it again");

        // An empty file cannot be mapped, and we have just made sure this one is not empty.
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        byte* pointer = null;
        try
        {
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            var basePointer = pointer + view.PointerOffset;
            var (dataStart, entries, metadata) = ParseHeader(path, basePointer, fileBytes);
            return new SafetensorsFile(path, fileBytes, dataStart, map, view, basePointer, entries, metadata);
        }
        catch
        {
            if (pointer != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The length of the file a path names, following symbolic links: a Hugging Face cache snapshot is a folder of links
    /// into <c>blobs/</c>, and a link's own length is that of its target's name.
    /// </summary>
    public static long FileLength(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null) return info.Length;
        return info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target && target.Exists
            ? target.Length
            : throw new CheckpointFormatException(path, $"is a link to {info.LinkTarget}, which does not exist: the download is incomplete or the cache was pruned");
    }

    static (long DataStart, Dictionary<string, Entry> Entries, IReadOnlyDictionary<string, string> Metadata)
        ParseHeader(string path, byte* file, long fileBytes)
    {
        var declared = *(ulong*)file;   // little-endian host, checked in Open; unaligned reads are fine on x64/arm64
        if (declared > (ulong)(fileBytes - 8))
            throw new CheckpointFormatException(path,
                $"declares a header of {declared} bytes but the file holds only {fileBytes - 8} bytes after the length field; " +
                "it is truncated or not a safetensors file: download or export it again");
        if (declared > MaxHeaderBytes)
            throw new CheckpointFormatException(path,
                $"declares a header of {declared} bytes, more than the {MaxHeaderBytes}-byte limit safetensors allows; the file is corrupt");
        var headerBytes = (long)declared;
        var dataStart = 8 + headerBytes;
        var dataBytes = fileBytes - dataStart;

        // The header is small (bounded above); one managed copy of it is fine.
        var json = new ReadOnlySpan<byte>(file + 8, (int)headerBytes).ToArray();
        // JsonDocument checks string encoding only when a string is read, and then throws InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new CheckpointFormatException(path,
                "header is not valid UTF-8 text; the file is corrupt or not a safetensors file: download or export it again");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path,
                $"header is not valid JSON ({e.Message}); the file is corrupt or not a safetensors file: download or export it again");
        }

        if (JsonStrings.FindInvalid(document.RootElement) is { } invalid)
        {
            document.Dispose();
            throw new CheckpointFormatException(path, $"header: {invalid}; the file is corrupt or crafted: download or export it again");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(path,
                    $"header is JSON but a {root.ValueKind}, not an object of tensors; the file is corrupt or not a safetensors file");

            var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
            IReadOnlyDictionary<string, string> metadata = new Dictionary<string, string>();
            var seenMetadata = false;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (seenMetadata)
                        throw new CheckpointFormatException(path, "header has two '__metadata__' entries; the file is corrupt");
                    seenMetadata = true;
                    metadata = ParseMetadata(path, property.Value);
                    continue;
                }
                if (entries.ContainsKey(property.Name))
                    throw new CheckpointFormatException(path, $"header lists tensor '{property.Name}' twice; the file is corrupt");
                entries.Add(property.Name, ParseEntry(path, property.Name, property.Value, dataStart, dataBytes));
            }

            CheckTruncation(path, entries.Values, dataBytes, fileBytes);
            foreach (var entry in entries.Values) CheckInRange(path, entry.Info, dataStart, dataBytes, fileBytes);
            CheckOverlaps(path, entries.Values, dataStart);
            return (dataStart, entries, metadata);
        }
    }

    static IReadOnlyDictionary<string, string> ParseMetadata(string path, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, $"header '__metadata__' is a {value.ValueKind}, not an object of strings; the file is corrupt");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointFormatException(path,
                    $"header '__metadata__' entry '{item.Name}' is a {item.Value.ValueKind}; safetensors metadata holds only strings");
            metadata[item.Name] = item.Value.GetString()!;
        }
        return metadata;
    }

    static Entry ParseEntry(string path, string name, JsonElement value, long dataStart, long dataBytes)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, $"tensor '{name}' is described by a {value.ValueKind}, not an object with dtype, shape and data_offsets; the file is corrupt");

        string? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        foreach (var field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype":
                    dtype = field.Value.ValueKind == JsonValueKind.String
                        ? field.Value.GetString()
                        : throw new CheckpointFormatException(path, $"tensor '{name}' has dtype {field.Value.GetRawText()}, not a string; the file is corrupt");
                    break;
                case "shape":
                    shape = ReadCounts(path, name, field);
                    break;
                case "data_offsets":
                    offsets = ReadCounts(path, name, field);
                    break;
                default:
                    throw new CheckpointFormatException(path,
                        $"tensor '{name}' has an unexpected field '{field.Name}' ({field.Value.ValueKind}); expected dtype (string), shape and data_offsets; the file is corrupt");
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw new CheckpointFormatException(path,
                $"tensor '{name}' lacks {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}; every tensor needs dtype, shape and data_offsets: the file is corrupt");
        if (!SafetensorsDType.TryParse(dtype, out var type, out var elementSize))
            throw new CheckpointFormatException(path,
                $"tensor '{name}' has unknown dtype '{dtype}'; this reader supports {string.Join(", ", SafetensorsDType.Names)}: " +
                "convert the checkpoint to one of these (e.g. bf16 or f32)");
        if (offsets.Length != 2)
            throw new CheckpointFormatException(path, $"tensor '{name}' has {offsets.Length} data_offsets; it needs exactly two, [begin, end]: the file is corrupt");

        var (begin, end) = (offsets[0], offsets[1]);
        if (begin > end)
            throw new CheckpointFormatException(path,
                $"tensor '{name}' has data_offsets [{begin}, {end}] with begin > end; the file is corrupt: download or export it again");

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, b) => a * b) * elementSize);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException(path, $"tensor '{name}' has shape [{string.Join(", ", shape)}], too large to address; the file is corrupt");
        }
        if (end - begin != expected)
            throw new CheckpointFormatException(path,
                $"tensor '{name}' has shape [{string.Join(", ", shape)}] of {dtype} ({expected} bytes) but data_offsets [{begin}, {end}] span {end - begin} bytes; " +
                "shape and byte count disagree: the file is corrupt");

        return new Entry(new TensorInfo(name, dtype, shape, path, dataStart + begin, end - begin), type);
    }

    static long[] ReadCounts(string path, string tensor, JsonProperty field)
    {
        if (field.Value.ValueKind != JsonValueKind.Array)
            throw new CheckpointFormatException(path, $"tensor '{tensor}' has {field.Name} {field.Value.ValueKind}, not an array of integers; the file is corrupt");
        var result = new long[field.Value.GetArrayLength()];
        var i = 0;
        foreach (var item in field.Value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var n) || n < 0)
                throw new CheckpointFormatException(path,
                    $"tensor '{tensor}' has {field.Name} {field.Value.GetRawText()}; every entry must be a non-negative integer: the file is corrupt");
            result[i++] = n;
        }
        return result;
    }

    /// <summary>
    /// Writers pack tensors back to back from offset 0; when the packed data runs past the end of the
    /// file, the file was cut short (an interrupted download), which deserves its own message.
    /// </summary>
    static void CheckTruncation(string path, IEnumerable<Entry> entries, long dataBytes, long fileBytes)
    {
        var dataStart = fileBytes - dataBytes;
        var position = dataStart;
        foreach (var info in entries.Select(e => e.Info).OrderBy(i => i.DataOffset).ThenBy(i => i.ByteCount))
        {
            if (info.DataOffset != position) return;   // not packed from offset 0: the range check will say which tensor is off
            position += info.ByteCount;
        }
        var described = position - dataStart;
        if (described > dataBytes)
            throw new CheckpointFormatException(path,
                $"file is truncated: its header describes {described} bytes of tensor data but only {dataBytes} follow the header " +
                $"({fileBytes} bytes in all); the download or copy was cut short: fetch or export it again");
    }

    static void CheckInRange(string path, TensorInfo info, long dataStart, long dataBytes, long fileBytes)
    {
        var (begin, end) = (info.DataOffset - dataStart, info.DataOffset - dataStart + info.ByteCount);
        if (end > dataBytes)
            throw new CheckpointFormatException(path,
                $"tensor '{info.Name}' has data_offsets [{begin}, {end}] but the data section holds {dataBytes} bytes " +
                $"(file {fileBytes} bytes): offsets out of range, the file is truncated or corrupt: download or export it again");
    }

    static void CheckOverlaps(string path, IEnumerable<Entry> entries, long dataStart)
    {
        TensorInfo? previous = null;
        // Empty tensors occupy no bytes and cannot overlap anything; gaps between tensors are allowed.
        foreach (var info in entries.Select(e => e.Info).Where(i => i.ByteCount > 0).OrderBy(i => i.DataOffset))
        {
            if (previous is not null && info.DataOffset < previous.DataOffset + previous.ByteCount)
                throw new CheckpointFormatException(path,
                    $"tensors '{previous.Name}' [{previous.DataOffset - dataStart}, {previous.DataOffset - dataStart + previous.ByteCount}] and " +
                    $"'{info.Name}' [{info.DataOffset - dataStart}, {info.DataOffset - dataStart + info.ByteCount}] have overlapping data_offsets; " +
                    "the file is corrupt or crafted: download or export it again");
            previous = info;
        }
    }

    /// <summary>Tensor names in the header.</summary>
    public IReadOnlyCollection<string> Names => entries.Keys;

    public bool Contains(string name) => entries.ContainsKey(name);

    public TensorInfo Describe(string name) => Find(name).Info;

    /// <summary>
    /// Copies one tensor out of the mapping into a new CPU tensor of the stored type (one memcpy), then
    /// converts it to <paramref name="dtype"/> on <paramref name="device"/> if asked. F16/BF16 to F32 is a
    /// widening conversion and therefore exact.
    /// </summary>
    public torch.Tensor Load(string name, torch.ScalarType? dtype = null, torch.Device? device = null)
    {
        var entry = Find(name);
        var targetType = dtype ?? entry.Type;
        var targetDevice = device ?? torch.CPU;
        var stored = torch.empty(entry.Info.Shape, entry.Type, torch.CPU);
        try
        {
            TensorBytes.CopyInto(stored, (IntPtr)(Pointer + entry.Info.DataOffset), entry.Info.ByteCount);
            if (targetType == entry.Type && targetDevice.type == DeviceType.CPU) return stored;
            return stored.to(targetType, targetDevice, disposeAfter: true);
        }
        catch
        {
            stored.Dispose();   // idempotent, also after disposeAfter
            throw;
        }
    }

    /// <summary>The stored bytes of one tensor, for checksums and tests; valid until this file is disposed.</summary>
    public ReadOnlySpan<byte> RawBytes(string name)
    {
        var info = Find(name).Info;
        if (info.ByteCount > int.MaxValue)
            throw new NotSupportedException($"{Path}: tensor '{name}' holds {info.ByteCount} bytes, more than one span can address; use Load");
        return new ReadOnlySpan<byte>(Pointer + info.DataOffset, (int)info.ByteCount);
    }

    byte* Pointer => basePointer != null ? basePointer : throw new ObjectDisposedException(nameof(SafetensorsFile), $"{Path} is closed");

    Entry Find(string name) =>
        entries.TryGetValue(name, out var entry)
            ? entry
            : throw new CheckpointFormatException(Path, $"has no tensor '{name}' (it holds {entries.Count}); check the name or the architecture the checkpoint was exported for");

    public void Dispose()
    {
        if (basePointer == null) return;
        basePointer = null;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
    }
}
