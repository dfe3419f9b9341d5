using System.Globalization;
using System.Text.Json;
using Repro.Core.Runs;

namespace Repro.Core.Claims;

public sealed record DenseFigure(string Model, string Metric, string Language, double Value);

public sealed record SnapshotCell(string Model, string Block, string Row, string Task, string Language, double Mean, double? Std, int Seeds);

/// <summary>
/// One way a measured snapshot differs from the accepted one: what (a claim's verdict, a cell, a dense figure), the
/// old and new value as printed, and the tolerance the move exceeded. <see cref="Claim"/> is set for a verdict flip;
/// <see cref="Cell"/> for a cell, so a caller can say which claims read it.
/// </summary>
public sealed record SnapshotDifference(string Kind, string What, string? Old, string? New, string? Tolerance, string? Claim = null, SnapshotCell? Cell = null)
{
    public const string VerdictFlip = "verdict";
    public const string Moved = "moved";
    public const string NewCell = "new";
    public const string Gone = "gone";

    public override string ToString() => Kind switch
    {
        VerdictFlip => $"{What}: verdict {Old} → {New}",
        Moved => $"{What}: {Old} → {New} (tolerance {Tolerance})",
        NewCell => $"{What}: new {(What.StartsWith("dense ", StringComparison.Ordinal) ? "figure" : "cell")} {New}",
        _ => $"{What}: no longer measured (was {Old})",
    };
}

