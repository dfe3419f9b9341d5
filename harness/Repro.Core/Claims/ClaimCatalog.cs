using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Repro.Core.Runs;

namespace Repro.Core.Claims;

/// <summary>
/// A claim as its reviewed file under <c>expectations/claims/</c> states it: what the paper says, where, the rule
/// that decides it (by name) with its parameters, which paper tables show it, and per profile the grid that tests it
/// and the verdict expected there. Nothing in it is a verdict: verdicts are computed from tables by the rule.
/// </summary>
/// <param name="UnseenLanguage">How the unseen language (sw) counts under this rule, in words.</param>
public sealed record Claim(string Id, string Statement, ClaimSource Source, string Rule, string RuleInWords, JsonObject Parameters,
                           string UnseenLanguage, PaperEvidence Paper, IReadOnlyDictionary<string, ProfileGrid> Profiles)
{
    [JsonIgnore] public string File { get; init; } = "";

    public Verdict Evaluate(IReadOnlyList<Block> blocks) => Rules.Get(Rule, File)(blocks, new RuleParameters(Parameters, File));
}

public sealed record ClaimSource(string Paper, string File, string Where);

/// <summary>Which transcribed cells show the claim: tables (relative to <c>expectations/papers/</c>), and filters on them.</summary>
/// <param name="Blocks">Methods of the tables to use (e.g. <c>wanda</c>, <c>gptq4</c>), each one block per model.</param>
/// <param name="Rows">Calibration rows to use; null: every row the tables print.</param>
public sealed record PaperEvidence(IReadOnlyList<string> Tables, IReadOnlyList<string> Tasks, IReadOnlyList<string> Blocks,
                                   IReadOnlyList<string>? Rows = null, string? Note = null);

/// <summary>One profile's test of a claim: the methods (one block each), calibration sets, measured metrics, and the expected verdict.</summary>
/// <param name="Calibrations"><c>each</c> (every profile language alone) and/or mixtures written <c>ar-de-en</c>.</param>
/// <param name="Metrics">Measured metrics that form the columns: <c>ppl</c>, <c>bpb</c>, <c>snr</c>, <c>pe</c> (one column per language), or <c>acc</c> / <c>acc_norm</c> (one per task and language).</param>
/// <param name="Why">Why this verdict is expected at this profile's scale, especially where it differs from the paper's.</param>
/// <param name="Seeds">Calibration seeds of this grid when they differ from the profile's (a budget choice the file states).</param>
/// <param name="Languages">This grid's languages when they differ from the profile's: what <c>each</c> expands to and what its
/// runs are evaluated on (Lang-Prune's nine languages, say, where Kurz's profile has seven).</param>
/// <param name="Models">The profile models this grid runs on, by name, when not all of them (each paper has its own checkpoints).</param>
/// <param name="NSamples">Calibration windows per run (per language for <see cref="GridMethod.SamplesPerLanguage"/> blocks) when not the profile's.</param>
/// <param name="Seqlen">Tokens per calibration window when not the profile's.</param>
public sealed record ProfileGrid(IReadOnlyList<GridMethod> Methods, IReadOnlyList<string> Calibrations, IReadOnlyList<string> Metrics,
                                 Outcome Expected, string Why, IReadOnlyList<int>? Seeds = null, IReadOnlyList<string>? Languages = null,
                                 IReadOnlyList<string>? Models = null,
                                 [property: JsonPropertyName("nsamples")] int? NSamples = null, int? Seqlen = null)
{
    /// <summary>The profile's models this grid runs on.</summary>
    public IEnumerable<(string Name, string Folder)> ModelsOf(ResolvedProfile profile) =>
        profile.Models.Where(m => Models is null || Models.Contains(m.Name));
}

