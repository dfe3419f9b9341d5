using System.Globalization;

namespace Repro.Core.Claims;

/// <summary>
/// The rules of Lang-Prune's claims (EVALUATION §6.4–6.6): structured pruning calibrated on a pooled mixture against
/// Lang-Prune and against each language's own calibration. Blocks are named <c>&lt;method&gt;-&lt;sparsity percent&gt;</c>
/// (<c>llm-pruner-30</c>, <c>lang-prune-max-70</c>); a block's <i>mixture row</i> is its one row whose name contains
/// '-' (the pooled nine-language set; Lang-Prune computes its per-language importances from that same set), and its
/// monolingual cells are the diagonal (row = the column's language). Perplexity is read from the task named
/// <c>task</c> (default <c>ppl</c>); a column whose language is <c>avg</c> is a paper's printed average, never a language.
/// </summary>
public static partial class Rules
{
    /// <summary>The language of a paper's printed average column (measured blocks have none).</summary>
    const string AverageColumn = "avg";

    /// <summary>One language (or the printed average) of a pair: the same column in both blocks' mixture rows.</summary>
    sealed record PairedCell(Column Column, Cell A, Cell B)
    {
        public double Ratio => A.Mean / B.Mean;
    }

    /// <summary>Two blocks of one model at one sparsity, A against B, on their mixture rows.</summary>
    sealed record StructuredPair(string Label, string Model, Block A, Block B, string RowA, string RowB,
                                 IReadOnlyList<PairedCell> Languages, PairedCell? Average);

