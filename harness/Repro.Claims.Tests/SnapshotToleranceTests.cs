using Repro.Core.Claims;

namespace Repro.Claims.Tests;

/// <summary>What counts as a moved cell when a measured snapshot is compared with the accepted one.</summary>
public sealed class SnapshotToleranceTests
{
    static ClaimSnapshot Snapshot(IReadOnlyList<SnapshotCell> cells, IReadOnlyDictionary<string, double>? resolutions = null) =>
        new("tiny", "test", "0", [], cells, ClaimSnapshot.TolerancesOf(cells, resolutions), new Dictionary<string, Outcome>());

    static SnapshotCell Ppl(double mean, double? std, int seeds = 3, string row = "de") => new("tiny", "sparsegpt-70", row, "ppl", "zh", mean, std, seeds);

    [Test]
    public void A_cell_moves_only_beyond_twice_the_standard_error_of_a_difference_of_its_accepted_seeds()
    {
        // Accepted: s = 0.6 over 3 seeds; 2·0.6·sqrt(1/3 + 1/3) = 0.98. The metric's median s.e. (cells of s = 0.03) is 0.017.
        SnapshotCell[] others = [Ppl(10, 0.03, row: "en"), Ppl(11, 0.03, row: "es")];
        var accepted = Snapshot([Ppl(20, 0.6), .. others]);

        Assert.That(accepted.Differences(Snapshot([Ppl(20.9, 0.6), .. others])), Is.Empty, "0.9 is within 0.98");
        var moved = accepted.Differences(Snapshot([Ppl(21.1, 0.6), .. others]));
        Assert.That(moved.Select(d => d.What), Is.EqualTo(new[] { "tiny sparsegpt-70 calibration de, ppl zh" }));
        Assert.That(double.Parse(moved[0].Tolerance!, System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(2 * 0.6 * Math.Sqrt(2.0 / 3)).Within(1e-4));
        Assert.That(accepted.Differences(Snapshot([Ppl(21.1, 5.0), .. others])), Has.Count.EqualTo(1),
                    "a new run whose seeds scatter does not widen the tolerance it is judged by");
        Assert.That(accepted.Differences(Snapshot([Ppl(20, 0.6), Ppl(10.05, 0.03, row: "en"), others[1]])), Has.Count.EqualTo(1),
                    "a cell with a small spread is still held to it");
    }

    [Test]
    public void An_accuracy_cell_of_one_seed_may_move_by_one_item_and_not_by_two()
    {
        static SnapshotCell Acc(double mean) => new("tiny", "gptq4", "ar", "word-order", "zh", mean, null, 1);
        var steps = new Dictionary<string, double> { ["word-order"] = 100.0 / 16 };
        var accepted = Snapshot([Acc(75)]);   // recorded without a resolution: its word-order tolerance is 0

        Assert.That(accepted.Differences(Snapshot([Acc(68.75)], steps)), Is.Empty, "one item of 16, the measured snapshot's resolution");
        Assert.That(accepted.Differences(Snapshot([Acc(62.5)], steps)), Has.Count.EqualTo(1), "two items");
        Assert.That(accepted.Differences(Snapshot([Acc(68.75)])), Has.Count.EqualTo(1), "without a resolution every move counts");
        Assert.That(ClaimSnapshot.TolerancesOf([Acc(75)], steps)["word-order"], Is.EqualTo(6.25));
    }
}
