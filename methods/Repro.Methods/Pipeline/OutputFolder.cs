using Repro.Core;
using Repro.Core.Checkpoints;

namespace Repro.Methods.Pipeline;

/// <summary>An output folder that cannot be used (it exists, it is the input, a stale partial folder is not ours).</summary>
public sealed class OutputFolderException(string path, string problem) : InputFileException(path, problem);

/// <summary>
/// A model folder written under <c>&lt;out&gt;.partial</c> and renamed to <c>&lt;out&gt;</c> only when complete, so a run
/// that fails or is killed midway never leaves a folder that looks like a finished pruned model. The partial folder
/// carries a marker file; a later run may delete a partial folder only if it has that marker. For the whole run the
/// output is locked (<c>&lt;out&gt;.lock</c>, an exclusive lock the operating system drops when the process ends), so a
/// second run with the same output is refused instead of mixing its layers into the first one's, and never deletes
/// the partial folder of a run that is still alive. Every check of what exists runs under that lock, and again at
/// the final rename. Paths are compared after resolving symbolic links.
/// <para>
/// <c>--overwrite</c> replaces only a folder Repro wrote (its <c>prune.json</c> says so), and of it only the files
/// Repro wrote (listed in its <see cref="ManifestFileName"/>; a folder from before that list by the names Repro
/// writes): anything else in it, a researcher's notes or an eval's results, is moved into the new folder. The old
/// folder is first renamed to <c>&lt;out&gt;.replaced-&lt;id&gt;</c>, the new one takes the final name, the kept entries move
/// over, the old folder's rest is deleted, and the new folder's marker goes last. A run killed in between is finished
/// by the next run on the same output, under the lock: with no <c>&lt;out&gt;</c> the old folder is restored (the
/// replacement never happened); with an <c>&lt;out&gt;</c> that still has the marker the replacement is completed.
/// </para>
/// </summary>
sealed class OutputFolder : IDisposable
{
    public const string PartialSuffix = ".partial";
    public const string LockSuffix = ".lock";
    public const string MarkerFileName = ".repro-partial";
    /// <summary>The files (relative, '/'-separated) Repro wrote into a finished folder: what <c>--overwrite</c> may replace.</summary>
    public const string ManifestFileName = ".repro-files";
    const string ReplacedInfix = ".replaced-";
    const string DiscardInfix = ".discard-";

    /// <summary>Test seam: called at each step of <see cref="Commit"/> by name; a test throws there to stop the run as a crash would.</summary>
    internal static readonly AsyncLocal<Action<string>?> CommitStep = new();

    readonly OutputLock held;
    readonly string shown;
    readonly bool overwrite;
    bool kept;

    OutputFolder(string final, string shown, bool overwrite, OutputLock held) =>
        (Final, Partial, this.shown, this.overwrite, this.held) = (final, final + PartialSuffix, shown, overwrite, held);

    public string Final { get; }
    public string Partial { get; }

    public string PathOf(string relative) => System.IO.Path.Combine(Partial, relative);

