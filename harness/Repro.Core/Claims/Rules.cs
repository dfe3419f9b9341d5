using System.Globalization;

namespace Repro.Core.Claims;

/// <summary>A decision rule: blocks and parameters in, verdict out. Pure: no models, no files.</summary>
public delegate Verdict Rule(IReadOnlyList<Block> blocks, RuleParameters parameters);

/// <summary>
/// The decision rules of EVALUATION §6, by the names claim files use. Each reads only the single-language
/// calibration rows of its blocks unless it says otherwise, and every figure it decides by goes into the verdict.
/// Overall verdicts over several blocks: holds when every block holds, fails when at least half fail, otherwise
/// inconclusive.
/// </summary>
public static partial class Rules
{
    public static IReadOnlyDictionary<string, Rule> ByName { get; } = new Dictionary<string, Rule>
    {
        ["diagonal-best"] = DiagonalBest,
        ["diagonal-share"] = DiagonalShare,
        ["diagonal-unreliable"] = DiagonalUnreliable,
        ["diagonal-tendency"] = DiagonalTendency,
        ["spread-ratio"] = SpreadRatio,
        ["mixture-vs-target"] = MixtureVersusTarget,
        ["max-beats-mixed"] = MaxBeatsMixed,
        ["interference"] = Interference,
        ["min-far-worse"] = MinFarWorse,
    };

    public static Rule Get(string name, string source) =>
        ByName.TryGetValue(name, out var rule) ? rule
        : throw new ClaimFileException(source, $"unknown rule '{name}'; known rules: {string.Join(", ", ByName.Keys)}");

    /// <summary>
    /// Shares and ranks over a handful of columns say nothing: below <c>minColumns</c> (default 5) columns a rule is
    /// inconclusive, naming how many it had (at small scale most accuracy columns can be at chance and dropped).
    /// </summary>
    static Verdict? TooFew(int columns, RuleParameters p, string what)
    {
        var min = (int)p.Number("minColumns", 5);
        return columns < min ? Verdict.Inconclusive($"only {columns} {what}, fewer than the {min} this rule needs to decide") : null;
    }

    /// <summary>Every block's diagonal columns over its single-language rows, or the verdict naming the first missing or non-finite cell.</summary>
    static Verdict? ReadAll(IReadOnlyList<Block> blocks, double fallback, out List<(Block Block, List<DiagonalColumn> Columns)> read)
    {
        read = [];
        foreach (var block in blocks)
        {
            var columns = DiagonalColumns.Read(block, block.MonolingualRows, fallback, out var problem);
            if (problem is not null) return Verdict.Inconclusive(problem);
            read.Add((block, columns));
        }
        return null;
    }

    /// <summary>Per-block and pooled diagonal counts into <paramref name="figures"/>; the pooled count's binomial tail at chance 1/rows.</summary>
    static (int Pooled, int Columns, double Tail) Pool(List<(Block Block, List<DiagonalColumn> Columns)> read, Dictionary<string, double> figures)
    {
        foreach (var (block, columns) in read)
        {
            figures[$"{block.Name}: diagonal columns"] = columns.Count(c => c.IsDiagonal);
            figures[$"{block.Name}: columns"] = columns.Count;
        }
        var pooled = read.Sum(b => b.Columns.Count(c => c.IsDiagonal));
        var total = read.Sum(b => b.Columns.Count);
        var rows = read.Max(b => b.Block.MonolingualRows.Count);
        var tail = Statistics.BinomialTail(pooled, total, 1.0 / rows);
        figures["pooled diagonal columns"] = pooled;
        figures["pooled columns"] = total;
        figures["pooled binomial tail"] = tail;
        return (pooled, total, tail);
    }

