using System.Text.Json;
using Repro.Core.Claims;
using Repro.Core.Runs;

namespace Repro.Methods.Claims;

/// <summary>
/// <c>&lt;store&gt;/verdicts.json</c>, written by <c>repro claims run | verdict</c>: every claim's verdict at one profile
/// with the tables it was computed from (measured and the paper's), and the code that computed it. The report is
/// rendered from this file and the result files beside it, so it needs neither the models nor the grid.
/// </summary>
public sealed record VerdictsFile(string Profile, string Commit, CodeVersionRecord Code, string Store, DateTimeOffset ComputedUtc,
                                  IReadOnlyList<ClaimVerdict> Verdicts)
{
    public const string CurrentFormat = "repro-verdicts/2";
    public const string FileName = "verdicts.json";

    [System.Text.Json.Serialization.JsonPropertyOrder(-1)] public string Format { get; init; } = CurrentFormat;

    public static string PathIn(string store) => Path.Combine(store, FileName);

    /// <summary>Every claim's verdict at the profile from the store, with the code that computed them.</summary>
    public static VerdictsFile Compute(IEnumerable<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store, string root, string expectations) =>
        new(profile.Profile.Name, CodeVersion.Commit, CodeVersion.Record, store.Root, DateTimeOffset.UtcNow,
            [.. claims.Select(c => ClaimVerdicts.Compute(c, plan, profile, store, root, expectations))]);

    /// <summary>Writes it as <c>verdicts.json</c> in its store, atomically; returns the path.</summary>
    public string Write()
    {
        var path = PathIn(Store);
        ResultFiles.WriteJson(path, this);
        return path;
    }

    public static VerdictsFile Load(string path)
    {
        if (!File.Exists(path))
            throw new ResultFileException(path, "no verdicts file; `repro claims verdict --profile <profile> --store <store>` writes it");
        VerdictsFile? file;
        try
        {
            file = JsonSerializer.Deserialize<VerdictsFile>(File.ReadAllBytes(path), ResultFiles.Options);
        }
        catch (JsonException e)
        {
            throw new ResultFileException(path, $"is not a verdicts file ({e.Message})");
        }
        if (file is null || file.Format != CurrentFormat)
            throw new ResultFileException(path, $"is not a {CurrentFormat} file (written by an older repro? `repro claims verdict` rewrites it)");
        if (file.Verdicts is null) throw new ResultFileException(path, "has no \"verdicts\"");
        return file;
    }
}