    /// <summary>
    /// C2 (EVALUATION §6.4). Per model and sparsity, the <c>candidate</c> block (<c>candidate-&lt;sparsity&gt;</c>, e.g.
    /// <c>lang-prune-max-30</c>) against the <c>baseline</c> block of the same sparsity, both on their mixture row:
    /// <c>r_l = PPL_candidate(l) / PPL_baseline(l)</c> per language. A pair holds when every <c>r_l &lt; 1 − τ_l</c>, and
    /// fails when the average-PPL ratio exceeds <c>1 + τ</c>. Where a pair has only printed averages (Lang-Prune Table 15)
    /// it is decided on those alone. τ is twice the seed-derived relative standard error of the ratio where every cell has
    /// at least <see cref="DiagonalColumns.MinSeeds"/> seeds, else <c>fallbackRelative</c> (1 %). Models listed in
    /// <c>outOfScope</c> are decided and reported in the notes but do not count. Overall: <see cref="Combine"/>.
    /// </summary>
    public static Verdict MaxBeatsMixed(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var candidate = p.Text("candidate");
        var baseline = p.Text("baseline");
        var task = p.Text("task", "ppl");
        var fallback = p.Number("fallbackRelative", 0.01);
        var outOfScope = p.Texts("outOfScope", []);
        if (PairBlocks(blocks, candidate, baseline, task, out var pairs) is { } problem) return problem;
        var figures = new Dictionary<string, double>();
        var evidence = new List<EvidenceCell>();
        var notes = new List<string>();
        var outcomes = new List<Outcome>();
        var parts = new List<string>();
        var closestOverall = (Ratio: double.NegativeInfinity, Where: "");
        foreach (var pair in pairs)
        {
            var label = pair.Label;
            var beaten = 0;
            PairedCell? closest = null;
            var tauMax = 0.0;
            foreach (var cell in pair.Languages)
            {
                var tau = RelativeTolerance(cell.A, cell.B, fallback);
                tauMax = Math.Max(tauMax, tau);
                figures[$"{label}: ratio {cell.Column.Language}"] = cell.Ratio;
                if (cell.Ratio < 1 - tau) beaten++;
                else
                {
                    evidence.Add(new EvidenceCell(pair.A.Name, pair.RowA, cell.Column.ToString(), cell.A.Mean, cell.A.Std, "not beaten"));
                    evidence.Add(new EvidenceCell(pair.B.Name, pair.RowB, cell.Column.ToString(), cell.B.Mean, cell.B.Std, "baseline"));
                    notes.Add($"{label}, {cell.Column}: {pair.A.Method} {F(cell.A.Mean)} vs {pair.B.Method} {F(cell.B.Mean)}, ratio {F(cell.Ratio)} is not below 1 − {F(tau)}");
                }
                if (closest is null || cell.Ratio > closest.Ratio) closest = cell;
            }
            var (avgRatio, avgTau) = AverageRatio(pair, fallback);
            figures[$"{label}: average PPL ratio"] = avgRatio;
            figures[$"{label}: average PPL reduction %"] = 100 * (1 - avgRatio);
            figures[$"{label}: languages"] = pair.Languages.Count;
            figures[$"{label}: languages beaten"] = beaten;
            figures[$"{label}: tolerance"] = pair.Languages.Count > 0 ? tauMax : avgTau;
            if (pair.Average is not null && pair.Languages.Count > 0) figures[$"{label}: language-mean PPL ratio"] = LanguageMeanRatio(pair);
            if (closest is not null)
            {
                figures[$"{label}: closest ratio"] = closest.Ratio;
                evidence.Add(new EvidenceCell(pair.A.Name, pair.RowA, closest.Column.ToString(), closest.A.Mean, closest.A.Std, "closest language"));
                evidence.Add(new EvidenceCell(pair.B.Name, pair.RowB, closest.Column.ToString(), closest.B.Mean, closest.B.Std, "baseline"));
            }
            else
            {
                evidence.Add(new EvidenceCell(pair.A.Name, pair.RowA, pair.Average!.Column.ToString(), pair.Average.A.Mean, pair.Average.A.Std, "printed average"));
                evidence.Add(new EvidenceCell(pair.B.Name, pair.RowB, pair.Average.Column.ToString(), pair.Average.B.Mean, pair.Average.B.Std, "baseline"));
            }
            var holds = pair.Languages.Count > 0 ? beaten == pair.Languages.Count : avgRatio < 1 - avgTau;
            var outcome = holds ? Outcome.Holds : avgRatio > 1 + avgTau ? Outcome.Fails : Outcome.Inconclusive;
            var basis = pair.Languages.Count > 0
                ? $"{beaten}/{pair.Languages.Count} languages beaten, closest {closest!.Column.Language} {F(closest.Ratio)}, average PPL {Change(avgRatio)}"
                : $"printed averages only: {F(pair.Average!.A.Mean)} vs {F(pair.Average.B.Mean)}, ratio {F(avgRatio)}";
            if (outOfScope.Contains(pair.Model))
            {
                notes.Add($"outside the claim's scope: {label}: {Lower(outcome)} ({basis})");
                continue;
            }
            outcomes.Add(outcome);
            parts.Add($"{label} {Lower(outcome)} ({basis})");
            if (closest is not null && closest.Ratio > closestOverall.Ratio) closestOverall = (closest.Ratio, $"{label} {closest.Column.Language}");
        }
        if (outcomes.Count == 0) return Verdict.Inconclusive($"every (model, sparsity) pair is outside the claim's scope ({string.Join(", ", outOfScope)})", notes);
        figures["pairs"] = outcomes.Count;
        figures["pairs holding"] = outcomes.Count(o => o == Outcome.Holds);
        if (closestOverall.Where.Length > 0)
        {
            figures["closest ratio"] = closestOverall.Ratio;
            notes.Add($"closest: {closestOverall.Where}, ratio {F(closestOverall.Ratio)}");
        }
        return new Verdict(Combine(outcomes), $"{candidate} against {baseline}, mixture rows: {string.Join("; ", parts)} " +
                                              $"(a pair holds when every language's ratio is below 1 − τ, fails when the average ratio is above 1 + τ; τ fallback {F(100 * fallback)} %)",
                           figures, evidence, notes);
    }