/// <param name="Block">The block's name, matching the paper's method column (<c>wanda</c>, <c>sparsegpt</c>, <c>gptq4</c>, ...).</param>
/// <param name="Aggregate">Lang-Prune's merge of per-language importance: <c>max</c> (default), <c>mean</c> or <c>min</c>.</param>
/// <param name="Layers">Structured pruning's layer range <c>start:end</c> (end exclusive); null: METHODS §8's <c>[4, L−2)</c>.</param>
/// <param name="Calibrations">This block's calibration rows when they differ from the grid's (a mixed-data block needs no monolingual rows).</param>
/// <param name="SamplesPerLanguage">A mixture row draws the profile's nsamples per language, not in all (Lang-Prune's 100 per
/// language, 900 mixed); monolingual rows are unchanged.</param>
public sealed record GridMethod(string Block, string Method, decimal? Sparsity = null, string? Nm = null, int? Bits = null, int? GroupSize = null,
                                bool Sym = false, bool ActOrder = false, string? Aggregate = null, string? Layers = null,
                                IReadOnlyList<string>? Calibrations = null, bool SamplesPerLanguage = false);

/// <summary>The claims under <c>expectations/claims/</c>, checked on load.</summary>
public static class ClaimCatalog
{
    public static JsonSerializerOptions Options { get; } = new(ResultFiles.Options) { ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public static string Folder(string expectations) => Path.Combine(expectations, "claims");

    /// <summary>Every <c>*.json</c> claim file of the folder except <c>profiles.json</c>, ordered by id.</summary>
    public static IReadOnlyList<Claim> Load(string expectations)
    {
        var folder = Folder(expectations);
        if (!Directory.Exists(folder)) throw new ClaimFileException(folder, "claims folder not found");
        var claims = Directory.EnumerateFiles(folder, "*.json").Where(f => Path.GetFileName(f) != ProfileCatalog.FileName)
            .Select(LoadFile).OrderBy(c => c.Id, StringComparer.Ordinal).ToList();
        var duplicate = claims.GroupBy(c => c.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ClaimFileException(folder, $"claim id '{duplicate.Key}' is defined twice: {string.Join(", ", duplicate.Select(c => c.File))}");
        return claims;
    }

    public static Claim LoadFile(string path)
    {
        Claim? claim;
        try
        {
            claim = JsonSerializer.Deserialize<Claim>(File.ReadAllText(path), Options);
        }
        catch (JsonException e)
        {
            throw new ClaimFileException(path, $"is not a valid claim file: {e.Message}");
        }
        if (claim is null || string.IsNullOrWhiteSpace(claim.Id)) throw new ClaimFileException(path, "has no \"id\"");
        claim = claim with { File = path };
        Rules.Get(claim.Rule, path);
        if (claim.Paper is null || claim.Paper.Tables.Count == 0) throw new ClaimFileException(path, "names no paper tables (\"paper\": {\"tables\": [...]})");
        if (claim.Profiles is null || claim.Profiles.Count == 0) throw new ClaimFileException(path, "has no profiles");
        foreach (var (name, grid) in claim.Profiles)
        {
            if (!ProfileCatalog.Names.Contains(name)) throw new ClaimFileException(path, $"unknown profile '{name}'; known: {string.Join(", ", ProfileCatalog.Names)}");
            if (grid.Methods.Count == 0 || grid.Calibrations.Count == 0 || grid.Metrics.Count == 0)
                throw new ClaimFileException(path, $"profile '{name}' needs methods, calibrations and metrics");
        }
        return claim;
    }

    /// <summary>The claim's blocks from the transcribed tables, filtered as its paper section says.</summary>
    public static IReadOnlyList<Block> PaperBlocks(Claim claim, string expectations)
    {
        var blocks = PaperTables.Blocks(PaperCells(claim, expectations), claim.File);
        if (blocks.Count == 0) throw new ClaimFileException(claim.File, "its paper section selects no cells");
        return blocks;
    }

    /// <summary>The transcribed cells the claim's paper section selects, dense rows included, with their provenance.</summary>
    public static IReadOnlyList<PaperCell> PaperCells(Claim claim, string expectations) =>
        [.. claim.Paper.Tables.SelectMany(t => PaperTables.Load(Path.Combine(expectations, "papers", t)))
            .Where(c => claim.Paper.Tasks.Contains(c.Task) && (c.Method == "dense" || claim.Paper.Blocks.Contains(c.Method)))
            .Where(c => claim.Paper.Rows is null || c.Method == "dense" || claim.Paper.Rows.Contains(c.Row))];
}