    /// <summary>Checks <paramref name="outputDir"/> against the input, locks it, finishes what a killed run left, checks what exists, then starts a fresh partial folder.</summary>
    public static OutputFolder Begin(string outputDir, string inputDir, bool overwrite)
    {
        var final = Path.TrimEndingDirectorySeparator(RealPaths.Of(outputDir));
        var input = Path.TrimEndingDirectorySeparator(RealPaths.Of(inputDir));
        if (RealPaths.IsOrInside(final, input))
            throw new OutputFolderException(outputDir, $"is the input model folder or inside it ({inputDir}{(final == Path.GetFullPath(outputDir) ? "" : $", reached as {final}")}); the input is never modified: choose another output folder");
        if (RealPaths.IsInside(input, final))
            throw new OutputFolderException(outputDir, $"contains the input model folder ({inputDir}); replacing it would delete the input: choose another output folder");

        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        var held = OutputLock.Acquire(final + LockSuffix, outputDir);
        try
        {
            Recover(final, outputDir);
            if (Unusable(final, overwrite) is { } problem) throw new OutputFolderException(outputDir, problem);
            var partial = final + PartialSuffix;
            if (Directory.Exists(partial))
            {
                if (!File.Exists(Path.Combine(partial, MarkerFileName)))
                    throw new OutputFolderException(partial, $"exists and was not left by an interrupted Repro run (no {MarkerFileName} in it); move it away or choose another output folder");
                Directory.Delete(partial, recursive: true);   // ours, and no live run holds the lock: left by a run that died
            }
            Directory.CreateDirectory(partial);
            File.WriteAllText(Path.Combine(partial, MarkerFileName), "An unfinished Repro output folder; safe to delete.\n");
            return new OutputFolder(final, outputDir, overwrite, held);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>Why what is at <paramref name="final"/> may not be replaced, or null when nothing is there or it may.</summary>
    static string? Unusable(string final, bool overwrite)
    {
        if (File.Exists(final)) return "is a file; the output must be a folder";
        if (!Directory.Exists(final)) return null;
        if (!overwrite) return "already exists; pass --overwrite to replace it, or choose another folder";
        if (WrittenByRepro(final) || !Directory.EnumerateFileSystemEntries(final).Any()) return null;
        var entries = Directory.EnumerateFileSystemEntries(final).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(4).ToList();
        return $"is not a Repro output (no Repro {PruneReport.FileName} in it) and holds {string.Join(", ", entries)}{(entries.Count == 4 ? ", …" : "")}; " +
               "--overwrite replaces only folders Repro wrote: choose another output folder";
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
    /// Renames the finished partial folder to its final name, replacing an old folder only at this last step and
    /// keeping what in it Repro did not write. What is at the final name is checked again first: a folder another
    /// program put there while this run wrote is left alone, and the finished output is kept as the partial folder
    /// (without its marker, so no later run deletes it).
    /// </summary>
    public void Commit()
    {
        WriteManifest(Partial);
        if (Unusable(Final, overwrite) is { } problem) Refuse($"{problem} (it appeared while this run was writing)");
        var carried = Directory.Exists(Final) ? NotWrittenByRepro(Final) : [];
        foreach (var relative in carried)
            if (Occupied(Partial, relative) is { } clash)
                Refuse($"holds {relative}, which Repro did not write and would keep, but the new output has {clash} there; move it out of the folder and run again");
        string? replaced = null;
        if (Directory.Exists(Final))
        {
            replaced = $"{Final}{ReplacedInfix}{Guid.NewGuid():N}";
            Directory.Move(Final, replaced);
            Step("moved-aside");
        }
        Directory.Move(Partial, Final);
        Step("renamed");
        if (replaced is not null) FinishReplacing(Final, replaced, shown);
        // Last: until the marker goes, the next run on this output knows the folder as its own and finishes the replacement.
        File.Delete(Path.Combine(Final, MarkerFileName));
    }

    void Refuse(string problem)
    {
        File.Delete(Path.Combine(Partial, MarkerFileName));
        kept = true;
        throw new OutputFolderException(shown, $"{problem}; it was left as it is, and this run's finished output was kept as {Partial}");
    }

    static void Step(string name) => CommitStep.Value?.Invoke(name);

    /// <summary>Moves the entries Repro did not write from the old folder into the new one, then deletes the old folder's rest.</summary>
    static void FinishReplacing(string final, string replaced, string shown)
    {
        foreach (var relative in NotWrittenByRepro(replaced))
        {
            var from = Path.Combine(replaced, relative);
            var to = Path.Combine(final, relative);
            if (Occupied(final, relative) is { } clash)
                throw new OutputFolderException(shown, $"the replaced folder {replaced} holds {relative}, which Repro did not write, and {final} has {clash} there; move one of them and run again");
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            if (Directory.Exists(from)) Directory.Move(from, to);
            else File.Move(from, to);
            Step("carried");
        }
        // Renamed first, so a crash while deleting leaves a name that says everything kept has been moved out.
        var discard = $"{final}{DiscardInfix}{Guid.NewGuid():N}";
        Directory.Move(replaced, discard);
        Step("discarding");
        Directory.Delete(discard, recursive: true);
    }

    /// <summary>
    /// Under the lock, before anything else: what a run killed inside <see cref="Commit"/> left. An old folder moved
    /// aside with nothing at the final name is restored; with the new folder at the final name (its marker still
    /// there) the replacement is completed; a discarded rest is deleted.
    /// </summary>
    static void Recover(string final, string shown)
    {
        var parent = Path.GetDirectoryName(final)!;
        var name = Path.GetFileName(final);
        foreach (var discard in Directory.EnumerateDirectories(parent, name + DiscardInfix + "*").Where(d => IsOurs(d, final, DiscardInfix)).ToList())
            Directory.Delete(discard, recursive: true);
        foreach (var replaced in Directory.EnumerateDirectories(parent, name + ReplacedInfix + "*").Where(d => IsOurs(d, final, ReplacedInfix)).ToList())
        {
            if (!WrittenByRepro(replaced) && Directory.EnumerateFileSystemEntries(replaced).Any()) continue;
            if (!Directory.Exists(final) && !File.Exists(final)) Directory.Move(replaced, final);
            else if (File.Exists(Path.Combine(final, MarkerFileName))) FinishReplacing(final, replaced, shown);
        }
        if (File.Exists(Path.Combine(final, MarkerFileName)) && File.Exists(Path.Combine(final, ManifestFileName)))
            File.Delete(Path.Combine(final, MarkerFileName));   // renamed, killed before its marker went: complete
    }

    static bool IsOurs(string folder, string final, string infix)
    {
        var id = Path.GetFileName(folder)[(Path.GetFileName(final).Length + infix.Length)..];
        return id.Length == 32 && id.All(Uri.IsHexDigit);
    }

    /// <summary>What in <paramref name="folder"/> lies at <paramref name="relative"/> or at a file above it, or null.</summary>
    static string? Occupied(string folder, string relative)
    {
        var parts = relative.Split('/');
        for (var i = 1; i <= parts.Length; i++)
        {
            var path = Path.Combine([folder, .. parts[..i]]);
            if (i == parts.Length ? Path.Exists(path) || new FileInfo(path).LinkTarget is not null : File.Exists(path))
                return string.Join('/', parts[..i]);
        }
        return null;
    }

    static void WriteManifest(string folder)
    {
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                             .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
                             .Where(f => f is not MarkerFileName and not ManifestFileName).Order(StringComparer.Ordinal);
        File.WriteAllLines(Path.Combine(folder, ManifestFileName), files);
    }

    /// <summary>
    /// The entries (relative, '/'-separated) of a Repro folder that Repro did not write: files not in its manifest,
    /// and whole folders with none of its files. A folder without a manifest (written before Repro kept one) counts
    /// the names Repro writes as its own.
    /// </summary>
    static List<string> NotWrittenByRepro(string folder)
    {
        var manifest = Path.Combine(folder, ManifestFileName);
        var written = File.Exists(manifest)
            ? File.ReadAllLines(manifest).Where(l => l.Length > 0).ToHashSet(StringComparer.Ordinal)
            : LegacyNames.SelectMany(p => Directory.EnumerateFiles(folder, p)).Select(Path.GetFileName).OfType<string>()
                         .Concat(Directory.Exists(Path.Combine(folder, "masks"))
                             ? Directory.EnumerateFiles(Path.Combine(folder, "masks"), "*", SearchOption.AllDirectories)
                                        .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
                             : [])
                         .ToHashSet(StringComparer.Ordinal);
        written.Add(MarkerFileName);
        written.Add(ManifestFileName);
        var kept = new List<string>();
        void Walk(string relative)
        {
            foreach (var entry in new DirectoryInfo(Path.Combine(folder, relative)).EnumerateFileSystemInfos())
            {
                var path = relative.Length == 0 ? entry.Name : $"{relative}/{entry.Name}";
                if (entry is DirectoryInfo && entry.LinkTarget is null)
                {
                    if (written.Any(w => w.StartsWith(path + "/", StringComparison.Ordinal))) Walk(path);
                    else kept.Add(path);
                }
                else if (!written.Contains(path)) kept.Add(path);
            }
        }
        Walk("");
        kept.Sort(StringComparer.Ordinal);
        return kept;
    }

    /// <summary>The names a Repro output held before it listed its files.</summary>
    static readonly string[] LegacyNames =
        ["*.safetensors", "model.safetensors.index.json", "config.json", PruneReport.FileName, .. HfCheckpointWriter.AuxiliaryFilePatterns];

    /// <summary>Best effort after a failure: the partial folder goes; if deleting fails, its name and marker still say it is unfinished.</summary>
    public void Abandon()
    {
        if (kept) return;
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
    public void Dispose() => held.Dispose();
}

/// <summary>
/// An exclusive lock on a file (flock on Unix, a share mode on Windows), dropped by the operating system when the
/// process ends. The holder deletes the file before it lets go, so no lock file outlives its run; a process that
/// opened the file just before that then holds a lock on a name no longer there, so after locking each process
/// checks that the name still leads to the file it locked (same modification time, which it just set to a random
/// one, and same length) and otherwise opens the name again.
/// </summary>
sealed class OutputLock : IDisposable
{
    /// <summary>Test seam: opens the lock file; a test returns a handle on a file that is no longer at that name.</summary>
    internal static readonly AsyncLocal<Func<string, FileStream>?> Open = new();

    readonly string path;
    readonly FileStream stream;

    OutputLock(string path, FileStream stream) => (this.path, this.stream) = (path, stream);

    public static OutputLock Acquire(string path, string outputDir)
    {
        for (var attempt = 0; ; attempt++)
        {
            FileStream stream;
            try
            {
                stream = Open.Value is { } open ? open(path) : new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (IsLockConflict(e))
            {
                throw new OutputFolderException(outputDir, $"is being written by another running Repro process (it holds {path}); wait for it or choose another output folder");
            }
            bool atName;
            try
            {
                stream.SetLength(0);
                try
                {
                    File.SetLastWriteTimeUtc(stream.SafeFileHandle, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc)
                        .AddSeconds(Random.Shared.NextInt64(1L << 30)).AddTicks(Random.Shared.Next(10_000_000)));
                }
                catch (UnauthorizedAccessException)
                {
                    // Another user's lock file: its own modification time, in nanoseconds, still tells it from a newer one.
                }
                var mine = File.GetLastWriteTimeUtc(stream.SafeFileHandle);
                var info = new FileInfo(path);
                atName = info.Exists && info.LastWriteTimeUtc == mine && info.Length == stream.Length;
            }
            catch
            {
                stream.Dispose();
                throw;
            }
            if (atName)
            {
                // The output's lock from here on: a failure (a full disk) deletes the file as a release does.
                var held = new OutputLock(path, stream);
                try
                {
                    stream.Write(System.Text.Encoding.UTF8.GetBytes($"pid {Environment.ProcessId} on {Environment.MachineName}\n"));
                    stream.Flush();
                    return held;
                }
                catch
                {
                    held.Dispose();
                    throw;
                }
            }
            stream.Dispose();   // a lock on a file another run has already deleted: not the output's lock
            if (attempt == 20) throw new IOException($"{path}: the lock file kept being replaced while this run tried to lock it");
        }
    }

    /// <summary>Only a held lock means another process: EWOULDBLOCK from flock (11 on Linux, 35 on macOS and BSD), a sharing or lock violation on Windows.</summary>
    static bool IsLockConflict(IOException e) =>
        OperatingSystem.IsWindows() ? e.HResult is unchecked((int)0x80070020) or unchecked((int)0x80070021)
        : OperatingSystem.IsLinux() ? e.HResult == 11
        : e.HResult == 35;

    /// <summary>Deletes the file while still holding the lock, then lets go; a run that opened it in between finds the name gone and opens it again.</summary>
    public void Dispose()
    {
        try { File.Delete(path); }
        catch (IOException) { }
        stream.Dispose();
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

    /// <summary>Whether <paramref name="path"/> lies under <paramref name="folder"/> (both real paths; not the folder itself).</summary>
    public static bool IsInside(string path, string folder) =>
        path.StartsWith(Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or lies under it (both real paths).</summary>
    public static bool IsOrInside(string path, string folder) => string.Equals(path, folder, StringComparison.Ordinal) || IsInside(path, folder);
}
