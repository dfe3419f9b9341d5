using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TorchSharp;

namespace Repro.Core.Checkpoints;

/// <summary>How <see cref="HfCheckpointWriter"/> stores tensors.</summary>
public sealed record CheckpointWriteOptions
{
    /// <summary>Floating tensors are stored as this type (e.g. BFloat16 to halve an F32 export); integer and bool tensors are left alone. Null keeps each tensor's type.</summary>
    public torch.ScalarType? DType { get; init; }

    /// <summary>0 writes one model.safetensors; otherwise shards of at most this many tensor bytes (a larger tensor gets a shard of its own), as transformers' max_shard_size.</summary>
    public long MaxShardBytes { get; init; }

    /// <summary>Extra header <c>__metadata__</c> strings, laid over <c>{"format": "pt"}</c>.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>
/// Writes a Hugging Face model folder (config.json + safetensors, sharded like transformers'
/// <c>save_pretrained</c>) that transformers, vLLM and <see cref="HfCheckpoint"/> can load.
/// </summary>
/// <remarks>
/// Every file is first written completely under a temporary name in the target folder; only when all of
/// them are on disk are they renamed over the real names (shards first, the index last). A failure while
/// producing tensors therefore leaves the previous checkpoint untouched. Files the new checkpoint replaces
/// (a former model.safetensors, index or shard) are removed afterwards; nothing else in the folder is touched.
/// </remarks>
public static partial class HfCheckpointWriter
{
    /// <summary>The files besides the weights that make a folder loadable by tokenizer and generation code.</summary>
    public static IReadOnlyList<string> AuxiliaryFilePatterns { get; } =
        ["tokenizer*.json", "tokenizer.model", "special_tokens_map.json", "generation_config.json", "vocab.json", "merges.txt", "added_tokens.json"];

    static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [GeneratedRegex(@"^model-\d{5}-of-\d{5}\.safetensors$")]
    private static partial Regex ShardName();

    /// <summary>
    /// Writes <paramref name="tensors"/> (borrowed: the caller still owns them) and <paramref name="config"/> into
    /// <paramref name="dir"/>, creating it if needed. The sequence is enumerated once, up front.
    /// </summary>
    public static void Write(string dir, JsonObject config, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
                             CheckpointWriteOptions? options = null)
    {
        options ??= new CheckpointWriteOptions();
        CheckOptions(options);
        Write(dir, config, PlannedTensor.FromTensors(tensors, options.DType), options);
    }

    /// <summary>
    /// Copies every tensor of <paramref name="source"/> (e.g. an <see cref="HfCheckpoint"/> being converted to bf16 or
    /// resharded) into <paramref name="dir"/>, loading one tensor at a time so memory stays at one tensor.
    /// </summary>
    public static void Write(string dir, JsonObject config, ITensorSource source, CheckpointWriteOptions? options = null)
    {
        options ??= new CheckpointWriteOptions();
        CheckOptions(options);
        Write(dir, config, PlannedTensor.FromSource(source, options.DType), options);
    }

    static void CheckOptions(CheckpointWriteOptions options)
    {
        if (options.DType is { } t && !SafetensorsDType.IsFloating(t))
            throw new ArgumentException($"CheckpointWriteOptions.DType must be a floating type (Float32, Float16, BFloat16, Float64), not {t}");
        if (options.MaxShardBytes < 0)
            throw new ArgumentException($"CheckpointWriteOptions.MaxShardBytes must be 0 (one file) or positive, not {options.MaxShardBytes}");
    }

    static void Write(string dir, JsonObject config, IReadOnlyList<PlannedTensor> tensors, CheckpointWriteOptions options)
    {
        System.IO.Directory.CreateDirectory(dir);
        var shards = Shard(tensors, options.MaxShardBytes);
        var staged = new List<(string Temporary, string Target)>();
        try
        {
            // Weights first, then config.json, then the index, whose rename makes a sharded set current.
            var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            if (shards.Count == 1)
            {
                var target = Path.Combine(dir, HfCheckpoint.SingleFileName);
                staged.Add((SafetensorsWriter.WriteTemporary(target, shards[0], options.Metadata), target));
            }
            else
            {
                for (var i = 0; i < shards.Count; i++)
                {
                    var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                    var target = Path.Combine(dir, name);
                    staged.Add((SafetensorsWriter.WriteTemporary(target, shards[i], options.Metadata), target));
                    foreach (var t in shards[i]) weightMap[t.Name] = name;
                }
            }
            staged.Add(StageText(Path.Combine(dir, HfCheckpoint.ConfigFileName), config.ToJsonString(Pretty)));
            if (shards.Count > 1)
            {
                var index = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["total_size"] = tensors.Sum(t => t.ByteCount) },
                    ["weight_map"] = new JsonObject(weightMap.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
                };
                staged.Add(StageText(Path.Combine(dir, HfCheckpoint.IndexFileName), index.ToJsonString(Pretty)));
            }
        }
        catch
        {
            foreach (var (temporary, _) in staged) SafetensorsWriter.TryDelete(temporary);
            throw;
        }