    static string F(double value, string format = "0.###") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>
    /// C1-ppl (EVALUATION §6.1). Per block and column: the diagonal is best within the tolerance (<i>diagonal</i>), within
    /// <c>near</c> relative of the best (<i>near-diagonal</i>), or a <i>violation</i>. A block holds with at least
    /// <c>minDiagonalShare</c> diagonal columns and no violation, fails with at least <c>failViolationShare</c>
    /// violations; overall holds when every block holds and the pooled diagonal count has a binomial tail (chance
    /// 1/rows) below <c>pooledTail</c>.
    /// </summary>
    public static Verdict DiagonalBest(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var near = p.Number("near", 0.05);
        var minShare = p.Number("minDiagonalShare", 6.0 / 7);
        var failShare = p.Number("failViolationShare", 3.0 / 7);
        var pooledTail = p.Number("pooledTail", 0.01);
        var fallback = p.Number("fallbackRelative", 0.005);
        if (ReadAll(blocks, fallback, out var reads) is { } problem) return problem;
        var figures = new Dictionary<string, double>();
        var evidence = new List<EvidenceCell>();
        var notes = new List<string>();
        var outcomes = new List<Outcome>();
        foreach (var (block, read) in reads)
        {
            if (read.Count == 0) return Verdict.Inconclusive($"{block.Name}: no column has its calibration row");
            var diagonal = read.Count(c => c.IsDiagonal);
            var violations = read.Count(c => !c.IsDiagonal && c.RelativeGap > near);
            foreach (var c in read.Where(c => !c.IsDiagonal))
            {
                var kind = c.RelativeGap > near ? "violation" : "near-diagonal";
                evidence.Add(c.DiagonalEvidence(kind));
                evidence.Add(c.BestOtherEvidence("best"));
                notes.Add($"{block.Name}, {c.Column}: {kind}, {c.BestOtherRow} {F(c.BestOther.Mean)} beats the diagonal {F(c.Diagonal.Mean)} " +
                          $"by {F(100 * c.RelativeGap, "0.0")} % (rank {c.Rank})");
            }
            outcomes.Add(diagonal >= minShare * read.Count - 1e-9 && violations == 0 ? Outcome.Holds
                : violations >= failShare * read.Count - 1e-9 ? Outcome.Fails : Outcome.Inconclusive);
            figures[$"{block.Name}: violations"] = violations;
        }
        if (TooFew(reads.Sum(r => r.Columns.Count), p, "columns with their calibration row") is { } few) return few;
        var (pooled, columns, tail) = Pool(reads, figures);
        var summary = $"diagonal best in {pooled}/{columns} columns (chance tail {tail:G2}); blocks: " +
                      string.Join(", ", blocks.Zip(outcomes).Select(x => $"{x.First.Name} {x.Second.ToString().ToLowerInvariant()} ({figures[$"{x.First.Name}: diagonal columns"]}/{figures[$"{x.First.Name}: columns"]})"));
        var overall = Combine(outcomes);
        if (overall == Outcome.Holds && tail >= pooledTail) overall = Outcome.Inconclusive;   // every block holds, but too few columns to tell from chance
        return new Verdict(overall, summary, figures, evidence, notes);
    }