    /// <summary>
    /// C2b (EVALUATION §6.5). Per block: <c>IF(l) = PPL(mixture row, l) / PPL(row l, column l)</c> over the language
    /// columns that have their monolingual row, and <c>IFgeo = exp(mean log IF)</c>. A block holds when
    /// <c>IFgeo &gt; 1 + τ</c>, fails when <c>IFgeo &lt; 1 − τ</c>. τ is twice the seed-derived standard error of
    /// <c>mean log IF</c> where every cell has seeds, else <c>fallbackRelative</c> (2 %). Also reported: the mean of
    /// the ratios and the ratio of the means (the paper's "avg" IF is one or the other, EVALUATION §5), and how many
    /// languages have IF &gt; 1. Overall: <see cref="Combine"/>.
    /// </summary>
    public static Verdict Interference(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var task = p.Text("task", "ppl");
        var fallback = p.Number("fallbackRelative", 0.02);
        var minLanguages = (int)p.Number("minLanguages", 2);
        var figures = new Dictionary<string, double>();
        var evidence = new List<EvidenceCell>();
        var notes = new List<string>();
        var outcomes = new List<Outcome>();
        var parts = new List<string>();
        if (blocks.Count == 0) return Verdict.Inconclusive("no block to read");
        foreach (var block in blocks)
        {
            if (MixtureRow(block, out var rowProblem) is not { } mixture) return Verdict.Inconclusive(rowProblem!);
            var read = new List<PairedCell>();
            foreach (var column in block.Columns.Where(c => c.Task == task && c.Language != AverageColumn))
            {
                var (mix, own) = (block[mixture, column], block[column.DiagonalRow, column]);
                if (!block.Rows.Contains(column.DiagonalRow))
                {
                    if (mix is not null) notes.Add($"{block.Name}, {column}: not read, no {column.DiagonalRow} calibration row");
                    continue;
                }
                if (mix is null || own is null)
                    return Verdict.Inconclusive($"{block.Name}, {column}: no cell for calibration {(mix is null ? mixture : column.DiagonalRow)}");
                if (Unusable(mix) || Unusable(own))
                    return Verdict.Inconclusive($"{block.Name}, {column}: {(Unusable(mix) ? mixture : column.DiagonalRow)} is not a finite positive {task} ({(Unusable(mix) ? mix : own).Mean})");
                read.Add(new PairedCell(column, mix, own));
            }
            if (read.Count < minLanguages)
                return Verdict.Inconclusive($"{block.Name}: only {read.Count} {task} columns with both the mixture and their own calibration, fewer than the {minLanguages} this rule needs");
            var logs = read.Select(c => Math.Log(c.Ratio)).ToList();
            var geo = Math.Exp(logs.Average());
            var tau = read.All(c => Seeded(c.A) && Seeded(c.B))
                ? 2 * Math.Sqrt(Sq(read.Average(c => StdErr(c.A) / c.A.Mean)) + Sq(read.Average(c => StdErr(c.B) / c.B.Mean)))
                : fallback;
            var above = read.Count(c => c.Ratio > 1);
            foreach (var c in read) figures[$"{block.Name}: IF {c.Column.Language}"] = c.Ratio;
            figures[$"{block.Name}: IFgeo"] = geo;
            figures[$"{block.Name}: IFmeanOfRatios"] = read.Average(c => c.Ratio);
            figures[$"{block.Name}: IFratioOfMeans"] = read.Average(c => c.A.Mean) / read.Average(c => c.B.Mean);
            figures[$"{block.Name}: languages with IF > 1"] = above;
            figures[$"{block.Name}: languages"] = read.Count;
            figures[$"{block.Name}: min IF"] = read.Min(c => c.Ratio);
            figures[$"{block.Name}: max IF"] = read.Max(c => c.Ratio);
            figures[$"{block.Name}: tolerance"] = tau;
            var below = read.Where(c => c.Ratio <= 1).ToList();
            foreach (var c in below)
            {
                evidence.Add(new EvidenceCell(block.Name, mixture, c.Column.ToString(), c.A.Mean, c.A.Std, "IF ≤ 1: mixture"));
                evidence.Add(new EvidenceCell(block.Name, c.Column.DiagonalRow, c.Column.ToString(), c.B.Mean, c.B.Std, "IF ≤ 1: own language"));
            }
            if (below.Count > 0)
                notes.Add($"{block.Name}: IF ≤ 1 in {string.Join(", ", below.Select(c => $"{c.Column.Language} ({F(c.Ratio, "0.00")})"))}: the mixture is no worse there");
            var largest = read.MaxBy(c => c.Ratio)!;
            evidence.Add(new EvidenceCell(block.Name, mixture, largest.Column.ToString(), largest.A.Mean, largest.A.Std, "largest IF: mixture"));
            evidence.Add(new EvidenceCell(block.Name, largest.Column.DiagonalRow, largest.Column.ToString(), largest.B.Mean, largest.B.Std, "largest IF: own language"));
            var outcome = geo > 1 + tau ? Outcome.Holds : geo < 1 - tau ? Outcome.Fails : Outcome.Inconclusive;
            outcomes.Add(outcome);
            parts.Add($"{block.Name} {Lower(outcome)} (IFgeo {F(geo, "0.00")}, IF > 1 in {above}/{read.Count})");
        }
        return new Verdict(Combine(outcomes), $"mixture against each language's own calibration: {string.Join("; ", parts)} " +
                                              $"(a block holds when IFgeo > 1 + τ, fails below 1 − τ; τ fallback {F(100 * fallback)} %)",
                           figures, evidence, notes);
    }