/// <summary>
/// What a measured profile gave, recorded under <c>expectations/snapshots/claims/</c> by <c>repro claims snapshot</c>:
/// the dense model's figures (the dense gate reads them), every claim cell (mean and seed std), the tolerance per
/// metric, and the verdicts. A test compares a fresh run with it; updating it is that explicit command, and its diff
/// is the review.
/// </summary>
/// <param name="Tolerances">
/// Per metric (the cells' task): the median over cells of the standard error of a cell's mean, std / √seeds. A cell
/// that moves by more than that moved by more than its seeds explain.
/// </param>
public sealed record ClaimSnapshot(string Profile, string Command, string Commit, IReadOnlyList<DenseFigure> Dense, IReadOnlyList<SnapshotCell> Cells,
                                   IReadOnlyDictionary<string, double> Tolerances, IReadOnlyDictionary<string, Outcome> Verdicts)
{
    public const string CurrentFormat = "repro-claims-snapshot/1";
    public string Format { get; init; } = CurrentFormat;

    public static ClaimSnapshot Load(string path)
    {
        try
        {
            var snapshot = JsonSerializer.Deserialize<ClaimSnapshot>(File.ReadAllBytes(path), ResultFiles.Options);
            if (snapshot is null || snapshot.Format != CurrentFormat) throw new ClaimFileException(path, $"is not a {CurrentFormat} file");
            return snapshot;
        }
        catch (JsonException e)
        {
            throw new ClaimFileException(path, $"is not a claims snapshot ({e.Message})");
        }
    }

    /// <summary>
    /// Per task, the median standard error of the cells' means, and never below <paramref name="resolutions"/>' value for
    /// it: an accuracy moves in steps of one item (100 / items points), and a single flipped item, which rounding on
    /// another CPU can cause in GPTQ, is no regression.
    /// </summary>
    public static IReadOnlyDictionary<string, double> TolerancesOf(IEnumerable<SnapshotCell> cells, IReadOnlyDictionary<string, double>? resolutions = null)
    {
        var tolerances = cells.Where(c => c.Std is not null && c.Seeds > 1).GroupBy(c => c.Task)
            .ToDictionary(g => g.Key, g => Statistics.Median(g.Select(c => c.Std!.Value / Math.Sqrt(c.Seeds))));
        foreach (var (task, step) in resolutions ?? new Dictionary<string, double>())
            tolerances[task] = Math.Max(tolerances.GetValueOrDefault(task), step);
        return tolerances;
    }

    /// <summary>
    /// Differences of <paramref name="measured"/> from this snapshot: a verdict that changed, a cell or dense figure
    /// outside its metric's tolerance, a cell that appeared or disappeared. Each reads as one line.
    /// </summary>
    public IReadOnlyList<SnapshotDifference> Differences(ClaimSnapshot measured)
    {
        var lines = new List<SnapshotDifference>();
        foreach (var (claim, outcome) in Verdicts)
            if (measured.Verdicts.TryGetValue(claim, out var now) && now != outcome)
                lines.Add(new SnapshotDifference(SnapshotDifference.VerdictFlip, claim, Word(outcome), Word(now), null, claim));
        var old = Cells.ToDictionary(Key);
        foreach (var cell in measured.Cells)
        {
            if (!old.Remove(Key(cell), out var before)) { lines.Add(new SnapshotDifference(SnapshotDifference.NewCell, Name(cell), null, F(cell.Mean), null, Cell: cell)); continue; }
            var tolerance = Math.Max(Tolerance(cell.Task, before.Mean, measured), SeedTolerance(before, cell));
            if (!(Math.Abs(cell.Mean - before.Mean) <= tolerance))
                lines.Add(new SnapshotDifference(SnapshotDifference.Moved, Name(cell), F(before.Mean), F(cell.Mean), F(tolerance), Cell: cell));
        }
        lines.AddRange(old.Values.Select(c => new SnapshotDifference(SnapshotDifference.Gone, Name(c), F(c.Mean), null, null, Cell: c)));
        var dense = Dense.ToDictionary(d => (d.Model, d.Metric, d.Language));
        foreach (var d in measured.Dense)
        {
            var name = $"dense {d.Model} {d.Metric} {d.Language}";
            if (!dense.TryGetValue((d.Model, d.Metric, d.Language), out var before)) { lines.Add(new SnapshotDifference(SnapshotDifference.NewCell, name, null, F(d.Value), null)); continue; }
            var tolerance = Tolerance(d.Metric, before.Value, measured);
            if (!(Math.Abs(d.Value - before.Value) <= tolerance)) lines.Add(new SnapshotDifference(SnapshotDifference.Moved, name, F(before.Value), F(d.Value), F(tolerance)));
        }
        return lines;
    }

    /// <summary>
    /// Two means of one cell differ beyond noise only past <c>2·sqrt(s²/R_a + s²/R_b)</c> (EVALUATION §6.0), with s the
    /// spread of the accepted cell's calibration seeds (not the new one's: a regression that scatters the seeds must not
    /// widen its own tolerance); 0 without seeds. SparseGPT at 70 % and GPTQ are chaotic in float rounding
    /// (a flipped mask or rounding decision propagates through the later columns and layers), so another CPU's BLAS moves
    /// their cells by about as much as another seed does, while their run on one machine is exactly repeatable.
    /// </summary>
    static double SeedTolerance(SnapshotCell before, SnapshotCell now) =>
        before.Std is { } s && before.Seeds > 1 && now.Seeds > 1
            ? 2 * s * Math.Sqrt(1.0 / before.Seeds + 1.0 / now.Seeds)
            : 0;

    /// <summary>
    /// The metric's tolerance in this snapshot or in the <paramref name="measured"/> one, whichever is larger (a snapshot
    /// recorded before accuracy resolutions were part of its tolerances still compares fairly), and never below a
    /// millionth of the value: float rounding across machines and BLAS builds.
    /// </summary>
    double Tolerance(string metric, double value, ClaimSnapshot measured) =>
        Math.Max(Math.Max(Tolerances.GetValueOrDefault(metric, 0), measured.Tolerances.GetValueOrDefault(metric, 0)), 1e-6 * Math.Abs(value));

    static (string, string, string, string, string) Key(SnapshotCell c) => (c.Model, c.Block, c.Row, c.Task, c.Language);
    static string Name(SnapshotCell c) => $"{c.Model} {c.Block} calibration {c.Row}, {c.Task} {c.Language}";
    static string Word(Outcome o) => o.ToString().ToLowerInvariant();
    static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
