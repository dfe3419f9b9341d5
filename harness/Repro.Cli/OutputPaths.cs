namespace Repro.Cli;

/// <summary>
/// Checks a results file path before any work is done, so a run never computes for minutes and then fails to write,
/// or overwrites what it reads: the path must not be a folder, its parent must be a folder (or creatable), and it
/// must not be, or lie inside, one of the run's inputs. Symbolic links are resolved in the output's path, in each
/// input's path and inside each input folder: a Hugging Face cache snapshot links every file to
/// <c>../../blobs/&lt;sha&gt;</c>, and writing to that blob would replace the model's config or weights.
/// </summary>
public static class OutputPaths
{
    public static string CheckResultFile(string path, string option, params string[] inputs)
    {
        var full = Real(path);
        if (Directory.Exists(full)) throw new BadInputException($"{option} {path}: is a folder; give a file name such as results.json");
        for (var parent = Path.GetDirectoryName(full); parent is not null; parent = Path.GetDirectoryName(parent))
        {
            if (Directory.Exists(parent)) break;
            if (File.Exists(parent)) throw new BadInputException($"{option} {path}: {parent} is a file, not a folder");
        }
        foreach (var input in inputs.Where(i => !string.IsNullOrEmpty(i)))
            if (Overlap(full, input) is { } what)
                throw new BadInputException($"{option} {path}: {what}, which this run reads; write the results elsewhere");
        return full;
    }

    /// <summary>How the output (a real path) overlaps <paramref name="input"/> or what a link inside it leads to, or null.</summary>
    static string? Overlap(string output, string input)
    {
        var real = Real(input);
        if (Within(output, real) is { } inputSide) return $"is {inputSide}{input}";
        if (!Directory.Exists(real)) return null;
        // Entries that are not links have real paths inside the input's, covered above; only links lead elsewhere. A
        // linked folder is checked as a whole and not walked, so a link to a large tree costs nothing.
        var pending = new Stack<string>([real]);
        while (pending.Count > 0)
        {
            var folder = pending.Pop();
            foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos())
            {
                if (entry.LinkTarget is null)
                {
                    if (entry is DirectoryInfo) pending.Push(entry.FullName);
                    continue;
                }
                var target = Real(entry.FullName);
                var shown = Path.Join(input, Path.GetRelativePath(real, entry.FullName));
                if (Directory.Exists(target))
                {
                    if (Within(output, target) is { } side) return $"is {side}{target}, the folder {shown} links to";
                }
                else if (output == target) return $"is {target}, the file {shown} links to";
            }
        }
        return null;
    }

    /// <summary>"" when <paramref name="path"/> is <paramref name="folder"/>, "inside " when it lies under it, else null.</summary>
    static string? Within(string path, string folder)
    {
        if (path == folder) return "";
        return Repro.Methods.Pipeline.RealPaths.IsInside(path, folder) ? "inside " : null;
    }

    static string Real(string path) => Repro.Methods.Pipeline.RealPaths.Of(path);
}
