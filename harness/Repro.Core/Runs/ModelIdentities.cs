using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Repro.Core.Runs;

/// <summary>
/// A model folder's <see cref="ModelIdentity"/>: SHA-256 of config.json and of every <c>*.safetensors</c> file. Hashing
/// an 8B checkpoint reads 16 GB, so digests are kept per process by (full path, length, modification time).
/// </summary>
public static class ModelIdentities
{
    static readonly ConcurrentDictionary<(string Path, long Length, DateTime Modified), string> Digests = new();

    public static ModelIdentity Of(string name, string folder)
    {
        var config = Path.Combine(folder, "config.json");
        if (!File.Exists(config)) throw new ResultFileException(folder, "is not a Hugging Face model folder (no config.json)");
        var weights = Directory.EnumerateFiles(folder, "*.safetensors").Order(StringComparer.Ordinal)
            .Select(f => new FileDigest(Path.GetFileName(f), new FileInfo(f).Length, FileSha256(f))).ToList();
        if (weights.Count == 0) throw new ResultFileException(folder, "holds no *.safetensors weights");
        return new ModelIdentity(name, FileSha256(config), weights);
    }

    public static string FileSha256(string path)
    {
        var info = new FileInfo(path);
        // A symbolic link (Hugging Face cache snapshots) is hashed at its target.
        var target = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
        return Digests.GetOrAdd((target.FullName, target.Length, target.LastWriteTimeUtc), _ =>
        {
            using var stream = File.OpenRead(target.FullName);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        });
    }
}
