using Repro.Methods.Claims;
using Repro.Core;
using Repro.Core.Claims;
using Repro.Core.Runs;
using Repro.Methods.Runs;

namespace Repro.Claims.Tests;

/// <summary>
/// One case per claim and profile: the claim's grid runs at the profile through the result store (finished runs are
/// reused), the verdict is computed, and it must be the one the claim file expects there. <c>tiny</c> runs in every
/// <c>dotnet test</c>; <c>fixture</c> is checked from the store <c>make repro</c> fills; <c>paper</c> needs the real
/// checkpoints and CUDA, and is skipped with the reason when they are missing.
/// </summary>
public sealed class ClaimTests
{
    static IEnumerable<TestCaseData> Cases() =>
        from claim in ClaimCatalog.Load(RepoPaths.Expectations)
        from profile in claim.Profiles.Keys.OrderBy(p => ProfileCatalog.Names.ToList().IndexOf(p))
        select new TestCaseData(claim.Id, profile).SetArgDisplayNames(claim.Id, profile);

    public static string StoreOf(string profile) => Path.Combine(RepoPaths.Root, "out", "claims", profile);

    static readonly Lazy<ResolvedProfile> Tiny = new(() =>
    {
        var profile = ProfileCatalog.Get(RepoPaths.Expectations, "tiny").Resolve(RepoPaths.Root, out var missing)
                      ?? throw new InvalidOperationException($"the tiny profile must run everywhere, but: {missing}");
        // Every tiny claim's grid at once, so each run is done once for all of them.
        var catalog = ClaimCatalog.Load(RepoPaths.Expectations);
        ClaimRunner.Run(catalog, ClaimGrid.Plan(catalog, profile), profile, new ResultStore(StoreOf("tiny")), Shard.Whole);
        return profile;
    });

    [TestCaseSource(nameof(Cases))]
    public void Computed_verdict_matches_the_expected_one(string id, string profileName)
    {
        var catalog = ClaimCatalog.Load(RepoPaths.Expectations);
        var claim = catalog.Single(c => c.Id == id);
        var store = new ResultStore(StoreOf(profileName));
        ResolvedProfile profile;
        if (profileName == "tiny") profile = Tiny.Value;
        else
        {
            Repro.Core.Torch.TorchRuntime.EnsureLoaded();
            profile = ProfileCatalog.Get(RepoPaths.Expectations, profileName).Resolve(RepoPaths.Root, out var missing)!;
            if (profile is null) Assert.Ignore($"profile {profileName} cannot run here: {missing}");
            var runs = ClaimGrid.Of(claim, ClaimGrid.Plan(catalog, profile), profile);
            var stored = runs.Count(r => store.TryGet(r.Request.Spec) is not null);
            if (stored < runs.Count)
                Assert.Ignore($"profile {profileName} is run by {(profileName == "fixture" ? "`make repro`" : "`make nightly`")} (its budget is beyond a test run); " +
                              $"its store {store.Root} holds {stored} of this claim's {runs.Count} runs for this code version");
        }
        var verdict = ClaimVerdicts.Compute(claim, ClaimGrid.Plan(catalog, profile), profile, store, RepoPaths.Root, RepoPaths.Expectations);
        TestContext.Out.WriteLine($"{id} at {profileName}: {verdict.Verdict}");
        foreach (var note in verdict.Verdict.Notes) TestContext.Out.WriteLine($"  {note}");
        TestContext.Out.WriteLine($"paper: {verdict.Paper}");
        Assert.That(verdict.Verdict.Outcome, Is.EqualTo(verdict.Expected), $"{verdict.Verdict}; expected because: {verdict.Why}");
    }

    [Test]
    public void Tiny_cells_and_dense_figures_match_their_snapshot_within_the_seed_tolerance()
    {
        var profile = Tiny.Value;
        var catalog = ClaimCatalog.Load(RepoPaths.Expectations);
        var plan = ClaimGrid.Plan(catalog, profile);
        var store = new ResultStore(StoreOf("tiny"));
        var claims = catalog.Where(c => c.Profiles.ContainsKey("tiny")).ToList();
        var verdicts = claims.Select(c => ClaimVerdicts.Compute(c, plan, profile, store, RepoPaths.Root, RepoPaths.Expectations)).ToList();
        var measured = ClaimSnapshots.Measure(claims, plan, profile, store, verdicts);
        var path = Path.Combine(RepoPaths.Root, profile.Profile.Dense.Snapshot!);
        var differences = ClaimSnapshot.Load(path).Differences(measured);
        Assert.That(differences, Is.Empty, $"measured differs from {path}; if the change is intended, `./repro claims snapshot --profile tiny` records it:\n" +
                                           string.Join("\n", differences.Take(30)));
    }
}