    /// <summary>
    /// C2c (EVALUATION §6.6). Per model and sparsity, the <c>worse</c> block (Lang-Prune Min) against the <c>better</c>
    /// one (Lang-Prune Max) on their mixture rows. Holds when the average-PPL ratio worse / better is at least
    /// <c>minRatio</c> (10) and every language is worse beyond its tolerance (<c>r_l &gt; 1 + τ_l</c>, τ as in
    /// <see cref="MaxBeatsMixed"/>, fallback 1 %); fails when the average ratio is below <c>failRatio</c> (2).
    /// Overall: <see cref="Combine"/>.
    /// </summary>
    public static Verdict MinFarWorse(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var worse = p.Text("worse");
        var better = p.Text("better");
        var minRatio = p.Number("minRatio", 10);
        var failRatio = p.Number("failRatio", 2);
        var task = p.Text("task", "ppl");
        var fallback = p.Number("fallbackRelative", 0.01);
        if (PairBlocks(blocks, worse, better, task, out var pairs) is { } problem) return problem;
        var figures = new Dictionary<string, double>();
        var evidence = new List<EvidenceCell>();
        var notes = new List<string>();
        var outcomes = new List<Outcome>();
        var parts = new List<string>();
        var smallestOverall = (Ratio: double.PositiveInfinity, Where: "");
        foreach (var pair in pairs)
        {
            var label = pair.Label;
            var worseCount = 0;
            PairedCell? smallest = null;
            foreach (var cell in pair.Languages)
            {
                var tau = RelativeTolerance(cell.A, cell.B, fallback);
                figures[$"{label}: ratio {cell.Column.Language}"] = cell.Ratio;
                if (cell.Ratio > 1 + tau) worseCount++;
                else
                {
                    evidence.Add(new EvidenceCell(pair.A.Name, pair.RowA, cell.Column.ToString(), cell.A.Mean, cell.A.Std, "not worse"));
                    evidence.Add(new EvidenceCell(pair.B.Name, pair.RowB, cell.Column.ToString(), cell.B.Mean, cell.B.Std, "better"));
                    notes.Add($"{label}, {cell.Column}: {pair.A.Method} {F(cell.A.Mean)} vs {pair.B.Method} {F(cell.B.Mean)}, ratio {F(cell.Ratio)} is not above 1 + {F(tau)}");
                }
                if (smallest is null || cell.Ratio < smallest.Ratio) smallest = cell;
            }
            var (avgRatio, _) = AverageRatio(pair, fallback);
            figures[$"{label}: average PPL ratio"] = avgRatio;
            figures[$"{label}: languages"] = pair.Languages.Count;
            figures[$"{label}: languages worse"] = worseCount;
            if (pair.Average is not null && pair.Languages.Count > 0) figures[$"{label}: language-mean PPL ratio"] = LanguageMeanRatio(pair);
            if (smallest is not null)
            {
                figures[$"{label}: smallest ratio"] = smallest.Ratio;
                evidence.Add(new EvidenceCell(pair.A.Name, pair.RowA, smallest.Column.ToString(), smallest.A.Mean, smallest.A.Std, "smallest ratio"));
                evidence.Add(new EvidenceCell(pair.B.Name, pair.RowB, smallest.Column.ToString(), smallest.B.Mean, smallest.B.Std, "better"));
                if (smallest.Ratio < smallestOverall.Ratio) smallestOverall = (smallest.Ratio, $"{label} {smallest.Column.Language}");
            }
            var outcome = avgRatio >= minRatio && worseCount == pair.Languages.Count ? Outcome.Holds
                : avgRatio < failRatio ? Outcome.Fails : Outcome.Inconclusive;
            outcomes.Add(outcome);
            parts.Add($"{label} {Lower(outcome)} (average ratio {F(avgRatio, "0.0")}, worse in {worseCount}/{pair.Languages.Count} languages" +
                      (smallest is null ? ")" : $", smallest {smallest.Column.Language} {F(smallest.Ratio, "0.00")})"));
        }
        figures["pairs"] = outcomes.Count;
        if (smallestOverall.Where.Length > 0)
        {
            figures["smallest ratio"] = smallestOverall.Ratio;
            notes.Add($"smallest: {smallestOverall.Where}, ratio {F(smallestOverall.Ratio)}");
        }
        return new Verdict(Combine(outcomes), $"{worse} against {better}, mixture rows: {string.Join("; ", parts)} " +
                                              $"(a pair holds when the average ratio is ≥ {F(minRatio)} and every language is worse, fails below {F(failRatio)})",
                           figures, evidence, notes);
    }

