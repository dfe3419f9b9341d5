namespace Repro.Cli;

/// <summary>
/// Checks a results file path before any work is done, so a run never computes for minutes and then fails to write,
/// or overwrites what it reads: the path must not be a folder, its parent must be a folder (or creatable), and it
/// must not lie inside (or be) one of the run's inputs, symbolic links resolved.
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
        {
            var real = Real(input);
            if (full == real || full.StartsWith(Path.TrimEndingDirectorySeparator(real) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new BadInputException($"{option} {path}: is {(full == real ? "" : "inside ")}{input}, which this run reads; write the results elsewhere");
        }
        return full;
    }

    static string Real(string path) => Repro.Methods.Pipeline.RealPaths.Of(path);
}
