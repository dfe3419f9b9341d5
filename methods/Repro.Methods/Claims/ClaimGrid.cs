using Repro.Core;
using Repro.Methods.Runs;
using Repro.Methods.Structured;
using System.Text.Json;
using Repro.Core.Claims;
using Repro.Core.Runs;

namespace Repro.Methods.Claims;

/// <summary>
/// One run of the grids: which model, method (by <see cref="ClaimGrid.MethodKey"/>), calibration row and seed it is,
/// and the request that runs it. Claims share runs: a block of one claim and a block of another with the same method
/// read the same results.
/// </summary>
public sealed record GridRun(string Model, string MethodKey, string Row, int? Seed, RunRequest Request)
{
    public bool IsDense => MethodKey == ClaimGrid.DenseBlock;
}

/// <summary>
/// Turns the claims of a profile into the runs they need, the dense baseline of every model included. A run
/// evaluates what some claim reads from it and nothing else (a GPTQ run needs no hidden-state comparison if no claim
/// reads one), so the plan is always made for the whole catalog and a claim's runs are the part of it its grid covers.
/// </summary>
public static class ClaimGrid
{
    public const string DenseBlock = "dense";

    /// <summary>Every run the <paramref name="catalog"/>'s claims need at the profile, each spec once.</summary>
    public static IReadOnlyList<GridRun> Plan(IReadOnlyList<Claim> catalog, ResolvedProfile profile)
    {
        var evaluations = Evaluations(profile);
        var metrics = new Dictionary<(string Model, string Method, string Row, int? Seed), Need>();
        foreach (var claim in catalog)
        {
            if (!claim.Profiles.TryGetValue(profile.Profile.Name, out var grid) || !Measures(evaluations, grid.Metrics)) continue;
            var languages = Languages(grid, profile.Profile);
            var size = (grid.NSamples ?? profile.Profile.Calibration.NSamples, grid.Seqlen ?? profile.Profile.Calibration.Seqlen);
            foreach (var (model, _) in grid.ModelsOf(profile))
            {
                Add(metrics, (model, DenseBlock, DenseBlock, null), null, grid.Metrics, languages);
                foreach (var method in grid.Methods)
                    foreach (var row in Rows(grid, method, profile.Profile))
                        foreach (var seed in grid.Seeds ?? profile.Profile.Calibration.Seeds)
                            Add(metrics, (model, MethodKey(method), row, seed), Choice(method), grid.Metrics, languages, claim,
                                size.Item1 * (method.SamplesPerLanguage ? row.Split('-').Length : 1), size.Item2);
            }
        }
        var folders = profile.Models.ToDictionary(m => m.Name, m => m.Folder);
        return [.. metrics.Select(p =>
        {
            var (model, method, row, seed) = p.Key;
            var needed = evaluations.Where(e => Measures([e], [.. p.Value.Metrics.Keys]))
                .Select(e => e.Languages.SequenceEqual(profile.Profile.Languages) ? e with { Languages = p.Value.LanguagesOf(e, profile.Profile) } : e).ToList();
            var request = new RunRequest(model, folders[model], p.Value.Choice, seed is { } s ? Calibration(profile.Profile, row, s, p.Value.NSamples, p.Value.Seqlen) : null, needed,
                                         profile.Corpus, profile.Tasks, profile.Profile.Device, profile.Profile.DType);
            return new GridRun(model, method, row, seed, request);
        })];
    }

    /// <summary>What one run must measure: its method, and each metric some claim reads with the languages it is read in.</summary>
    sealed record Need(MethodChoice? Choice, Dictionary<string, HashSet<string>> Metrics, int NSamples, int Seqlen)
    {
        /// <summary>
        /// The languages an evaluation runs on: those of the metrics it yields, the profile's first and in its order, then
        /// any a grid adds, so a run that only grids on the profile's languages read keeps its spec.
        /// </summary>
        public IReadOnlyList<string> LanguagesOf(EvaluationChoice evaluation, Profile profile)
        {
            var wanted = Metrics.Where(m => Measures([evaluation], [m.Key])).SelectMany(m => m.Value).ToHashSet();
            var extra = Metrics.Where(m => Measures([evaluation], [m.Key])).SelectMany(m => m.Value).Where(l => !profile.Languages.Contains(l)).Distinct().Order(StringComparer.Ordinal);
            return [.. profile.Languages.Where(wanted.Contains).Concat(extra)];
        }
    }

    static void Add(Dictionary<(string, string, string, int?), Need> needs, (string, string, string, int?) key,
                    MethodChoice? choice, IEnumerable<string> metrics, IReadOnlyList<string> languages, Claim? claim = null, int nsamples = 0, int seqlen = 0)
    {
        if (!needs.TryGetValue(key, out var entry)) needs[key] = entry = new Need(choice, [], nsamples, seqlen);
        else if (entry.NSamples != nsamples || entry.Seqlen != seqlen)
            throw new ClaimFileException(claim?.File ?? "", $"{key.Item1} {key.Item2} row {key.Item3}: this grid calibrates it on {nsamples} × {seqlen} tokens, " +
                                                            $"another on {entry.NSamples} × {entry.Seqlen}; the same run cannot have two calibration sizes");
        foreach (var metric in metrics)
        {
            if (!entry.Metrics.TryGetValue(metric, out var set)) entry.Metrics[metric] = set = [];
            set.UnionWith(languages);
        }
    }