    /// <summary>
    /// C1-snr / C1-pe (EVALUATION §6.1): the same column test, pooled. Holds when the pooled diagonal share reaches
    /// <c>minShare</c> and its binomial tail is below <c>pooledTail</c>; fails when the share is at most
    /// <c>failShare</c> (about twice chance); blocks below half are reported as exceptions.
    /// </summary>
    public static Verdict DiagonalShare(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var minShare = p.Number("minShare", 2.0 / 3);
        var failShare = p.Number("failShare", 2.0 / 7);
        var pooledTail = p.Number("pooledTail", 0.01);
        var fallback = p.Number("fallbackRelative", 0.005);
        if (ReadAll(blocks, fallback, out var reads) is { } problem) return problem;
        var figures = new Dictionary<string, double>();
        var evidence = new List<EvidenceCell>();
        var notes = new List<string>();
        foreach (var (block, read) in reads)
        {
            var diagonal = read.Count(c => c.IsDiagonal);
            foreach (var c in read.Where(c => !c.IsDiagonal))
            {
                evidence.Add(c.DiagonalEvidence("not best"));
                evidence.Add(c.BestOtherEvidence("best"));
            }
            if (diagonal * 2 < read.Count)
                notes.Add($"exception: {block.Name} has its diagonal best in only {diagonal}/{read.Count} columns; best rows: " +
                          string.Join(", ", read.Where(c => !c.IsDiagonal).Select(c => $"{c.Column} {c.BestOtherRow}")));
        }
        if (TooFew(reads.Sum(r => r.Columns.Count), p, "columns with their calibration row") is { } few) return few;
        var (pooled, columns, tail) = Pool(reads, figures);
        var share = (double)pooled / columns;
        var outcome = share >= minShare - 1e-9 && tail < pooledTail ? Outcome.Holds : share <= failShare + 1e-9 ? Outcome.Fails : Outcome.Inconclusive;
        return new Verdict(outcome, $"diagonal best in {pooled}/{columns} columns ({F(100 * share, "0")} %, chance tail {tail:G2}; holds from {F(100 * minShare, "0")} %)",
                           figures, evidence, notes);
    }

