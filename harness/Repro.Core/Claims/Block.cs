namespace Repro.Core.Claims;

/// <summary>
/// One cell of a calibration × evaluation matrix: the mean over calibration seeds, the sample standard deviation of
/// the seeds (null with one seed or where a paper prints none), and the seed values themselves.
/// </summary>
public sealed record Cell(double Mean, double? Std, int Seeds, IReadOnlyList<double> Values)
{
    public static Cell Single(double value, double? std = null, int seeds = 1) => new(value, std, seeds, [value]);

    public static Cell OfSeeds(IReadOnlyList<double> values)
    {
        var mean = values.Count == 0 ? double.NaN : values.Average();
        double? std = values.Count < 2 ? null : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return new Cell(mean, std, values.Count, values);
    }

    public bool IsFinite => double.IsFinite(Mean) && Values.All(double.IsFinite);
}

/// <summary>An evaluation column: a metric or task (<c>ppl</c>, <c>snr</c>, <c>belebele</c>, ...) in one evaluation language.</summary>
/// <param name="Language">As the table prints it: <c>ar</c>, ..., and <c>en-e</c> / <c>en-c</c> for ARC's two English columns.</param>
public sealed record Column(string Task, string Language)
{
    /// <summary>The calibration row that is this column's diagonal: the language without a variant suffix (<c>en-e</c> → <c>en</c>).</summary>
    public string DiagonalRow => Language.Split('-')[0];

    public override string ToString() => $"{Task} {Language}";
}

/// <summary>
/// One (model, method) matrix: rows are calibration sets (<c>ar</c>, <c>ar-de</c>, ...), columns evaluation
/// columns, with which way is better per task. <see cref="Dense"/> holds the dense model's figures where known;
/// <see cref="Resolution"/> is the smallest difference the table can show (half a paper's print step; 0 when measured).
/// Built from a transcribed paper table or from measured runs; the rules read only this.
/// </summary>
public sealed record Block(string Model, string Method, IReadOnlyList<string> Rows, IReadOnlyList<Column> Columns,
                           IReadOnlyDictionary<(string Row, Column Column), Cell> Cells, IReadOnlyDictionary<string, bool> HigherIsBetter,
                           IReadOnlyDictionary<Column, Cell>? Dense = null, double Resolution = 0)
{
    public string Name => $"{Model} {Method}";

    public Cell? this[string row, Column column] => Cells.TryGetValue((row, column), out var cell) ? cell : null;

    public bool Higher(Column column) => HigherIsBetter.TryGetValue(column.Task, out var higher)
        ? higher : throw new InvalidOperationException($"{Name}: no direction known for task '{column.Task}'");

    /// <summary>The same block restricted to some rows and columns (evidence for one part of a claim).</summary>
    public Block Select(Func<string, bool> rows, Func<Column, bool> columns) => this with
    {
        Rows = [.. Rows.Where(rows)],
        Columns = [.. Columns.Where(columns)],
    };

    /// <summary>The single-language calibration rows (the matrix the diagonal rules read).</summary>
    public IReadOnlyList<string> MonolingualRows => [.. Rows.Where(r => !r.Contains('-'))];
}
