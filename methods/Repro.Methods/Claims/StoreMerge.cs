using Repro.Core.Runs;

namespace Repro.Methods.Claims;

/// <param name="Copied">Result files new to the target store.</param>
/// <param name="Identical">Result files the target already held with the same measurements (a shard merged twice, or overlapping shards).</param>
public sealed record MergeSummary(int Copied, int Identical);

/// <summary>
/// Merges shard stores into one (DESIGN "Scale-out": shards merge by copying files). Every file is read and checked
/// first: its name must be its own spec's, and a spec present on both sides must carry the same measurements, or the
/// merge stops naming both files before copying anything, so a bad shard never half-lands in the target.
/// </summary>
public static class StoreMerge
{
    public static MergeSummary Merge(IReadOnlyList<string> shards, ResultStore into)
    {
        var plan = new Dictionary<string, (string Source, RunResult Result)>(StringComparer.Ordinal);
        var identical = 0;
        foreach (var shard in shards)
        {
            if (!Directory.Exists(shard)) throw new ResultFileException(shard, "shard store not found");
            if (Path.GetFullPath(shard) == into.Root) throw new ResultFileException(shard, "is the target store itself");
            foreach (var path in Directory.EnumerateFiles(shard, "*.json").Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(path);
                if (name == VerdictsFile.FileName) continue;   // recomputed from the merged store
                var result = ResultStore.Read(path);
                if (result.Spec.FileStem + ".json" != name)
                    throw new ResultFileException(path, $"holds the result of another spec ({result.Spec.FileStem}.json); a result file keeps its spec's name");
                if (plan.TryGetValue(name, out var seen))
                {
                    if (!Same(seen.Result, result)) throw Conflict(seen.Source, path);
                    identical++;
                    continue;
                }
                var target = Path.Combine(into.Root, name);
                if (File.Exists(target))
                {
                    if (!Same(ResultStore.Read(target), result)) throw Conflict(target, path);
                    identical++;
                    continue;
                }
                plan[name] = (path, result);
            }
        }
        Directory.CreateDirectory(into.Root);
        foreach (var (name, (source, _)) in plan)
        {
            var target = Path.Combine(into.Root, name);
            var temp = Path.Combine(into.Root, $".{name}.{Environment.ProcessId}.tmp");
            File.Copy(source, temp, overwrite: true);
            File.Move(temp, target);
        }
        return new MergeSummary(plan.Count, identical);
    }

    static bool Same(RunResult a, RunResult b) => a.Measurements.SequenceEqual(b.Measurements);

    static ResultFileException Conflict(string first, string second) =>
        new(second, $"and {first} are results of one spec with different measurements; one of them is wrong: delete it (or re-run that spec) before merging");
}
