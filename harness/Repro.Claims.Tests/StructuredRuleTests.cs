using System.Text.Json.Nodes;
using Repro.Core.Claims;

namespace Repro.Claims.Tests;

/// <summary>The rules of Lang-Prune's claims (max-beats-mixed, interference, min-far-worse) on small hand-built blocks.</summary>
public sealed class StructuredRuleTests
{
    const string Mix = "ar-de-en";
    static readonly string[] Languages = ["ar", "de", "en"];

    /// <summary>A cell of three seeds spread by ±<paramref name="spread"/> around <paramref name="mean"/>, or one printed number.</summary>
    static Cell C(double mean, double? spread = null) => spread is { } s ? Cell.OfSeeds([mean - s, mean, mean + s]) : Cell.Single(mean);

    /// <summary>A block with the mixture row and, optionally, the monolingual diagonal; columns (ppl, language).</summary>
    static Block B(string model, string method, IReadOnlyDictionary<string, Cell> mixture, IReadOnlyDictionary<string, Cell>? diagonal = null,
                   IEnumerable<string>? extraRows = null)
    {
        var columns = mixture.Keys.Select(l => new Column("ppl", l)).ToList();
        var cells = new Dictionary<(string, Column), Cell>();
        foreach (var (language, cell) in mixture) cells[(Mix, new Column("ppl", language))] = cell;
        foreach (var (language, cell) in diagonal ?? new Dictionary<string, Cell>()) cells[(language, new Column("ppl", language))] = cell;
        var rows = (diagonal?.Keys ?? []).Append(Mix).Concat(extraRows ?? []).ToList();
        return new Block(model, method, rows, columns, cells, new Dictionary<string, bool> { ["ppl"] = false });
    }