    /// <summary>
    /// Every block of method <c>a-&lt;sparsity&gt;</c> with the block of the same model and <c>b-&lt;sparsity&gt;</c>,
    /// on their mixture rows: the language columns of <paramref name="task"/> both print, and the printed average where
    /// both print one. Blocks of other methods are ignored; a missing partner, mixture row or cell, or a non-finite
    /// value, is the verdict naming it.
    /// </summary>
    static Verdict? PairBlocks(IReadOnlyList<Block> blocks, string a, string b, string task, out List<StructuredPair> pairs)
    {
        pairs = [];
        var first = blocks.Where(x => SparsityOf(x, a) is not null).ToList();
        if (first.Count == 0)
            return Verdict.Inconclusive($"no block of method '{a}-<sparsity>'; have {string.Join(", ", blocks.Select(x => x.Name))}");
        foreach (var blockA in first)
        {
            var sparsity = SparsityOf(blockA, a)!.Value;
            var blockB = blocks.FirstOrDefault(x => x.Model == blockA.Model && SparsityOf(x, b) == sparsity);
            if (blockB is null) return Verdict.Inconclusive($"{blockA.Name}: no block {blockA.Model} {b}-{sparsity} to compare it with");
            if (MixtureRow(blockA, out var problemA) is not { } rowA) return Verdict.Inconclusive(problemA!);
            if (MixtureRow(blockB, out var problemB) is not { } rowB) return Verdict.Inconclusive(problemB!);
            var languages = new List<PairedCell>();
            PairedCell? average = null;
            var columns = blockA.Columns.Concat(blockB.Columns).Where(c => c.Task == task).Distinct()
                .Where(c => blockA[rowA, c] is not null || blockB[rowB, c] is not null);
            foreach (var column in columns)
            {
                var (cellA, cellB) = (blockA[rowA, column], blockB[rowB, column]);
                if (cellA is null || cellB is null)
                {
                    if (column.Language == AverageColumn) continue;   // a printed average is used only where both print one
                    var (missing, row) = cellA is null ? (blockA, rowA) : (blockB, rowB);
                    return Verdict.Inconclusive($"{missing.Name}: no cell for calibration {row}, {column}, which {(cellA is null ? blockB : blockA).Name} has");
                }
                if (Unusable(cellA) || Unusable(cellB))
                {
                    var (bad, row, cell) = Unusable(cellA) ? (blockA, rowA, cellA) : (blockB, rowB, cellB);
                    return Verdict.Inconclusive($"{bad.Name}: calibration {row}, {column} is not a finite positive {task} ({cell.Mean})");
                }
                var paired = new PairedCell(column, cellA, cellB);
                if (column.Language == AverageColumn) average = paired;
                else languages.Add(paired);
            }
            if (languages.Count == 0 && average is null)
                return Verdict.Inconclusive($"{blockA.Name} and {blockB.Name}: no {task} column in both mixture rows");
            pairs.Add(new StructuredPair($"{blockA.Model} {sparsity} %", blockA.Model, blockA, blockB, rowA, rowB, languages, average));
        }
        return null;
    }

