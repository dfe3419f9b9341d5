using Repro.Core;

namespace Repro.Methods.Pipeline;

/// <summary>An output folder that cannot be used (it exists, it is the input, a stale partial folder is not ours).</summary>
public sealed class OutputFolderException(string path, string problem) : InputFileException(path, problem);

/// <summary>
/// A model folder written under <c>&lt;out&gt;.partial</c> and renamed to <c>&lt;out&gt;</c> only when complete, so a run
/// that fails or is killed midway never leaves a folder that looks like a finished pruned model. The partial folder
/// carries a marker file; a later run may delete a partial folder only if it has that marker. For the whole run the
/// output is locked (<c>&lt;out&gt;.lock</c>, an exclusive lock the operating system drops when the process ends), so a
/// second run with the same output is refused instead of mixing its layers into the first one's, and never deletes
/// the partial folder of a run that is still alive. Paths are compared after resolving symbolic links, and
/// <c>--overwrite</c> replaces only a folder Repro wrote (its <c>prune.json</c> says so).
/// </summary>
sealed class OutputFolder : IDisposable
{
    public const string PartialSuffix = ".partial";
    public const string LockSuffix = ".lock";
    public const string MarkerFileName = ".repro-partial";

    readonly FileStream lockFile;

    OutputFolder(string final, string partial, FileStream lockFile) => (Final, Partial, this.lockFile) = (final, partial, lockFile);

    public string Final { get; }
    public string Partial { get; }

    public string PathOf(string relative) => System.IO.Path.Combine(Partial, relative);

    /// <summary>Checks <paramref name="outputDir"/> against the input and what exists, locks it, then starts a fresh partial folder.</summary>
    public static OutputFolder Begin(string outputDir, string inputDir, bool overwrite)
    {
        var final = Path.TrimEndingDirectorySeparator(RealPaths.Of(outputDir));
        var input = Path.TrimEndingDirectorySeparator(RealPaths.Of(inputDir));
        if (string.Equals(final, input, StringComparison.Ordinal) || final.StartsWith(input + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new OutputFolderException(outputDir, $"is the input model folder or inside it ({inputDir}{(final == Path.GetFullPath(outputDir) ? "" : $", reached as {final}")}); the input is never modified: choose another output folder");
        if (input.StartsWith(final + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new OutputFolderException(outputDir, $"contains the input model folder ({inputDir}); replacing it would delete the input: choose another output folder");
        if (File.Exists(final))
            throw new OutputFolderException(outputDir, "is a file; the output must be a folder");
        if (Directory.Exists(final))
        {
            if (!overwrite) throw new OutputFolderException(outputDir, "already exists; pass --overwrite to replace it, or choose another folder");
            if (!WrittenByRepro(final) && Directory.EnumerateFileSystemEntries(final).Any())
            {
                var entries = Directory.EnumerateFileSystemEntries(final).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(4).ToList();
                throw new OutputFolderException(outputDir, $"is not a Repro output (no Repro {PruneReport.FileName} in it) and holds {string.Join(", ", entries)}{(entries.Count == 4 ? ", …" : "")}; " +
                                                           "--overwrite replaces only folders Repro wrote: choose another output folder");
            }
        }

        var lockPath = final + LockSuffix;
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        FileStream held;
        try
        {
            held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new OutputFolderException(outputDir, $"is being written by another running Repro process (it holds {lockPath}); wait for it or choose another output folder");
        }
        try
        {
            held.SetLength(0);
            held.Write(System.Text.Encoding.UTF8.GetBytes($"pid {Environment.ProcessId} on {Environment.MachineName}\n"));
            held.Flush();
            var partial = final + PartialSuffix;
            if (Directory.Exists(partial))
            {
                if (!File.Exists(Path.Combine(partial, MarkerFileName)))
                    throw new OutputFolderException(partial, $"exists and was not left by an interrupted Repro run (no {MarkerFileName} in it); move it away or choose another output folder");
                Directory.Delete(partial, recursive: true);   // ours, and no live run holds the lock: left by a run that died
            }
            Directory.CreateDirectory(partial);
            File.WriteAllText(Path.Combine(partial, MarkerFileName), "An unfinished Repro output folder; safe to delete.\n");
            return new OutputFolder(final, partial, held);
        }
        catch
        {
            Release(held, lockPath);
            throw;
        }
    }

    /// <summary>A folder Repro finished: its prune.json carries Repro's format (or it is a partial folder Repro left).</summary>
    static bool WrittenByRepro(string folder)
    {
        if (File.Exists(Path.Combine(folder, MarkerFileName))) return true;
        var report = Path.Combine(folder, PruneReport.FileName);
        if (!File.Exists(report)) return false;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(report));
            return json.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && json.RootElement.TryGetProperty("format", out var f) &&
                   f.ValueKind == System.Text.Json.JsonValueKind.String && f.GetString()!.StartsWith("repro-prune/", StringComparison.Ordinal);
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Renames the finished partial folder to its final name, replacing an old folder only at this last step; the
    /// marker goes after the rename, so a crash in between leaves a folder the next run recognises as its own.
    /// </summary>
    public void Commit()
    {
        string? replaced = null;
        if (Directory.Exists(Final))
        {
            replaced = $"{Final}.replaced-{Guid.NewGuid():N}";
            Directory.Move(Final, replaced);
        }
        Directory.Move(Partial, Final);
        File.Delete(Path.Combine(Final, MarkerFileName));
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

    /// <summary>Releases the output's lock (the lock file goes too).</summary>
    public void Dispose() => Release(lockFile, Final + LockSuffix);

    static void Release(FileStream held, string path)
    {
        // Delete while still holding the lock, so no other process sees a lock file that nobody holds... except one
        // that opened it in between: that process then holds a lock on a deleted name, which is harmless.
        try { File.Delete(path); }
        catch (IOException) { }
        held.Dispose();
    }
}

/// <summary>Absolute paths with every symbolic link among their existing components resolved, for comparing an output with the inputs.</summary>
public static class RealPaths
{
    public static string Of(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full)!;
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                next = Of(target.FullName);
            current = next;
        }
        return current;
    }
}