    static Dictionary<string, Cell> Each(Func<string, int, Cell> cell) =>
        Languages.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => cell(x.l, x.i));

    static RuleParameters P(params (string Key, JsonNode? Value)[] values)
    {
        var o = new JsonObject();
        foreach (var (k, v) in values) o[k] = v;
        return new RuleParameters(o, "test");
    }

    static readonly RuleParameters MaxVsMixed = P(("candidate", "lang-prune-max"), ("baseline", "llm-pruner"));
    static readonly RuleParameters MinVsMax = P(("worse", "lang-prune-min"), ("better", "lang-prune-max"));

    static (Block Candidate, Block Baseline) Pair(double ratio, string model = "m", int sparsity = 30, double? spread = null, double? baselineSpread = null) =>
        (B(model, $"lang-prune-max-{sparsity}", Each((_, i) => C(ratio * (100 + 10 * i), spread))),
         B(model, $"llm-pruner-{sparsity}", Each((_, i) => C(100 + 10 * i, baselineSpread ?? spread))));

    [Test]
    public void The_rule_names_are_registered() =>
        Assert.That(Rules.ByName.Keys, Is.SupersetOf(new[] { "max-beats-mixed", "interference", "min-far-worse" }));

    // max-beats-mixed

    [Test]
    public void Max_beats_mixed_holds_when_every_language_is_beaten_beyond_the_fallback()
    {
        var (candidate, baseline) = Pair(0.9);
        var verdict = Rules.MaxBeatsMixed([candidate, baseline], MaxVsMixed);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Holds), verdict.ToString());
        Assert.That(verdict.Figures["m 30 %: languages beaten"], Is.EqualTo(3));
        Assert.That(verdict.Figures["m 30 %: ratio de"], Is.EqualTo(0.9).Within(1e-12));
        Assert.That(verdict.Figures["m 30 %: average PPL reduction %"], Is.EqualTo(10).Within(1e-9));
        Assert.That(verdict.Figures["m 30 %: tolerance"], Is.EqualTo(0.01));
    }

    [Test]
    public void Max_beats_mixed_fails_when_the_average_is_worse_beyond_the_tolerance()
    {
        var (candidate, baseline) = Pair(1.1);
        var verdict = Rules.MaxBeatsMixed([candidate, baseline], MaxVsMixed);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Fails), verdict.ToString());
        Assert.That(verdict.Evidence.Count(e => e.Role == "not beaten"), Is.EqualTo(3));
    }

    [Test]
    public void Max_beats_mixed_is_inconclusive_when_one_language_is_inside_the_band()
    {
        var candidate = B("m", "lang-prune-max-50", new Dictionary<string, Cell> { ["ar"] = C(90), ["de"] = C(99.5), ["en"] = C(90) });
        var baseline = B("m", "llm-pruner-50", Each((_, _) => C(100)));
        var verdict = Rules.MaxBeatsMixed([candidate, baseline], MaxVsMixed);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Inconclusive), verdict.ToString());
        Assert.That(verdict.Figures["m 50 %: closest ratio"], Is.EqualTo(0.995).Within(1e-12));
        Assert.That(verdict.Evidence, Has.Some.Matches<EvidenceCell>(e => e.Role == "closest language" && e.Column == "ppl de" && e.Row == Mix));
        Assert.That(verdict.Notes, Has.Some.Contains("ppl de"));
    }

    [Test]
    public void Max_beats_mixed_takes_its_tolerance_from_the_seeds_where_every_cell_has_them()
    {
        // A 0.5 % gain everywhere: inside the 1 % fallback band, beyond a tight seed spread, inside a wide one.
        var plain = Pair(0.995);
        var printed = Rules.MaxBeatsMixed([plain.Candidate, plain.Baseline], MaxVsMixed);
        var tight = Pair(0.995, spread: 0.1);
        var wide = Pair(0.995, spread: 10);
        var tightVerdict = Rules.MaxBeatsMixed([tight.Candidate, tight.Baseline], MaxVsMixed);
        var wideVerdict = Rules.MaxBeatsMixed([wide.Candidate, wide.Baseline], MaxVsMixed);
        Assert.That(printed.Outcome, Is.EqualTo(Outcome.Inconclusive), printed.ToString());
        Assert.That(tightVerdict.Outcome, Is.EqualTo(Outcome.Holds), tightVerdict.ToString());
        Assert.That(wideVerdict.Outcome, Is.EqualTo(Outcome.Inconclusive), wideVerdict.ToString());
        // 2·sqrt((s_a/a)²/3 + (s_b/b)²/3) in the ar column (a = 99.5, b = 100, s = 0.1 and 10).
        Assert.That(tightVerdict.Figures["m 30 %: tolerance"], Is.EqualTo(2 * Math.Sqrt((Math.Pow(0.1 / 99.5, 2) + Math.Pow(0.1 / 100, 2)) / 3)).Within(1e-9));
        Assert.That(wideVerdict.Figures["m 30 %: tolerance"], Is.EqualTo(2 * Math.Sqrt((Math.Pow(10 / 99.5, 2) + Math.Pow(10 / 100.0, 2)) / 3)).Within(1e-9));
    }

    [Test]
    public void Max_beats_mixed_decides_a_pair_that_prints_only_averages_on_them()
    {
        Block Avg(string model, string method, double value) =>
            new(model, method, [Mix], [new Column("ppl", "avg")], new Dictionary<(string, Column), Cell> { [(Mix, new Column("ppl", "avg"))] = C(value) },
                new Dictionary<string, bool> { ["ppl"] = false });
        var worse = Rules.MaxBeatsMixed([Avg("small", "lang-prune-max-50", 56.07), Avg("small", "llm-pruner-50", 52.38)], MaxVsMixed);
        var better = Rules.MaxBeatsMixed([Avg("big", "lang-prune-max-50", 24.30), Avg("big", "llm-pruner-50", 310.69)], MaxVsMixed);
        Assert.That(worse.Outcome, Is.EqualTo(Outcome.Fails), worse.ToString());
        Assert.That(worse.Figures["small 50 %: average PPL ratio"], Is.EqualTo(56.07 / 52.38).Within(1e-12));
        Assert.That(better.Outcome, Is.EqualTo(Outcome.Holds), better.ToString());
    }

    [Test]
    public void Max_beats_mixed_reports_but_does_not_count_a_model_outside_the_scope()
    {
        var (inA, inB) = Pair(0.9, model: "big");
        var (outA, outB) = Pair(1.2, model: "small");
        var scoped = P(("candidate", "lang-prune-max"), ("baseline", "llm-pruner"), ("outOfScope", new JsonArray("small")));
        var verdict = Rules.MaxBeatsMixed([inA, inB, outA, outB], scoped);
        var unscoped = Rules.MaxBeatsMixed([inA, inB, outA, outB], MaxVsMixed);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Holds), verdict.ToString());
        Assert.That(verdict.Notes, Has.Some.StartsWith("outside the claim's scope: small 30 %: fails"));
        Assert.That(verdict.Figures["pairs"], Is.EqualTo(1));
        Assert.That(unscoped.Outcome, Is.EqualTo(Outcome.Fails), unscoped.ToString());
    }

    [Test]
    public void Max_beats_mixed_is_inconclusive_naming_a_block_without_exactly_one_mixture_row_or_without_a_partner()
    {
        var (candidate, baseline) = Pair(0.9);
        var twoMixtures = baseline with { Rows = [.. baseline.Rows, "ar-de"] };
        var noMixture = baseline with { Rows = [] };
        var cases = new (Block[] Blocks, string Named)[]
        {
            ([candidate, twoMixtures], "m llm-pruner-30: 2 mixture rows"), ([candidate, noMixture], "m llm-pruner-30: no mixture row"),
            ([candidate], "m lang-prune-max-30: no block m llm-pruner-30"), ([baseline], "no block of method 'lang-prune-max-<sparsity>'"),
        };
        foreach (var (blocks, name) in cases)
        {
            var verdict = Rules.MaxBeatsMixed(blocks, MaxVsMixed);
            Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Inconclusive), verdict.ToString());
            Assert.That(verdict.Reason, Does.Contain(name));
        }
    }

    [Test]
    public void Max_beats_mixed_is_inconclusive_on_a_non_finite_cell()
    {
        var (candidate, baseline) = Pair(0.9);
        var broken = candidate with { Cells = candidate.Cells.ToDictionary(p => p.Key, p => p.Key.Column.Language == "en" ? C(double.PositiveInfinity) : p.Value) };
        Assert.That(Rules.MaxBeatsMixed([broken, baseline], MaxVsMixed).Outcome, Is.EqualTo(Outcome.Inconclusive));
    }

    // interference

    static Block Interfered(Func<int, double> factor, double? spread = null, string method = "llm-pruner-70") =>
        B("m", method, Each((_, i) => C(factor(i) * (20 + 5 * i), spread is { } s ? s * factor(i) : null)), Each((_, i) => C(20 + 5 * i, spread)));

    [Test]
    public void Interference_holds_when_the_mixture_is_worse_than_each_languages_own_calibration()
    {
        var verdict = Rules.Interference([Interfered(_ => 1.5)], RuleParameters.Empty);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Holds), verdict.ToString());
        Assert.That(verdict.Figures["m llm-pruner-70: IFgeo"], Is.EqualTo(1.5).Within(1e-12));
        Assert.That(verdict.Figures["m llm-pruner-70: IFmeanOfRatios"], Is.EqualTo(1.5).Within(1e-12));
        Assert.That(verdict.Figures["m llm-pruner-70: IFratioOfMeans"], Is.EqualTo(1.5).Within(1e-12));
        Assert.That(verdict.Figures["m llm-pruner-70: languages with IF > 1"], Is.EqualTo(3));
    }

    [Test]
    public void Interference_fails_when_the_mixture_is_better()
    {
        var verdict = Rules.Interference([Interfered(_ => 0.8)], RuleParameters.Empty);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Fails), verdict.ToString());
        Assert.That(verdict.Notes, Has.Some.StartsWith("m llm-pruner-70: IF ≤ 1 in ar"));
    }

    [Test]
    public void Interference_averages_ratios_geometrically_so_opposite_factors_cancel()
    {
        // IF 4, 1, 0.25: the arithmetic mean of the ratios (1.75) says interference, their geometric mean (1) does not.
        var verdict = Rules.Interference([Interfered(i => new[] { 4, 1, 0.25 }[i])], RuleParameters.Empty);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Inconclusive), verdict.ToString());
        Assert.That(verdict.Figures["m llm-pruner-70: IFgeo"], Is.EqualTo(1).Within(1e-12));
        Assert.That(verdict.Figures["m llm-pruner-70: IFmeanOfRatios"], Is.EqualTo(1.75).Within(1e-12));
        Assert.That(verdict.Figures["m llm-pruner-70: IFratioOfMeans"], Is.EqualTo((80 + 25 + 7.5) / 75).Within(1e-12));
    }

    [Test]
    public void Interference_takes_its_tolerance_from_the_seeds_where_every_cell_has_them()
    {
        // IF 1.01: inside the 2 % fallback band, beyond a tight seed spread, inside a wide one.
        var printed = Rules.Interference([Interfered(_ => 1.01)], RuleParameters.Empty);
        var tight = Rules.Interference([Interfered(_ => 1.01, spread: 0.01)], RuleParameters.Empty);
        var wide = Rules.Interference([Interfered(_ => 1.01, spread: 2)], RuleParameters.Empty);
        Assert.That(printed.Outcome, Is.EqualTo(Outcome.Inconclusive), printed.ToString());
        Assert.That(tight.Outcome, Is.EqualTo(Outcome.Holds), tight.ToString());
        Assert.That(wide.Outcome, Is.EqualTo(Outcome.Inconclusive), wide.ToString());
        Assert.That(tight.Figures["m llm-pruner-70: tolerance"], Is.LessThan(0.01));
    }

    [Test]
    public void Interference_is_inconclusive_without_a_mixture_row_or_with_a_missing_own_calibration_cell()
    {
        var block = Interfered(_ => 1.5);
        var noMixture = block with { Rows = ["ar", "de", "en"] };
        var missing = block with { Cells = block.Cells.Where(p => p.Key.Row != "de").ToDictionary() };
        Assert.That(Rules.Interference([noMixture], RuleParameters.Empty).Reason, Does.Contain("no mixture row"));
        var verdict = Rules.Interference([missing], RuleParameters.Empty);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Inconclusive), verdict.ToString());
        Assert.That(verdict.Reason, Does.Contain("ppl de"));
    }

    // min-far-worse

    static (Block Min, Block Max) MinMax(Func<int, double> ratio, double? spread = null) =>
        (B("m", "lang-prune-min-70", Each((_, i) => C(ratio(i) * (50 + i), spread))), B("m", "lang-prune-max-70", Each((_, i) => C(50 + i, spread))));

    [Test]
    public void Min_far_worse_holds_when_min_is_ten_times_worse_on_average_and_worse_everywhere()
    {
        var (min, max) = MinMax(i => new[] { 30, 3, 60 }[i]);
        var verdict = Rules.MinFarWorse([min, max], MinVsMax);
        Assert.That(verdict.Outcome, Is.EqualTo(Outcome.Holds), verdict.ToString());
        Assert.That(verdict.Figures["m 70 %: smallest ratio"], Is.EqualTo(3).Within(1e-12));
        Assert.That(verdict.Evidence, Has.Some.Matches<EvidenceCell>(e => e.Role == "smallest ratio" && e.Column == "ppl de"));
    }

    [Test]
    public void Min_far_worse_fails_below_twice_worse_on_average()
    {
        var (min, max) = MinMax(_ => 1.5);
        Assert.That(Rules.MinFarWorse([min, max], MinVsMax).Outcome, Is.EqualTo(Outcome.Fails));
    }

    [Test]
    public void Min_far_worse_is_inconclusive_between_the_thresholds_or_when_a_language_is_not_worse()
    {
        var (midMin, midMax) = MinMax(_ => 5);
        var (flatMin, flatMax) = MinMax(i => new[] { 30, 1.0, 30 }[i]);
        Assert.That(Rules.MinFarWorse([midMin, midMax], MinVsMax).Outcome, Is.EqualTo(Outcome.Inconclusive));
        var flat = Rules.MinFarWorse([flatMin, flatMax], MinVsMax);
        Assert.That(flat.Outcome, Is.EqualTo(Outcome.Inconclusive), flat.ToString());
        Assert.That(flat.Figures["m 70 %: languages worse"], Is.EqualTo(2));
    }

    [Test]
    public void Min_far_worse_takes_its_tolerance_from_the_seeds_where_every_cell_has_them()
    {
        // de only 0.5 % worse: not beyond the 1 % fallback, beyond a tight seed spread.
        var ratios = new[] { 30, 1.005, 30 };
        var (printedMin, printedMax) = MinMax(i => ratios[i]);
        var (seededMin, seededMax) = MinMax(i => ratios[i], spread: 0.01);
        Assert.That(Rules.MinFarWorse([printedMin, printedMax], MinVsMax).Outcome, Is.EqualTo(Outcome.Inconclusive));
        var seeded = Rules.MinFarWorse([seededMin, seededMax], MinVsMax);
        Assert.That(seeded.Outcome, Is.EqualTo(Outcome.Holds), seeded.ToString());
    }
}