    /// <summary>
    /// C-down (EVALUATION §6.2): pooled over all columns, W = diagonal wins (ties count as wins), V = columns where the
    /// best other row beats the diagonal by more than <c>2·sqrt(s_best² + s_diag²)</c> (seed stds). Holds when
    /// <c>W/n ≤ maxWinShare</c> and <c>V ≥ minBeyondNoiseShare·n</c>; fails when <c>W/n ≥ failWinShare</c> and
    /// <c>V ≤ failBeyondNoiseShare·n</c>.
    /// </summary>
    public static Verdict DiagonalUnreliable(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var maxWin = p.Number("maxWinShare", 0.75);
        var minBeyond = p.Number("minBeyondNoiseShare", 0.10);
        var failWin = p.Number("failWinShare", 0.9);
        var failBeyond = p.Number("failBeyondNoiseShare", 0.02);
        var figures = new Dictionary<string, double>();
        var evidence = new List<EvidenceCell>();
        var notes = new List<string>();
        if (ReadAll(blocks, 0, out var reads) is { } problem) return problem;
        int wins = 0, strict = 0, beyond = 0, n = 0, rows = 0;
        foreach (var (block, read) in reads)
        {
            int blockWins = 0, blockBeyond = 0;
            foreach (var c in read)
            {
                if (c.Diagonal.Std is not { } sd || c.BestOther.Std is not { } sb)
                    return Verdict.Inconclusive($"{block.Name}, {c.Column}: no seed standard deviation, which this rule needs");
                if (c.Advantage >= -block.Resolution) blockWins++;
                if (c.Advantage > block.Resolution) strict++;
                if (-c.Advantage > 2 * Math.Sqrt(sb * sb + sd * sd))
                {
                    blockBeyond++;
                    evidence.Add(c.DiagonalEvidence("diagonal"));
                    evidence.Add(c.BestOtherEvidence("beats it beyond noise"));
                    notes.Add($"{block.Name}, {c.Column}: {c.BestOtherRow} {F(c.BestOther.Mean)}±{F(sb)} vs diagonal {F(c.Diagonal.Mean)}±{F(sd)}");
                }
            }
            figures[$"{block.Name}: diagonal wins"] = blockWins;
            figures[$"{block.Name}: beaten beyond noise"] = blockBeyond;
            figures[$"{block.Name}: columns"] = read.Count;
            wins += blockWins;
            beyond += blockBeyond;
            n += read.Count;
            rows = Math.Max(rows, block.MonolingualRows.Count);
        }
        if (TooFew(n, p, "columns with their calibration row") is { } few) return few;
        var tail = Statistics.BinomialTail(wins, n, 1.0 / rows);
        figures["W"] = wins;
        figures["W strict"] = strict;
        figures["V"] = beyond;
        figures["n"] = n;
        figures["diagonal wins binomial tail"] = tail;
        var share = (double)wins / n;
        var outcome = share <= maxWin && beyond >= minBeyond * n - 1e-9 ? Outcome.Holds
            : share >= failWin && beyond <= failBeyond * n + 1e-9 ? Outcome.Fails : Outcome.Inconclusive;
        return new Verdict(outcome, $"diagonal wins W = {wins}/{n} ({F(100 * share, "0")} %, {strict} strict), beaten beyond seed noise in V = {beyond} columns " +
                                    $"(holds when W/n ≤ {F(maxWin)} and V ≥ {F(minBeyond * n, "0.#")})", figures, evidence, notes);
    }

    /// <summary>
    /// C3a (EVALUATION §6.3): per block, the diagonal's wins and mean competition rank among the calibration rows.
    /// A block holds when the binomial tail of its wins is below <c>tail</c> and its mean rank at most <c>maxMeanRank</c>;
    /// fails when the mean rank is at least <c>failMeanRank</c> (chance is (rows + 1) / 2).
    /// </summary>
    public static Verdict DiagonalTendency(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var tailLimit = p.Number("tail", 0.05);
        var maxRank = p.Number("maxMeanRank", 3.0);
        var failRank = p.Number("failMeanRank", 4.0);
        var fallback = p.Number("fallbackRelative", 0.005);
        var figures = new Dictionary<string, double>();
        var evidence = new List<EvidenceCell>();
        var outcomes = new List<Outcome>();
        var parts = new List<string>();
        if (ReadAll(blocks, fallback, out var reads) is { } problem) return problem;
        foreach (var (block, read) in reads)
        {
            if (TooFew(read.Count, p, $"columns with their calibration row in {block.Name}") is { } few) return few;
            var wins = read.Count(c => c.Rank == 1);
            var meanRank = read.Average(c => c.Rank);
            var tail = Statistics.BinomialTail(wins, read.Count, 1.0 / block.MonolingualRows.Count);
            var outcome = tail < tailLimit && meanRank <= maxRank ? Outcome.Holds : meanRank >= failRank ? Outcome.Fails : Outcome.Inconclusive;
            outcomes.Add(outcome);
            evidence.AddRange(read.Where(c => c.Rank == 1).Select(c => c.DiagonalEvidence("diagonal wins")));
            figures[$"{block.Name}: wins"] = wins;
            figures[$"{block.Name}: columns"] = read.Count;
            figures[$"{block.Name}: mean rank"] = meanRank;
            figures[$"{block.Name}: binomial tail"] = tail;
            parts.Add($"{block.Name} {outcome.ToString().ToLowerInvariant()}: wins {wins}/{read.Count} (tail {tail:G2}), mean rank {F(meanRank, "0.00")}");
        }
        return new Verdict(Combine(outcomes), string.Join("; ", parts) + $" (holds per block when tail < {F(tailLimit)} and mean rank ≤ {F(maxRank)})",
                           figures, evidence, []);
    }

    /// <summary>
    /// C3b (EVALUATION §6.3): per column, the spread (max − min over calibration rows) in the <c>low</c>-precision and the
    /// <c>high</c>-precision block (matched by method). Holds when <c>median(spread_high) ≤ maxHighMedian</c>, at most
    /// <c>maxRatio</c> of <c>median(spread_low)</c>, and, where seeds exist, at most twice the high block's median
    /// seed std; fails when at least <c>failRatio</c> of it.
    /// </summary>
    public static Verdict SpreadRatio(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var lowName = p.Text("low");
        var highName = p.Text("high");
        var maxHigh = p.Number("maxHighMedian", 1.0);
        var maxRatio = p.Number("maxRatio", 0.25);
        var failRatio = p.Number("failRatio", 0.5);
        var low = blocks.FirstOrDefault(b => b.Method == lowName);
        var high = blocks.FirstOrDefault(b => b.Method == highName);
        if (low is null || high is null)
            return Verdict.Inconclusive($"needs blocks of methods '{lowName}' and '{highName}'; have {string.Join(", ", blocks.Select(b => b.Method))}");
        double[]? Spreads(Block block, out string? problem)
        {
            problem = null;
            var rows = block.MonolingualRows;
            var spreads = new List<double>();
            foreach (var column in block.Columns)
            {
                var cells = rows.Select(r => block[r, column]).ToList();
                if (cells.Any(c => c is null || !c.IsFinite)) { problem = $"{block.Name}, {column}: a calibration row is missing or not finite"; return null; }
                spreads.Add(cells.Max(c => c!.Mean) - cells.Min(c => c!.Mean));
            }
            return [.. spreads];
        }
        if (TooFew(Math.Min(low.Columns.Count, high.Columns.Count), p, "columns") is { } few) return few;
        var lowSpreads = Spreads(low, out var lowProblem);
        if (lowProblem is not null) return Verdict.Inconclusive(lowProblem);
        var highSpreads = Spreads(high, out var highProblem);
        if (highProblem is not null) return Verdict.Inconclusive(highProblem);
        var (mLow, mHigh) = (Statistics.Median(lowSpreads!), Statistics.Median(highSpreads!));
        var seedStds = high.Cells.Values.Where(c => c.Std is not null && c.Seeds >= DiagonalColumns.MinSeeds).Select(c => c.Std!.Value).ToList();
        double? medianStd = seedStds.Count > 0 ? Statistics.Median(seedStds) : null;
        var figures = new Dictionary<string, double>
        {
            [$"{low.Name}: median spread"] = mLow, [$"{low.Name}: mean spread"] = lowSpreads!.Average(), [$"{low.Name}: max spread"] = lowSpreads!.Max(),
            [$"{high.Name}: median spread"] = mHigh, [$"{high.Name}: mean spread"] = highSpreads!.Average(), [$"{high.Name}: max spread"] = highSpreads!.Max(),
        };
        if (medianStd is { } ms) figures[$"{high.Name}: median seed std"] = ms;
        var withinNoise = medianStd is not { } std || mHigh <= 2 * std;
        var outcome = mHigh <= maxHigh && mHigh <= maxRatio * mLow && withinNoise ? Outcome.Holds
            : mHigh >= failRatio * mLow ? Outcome.Fails : Outcome.Inconclusive;
        var evidence = new List<EvidenceCell>();
        foreach (var (block, spreads) in new[] { (low, lowSpreads!), (high, highSpreads!) })
        {
            var widest = block.Columns[Array.IndexOf(spreads, spreads.Max())];
            evidence.AddRange(block.MonolingualRows.Select(r => new EvidenceCell(block.Name, r, widest.ToString(), block[r, widest]!.Mean, block[r, widest]!.Std, "widest column")));
        }
        return new Verdict(outcome, $"median spread over calibration rows {F(mHigh, "0.00")} ({high.Method}) vs {F(mLow, "0.00")} ({low.Method}), ratio {F(mLow == 0 ? double.NaN : mHigh / mLow, "0.00")}" +
                                    (medianStd is { } m2 ? $", median seed std {F(m2, "0.00")}" : "") +
                                    $" (holds when ≤ {F(maxHigh)} and ratio ≤ {F(maxRatio)}{(medianStd is null ? "" : " and ≤ 2 seed stds")}; fails from ratio {F(failRatio)})",
                           figures, evidence, []);
    }

    /// <summary>
    /// C4 (Kurz §4.4, Table 8): in every column whose language is in the <c>mixture</c> row, the mixture against the
    /// target language's own calibration (the diagonal). A column <i>helps</i> when the mixture is better beyond the
    /// tolerance, <i>hurts</i> when worse beyond it. "Occasionally helps, no clear pattern" holds when the share of
    /// helping columns lies in <c>[minHelpShare, maxHelpShare]</c> and hurting columns occur too (share ≥
    /// <c>minHurtShare</c>); fails when the mixture (almost) never helps (share &lt; <c>failHelpBelow</c>) or helps
    /// (almost) everywhere (share &gt; <c>failHelpAbove</c>).
    /// </summary>
    public static Verdict MixtureVersusTarget(IReadOnlyList<Block> blocks, RuleParameters p)
    {
        var mixture = p.Text("mixture");
        var minHelp = p.Number("minHelpShare", 0.10);
        var maxHelp = p.Number("maxHelpShare", 0.75);
        var minHurt = p.Number("minHurtShare", 0.10);
        var failBelow = p.Number("failHelpBelow", 0.05);
        var failAbove = p.Number("failHelpAbove", 0.90);
        var fallback = p.Number("fallbackRelative", 0.005);
        var languages = mixture.Split('-');
        var figures = new Dictionary<string, double>();
        var evidence = new List<EvidenceCell>();
        int helps = 0, hurts = 0, n = 0;
        foreach (var block in blocks)
        {
            if (!block.Rows.Contains(mixture)) return Verdict.Inconclusive($"{block.Name}: no calibration row '{mixture}'");
            int blockHelps = 0, blockHurts = 0, blockN = 0;
            foreach (var column in block.Columns.Where(c => languages.Contains(c.DiagonalRow)))
            {
                var (mix, target) = (block[mixture, column], block[column.DiagonalRow, column]);
                if (mix is null || target is null) return Verdict.Inconclusive($"{block.Name}, {column}: mixture or target-language row missing");
                if (!mix.IsFinite || !target.IsFinite) return Verdict.Inconclusive($"{block.Name}, {column}: a cell is not finite");
                var advantage = DiagonalColumns.Advantage(block, column, mix.Mean, target.Mean);
                var tolerance = DiagonalColumns.Tolerance(block, mix, target, fallback);
                blockN++;
                if (advantage > tolerance)
                {
                    blockHelps++;
                    evidence.Add(new EvidenceCell(block.Name, mixture, column.ToString(), mix.Mean, mix.Std, "mixture better"));
                    evidence.Add(new EvidenceCell(block.Name, column.DiagonalRow, column.ToString(), target.Mean, target.Std, "target"));
                }
                else if (-advantage > tolerance) blockHurts++;
            }
            figures[$"{block.Name}: mixture better"] = blockHelps;
            figures[$"{block.Name}: mixture worse"] = blockHurts;
            figures[$"{block.Name}: columns"] = blockN;
            (helps, hurts, n) = (helps + blockHelps, hurts + blockHurts, n + blockN);
        }
        if (TooFew(n, p, "columns in a language of the mixture") is { } few) return few;
        var (helpShare, hurtShare) = ((double)helps / n, (double)hurts / n);
        figures["mixture better"] = helps;
        figures["mixture worse"] = hurts;
        figures["columns"] = n;
        var outcome = helpShare >= minHelp && helpShare <= maxHelp && hurtShare >= minHurt ? Outcome.Holds
            : helpShare < failBelow || helpShare > failAbove ? Outcome.Fails : Outcome.Inconclusive;
        return new Verdict(outcome, $"{mixture} calibration beats the target language's own in {helps}/{n} columns ({F(100 * helpShare, "0")} %) and loses in {hurts} " +
                                    $"({F(100 * hurtShare, "0")} %) (holds when helping in {F(100 * minHelp, "0")}–{F(100 * maxHelp, "0")} % and losing in ≥ {F(100 * minHurt, "0")} %)",
                           figures, evidence, []);
    }

    /// <summary>Several blocks' outcomes: holds when all hold, fails when at least half fail, else inconclusive.</summary>
    public static Outcome Combine(IReadOnlyList<Outcome> outcomes) =>
        outcomes.Count > 0 && outcomes.All(o => o == Outcome.Holds) ? Outcome.Holds
        : outcomes.Count > 0 && outcomes.Count(o => o == Outcome.Fails) * 2 >= outcomes.Count ? Outcome.Fails : Outcome.Inconclusive;
}
