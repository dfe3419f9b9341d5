using System.Globalization;

namespace Repro.Core.Claims;

/// <summary>One printed number of a paper's table, with where it stands (expectations/papers/*/README.md).</summary>
public sealed record PaperCell(string Paper, string Table, string Model, string Method, string Row, string Task, string Language,
                               double Value, double? Std, string Unit, int Line, string Note, string Text)
{
    /// <summary>Half the step the number is printed at (24.4 → 0.05): differences below it cannot be told apart.</summary>
    public double HalfStep
    {
        get
        {
            var dot = Text.IndexOf('.');
            var decimals = dot < 0 ? 0 : Text.Length - dot - 1;
            return 0.5 * Math.Pow(10, -decimals);
        }
    }

    /// <summary>Perplexity and pruning error are better lower; SNR, accuracy and F1 higher.</summary>
    public bool HigherIsBetter => Unit is not ("ppl" or "pe");
}

/// <summary>Reads the transcribed tables under <c>expectations/papers/</c> and cuts them into <see cref="Block"/>s.</summary>
public static class PaperTables
{
    public const string Header = "paper,table,model,method,row,task,language,value,std,unit,line,note";

    public static IReadOnlyList<PaperCell> Load(string path)
    {
        if (!File.Exists(path)) throw new ClaimFileException(path, "paper table not found");
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0].Trim() != Header) throw new ClaimFileException(path, $"line 1 must be the header '{Header}'");
        var cells = new List<PaperCell>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var f = SplitCsv(lines[i]);
            if (f.Count != 12) throw new ClaimFileException(path, $"line {i + 1} has {f.Count} fields, not 12");
            if (f[7].Length == 0) continue;   // unreadable in the paper: the note says why, and no rule sees it
            if (!double.TryParse(f[7], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                throw new ClaimFileException(path, $"line {i + 1}: value '{f[7]}' is not a number");
            double? std = null;
            if (f[8].Length > 0)
                std = double.TryParse(f[8], NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s
                    : throw new ClaimFileException(path, $"line {i + 1}: std '{f[8]}' is not a number");
            if (!int.TryParse(f[10], NumberStyles.None, CultureInfo.InvariantCulture, out var line))
                throw new ClaimFileException(path, $"line {i + 1}: paper line '{f[10]}' is not a number");
            cells.Add(new PaperCell(f[0], f[1], f[2], f[3], f[4], f[5], f[6], value, std, f[9], line, f[11], f[7]));
        }
        return cells;
    }

    /// <summary>
    /// One block per (model, method) of <paramref name="cells"/> except the dense rows, which become each model's
    /// <see cref="Block.Dense"/>; rows and columns in the order first printed. The same cell printed twice (a table
    /// repeated in the appendix) must carry the same number; then it counts once.
    /// </summary>
    public static IReadOnlyList<Block> Blocks(IEnumerable<PaperCell> cells, string source)
    {
        var unique = new Dictionary<(string, string, string, string, string), PaperCell>();
        foreach (var c in cells)
        {
            var key = (c.Model, c.Method, c.Row, c.Task, c.Language);
            if (unique.TryGetValue(key, out var seen))
            {
                if (seen.Value != c.Value || seen.Std != c.Std)
                    throw new ClaimFileException(source, $"{c.Model} {c.Method} {c.Row} {c.Task} {c.Language} is printed as {seen.Text} (line {seen.Line}) and as {c.Text} (line {c.Line})");
                continue;
            }
            unique[key] = c;
        }
        var all = unique.Values.ToList();
        var blocks = new List<Block>();
        foreach (var group in all.Where(c => c.Method != "dense").GroupBy(c => (c.Model, c.Method)))
        {
            var columns = group.Select(c => new Column(c.Task, c.Language)).Distinct().ToList();
            var dense = all.Where(c => c.Method == "dense" && c.Model == group.Key.Model)
                .Where(c => columns.Contains(new Column(c.Task, c.Language)))
                .ToDictionary(c => new Column(c.Task, c.Language), c => Cell.Single(c.Value, c.Std));
            blocks.Add(new Block(group.Key.Model, group.Key.Method, [.. group.Select(c => c.Row).Distinct()], columns,
                                 group.ToDictionary(c => (c.Row, new Column(c.Task, c.Language)), c => Cell.Single(c.Value, c.Std, c.Std is null ? 1 : 3)),
                                 group.GroupBy(c => c.Task).ToDictionary(g => g.Key, g => g.First().HigherIsBetter),
                                 dense.Count > 0 ? dense : null, group.Max(c => c.HalfStep)));
        }
        return blocks;
    }

    static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else current.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(ch);
        }
        fields.Add(current.ToString());
        return fields;
    }
}
