using System.Globalization;
using System.Text.Json.Nodes;
using Repro.Core;
using Repro.Core.Claims;
using Repro.Core.Runs;
using Repro.Methods.Claims;

namespace Repro.Claims.Tests;

/// <summary>
/// What the nightly job does with shards, on the CPU: a grid run as two shards and merged equals the grid run
/// whole, and a result that moved is reported against the accepted snapshot as the cell, its old and new value and
/// the tolerance it left. A cut-down tiny grid (C1-ppl, three languages, two seeds, short windows) keeps it quick.
/// </summary>
[NonParallelizable]
public sealed class NightlyTests
{
    static readonly Lazy<(ResolvedProfile Profile, IReadOnlyList<Claim> Claims, IReadOnlyList<GridRun> Plan)> small = new(() =>
    {
        Repro.Core.Torch.TorchRuntime.EnsureLoaded();
        var tiny = ProfileCatalog.Get(RepoPaths.Expectations, "tiny");
        var profile = tiny with
        {
            Languages = ["de", "en", "zh"],
            Calibration = tiny.Calibration with { Seeds = [0, 1], NSamples = 4 },
            Evaluations = [new JsonObject { ["kind"] = "ppl", ["seqlen"] = 64, ["windows"] = 2 }],
            Dense = tiny.Dense with { Source = "none" },
        };
        var resolved = profile.Resolve(RepoPaths.Root, out var missing) ?? throw new InvalidOperationException(missing);
        var claims = ClaimCatalog.Load(RepoPaths.Expectations).Where(c => c.Id == "C1-ppl").ToList();
        return (resolved, claims, ClaimGrid.Plan(claims, resolved));
    });

    static ResultStore RunInto(string folder, Shard shard)
    {
        var (profile, claims, plan) = small.Value;
        var store = new ResultStore(folder);
        ClaimRunner.Run(claims, plan, profile, store, shard);
        return store;
    }

    static ClaimSnapshot Snapshot(ResultStore store)
    {
        var (profile, claims, plan) = small.Value;
        return ClaimSnapshots.Measure(claims, plan, profile, store, RepoPaths.Root, RepoPaths.Expectations);
    }

    static Dictionary<string, RunResult> Files(ResultStore store) =>
        Directory.EnumerateFiles(store.Root, "*.json").Where(f => Path.GetFileName(f) != VerdictsFile.FileName)
            .ToDictionary(f => Path.GetFileName(f), ResultStore.Read);

    [Test]
    public void Two_shards_merged_equal_one_unsharded_run_and_a_perturbed_result_fails_the_comparison_with_its_diff()
    {
        using var folder = new TempFolder();
        var whole = RunInto(Path.Combine(folder.Path, "whole"), Shard.Whole);
        var first = RunInto(Path.Combine(folder.Path, "shard-1"), new Shard(1, 2));
        var second = RunInto(Path.Combine(folder.Path, "shard-2"), new Shard(2, 2));
        var merged = new ResultStore(Path.Combine(folder.Path, "merged"));
        var summary = StoreMerge.Merge([first.Root, second.Root], merged);

        var expected = Files(whole);
        var got = Files(merged);
        Assert.Multiple(() =>
        {
            Assert.That(Files(first).Keys.Intersect(Files(second).Keys), Is.Empty, "the shards share no run");
            Assert.That(summary.Copied, Is.EqualTo(expected.Count));
            Assert.That(got.Keys, Is.EquivalentTo(expected.Keys), "the same result files");
            foreach (var (name, result) in expected)
                Assert.That(got[name].Measurements, Is.EqualTo(result.Measurements), $"{name}: the same measurements");
        });

        var accepted = Snapshot(whole);
        Assert.That(accepted.Differences(Snapshot(merged)), Is.Empty, "the merged store compares clean against the whole run's snapshot");

        // Perturb one seed of one cell: its perplexity on zh, calibrated on de, 30 % higher.
        var (victim, result) = got.First(p => p.Value.Spec.Calibration is { Languages: ["de"] } && p.Value.Spec.Method.Label.StartsWith("wanda", StringComparison.Ordinal));
        var index = result.Measurements.ToList().FindIndex(m => m.Metric == "ppl" && m.Language == "zh");
        var before = result.Measurements[index].Value;
        var perturbed = result with { Measurements = [.. result.Measurements.Select((m, i) => i == index ? m with { Value = m.Value * 1.3 } : m)] };
        ResultFiles.WriteJson(Path.Combine(merged.Root, victim), perturbed);

        var differences = accepted.Differences(Snapshot(merged));
        var cell = accepted.Cells.Single(c => c.Block == "wanda" && c.Row == "de" && c.Task == "ppl" && c.Language == "zh");
        var seeds = expected.Values.Where(r => r.Spec.Calibration is { Languages: ["de"] } && r.Spec.Method.Label.StartsWith("wanda", StringComparison.Ordinal))
            .Select(r => r.Measurements.Single(m => m.Metric == "ppl" && m.Language == "zh").Value).ToList();
        var newMean = (seeds.Sum() - before + before * 1.3) / seeds.Count;
        var moved = differences.Where(d => d.Kind == SnapshotDifference.Moved).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(moved, Has.Count.EqualTo(1), string.Join("\n", differences));
            Assert.That(moved[0].What, Is.EqualTo("tiny wanda calibration de, ppl zh"));
            Assert.That(moved[0].Old, Is.EqualTo(cell.Mean.ToString("G6", CultureInfo.InvariantCulture)));
            Assert.That(moved[0].New, Is.EqualTo(newMean.ToString("G6", CultureInfo.InvariantCulture)));
            Assert.That(moved[0].Tolerance, Is.Not.Null);
            Assert.That(double.Parse(moved[0].Tolerance!, CultureInfo.InvariantCulture), Is.LessThan(Math.Abs(newMean - cell.Mean)), "it left its tolerance");
            Assert.That(moved[0].ToString(), Does.Contain(" → ").And.Contain("tolerance"));
        });

        // Merging the perturbed store into the whole one is refused, naming both files, and copies nothing.
        var error = Assert.Throws<ResultFileException>(() => StoreMerge.Merge([merged.Root], whole));
        Assert.That(error!.Message, Does.Contain(victim).And.Contain(whole.Root).And.Contain("different measurements"));
        Assert.That(Files(whole)[victim].Measurements, Is.EqualTo(expected[victim].Measurements), "the target is untouched");
    }
}
