using System.Text.Json;
using Repro.Core.Claims;
using Repro.Core.Runs;

namespace Repro.Methods.Runs;

/// <summary>One run of a claim's grid: which block, calibration row and seed it fills, and the request that runs it.</summary>
public sealed record GridRun(string Model, string Block, string Row, int? Seed, RunRequest Request);

/// <summary>Turns claims and a resolved profile into the runs they need (the dense baseline of every model included).</summary>
public static class ClaimGrid
{
    public const string DenseBlock = "dense";

    public static IReadOnlyList<GridRun> Runs(Claim claim, ResolvedProfile profile)
    {
        if (!claim.Profiles.TryGetValue(profile.Profile.Name, out var grid)) return [];
        var evaluations = Evaluations(profile);
        if (!Measures(evaluations, grid.Metrics)) return [];   // nothing the claim reads would be measured
        var runs = new List<GridRun>();
        foreach (var (model, folder) in profile.Models)
        {
            runs.Add(Dense(profile, model, folder, evaluations));
            foreach (var method in grid.Methods)
                foreach (var row in Rows(grid, profile.Profile))
                    foreach (var seed in profile.Profile.Calibration.Seeds)
                        runs.Add(new GridRun(model, method.Block, row, seed, new RunRequest(model, folder, Choice(method),
                            Calibration(profile.Profile, row, seed), evaluations, profile.Corpus, profile.Tasks, profile.Profile.Device, profile.Profile.DType)));
        }
        return runs;
    }

    /// <summary>Every run of several claims, each spec once.</summary>
    public static IReadOnlyList<GridRun> Runs(IEnumerable<Claim> claims, ResolvedProfile profile) =>
        [.. claims.SelectMany(c => Runs(c, profile)).DistinctBy(r => r.Request.Spec.Hash)];

    static GridRun Dense(ResolvedProfile profile, string model, string folder, IReadOnlyList<EvaluationChoice> evaluations) =>
        new(model, DenseBlock, DenseBlock, null, new RunRequest(model, folder, null, null, evaluations, profile.Corpus, profile.Tasks,
                                                             profile.Profile.Device, profile.Profile.DType));

    /// <summary>Whether some evaluation yields one of <paramref name="metrics"/>: ppl/bpb from ppl, snr/pe from hidden, acc/acc_norm from mc.</summary>
    public static bool Measures(IReadOnlyList<EvaluationChoice> evaluations, IReadOnlyList<string> metrics) =>
        evaluations.Any(e => metrics.Any(m => e.Kind switch
        {
            EvaluationSpec.Perplexity => m is "ppl" or "bpb",
            EvaluationSpec.Hidden => m is "snr" or "pe",
            EvaluationSpec.MultipleChoice => m is "acc" or "acc_norm",
            _ => false,
        }));

    /// <summary>Calibration rows: <c>each</c> expands to every profile language; a mixture is written <c>ar-de-en</c>.</summary>
    public static IReadOnlyList<string> Rows(ProfileGrid grid, Profile profile) =>
        [.. grid.Calibrations.SelectMany(c => c == "each" ? profile.Languages : [c]).Distinct()];

    static CalibrationChoice Calibration(Profile profile, string row, int seed)
    {
        var languages = row.Split('-');
        var c = profile.Calibration;
        return new CalibrationChoice(languages, c.NSamples, c.Seqlen, seed, AllowRepeatedText: languages.Any(c.AllowRepeatedText.Contains));
    }

    public static MethodChoice Choice(GridMethod m)
    {
        var nm = m.Nm is null ? null : NmPattern.Parse(m.Nm);
        var sparsity = m.Sparsity ?? (nm is null ? 0.5m : (decimal)nm.N / nm.M);
        return m.Bits is { } bits
            ? new MethodChoice(m.Method, new MethodOptions(new Sparsity(0), null, bits, m.GroupSize ?? 128, m.Sym, m.ActOrder), MethodKinds.Quantization)
            : new MethodChoice(m.Method, new MethodOptions(new Sparsity(sparsity), nm));
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
