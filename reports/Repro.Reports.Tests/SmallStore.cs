using System.Text.Json.Nodes;
using Repro.Core;
using Repro.Core.Claims;
using Repro.Core.Runs;
using Repro.Methods.Claims;

namespace Repro.Reports.Tests;

/// <summary>
/// A real store for the report tests: the tiny profile cut down to five languages, one seed and small evaluation
/// budgets, for three claims (perplexity, SNR and the word-order task), run through the claim engine and its
/// verdicts written as <c>make repro</c> writes them. Its own folder, so it never races the claim tests' tiny store;
/// finished runs are reused as in any store. The dense gate is off: the tiny snapshot's dense figures were measured
/// at the full tiny budgets, which this store does not use.
/// </summary>
static class SmallStore
{
    public static readonly IReadOnlyList<string> ClaimIds = ["C1-ppl", "C1-snr", "C-down"];

    public static string Root => Path.Combine(RepoPaths.Root, "out", "test-stores", "report");

    static readonly Lazy<VerdictsFile> verdicts = new(() =>
    {
        Repro.Core.Torch.TorchRuntime.EnsureLoaded();
        var tiny = ProfileCatalog.Get(RepoPaths.Expectations, "tiny");
        var profile = tiny with
        {
            Languages = ["ar", "de", "en", "es", "zh"],
            Calibration = tiny.Calibration with { Seeds = [0, 1] },
            Evaluations =
            [
                new JsonObject { ["kind"] = "ppl", ["seqlen"] = 64, ["windows"] = 4 },
                new JsonObject { ["kind"] = "hidden", ["seqlen"] = 64, ["windows"] = 2 },
                new JsonObject { ["kind"] = "mc", ["task"] = "word-order", ["format"] = "cloze", ["bos"] = "prefix", ["limit"] = 8 },
            ],
            Dense = tiny.Dense with { Source = "none" },
        };
        var resolved = profile.Resolve(RepoPaths.Root, out var missing) ?? throw new InvalidOperationException($"the tiny profile must run everywhere, but: {missing}");
        var catalog = ClaimCatalog.Load(RepoPaths.Expectations);
        var claims = catalog.Where(c => ClaimIds.Contains(c.Id)).ToList();
        var plan = ClaimGrid.Plan(claims, resolved);
        var store = new ResultStore(Root);
        ClaimRunner.Run(claims, plan, resolved, store, Shard.Whole);
        var file = VerdictsFile.Compute(claims, plan, resolved, store, RepoPaths.Root, RepoPaths.Expectations);
        file.Write();
        return file;
    });

    /// <summary>The verdicts, computed once per test process (the runs once per code version).</summary>
    public static VerdictsFile Verdicts => verdicts.Value;

    public static string VerdictsPath
    {
        get
        {
            _ = Verdicts;
            return VerdictsFile.PathIn(Root);
        }
    }
}
