using Repro.Core.Claims;
using Repro.Core.Runs;
using Repro.Methods.Claims;

namespace Repro.Reports;

/// <summary>
/// Everything one report shows: per profile its verdicts file and the result files of its store, and the claim files
/// (for the source, the rule in words, the unseen language). Plain data: the renderer reads nothing else.
/// </summary>
public sealed record ReportInput(string Title, DateTimeOffset GeneratedUtc, IReadOnlyList<ProfileSection> Profiles, IReadOnlyList<Claim> Claims);

/// <param name="StoreLink">The store folder relative to the report's folder, so links to result files work when both are moved together.</param>
/// <param name="Runs">The store's result files that some verdict's tables cite, by file name.</param>
public sealed record ProfileSection(VerdictsFile Verdicts, string StoreLink, IReadOnlyList<StoredRun> Runs);

public sealed record StoredRun(string File, RunResult Result);

public static class ReportInputs
{
    /// <summary>
    /// Reads each store's <c>verdicts.json</c> and the result files its tables cite. A cited file that is missing or
    /// unreadable is an error naming it: the report would otherwise link to nothing.
    /// </summary>
    public static ReportInput Load(IReadOnlyList<string> stores, string expectations, string reportPath, DateTimeOffset now)
    {
        if (stores.Count == 0) throw new ArgumentException("no store given", nameof(stores));
        var reportFolder = Path.GetDirectoryName(Path.GetFullPath(reportPath))!;
        var sections = new List<ProfileSection>();
        foreach (var store in stores)
        {
            var root = Path.GetFullPath(store);
            var verdicts = VerdictsFile.Load(VerdictsFile.PathIn(root));
            if (sections.Any(s => s.Verdicts.Profile == verdicts.Profile))
                throw new ResultFileException(VerdictsFile.PathIn(root), $"profile '{verdicts.Profile}' is already given by another store; give each profile once");
            var cited = verdicts.Verdicts.SelectMany(v => v.Tables).SelectMany(t => t.Cells).SelectMany(c => c.Sources).Distinct().Order(StringComparer.Ordinal);
            var runs = cited.Select(file =>
            {
                var path = Path.Combine(root, file);
                if (Path.GetFileName(file) != file) throw new ResultFileException(VerdictsFile.PathIn(root), $"cites '{file}', which is not a file name in the store");
                if (!File.Exists(path)) throw new ResultFileException(path, "is cited by verdicts.json but missing from the store; re-run `repro claims verdict`");
                return new StoredRun(file, ResultStore.Read(path));
            }).ToList();
            sections.Add(new ProfileSection(verdicts, Path.GetRelativePath(reportFolder, root), runs));
        }
        var claims = ClaimCatalog.Load(expectations);
        return new ReportInput("Repro: claims and verdicts", now, sections, claims);
    }
}

/// <summary>
/// Writes the report as result files are written (a temporary file beside it, then a rename), so an interrupted
/// render never leaves half a page where a previous report was.
/// </summary>
public static class ReportFile
{
    public static void Write(string path, string html)
    {
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temp, html, new System.Text.UTF8Encoding(false));
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
