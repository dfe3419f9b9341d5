using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Claims;
using Outcome = Repro.Core.Claims.Outcome;

namespace Repro.Claims.Tests;

/// <summary>Properties of the decision rules on generated matrices (no model, no file).</summary>
public sealed class RuleProperties
{
    static readonly string[] Languages = ["ar", "de", "en", "es", "ru", "sw", "zh"];

    /// <summary>A block of random distinct values (no ties): rows = calibration, columns = the same languages.</summary>
    static Block Matrix(string task, bool higher, double[,] values, IReadOnlyList<string>? languages = null)
    {
        var langs = languages ?? Languages;
        var columns = langs.Select(l => new Column(task, l)).ToList();
        var cells = new Dictionary<(string, Column), Cell>();
        for (var r = 0; r < langs.Count; r++)
            for (var c = 0; c < langs.Count; c++) cells[(langs[r], columns[c])] = Cell.Single(values[r, c]);
        return new Block("m", "x", [.. langs], columns, cells, new Dictionary<string, bool> { [task] = higher }, Resolution: 1e-9);
    }

    static Arbitrary<double[,]> Values() =>
        Gen.Choose(1, 100_000).Select(v => 1 + v / 1000.0).Array2DOf(Languages.Length, Languages.Length)
            .Where(m => m.Cast<double>().Distinct().Count() == m.Length).ToArbitrary();

    /// <summary>Makes every diagonal cell strictly the best of its column.</summary>
    static double[,] StrictDiagonal(double[,] v, bool higher)
    {
        var m = (double[,])v.Clone();
        for (var c = 0; c < m.GetLength(1); c++)
        {
            var others = Enumerable.Range(0, m.GetLength(0)).Where(r => r != c).Select(r => m[r, c]).ToList();
            m[c, c] = higher ? others.Max() + 1 : others.Min() / 2;
        }
        return m;
    }

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property A_matrix_with_a_strict_diagonal_holds_under_every_diagonal_rule() =>
        Prop.ForAll(Values(), v =>
        {
            var lower = Matrix("ppl", false, StrictDiagonal(v, false));
            var higher = Matrix("snr", true, StrictDiagonal(v, true));
            var best = Rules.DiagonalBest([lower, lower with { Method = "y" }], RuleParameters.Empty);
            var share = Rules.DiagonalShare([higher], RuleParameters.Empty);
            var tendency = Rules.DiagonalTendency([higher], RuleParameters.Empty);
            return (best.Outcome == Outcome.Holds).Label(best.ToString())
                .And((share.Outcome == Outcome.Holds).Label(share.ToString()))
                .And((tendency.Outcome == Outcome.Holds).Label(tendency.ToString()));
        });

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property Transposing_two_languages_permutes_the_evidence() =>
        Prop.ForAll(Values(), Gen.Choose(0, Languages.Length - 1).Two().ToArbitrary(), (v, pair) =>
        {
            var (a, b) = (pair.Item1, pair.Item2);
            var swapped = Languages.ToArray();
            (swapped[a], swapped[b]) = (swapped[b], swapped[a]);
            // The same numbers under swapped names: language a's row and column now carry b's label and vice versa.
            var original = Rules.DiagonalShare([Matrix("pe", false, v)], RuleParameters.Empty);
            var renamed = Rules.DiagonalShare([Matrix("pe", false, v, swapped)], RuleParameters.Empty);
            string Rename(string l) => l == Languages[a] ? Languages[b] : l == Languages[b] ? Languages[a] : l;
            var mapped = original.Evidence.Select(e => e with { Row = Rename(e.Row), Column = $"pe {Rename(e.Column[3..])}" })
                .OrderBy(e => e.Column).ThenBy(e => e.Row).ThenBy(e => e.Role).ToList();
            var actual = renamed.Evidence.OrderBy(e => e.Column).ThenBy(e => e.Row).ThenBy(e => e.Role).ToList();
            return (original.Outcome == renamed.Outcome && mapped.SequenceEqual(actual))
                .Label($"{string.Join("; ", mapped)} vs {string.Join("; ", actual)}");
        });

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property A_non_finite_cell_makes_every_rule_inconclusive() =>
        Prop.ForAll(Values(), Gen.Choose(0, Languages.Length - 1).Two().ToArbitrary(), Gen.Elements(double.NaN, double.PositiveInfinity).ToArbitrary(),
            (v, at, bad) =>
            {
                var m = StrictDiagonal(v, true);
                m[at.Item1, at.Item2] = bad;
                var block = Matrix("acc", true, m);
                var withStd = block with { Cells = block.Cells.ToDictionary(p => p.Key, p => new Cell(p.Value.Mean, 0.1, 3, [p.Value.Mean])) };
                var mixture = withStd with { Rows = [.. withStd.Rows, "ar-de"], Cells = withStd.Cells.Concat(withStd.Columns.Select(c =>
                    KeyValuePair.Create(("ar-de", c), new Cell(double.NaN, 0.1, 3, [double.NaN])))).ToDictionary() };
                var verdicts = new[]
                {
                    Rules.DiagonalBest([block], RuleParameters.Empty), Rules.DiagonalShare([block], RuleParameters.Empty),
                    Rules.DiagonalUnreliable([withStd], RuleParameters.Empty), Rules.DiagonalTendency([block], RuleParameters.Empty),
                    Rules.SpreadRatio([block with { Method = "lo" }, block with { Method = "hi" }],
                                      new RuleParameters(new System.Text.Json.Nodes.JsonObject { ["low"] = "lo", ["high"] = "hi" }, "test")),
                    Rules.MixtureVersusTarget([mixture], new RuleParameters(new System.Text.Json.Nodes.JsonObject { ["mixture"] = "ar-de" }, "test")),
                };
                return verdicts.All(x => x.Outcome == Outcome.Inconclusive).Label(string.Join(" | ", verdicts.Select(x => x.ToString())));
            });
}
