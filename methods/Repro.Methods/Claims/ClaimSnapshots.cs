using Repro.Methods.Runs;
using Repro.Core.Claims;
using Repro.Core.Runs;

namespace Repro.Methods.Claims;

/// <summary>Measures a <see cref="ClaimSnapshot"/> of a profile from a store holding all its runs.</summary>
public static class ClaimSnapshots
{
    /// <summary>
    /// The profile's snapshot as the store measured it, verdicts computed with the dense gate off: the gate reads the
    /// accepted snapshot, which this one is compared with or replaces.
    /// </summary>
    public static ClaimSnapshot Measure(IReadOnlyList<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store, string root, string expectations)
    {
        var ungated = profile with { Profile = profile.Profile with { Dense = profile.Profile.Dense with { Source = "none" } } };
        var verdicts = claims.Select(c => ClaimVerdicts.Compute(c, plan, ungated, store, root, expectations)).ToList();
        return Measure(claims, plan, profile, store, verdicts);
    }

    public static ClaimSnapshot Measure(IReadOnlyList<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store, IReadOnlyList<ClaimVerdict> verdicts)
    {
        var cells = new Dictionary<(string, string, string, string, string), SnapshotCell>();
        var dense = new Dictionary<(string, string, string), DenseFigure>();
        var items = new Dictionary<string, int>();   // accuracy tasks: the most items a language was scored on
        foreach (var claim in claims.Where(c => c.Profiles.ContainsKey(profile.Profile.Name)))
        {
            var grid = claim.Profiles[profile.Profile.Name];
            var runs = ClaimGrid.Of(claim, plan, profile).Select(r => (Run: r, Result: store.TryGet(r.Request.Spec)
                ?? throw new InvalidOperationException($"{r.Request.Spec} is not in the store {store.Root}; run the profile first"))).ToList();
            foreach (var m in runs.SelectMany(r => r.Result.Measurements))
                if (m.Fingerprint is { Kind: EvaluationSpec.MultipleChoice, Task: { } task, Windows: { } n } && n > 0)
                    items[task] = Math.Max(items.GetValueOrDefault(task), n);
            foreach (var (run, result) in runs.Where(r => r.Run.IsDense))
                foreach (var m in result.Measurements)
                    dense[(run.Model, m.Metric, m.Language)] = new DenseFigure(run.Model, m.Metric, m.Language, m.Value);
            foreach (var (model, _) in grid.ModelsOf(profile))
                foreach (var method in grid.Methods)
                {
                    var block = ClaimVerdicts.Build(model, method.Block, ClaimGrid.Rows(grid, method, profile.Profile), grid.Metrics,
                                                    runs.Where(r => r.Run.Model == model && r.Run.MethodKey == ClaimGrid.MethodKey(method)).ToList(), null);
                    foreach (var ((row, column), cell) in block.Cells)
                        cells[(model, method.Block, row, column.Task, column.Language)] =
                            new SnapshotCell(model, method.Block, row, column.Task, column.Language, cell.Mean, cell.Std, cell.Seeds);
                }
        }
        var ordered = cells.Values.OrderBy(c => c.Model, StringComparer.Ordinal).ThenBy(c => c.Block, StringComparer.Ordinal)
            .ThenBy(c => c.Task, StringComparer.Ordinal).ThenBy(c => c.Row, StringComparer.Ordinal).ThenBy(c => c.Language, StringComparer.Ordinal).ToList();
        return new ClaimSnapshot(profile.Profile.Name, $"./repro claims snapshot --profile {profile.Profile.Name}", CodeVersion.Commit,
                                 [.. dense.Values.OrderBy(d => d.Model, StringComparer.Ordinal).ThenBy(d => d.Metric, StringComparer.Ordinal).ThenBy(d => d.Language, StringComparer.Ordinal)],
                                 ordered, ClaimSnapshot.TolerancesOf(ordered, items.ToDictionary(kv => kv.Key, kv => 100.0 / kv.Value)), verdicts.ToDictionary(v => v.Claim, v => v.Verdict.Outcome));
    }
}
