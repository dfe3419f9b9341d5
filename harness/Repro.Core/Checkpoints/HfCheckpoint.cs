using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;

namespace Repro.Core.Checkpoints;

/// <summary>
/// A Hugging Face model folder: <c>config.json</c> plus either <c>model.safetensors</c> or the shards
/// listed by <c>model.safetensors.index.json</c>, all memory-mapped. The index and every shard are
/// checked against each other on open, so a broken download fails here with the file to fetch again,
/// not later as a missing weight deep inside a model.
/// </summary>
/// <remarks>
/// Pickle checkpoints (<c>pytorch_model.bin</c>, <c>*.pt</c>, ...) are refused outright: unpickling
/// runs code chosen by whoever wrote the file, and model folders come from the internet.
/// </remarks>
public sealed class HfCheckpoint : ITensorSource
{
    public const string ConfigFileName = "config.json";
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>JsonNode accepts a repeated key at parse time and throws only when the object is first read; refuse it up front.</summary>
    static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false };

    static readonly string[] PicklePatterns = ["pytorch_model*.bin", "*.pt", "*.pth", "*.ckpt"];

    readonly IReadOnlyList<SafetensorsFile> files;
    readonly Dictionary<string, SafetensorsFile> byName;

    /// <summary>The folder, as given to <see cref="Open"/>.</summary>
    public string Directory { get; }

    public string ConfigPath { get; }

    /// <summary>config.json as parsed JSON; the model code interprets it.</summary>
    public JsonObject ConfigJson { get; }

    /// <summary>The file that lists the weights: model.safetensors, or model.safetensors.index.json when sharded.</summary>
    public string WeightsPath { get; }

    public bool IsSharded { get; }

    /// <summary>The weight files, in shard order.</summary>
    public IReadOnlyList<string> WeightFiles => files.Select(f => f.Path).ToArray();

    /// <summary>The single file's <c>__metadata__</c>, or the index's <c>metadata</c> (values as JSON text when not strings).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    HfCheckpoint(string directory, string configPath, JsonObject config, string weightsPath, bool sharded,
                 IReadOnlyList<SafetensorsFile> files, Dictionary<string, SafetensorsFile> byName, IReadOnlyDictionary<string, string> metadata)
    {
        Directory = directory;
        ConfigPath = configPath;
        ConfigJson = config;
        WeightsPath = weightsPath;
        IsSharded = sharded;
        this.files = files;
        this.byName = byName;
        Metadata = metadata;
        Names = files.SelectMany(f => f.Entries.Select(e => e.Name)).ToArray();
    }

    /// <summary>Opens a model folder; every problem is a <see cref="CheckpointFormatException"/> naming the file and what to do.</summary>
    public static HfCheckpoint Open(string dir)
    {
        if (!System.IO.Directory.Exists(dir))
            throw new CheckpointFormatException(dir, "model folder not found: check the path (a local folder holding config.json and model.safetensors)");
        if (!System.IO.Directory.EnumerateFileSystemEntries(dir).Any())
            throw new CheckpointFormatException(dir,
                "model folder is empty: expected config.json and model.safetensors (or model.safetensors.index.json with its shards); " +
                "download the model again (e.g. huggingface-cli download <model> --local-dir <folder>)");

        var single = Path.Combine(dir, SingleFileName);
        var index = Path.Combine(dir, IndexFileName);
        var hasSingle = File.Exists(single);
        var hasIndex = File.Exists(index);
        if (!hasSingle && !hasIndex) throw NoSafetensors(dir);
        if (hasSingle && hasIndex)
            throw new CheckpointFormatException(dir,
                $"holds both {SingleFileName} and {IndexFileName}, so it is unclear which weights are current; " +
                "delete the stale one (usually the older file)");

        var configPath = Path.Combine(dir, ConfigFileName);
        var config = ReadConfig(configPath);

        if (hasSingle)
        {
            var file = SafetensorsFile.Open(single);
            return new HfCheckpoint(dir, configPath, config, single, false, [file],
                                    file.Names.ToDictionary(n => n, _ => file, StringComparer.Ordinal), file.Metadata);
        }
        return OpenSharded(dir, configPath, config, index);
    }

    static CheckpointFormatException NoSafetensors(string dir)
    {
        var pickles = PicklePatterns.SelectMany(p => System.IO.Directory.EnumerateFiles(dir, p))
                                    .Select(Path.GetFileName).Distinct().Order(StringComparer.Ordinal).ToList();
        if (pickles.Count > 0)
            return new CheckpointFormatException(dir,
                $"has only pickle checkpoints ({string.Join(", ", pickles)}); pickle files can execute arbitrary code when loaded, " +
                "so they are never loaded here. Convert the model to safetensors, e.g. in Python with transformers: " +
                "AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out_dir, safe_serialization=True)");
        var present = System.IO.Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(10).ToList();
        return new CheckpointFormatException(dir,
            $"has neither {SingleFileName} nor {IndexFileName} (found: {string.Join(", ", present)}); " +
            "point to a Hugging Face model folder with safetensors weights, or download it again");
    }

    /// <summary>A model folder's config.json as a JSON object; a missing or malformed file is a <see cref="CheckpointFormatException"/>.</summary>
    public static JsonObject ReadConfig(string configPath)
    {
        if (!File.Exists(configPath))
            throw new CheckpointFormatException(configPath,
                "config.json is missing; a Hugging Face model folder needs it to say the architecture and sizes: " +
                "copy it from the model's original folder or download the model again");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(configPath), documentOptions: StrictJson);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(configPath, $"config.json is not valid JSON ({e.Message}); fix or download it again");
        }
        catch (InvalidOperationException e) when (JsonStrings.IsInvalidText(e))
        {
            throw new CheckpointFormatException(configPath, $"config.json: a property name is not valid Unicode text ({e.Message}); fix or download it again");
        }
        if (JsonStrings.FindInvalid(node) is { } invalid)
            throw new CheckpointFormatException(configPath, $"config.json: {invalid}; fix or download it again");
        return node as JsonObject
               ?? throw new CheckpointFormatException(configPath, "config.json is JSON but not an object; fix or download it again");
    }

    static HfCheckpoint OpenSharded(string dir, string configPath, JsonObject config, string indexPath)
    {
        var (weightMap, metadata) = ReadIndex(indexPath);
        var opened = new List<SafetensorsFile>();
        try
        {
            var byName = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var shardName in weightMap.Values.Distinct().Order(StringComparer.Ordinal))
            {
                var shardPath = Path.Combine(dir, shardName);
                if (!File.Exists(shardPath))
                    throw new CheckpointFormatException(indexPath,
                        $"lists shard '{shardName}' (for {weightMap.Count(kv => kv.Value == shardName)} tensors, e.g. " +
                        $"'{weightMap.First(kv => kv.Value == shardName).Key}') but the shard file is missing; the download is incomplete: fetch it again");
                var shard = SafetensorsFile.Open(shardPath);
                opened.Add(shard);
                foreach (var name in shard.Names)
                {
                    if (byName.TryGetValue(name, out var other))
                        throw new CheckpointFormatException(shardPath,
                            $"holds tensor '{name}', which shard '{Path.GetFileName(other.Path)}' holds too; a tensor must be in exactly one shard: " +
                            "the shards come from different exports, download the model again");
                    if (!weightMap.TryGetValue(name, out var listed))
                        throw new CheckpointFormatException(shardPath,
                            $"holds tensor '{name}', which {IndexFileName} does not list; the index and the shards come from different exports: download the model again");
                    if (listed != shardName)
                        throw new CheckpointFormatException(shardPath,
                            $"holds tensor '{name}', which {IndexFileName} places in '{listed}'; the index and the shards come from different exports: download the model again");
                    byName.Add(name, shard);
                }
            }
            var absent = weightMap.Where(kv => !byName.ContainsKey(kv.Key)).ToList();
            if (absent.Count > 0)
                throw new CheckpointFormatException(Path.Combine(dir, absent[0].Value),
                    $"lacks tensor '{absent[0].Key}' that {IndexFileName} places in it" +
                    (absent.Count > 1 ? $" ({absent.Count} listed tensors are absent in all: {Sample(absent.Select(kv => kv.Key))})" : "") +
                    "; the shard is stale or truncated: download it again");
            return new HfCheckpoint(dir, configPath, config, indexPath, true, opened, byName, metadata);
        }
        catch
        {
            foreach (var f in opened) f.Dispose();
            throw;
        }
    }

    static (Dictionary<string, string> WeightMap, IReadOnlyDictionary<string, string> Metadata) ReadIndex(string indexPath)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(indexPath), documentOptions: StrictJson);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(indexPath, $"index is not valid JSON ({e.Message}); download it again");
        }
        catch (InvalidOperationException e) when (JsonStrings.IsInvalidText(e))
        {
            throw new CheckpointFormatException(indexPath, $"index: a property name is not valid Unicode text ({e.Message}); download it again");
        }
        if (JsonStrings.FindInvalid(node) is { } invalid)
            throw new CheckpointFormatException(indexPath, $"index: {invalid}; download it again");
        if (node is not JsonObject root || root["weight_map"] is not JsonObject map)
            throw new CheckpointFormatException(indexPath,
                "index has no \"weight_map\" object (tensor name -> shard file); it is not a safetensors index: download it again");

        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in map)
        {
            var shard = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            // The index is untrusted: a shard name must stay inside the folder.
            if (shard is null || shard.Length == 0 || Path.GetFileName(shard) != shard || shard is "." or ".."
                || !shard.EndsWith(".safetensors", StringComparison.Ordinal))
                throw new CheckpointFormatException(indexPath,
                    $"weight_map maps '{name}' to {value?.ToJsonString() ?? "null"}, not a .safetensors file name in the same folder; the index is corrupt or crafted");
            weightMap[name] = shard;
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root["metadata"] is JsonObject meta)
            foreach (var (key, value) in meta)
                metadata[key] = value is JsonValue jv && jv.TryGetValue<string>(out var text) ? text : value?.ToJsonString() ?? "null";
        return (weightMap, metadata);
    }

    public IReadOnlyCollection<string> Names { get; }

    public bool Contains(string name) => byName.ContainsKey(name);

    public TensorInfo Describe(string name) => FileOf(name).Describe(name);

    public torch.Tensor Load(string name, torch.ScalarType? dtype = null, torch.Device? device = null) =>
        FileOf(name).Load(name, dtype, device);

    /// <summary>
    /// Fails, naming the missing tensors, when the checkpoint lacks any that <paramref name="architecture"/>
    /// needs: one clear error at load time instead of a KeyNotFound from the middle of a model.
    /// </summary>
    public void Require(IEnumerable<string> names, string architecture)
    {
        var required = names.Distinct().ToList();
        var missing = required.Where(n => !byName.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new CheckpointFormatException(WeightsPath,
                $"lacks {missing.Count} tensor{(missing.Count == 1 ? "" : "s")} that architecture '{architecture}' needs: {Sample(missing)}; " +
                $"it holds {byName.Count} tensors (e.g. {Sample(Names.Take(3))}). Check that config.json names the right architecture " +
                "and that the export is complete");
        // Every tensor an architecture needs is a float weight: an integer or bool one would be cast silently and give a
        // model of whole numbers (a quantized export's packed ints, or a corrupt header).
        foreach (var name in required.Where(n => n.EndsWith(".weight", StringComparison.Ordinal) || n.EndsWith(".bias", StringComparison.Ordinal)))
        {
            var info = Describe(name);
            if (!SafetensorsDType.TryParse(info.DType, out var type, out _) || !SafetensorsDType.IsFloating(type))
                throw new CheckpointFormatException(info.File,
                    $"tensor '{name}' is stored as {info.DType}, but a weight must be a float (F32, F16, BF16 or F64); " +
                    "a quantized export with packed integer weights cannot be read as a plain checkpoint");
        }
    }

    static string Sample(IEnumerable<string> names, int limit = 10)
    {
        var list = names.ToList();
        var shown = string.Join(", ", list.Take(limit).Select(n => $"'{n}'"));
        return list.Count > limit ? $"{shown} and {list.Count - limit} more" : shown;
    }

    SafetensorsFile FileOf(string name) =>
        byName.TryGetValue(name, out var file)
            ? file
            : throw new CheckpointFormatException(WeightsPath,
                $"has no tensor '{name}' (it holds {byName.Count}); check the name or the architecture the checkpoint was exported for");

    public void Dispose()
    {
        foreach (var f in files) f.Dispose();
    }
}