    /// <summary>The runs of <paramref name="plan"/> that <paramref name="claim"/>'s grid at the profile covers (its dense baselines included).</summary>
    public static IReadOnlyList<GridRun> Of(Claim claim, IReadOnlyList<GridRun> plan, ResolvedProfile profile)
    {
        if (!claim.Profiles.TryGetValue(profile.Profile.Name, out var grid)) return [];
        var cells = grid.Methods.SelectMany(m => Rows(grid, m, profile.Profile).Select(row => (MethodKey(m), row))).ToHashSet();
        var seeds = (grid.Seeds ?? profile.Profile.Calibration.Seeds).ToHashSet();
        var models = grid.ModelsOf(profile).Select(m => m.Name).ToHashSet();
        return [.. plan.Where(r => models.Contains(r.Model) && (r.IsDense || (cells.Contains((r.MethodKey, r.Row)) && seeds.Contains(r.Seed!.Value))))];
    }

    /// <summary>The runs of several claims, each spec once.</summary>
    public static IReadOnlyList<GridRun> Of(IEnumerable<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile) =>
        [.. claims.SelectMany(c => Of(c, plan, profile)).DistinctBy(r => r.Request.Spec.Hash)];

    /// <summary>
    /// How a grid's method is told apart from others: its method and options, e.g. <c>wanda-0.5</c>, <c>gptq-4b-g128</c>,
    /// and <c>-per-language</c> when its mixture rows draw the profile's nsamples per language.
    /// </summary>
    public static string MethodKey(GridMethod method)
    {
        var choice = Choice(method);
        return choice.Options.Label(choice.Name, choice.Kind) + (method.SamplesPerLanguage ? "-per-language" : "");
    }

    /// <summary>Whether some evaluation yields one of <paramref name="metrics"/>: ppl/bpb from ppl, snr/pe from hidden, acc/acc_norm from mc.</summary>
    public static bool Measures(IReadOnlyList<EvaluationChoice> evaluations, IReadOnlyList<string> metrics) =>
        evaluations.Any(e => metrics.Any(m => e.Kind switch
        {
            EvaluationSpec.Perplexity => m is "ppl" or "bpb",
            EvaluationSpec.Hidden => m is "snr" or "pe",
            EvaluationSpec.MultipleChoice => m is "acc" or "acc_norm",
            _ => false,
        }));

    /// <summary>
    /// A block's calibration rows: its own or the grid's; <c>each</c> expands to every language of the grid (by default the
    /// profile's); a mixture is written <c>ar-de-en</c>.
    /// </summary>
    public static IReadOnlyList<string> Rows(ProfileGrid grid, GridMethod method, Profile profile) =>
        [.. (method.Calibrations ?? grid.Calibrations).SelectMany(c => c == "each" ? Languages(grid, profile) : [c]).Distinct()];

    /// <summary>The grid's languages: what <c>each</c> expands to and what its runs are evaluated on.</summary>
    public static IReadOnlyList<string> Languages(ProfileGrid grid, Profile profile) => grid.Languages ?? profile.Languages;

    static CalibrationChoice Calibration(Profile profile, string row, int seed, int nsamples, int seqlen)
    {
        var languages = row.Split('-');
        var c = profile.Calibration;
        return new CalibrationChoice(languages, nsamples, seqlen, seed, AllowRepeatedText: languages.Any(c.AllowRepeatedText.Contains));
    }

    public static MethodChoice Choice(GridMethod m)
    {
        var nm = m.Nm is null ? null : NmPattern.Parse(m.Nm);
        var sparsity = m.Sparsity ?? (nm is null ? 0.5m : (decimal)nm.N / nm.M);
        return m.Bits is { } bits
            ? new MethodChoice(m.Method, new MethodOptions(new Sparsity(0), null, bits, m.GroupSize ?? 128, m.Sym, m.ActOrder), MethodKinds.Quantization)
            : new MethodChoice(m.Method, new MethodOptions(new Sparsity(sparsity), nm, Structured: Structured(m)));
    }

    /// <summary>Structured pruning's options from a grid method (aggregate, layer range); null for the other methods.</summary>
    static StructuredOptions? Structured(GridMethod m)
    {
        if (m.Method is not (StructuredPruner.LlmPrunerName or StructuredPruner.LangPruneName))
            return m.Aggregate is null && m.Layers is null ? null
                : throw new InputException($"block '{m.Block}': 'aggregate' and 'layers' are options of llm-pruner and lang-prune, not {m.Method}");
        return new StructuredOptions(Layers: m.Layers is null ? null : LayerRange.Parse(m.Layers),
                                     Merge: m.Aggregate is null ? LanguageMerge.Max : StructuredOptions.ParseMerge(m.Aggregate));
    }

    /// <summary>The profile's evaluations, each over the profile's languages unless it names its own.</summary>
    public static IReadOnlyList<EvaluationChoice> Evaluations(ResolvedProfile profile) =>
        [.. profile.Profile.Evaluations.Select(json =>
        {
            var choice = json.Deserialize<EvaluationChoice>(ClaimCatalog.Options)
                         ?? throw new ClaimFileException("profiles.json", $"evaluation {json.ToJsonString()} is empty");
            return choice.Languages is { Count: > 0 } ? choice : choice with { Languages = profile.Profile.Languages };
        })];
}