    /// <summary>The sparsity percent of a block named <c>method-&lt;percent&gt;</c>, or null for any other block.</summary>
    static int? SparsityOf(Block block, string method) =>
        block.Method.Length > method.Length + 1 && block.Method.StartsWith(method + "-", StringComparison.Ordinal) &&
        int.TryParse(block.Method.AsSpan(method.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var percent) ? percent : null;

    /// <summary>The block's one row whose name contains '-' (the calibration mixture), or null with the problem.</summary>
    static string? MixtureRow(Block block, out string? problem)
    {
        var rows = block.Rows.Where(r => r.Contains('-')).ToList();
        problem = rows.Count == 1 ? null
            : $"{block.Name}: {(rows.Count == 0 ? "no mixture row" : $"{rows.Count} mixture rows ({string.Join(", ", rows)})")}; the rule needs exactly one row whose name contains '-'";
        return rows.Count == 1 ? rows[0] : null;
    }

    /// <summary>
    /// The average-PPL ratio A / B: the printed averages where both blocks print one (the paper's own figure: Lang-Prune's
    /// printed averages are not always the mean of its printed languages), else the ratio of the means over the language
    /// columns (EVALUATION §5). Its tolerance: the relative tolerance of the two averages (printed ones carry no seeds,
    /// so the fallback); over languages, twice the relative standard errors of the two means, each bounded by the mean of
    /// the per-language standard errors because one pruned model's seed errors are correlated across its languages.
    /// </summary>
    static (double Ratio, double Tolerance) AverageRatio(StructuredPair pair, double fallback)
    {
        if (pair.Average is { } average) return (average.Ratio, RelativeTolerance(average.A, average.B, fallback));
        var cells = pair.Languages;
        var (meanA, meanB) = (cells.Average(c => c.A.Mean), cells.Average(c => c.B.Mean));
        var tau = cells.All(c => Seeded(c.A) && Seeded(c.B))
            ? 2 * Math.Sqrt(Sq(cells.Average(c => StdErr(c.A)) / meanA) + Sq(cells.Average(c => StdErr(c.B)) / meanB))
            : fallback;
        return (meanA / meanB, tau);
    }

    static double LanguageMeanRatio(StructuredPair pair) => pair.Languages.Average(c => c.A.Mean) / pair.Languages.Average(c => c.B.Mean);

    /// <summary>
    /// The tolerance of a ratio of two cells, relative: twice its seed-derived standard error,
    /// <c>2·sqrt((s_a/a)²/R_a + (s_b/b)²/R_b)</c> (EVALUATION §6.0 in relative terms), when both cells have at least
    /// <see cref="DiagonalColumns.MinSeeds"/> seeds and a spread; else <paramref name="fallback"/>.
    /// </summary>
    static double RelativeTolerance(Cell a, Cell b, double fallback) =>
        Seeded(a) && Seeded(b) ? 2 * Math.Sqrt(Sq(StdErr(a) / a.Mean) + Sq(StdErr(b) / b.Mean)) : fallback;

    static bool Seeded(Cell cell) => cell.Std is not null && cell.Seeds >= DiagonalColumns.MinSeeds;

    static double StdErr(Cell cell) => cell.Std!.Value / Math.Sqrt(cell.Seeds);

    static double Sq(double x) => x * x;

    static bool Unusable(Cell cell) => !cell.IsFinite || cell.Mean <= 0;

    /// <summary>A ratio as a signed change: 0.8 reads "−20.00 %", 1.19 reads "+19.00 %".</summary>
    static string Change(double ratio) =>
        ratio < 1 ? $"−{F(100 * (1 - ratio), "0.00")} %" : $"+{F(100 * (ratio - 1), "0.00")} %";

    static string Lower(Outcome outcome) => outcome.ToString().ToLowerInvariant();
}
