using Repro.Core.Runs;

namespace Repro.Core.Claims;

/// <summary>
/// A <see cref="Block"/> as the verdicts file and the report carry it: plain lists instead of tuple-keyed maps, every
/// cell with its seed values and where each number came from (result files for measured cells, table and line for a
/// paper's), every column with its direction, whether the rule read it (and why not), the dense figure and the
/// evaluation fingerprint it was measured under.
/// </summary>
public sealed record TableView(string Model, string Method, IReadOnlyList<string> Rows, IReadOnlyList<ColumnView> Columns,
                               IReadOnlyList<CellView> Cells, double Resolution)
{
    public string Name => $"{Model} {Method}";

    public CellView? Cell(string row, ColumnView column) =>
        Cells.FirstOrDefault(c => c.Row == row && c.Task == column.Task && c.Language == column.Language);

    /// <summary>
    /// The view of <paramref name="block"/>. <paramref name="used"/> is the block the rule read (columns dropped at
    /// chance are absent there; <paramref name="dropped"/> says why per column); <paramref name="sources"/> names where a
    /// cell's numbers came from; <paramref name="fingerprints"/> gives each column's evaluation fingerprint.
    /// </summary>
    public static TableView Of(Block block, Block? used = null, IReadOnlyDictionary<Column, string>? dropped = null,
                               Func<string, Column, IReadOnlyList<string>>? sources = null,
                               IReadOnlyDictionary<Column, EvaluationFingerprint>? fingerprints = null)
    {
        var columns = block.Columns.Select(c => new ColumnView(c.Task, c.Language, block.Higher(c), used is null || used.Columns.Contains(c),
                                                               dropped?.GetValueOrDefault(c),
                                                               block.Dense is not null && block.Dense.TryGetValue(c, out var d) ? d.Mean : null,
                                                               block.Dense is not null && block.Dense.TryGetValue(c, out var ds) ? ds.Std : null,
                                                               fingerprints?.GetValueOrDefault(c))).ToList();
        var cells = new List<CellView>();
        foreach (var row in block.Rows)
            foreach (var column in block.Columns)
                if (block[row, column] is { } cell)
                    cells.Add(new CellView(row, column.Task, column.Language, cell.Mean, cell.Std, cell.Values, sources?.Invoke(row, column) ?? []));
        return new TableView(block.Model, block.Method, block.Rows, columns, cells, block.Resolution);
    }
}

/// <param name="Used">Whether the rule read this column (false: dropped, <see cref="Dropped"/> says why).</param>
/// <param name="Dense">The dense model's figure in this column, where known.</param>
public sealed record ColumnView(string Task, string Language, bool HigherIsBetter, bool Used, string? Dropped, double? Dense, double? DenseStd,
                                EvaluationFingerprint? Fingerprint)
{
    /// <summary>As <see cref="Column.ToString"/> prints it, which is how evidence cells name their column.</summary>
    public string Name => $"{Task} {Language}";

    public string DiagonalRow => Language.Split('-')[0];
}

/// <param name="Values">The seed values the mean is over (one for a paper cell).</param>
/// <param name="Sources">Result files (relative to the store) for a measured cell; "Table 1, line 412" for a paper's.</param>
public sealed record CellView(string Row, string Task, string Language, double Mean, double? Std, IReadOnlyList<double> Values, IReadOnlyList<string> Sources);
