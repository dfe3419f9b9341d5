using Repro.Methods.Runs;
using System.Globalization;
using Repro.Core.Claims;
using Repro.Core.Runs;

namespace Repro.Methods.Claims;

/// <summary>A claim's verdict at one profile, next to the verdict its rule gives on the paper's own tables.</summary>
/// <param name="Tables">The measured blocks the verdict was computed from (empty when no rule ran: runs missing, a gate closed).</param>
/// <param name="PaperTables">The paper's blocks its paper verdict was computed from, each cell with its table and line.</param>
public sealed record ClaimVerdict(string Claim, string Statement, string Profile, Outcome Expected, Verdict Verdict, Verdict Paper, string Why,
                                  IReadOnlyList<TableView> Tables, IReadOnlyList<TableView> PaperTables)
{
    public bool AsExpected => Verdict.Outcome == Expected;
}

/// <summary>
/// Computes verdicts from a store: the claim's runs at the profile, the dense-baseline gate, the calibration ×
/// evaluation blocks (seeds averaged, fingerprints checked), the task-at-chance gate, and the rule.
/// </summary>
public static class ClaimVerdicts
{
    public static ClaimVerdict Compute(Claim claim, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store, string root, string expectations)
    {
        var grid = claim.Profiles[profile.Profile.Name];
        var paperBlocks = ClaimCatalog.PaperBlocks(claim, expectations);
        var paper = claim.Evaluate(paperBlocks);
        var tables = new List<TableView>();
        var verdict = Measured(claim, plan, profile, store, root, expectations, tables);
        return new ClaimVerdict(claim.Id, claim.Statement, profile.Profile.Name, grid.Expected, verdict, paper, grid.Why, tables,
                                PaperViews(paperBlocks, ClaimCatalog.PaperCells(claim, expectations)));
    }

