using System.Text.Json;

namespace Repro.Core.Runs;

/// <summary>
/// A folder of finished runs, one JSON file per run named by its spec (<see cref="RunSpec.FileStem"/>). Files are
/// written atomically (temporary file, then rename), so a killed run leaves nothing that looks finished, a re-run
/// reuses every finished run, and shards from different machines merge by copying their files into one folder.
/// Work folders (pruned models) live under <c>.work/</c> while their evaluations run.
/// </summary>
public sealed class ResultStore
{
    public ResultStore(string root) => Root = Path.GetFullPath(root);

    public string Root { get; }

    /// <summary>Where intermediate model folders go; <see cref="RemoveWork"/> deletes one once its evaluations are done.</summary>
    public string WorkFolder(RunSpec spec) => Path.Combine(Root, ".work", spec.FileStem);

    public string PathOf(RunSpec spec) => Path.Combine(Root, spec.FileStem + ".json");

    /// <summary>The finished result of <paramref name="spec"/>, or null when the store has none.</summary>
    public RunResult? TryGet(RunSpec spec)
    {
        var path = PathOf(spec);
        if (!File.Exists(path)) return null;
        var result = Read(path);
        if (result.SpecHash != spec.Hash || result.Spec.Hash != spec.Hash)
            throw new ResultFileException(path, $"holds the result of spec {result.SpecHash[..16]}…, not of {spec.Hash[..16]}… that its name says; " +
                                               "it was renamed or edited: delete it and the run is redone");
        return result;
    }

    public void Put(RunResult result)
    {
        if (result.SpecHash != result.Spec.Hash) throw new ArgumentException("the result's spec hash does not match its spec");
        ResultFiles.WriteJson(PathOf(result.Spec), result);
    }

    /// <summary>Every finished result in the store (files of other formats are errors naming the file).</summary>
    public IReadOnlyList<RunResult> All() =>
        Directory.Exists(Root)
            ? [.. Directory.EnumerateFiles(Root, "*.json").Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).Select(Read)]
            : [];

    public void RemoveWork(RunSpec spec)
    {
        var folder = WorkFolder(spec);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        foreach (var partial in new[] { folder + ".partial" }.Where(Directory.Exists)) Directory.Delete(partial, recursive: true);
    }

    /// <summary>Reads one result file; anything else is an error that names the file.</summary>
    public static RunResult Read(string path)
    {
        RunResult? result;
        try
        {
            result = JsonSerializer.Deserialize<RunResult>(File.ReadAllBytes(path), ResultFiles.Options);
        }
        catch (JsonException e)
        {
            throw new ResultFileException(path, $"is not a run result ({e.Message}); delete it and the run is redone");
        }
        if (result is null || result.Format != RunResult.CurrentFormat || result.Spec is null || result.Measurements is null)
            throw new ResultFileException(path, $"is not a {RunResult.CurrentFormat} file; delete it and the run is redone");
        return result;
    }
}

/// <summary>
/// Slice <see cref="Index"/> (1-based) of <see cref="Count"/>: the grid's specs sorted by hash, every Count-th from
/// Index − 1. Deterministic for a grid, balanced to one run, and the slices partition it.
/// </summary>
public readonly record struct Shard(int Index, int Count)
{
    public static Shard Whole => new(1, 1);

    public static Shard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var i) || !int.TryParse(parts[1], out var n) || n < 1 || i < 1 || i > n)
            throw new FormatException($"shard '{text}' is not i/n with 1 ≤ i ≤ n, e.g. 1/4");
        return new Shard(i, n);
    }

    public IReadOnlyList<RunSpec> Select(IEnumerable<RunSpec> grid)
    {
        var (index, count) = (Index, Count);
        return [.. grid.DistinctBy(s => s.Hash).OrderBy(s => s.Hash, StringComparer.Ordinal).Where((_, k) => k % count == index - 1)];
    }

    public override string ToString() => $"{Index}/{Count}";
}
