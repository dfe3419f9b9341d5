using Repro.Core;

namespace Repro.Methods.Pipeline;

/// <summary>An output folder that cannot be used (it exists, it is the input, a stale partial folder is not ours).</summary>
public sealed class OutputFolderException(string path, string problem) : InputFileException(path, problem);

/// <summary>
/// A model folder written under <c>&lt;out&gt;.partial</c> and renamed to <c>&lt;out&gt;</c> only when complete, so a run
/// that fails or is killed midway never leaves a folder that looks like a finished pruned model. The partial folder
/// carries a marker file; a later run may delete a partial folder only if it has that marker.
/// </summary>
sealed class OutputFolder
{
    public const string PartialSuffix = ".partial";
    public const string MarkerFileName = ".repro-partial";

    OutputFolder(string final, string partial) => (Final, Partial) = (final, partial);

    public string Final { get; }
    public string Partial { get; }

    public string PathOf(string relative) => System.IO.Path.Combine(Partial, relative);

    /// <summary>Checks <paramref name="outputDir"/> against the input and what exists, then starts a fresh partial folder.</summary>
    public static OutputFolder Begin(string outputDir, string inputDir, bool overwrite)
    {
        var final = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDir));
        var input = Path.TrimEndingDirectorySeparator(Path.GetFullPath(inputDir));
        if (string.Equals(final, input, StringComparison.Ordinal) || final.StartsWith(input + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new OutputFolderException(outputDir, $"is the input model folder or inside it ({inputDir}); the input is never modified: choose another output folder");
        if (input.StartsWith(final + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new OutputFolderException(outputDir, $"contains the input model folder ({inputDir}); replacing it would delete the input: choose another output folder");
        if (File.Exists(final))
            throw new OutputFolderException(outputDir, "is a file; the output must be a folder");
        if (Directory.Exists(final) && !overwrite)
            throw new OutputFolderException(outputDir, "already exists; pass --overwrite to replace it, or choose another folder");

        var partial = final + PartialSuffix;
        if (Directory.Exists(partial))
        {
            if (!File.Exists(Path.Combine(partial, MarkerFileName)))
                throw new OutputFolderException(partial, $"exists and was not left by an interrupted Repro run (no {MarkerFileName} in it); move it away or choose another output folder");
            Directory.Delete(partial, recursive: true);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        Directory.CreateDirectory(partial);
        File.WriteAllText(Path.Combine(partial, MarkerFileName), "An unfinished Repro output folder; safe to delete.\n");
        return new OutputFolder(final, partial);
    }

    /// <summary>Renames the finished partial folder to its final name, replacing an old folder only at this last step.</summary>
    public void Commit()
    {
        File.Delete(Path.Combine(Partial, MarkerFileName));
        string? replaced = null;
        if (Directory.Exists(Final))
        {
            replaced = $"{Final}.replaced-{Guid.NewGuid():N}";
            Directory.Move(Final, replaced);
        }
        Directory.Move(Partial, Final);
        if (replaced is not null) Directory.Delete(replaced, recursive: true);
    }

    /// <summary>Best effort after a failure: the partial folder goes; if deleting fails, its name and marker still say it is unfinished.</summary>
    public void Abandon()
    {
        try
        {
            if (Directory.Exists(Partial)) Directory.Delete(Partial, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
