namespace Repro.Core.Claims;

/// <summary>
/// How the diagonal of one column compares with the other calibration rows (EVALUATION §6.0): its value, the best
/// other row, the advantage of the diagonal over that row in the better direction (negative when it loses), the
/// tolerance of that comparison, and the diagonal's competition rank (ties in its favour).
/// </summary>
public sealed record DiagonalColumn(Block Block, Column Column, Cell Diagonal, string BestOtherRow, Cell BestOther, double Advantage,
                                    double Tolerance, int Rank, int Rows)
{
    /// <summary>Best or tied with the best within the tolerance.</summary>
    public bool IsDiagonal => Advantage >= -Tolerance;

    /// <summary>The diagonal's relative gap to the best value, ≥ 0: (diag − best) / |best| in the worse direction.</summary>
    public double RelativeGap => Advantage >= 0 ? 0 : -Advantage / Math.Abs(BestOther.Mean);

    public EvidenceCell DiagonalEvidence(string role) => new(Block.Name, Column.DiagonalRow, Column.ToString(), Diagonal.Mean, Diagonal.Std, role);
    public EvidenceCell BestOtherEvidence(string role) => new(Block.Name, BestOtherRow, Column.ToString(), BestOther.Mean, BestOther.Std, role);
}

/// <summary>Reads the diagonal columns of blocks, refusing non-finite or missing cells.</summary>
public static class DiagonalColumns
{
    /// <summary>Seeds per cell below which seed spreads are not trusted and the fallback band applies.</summary>
    public const int MinSeeds = 3;

    /// <summary>
    /// The tolerance of comparing cells <paramref name="a"/> and <paramref name="b"/> (EVALUATION §6.0):
    /// <c>max(resolution, 2·sqrt(s_a²/R + s_b²/R))</c> when both have at least <see cref="MinSeeds"/> seeds; else the
    /// block's resolution, or <paramref name="fallbackRelative"/> of the larger magnitude when the block has none.
    /// </summary>
    public static double Tolerance(Block block, Cell a, Cell b, double fallbackRelative)
    {
        if (a.Std is { } sa && b.Std is { } sb && a.Seeds >= MinSeeds && b.Seeds >= MinSeeds)
            return Math.Max(block.Resolution, 2 * Math.Sqrt(sa * sa / a.Seeds + sb * sb / b.Seeds));
        return block.Resolution > 0 ? block.Resolution : fallbackRelative * Math.Max(Math.Abs(a.Mean), Math.Abs(b.Mean));
    }

    /// <summary>Advantage of <paramref name="a"/> over <paramref name="b"/> in the column's better direction.</summary>
    public static double Advantage(Block block, Column column, double a, double b) => block.Higher(column) ? a - b : b - a;

    /// <summary>
    /// Every column of <paramref name="block"/> whose diagonal row is among <paramref name="rows"/>; the first
    /// non-finite or missing cell is returned as <paramref name="problem"/> instead.
    /// </summary>
    public static List<DiagonalColumn> Read(Block block, IReadOnlyList<string> rows, double fallbackRelative, out string? problem)
    {
        problem = null;
        var result = new List<DiagonalColumn>();
        foreach (var column in block.Columns)
        {
            if (!rows.Contains(column.DiagonalRow)) continue;
            foreach (var row in rows)
            {
                var cell = block[row, column];
                if (cell is null) { problem = $"{block.Name}: no cell for calibration {row}, {column}"; return result; }
                if (!cell.IsFinite) { problem = $"{block.Name}: calibration {row}, {column} is not finite ({cell.Mean})"; return result; }
            }
            var diagonal = block[column.DiagonalRow, column]!;
            var others = rows.Where(r => r != column.DiagonalRow).ToList();
            if (others.Count == 0) continue;
            var bestRow = others.MaxBy(r => Advantage(block, column, block[r, column]!.Mean, 0))!;   // first best wins ties
            var best = block[bestRow, column]!;
            var tolerance = Tolerance(block, diagonal, best, fallbackRelative);
            var rank = 1 + others.Count(r =>
            {
                var cell = block[r, column]!;
                return Advantage(block, column, cell.Mean, diagonal.Mean) > Tolerance(block, cell, diagonal, fallbackRelative);
            });
            result.Add(new DiagonalColumn(block, column, diagonal, bestRow, best, Advantage(block, column, diagonal.Mean, best.Mean), tolerance, rank, rows.Count));
        }
        return result;
    }
}