        for (var i = 0; i < staged.Count; i++)
        {
            try
            {
                SafetensorsWriter.Commit(staged[i].Temporary, staged[i].Target);
            }
            catch
            {
                for (var j = i + 1; j < staged.Count; j++) SafetensorsWriter.TryDelete(staged[j].Temporary);
                throw;
            }
        }
        RemoveReplacedWeights(dir, staged.Select(s => Path.GetFileName(s.Target)).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>
    /// Greedy, in the caller's order, like huggingface_hub's split_torch_state_dict_into_shards: a shard is
    /// closed when the next tensor would push it past the limit. Keeping the caller's (layer) order means a
    /// layer-by-layer reader touches few shards at a time. One shard is written as a plain model.safetensors.
    /// </summary>
    static IReadOnlyList<IReadOnlyList<PlannedTensor>> Shard(IReadOnlyList<PlannedTensor> tensors, long maxShardBytes)
    {
        if (maxShardBytes == 0) return [tensors];
        var shards = new List<IReadOnlyList<PlannedTensor>>();
        var current = new List<PlannedTensor>();
        long size = 0;
        foreach (var t in tensors)
        {
            if (current.Count > 0 && size + t.ByteCount > maxShardBytes)
            {
                shards.Add(current);
                (current, size) = ([], 0);
            }
            current.Add(t);
            size += t.ByteCount;
        }
        shards.Add(current);
        return shards;
    }

    static (string Temporary, string Target) StageText(string target, string text)
    {
        var temporary = SafetensorsWriter.TemporaryPathFor(target);
        try
        {
            using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write);
            using (var writer = new StreamWriter(stream, leaveOpen: true))
            {
                writer.Write(text);
                writer.Write('\n');
            }
            stream.Flush(flushToDisk: true);
        }
        catch
        {
            SafetensorsWriter.TryDelete(temporary);
            throw;
        }
        return (temporary, target);
    }

    /// <summary>
    /// A folder that held a sharded checkpoint and now gets a single file (or fewer shards) would otherwise keep
    /// stale weights that a loader could pick up; only names that belong to a safetensors checkpoint are removed.
    /// </summary>
    static void RemoveReplacedWeights(string dir, HashSet<string> written)
    {
        foreach (var path in System.IO.Directory.EnumerateFiles(dir))
        {
            var name = Path.GetFileName(path);
            var isWeights = name is HfCheckpoint.SingleFileName or HfCheckpoint.IndexFileName || ShardName().IsMatch(name);
            if (isWeights && !written.Contains(name)) File.Delete(path);
        }
    }

    /// <summary>
    /// Copies tokenizer and generation files (see <see cref="AuxiliaryFilePatterns"/>) from one model folder to another,
    /// each atomically; returns the names copied. Weights and config.json are not copied: the writer produces those.
    /// </summary>
    public static IReadOnlyList<string> CopyAuxiliaryFiles(string fromDir, string toDir)
    {
        if (!System.IO.Directory.Exists(fromDir))
            throw new CheckpointFormatException(fromDir, "model folder not found; cannot copy its tokenizer files");
        System.IO.Directory.CreateDirectory(toDir);
        var names = AuxiliaryFilePatterns.SelectMany(p => System.IO.Directory.EnumerateFiles(fromDir, p))
                                         .Select(p => Path.GetFileName(p)).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            var target = Path.Combine(toDir, name);
            if (Path.GetFullPath(target) == Path.GetFullPath(Path.Combine(fromDir, name))) continue;
            var temporary = SafetensorsWriter.TemporaryPathFor(target);
            try
            {
                File.Copy(Path.Combine(fromDir, name), temporary);
            }
            catch
            {
                SafetensorsWriter.TryDelete(temporary);
                throw;
            }
            SafetensorsWriter.Commit(temporary, target);
        }
        return names;
    }
}
