using System.Text.Json;
using System.Text.Json.Nodes;

namespace Repro.Core.Claims;

/// <summary>
/// Where and at what scale a profile runs claims (DESIGN "Profiles"): its models, corpus and task folders (paths
/// relative to the checkout, or <c>$VARIABLE/...</c> for the paper profile's real checkpoints), the calibration
/// size and seeds, the evaluations every run performs, and how the dense model is gated.
/// </summary>
public sealed record Profile(string Name, string Description, IReadOnlyList<ProfileModel> Models, string Corpus, string? Tasks,
                             IReadOnlyList<string> Languages, ProfileCalibration Calibration, IReadOnlyList<JsonObject> Evaluations,
                             string Device, [property: System.Text.Json.Serialization.JsonPropertyName("dtype")] string DType, DenseGate Dense, double Chance = 25)
{
    /// <summary>Folders resolved against <paramref name="root"/> and the environment; null where something is missing, with <paramref name="missing"/> saying what.</summary>
    public ResolvedProfile? Resolve(string root, out string? missing)
    {
        var problems = new List<string>();
        string? Path1(string path, string what)
        {
            var resolved = ResolvePath(path, root, out var variable);
            if (resolved is null) { problems.Add($"{what}: environment variable {variable} is not set"); return null; }
            if (!Directory.Exists(resolved)) { problems.Add($"{what}: folder {resolved} not found"); return null; }
            return resolved;
        }
        var models = Models.Select(m => (m.Name, Folder: Path1(m.Path, $"model {m.Name}"))).ToList();
        var corpus = Path1(Corpus, "corpus");
        var tasks = Tasks is null ? null : Path1(Tasks, "tasks");
        if (Device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) && !TorchSharp.torch.cuda.is_available())
            problems.Add($"device {Device}: CUDA is not available (build with TORCH=cuda on a machine with a GPU)");
        missing = problems.Count == 0 ? null : string.Join("; ", problems);
        return missing is null ? new ResolvedProfile(this, [.. models.Select(m => (m.Name, m.Folder!))], corpus!, tasks) : null;
    }

    static string? ResolvePath(string path, string root, out string? variable)
    {
        variable = null;
        if (!path.StartsWith('$')) return System.IO.Path.GetFullPath(System.IO.Path.Combine(root, path));
        var slash = path.IndexOf('/');
        variable = slash < 0 ? path[1..] : path[1..slash];
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(value)) return null;
        return System.IO.Path.GetFullPath(slash < 0 ? value : System.IO.Path.Combine(value, path[(slash + 1)..]));
    }
}

public sealed record ProfileModel(string Name, string Path);

/// <param name="AllowRepeatedText">Calibration languages whose split may be shorter than their share × seqlen (recorded per run).</param>
public sealed record ProfileCalibration([property: System.Text.Json.Serialization.JsonPropertyName("nsamples")] int NSamples, int Seqlen, IReadOnlyList<int> Seeds, IReadOnlyList<string> AllowRepeatedText);

/// <summary>
/// How the dense model's own figures are checked before any verdict: against a measured snapshot (<c>tiny</c>,
/// <c>fixture</c>) or the paper's dense rows (<c>paper</c>), within a relative (perplexity) or absolute (accuracy
/// points) tolerance. Outside it, claims are "inconclusive: dense baseline off".
/// </summary>
/// <param name="Snapshot">For measured profiles: the snapshot file (relative to the checkout) holding the dense figures.</param>
public sealed record DenseGate(string Source, string? Snapshot, double RelativeTolerance, double AbsoluteTolerance);

public sealed record ResolvedProfile(Profile Profile, IReadOnlyList<(string Name, string Folder)> Models, string Corpus, string? Tasks);

/// <summary><c>expectations/claims/profiles.json</c>.</summary>
public static class ProfileCatalog
{
    public const string FileName = "profiles.json";
    public static IReadOnlyList<string> Names { get; } = ["tiny", "fixture", "paper"];

    public static IReadOnlyDictionary<string, Profile> Load(string expectations)
    {
        var path = Path.Combine(ClaimCatalog.Folder(expectations), FileName);
        if (!File.Exists(path)) throw new ClaimFileException(path, "profiles file not found");
        Dictionary<string, Profile>? profiles;
        try
        {
            profiles = JsonSerializer.Deserialize<Dictionary<string, Profile>>(File.ReadAllText(path), ClaimCatalog.Options);
        }
        catch (JsonException e)
        {
            throw new ClaimFileException(path, $"is not a valid profiles file: {e.Message}");
        }
        if (profiles is null) throw new ClaimFileException(path, "is empty");
        foreach (var name in Names)
            if (!profiles.ContainsKey(name)) throw new ClaimFileException(path, $"defines no profile '{name}'");
        return profiles.ToDictionary(p => p.Key, p => p.Value with { Name = p.Key });
    }

    public static Profile Get(string expectations, string name) =>
        Load(expectations).TryGetValue(name, out var profile) ? profile
        : throw new InputException($"unknown profile '{name}'; known: {string.Join(", ", Names)}");
}