    /// <summary>The paper's blocks as views, each cell naming the table and line of the paper it was transcribed from.</summary>
    static IReadOnlyList<TableView> PaperViews(IReadOnlyList<Block> blocks, IReadOnlyList<PaperCell> cells)
    {
        var where = cells.GroupBy(c => (c.Model, c.Method, c.Row, c.Task, c.Language))
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)[.. g.Select(c => $"{c.Paper} Table {c.Table}, line {c.Line}").Distinct()]);
        return [.. blocks.Select(b => TableView.Of(b, sources: (row, column) => where.GetValueOrDefault((b.Model, b.Method, row, column.Task, column.Language), [])))];
    }

    static Verdict Measured(Claim claim, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store, string root, string expectations,
                            List<TableView> tables)
    {
        var grid = claim.Profiles[profile.Profile.Name];
        if (!ClaimGrid.Measures(ClaimGrid.Evaluations(profile), grid.Metrics))
            return Verdict.Inconclusive($"no measured column: profile {profile.Profile.Name} evaluates no {string.Join(" or ", grid.Metrics)}");
        var runs = ClaimGrid.Of(claim, plan, profile);
        var results = runs.Select(r => (Run: r, Result: store.TryGet(r.Request.Spec))).ToList();
        var missing = results.Count(r => r.Result is null);
        if (missing > 0)
            return Verdict.Inconclusive($"{missing} of {results.Count} runs are not in the store {store.Root}; `repro claims run --profile {profile.Profile.Name}` runs them");
        var found = results.Select(r => (r.Run, Result: r.Result!)).ToList();

        // The tables are shown whatever the gates decide: a reviewer sees what a closed gate kept the rule from reading.
        var blocks = new List<Block>();
        var notes = new List<string>();
        Verdict? closed = null;
        foreach (var (model, _) in grid.ModelsOf(profile))
        {
            var dense = found.Single(r => r.Run.Model == model && r.Run.IsDense);
            foreach (var method in grid.Methods)
            {
                var blockRuns = found.Where(r => r.Run.Model == model && r.Run.MethodKey == ClaimGrid.MethodKey(method)).ToList();
                var block = Build(model, method.Block, ClaimGrid.Rows(grid, method, profile.Profile), grid.Metrics, blockRuns, dense.Result, out var fingerprints);
                if (block.Columns.Count == 0)
                    return Verdict.Inconclusive($"no measured column: profile {profile.Profile.Name} evaluates no {string.Join(" or ", grid.Metrics)}");
                var dropped = new Dictionary<Column, string>();
                var kept = AboveChance(block, profile.Profile.Chance, notes, dropped);
                tables.Add(TableView.Of(block, kept, dropped, (row, column) => Sources(blockRuns, row, column), fingerprints));
                if (kept.Columns.Count == 0)
                    closed ??= Verdict.Inconclusive($"task at chance: the dense {model} is within noise of {profile.Profile.Chance.ToString(CultureInfo.InvariantCulture)} % on every column", notes);
                blocks.Add(kept);
            }
        }
        var gate = DenseGate(profile, found.Where(r => r.Run.IsDense).ToList(), root, claim, expectations);
        if (gate is not null) return gate;
        if (closed is not null) return closed;
        var verdict = claim.Evaluate(blocks);
        return verdict with { Notes = [.. notes.Distinct(), .. verdict.Notes] };
    }

    /// <summary>
    /// One (model, method) block from the runs that fill it: a column per metric and language (per task and language
    /// for accuracies), seeds averaged into each cell. Numbers of one column whose evaluation fingerprints differ are
    /// refused, naming the field, since they were not measured on the same footing.
    /// </summary>
    public static Block Build(string model, string method, IReadOnlyList<string> rows, IReadOnlyList<string> metrics,
                              IReadOnlyList<(GridRun Run, RunResult Result)> runs, RunResult? dense) =>
        Build(model, method, rows, metrics, runs, dense, out _);

    /// <summary>The result files (relative to the store) a cell's seeds came from; for a row with no run of its own, none.</summary>
    static IReadOnlyList<string> Sources(IReadOnlyList<(GridRun Run, RunResult Result)> runs, string row, Column column) =>
        [.. runs.Where(r => r.Run.Row == row && r.Result.Measurements.Any(m => ColumnOf(m) == column)).Select(r => r.Run.Request.Spec.FileStem + ".json")];

    static Block Build(string model, string method, IReadOnlyList<string> rows, IReadOnlyList<string> metrics,
                       IReadOnlyList<(GridRun Run, RunResult Result)> runs, RunResult? dense, out Dictionary<Column, EvaluationFingerprint> fingerprintOf)
    {
        var values = new Dictionary<(string Row, Column Column), List<double>>();
        var fingerprints = new Dictionary<Column, (EvaluationFingerprint Fingerprint, string Source)>();
        var higher = new Dictionary<string, bool>();
        var columns = new List<Column>();
        foreach (var (run, result) in runs)
            foreach (var m in result.Measurements.Where(m => metrics.Contains(m.Metric)))
            {
                var column = ColumnOf(m);
                if (fingerprints.TryGetValue(column, out var seen))
                {
                    if (seen.Fingerprint.FirstDifference(m.Fingerprint) is { } field)
                        throw new InvalidOperationException($"{model} {method}, {column}: {run.Request.Spec} and {seen.Source} were evaluated with different '{field}'; " +
                                                            "they cannot share a table");
                }
                else
                {
                    fingerprints[column] = (m.Fingerprint, run.Request.Spec.ToString());
                    columns.Add(column);
                }
                higher[column.Task] = m.HigherIsBetter;
                if (!values.TryGetValue((run.Row, column), out var list)) values[(run.Row, column)] = list = [];
                list.Add(m.Value);
            }
        fingerprintOf = fingerprints.ToDictionary(p => p.Key, p => p.Value.Fingerprint);
        var denseCells = dense?.Measurements.Where(m => metrics.Contains(m.Metric))
            .ToDictionary(ColumnOf, m => Cell.Single(m.Value, m.StdErr));
        return new Block(model, method, rows, columns, values.ToDictionary(p => p.Key, p => Cell.OfSeeds(p.Value)), higher, denseCells);
    }

    /// <summary>Perplexity-like metrics are columns by metric; accuracies by task, so several tasks sit side by side.</summary>
    static Column ColumnOf(Measurement m) => new(m.Fingerprint.Kind == EvaluationSpec.MultipleChoice ? $"{m.Fingerprint.Task}" : m.Metric, m.Language);

    /// <summary>Drops accuracy columns on which the dense model is within two standard errors of chance, noting each.</summary>
    static Block AboveChance(Block block, double chance, List<string> notes, Dictionary<Column, string> dropped)
    {
        if (block.Dense is null) return block;
        var atChance = block.Columns.Where(c => block.Higher(c) && block.Dense.TryGetValue(c, out var d) && d.Std is { } se && d.Mean - chance <= 2 * se).ToList();
        foreach (var c in atChance)
        {
            var why = $"task at chance: the dense model scores {block.Dense[c].Mean:F1} ± {block.Dense[c].Std:F1} against chance {chance:F0}";
            dropped[c] = why;
            notes.Add($"task at chance: {c} dropped, the dense model scores {block.Dense[c].Mean:F1} ± {block.Dense[c].Std:F1} against chance {chance:F0}");
        }
        return atChance.Count == 0 ? block : block.Select(_ => true, c => !atChance.Contains(c));
    }

    /// <summary>Null when the dense figures agree with what the profile expects of them; otherwise the inconclusive verdict that says how not.</summary>
    static Verdict? DenseGate(ResolvedProfile profile, IReadOnlyList<(GridRun Run, RunResult Result)> dense, string root, Claim claim, string expectations)
    {
        var gate = profile.Profile.Dense;
        if (gate.Source == "none") return null;   // only while recording the snapshot the gate would read
        var off = new List<string>();
        var notes = new List<string>();
        if (gate.Source == "snapshot")
        {
            var path = Path.Combine(root, gate.Snapshot ?? throw new ClaimFileException("profiles.json", $"profile {profile.Profile.Name}: a snapshot gate needs \"snapshot\""));
            if (!File.Exists(path))
                return Verdict.Inconclusive($"dense baseline unchecked: no snapshot {gate.Snapshot}; `repro claims snapshot --profile {profile.Profile.Name}` records one");
            var snapshot = ClaimSnapshot.Load(path);
            foreach (var (run, result) in dense)
                foreach (var m in result.Measurements)
                {
                    var expected = snapshot.Dense.FirstOrDefault(d => d.Model == run.Model && d.Metric == m.Metric && d.Language == m.Language);
                    if (expected is null) { off.Add($"{run.Model} {m.Metric} {m.Language}: {Fmt(m.Value)} has no expected value in {gate.Snapshot}"); continue; }
                    if (!Within(m, expected.Value, gate)) off.Add($"{run.Model} {m.Metric} {m.Language}: measured {Fmt(m.Value)}, expected {Fmt(expected.Value)}");
                }
        }
        else
        {
            // Only printed dense accuracies are gated: a printed dense perplexity (Lang-Prune's tables) depends on the
            // paper's own evaluation text, which the profile's corpus need not be; Kurz et al. print none.
            var paperDense = claim.Paper.Tables.SelectMany(t => PaperTables.Load(Path.Combine(expectations, "papers", t))).Where(c => c.Method == "dense").ToList();
            foreach (var (run, result) in dense)
                foreach (var m in result.Measurements.Where(m => m.Fingerprint.Kind == EvaluationSpec.MultipleChoice && m.Metric == "acc"))
                {
                    var printed = paperDense.FirstOrDefault(c => c.Model == run.Model && c.Task == m.Fingerprint.Task && c.Language == m.Language);
                    if (printed is not null && !Within(m, printed.Value, gate))
                        off.Add($"{run.Model} {m.Fingerprint.Task} {m.Language}: measured {Fmt(m.Value)}, the paper prints {printed.Text}");
                }
            notes.Add(paperDense.Any(c => c.Task == "ppl")
                ? "the dense gate checks the accuracies the paper prints; its dense perplexities are on its own evaluation text and are not gated"
                : "the paper prints no dense perplexity, SNR or pruning error; the dense gate checks the accuracies it prints");
        }
        return off.Count == 0 ? null
            : Verdict.Inconclusive($"dense baseline off ({off.Count} figures outside tolerance): {string.Join("; ", off.Take(5))}{(off.Count > 5 ? "; …" : "")}", notes);
    }

    static bool Within(Measurement m, double expected, DenseGate gate) =>
        double.IsFinite(m.Value) && Math.Abs(m.Value - expected) <= (m.Metric.StartsWith("acc", StringComparison.Ordinal)
            ? gate.AbsoluteTolerance : gate.RelativeTolerance * Math.Abs(expected));

    static string Fmt(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
