using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Repro.Core.Runs;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary>
/// <c>repro eval matrix</c>: gathers the result files of models pruned with different calibration languages into the
/// calibration × evaluation tables the papers print (Kurz et al., Tables 1 and 2): perplexity from <c>eval ppl</c> files,
/// SNR and pruning error from <c>eval hidden</c> files, multiple-choice accuracy from <c>eval mc</c> files. One row per model, labelled from the
/// result file's own record of it (method and calibration languages as its prune.json said when it was evaluated, "dense" without one);
/// one column per evaluation language, whose rows must agree on how it was measured (split, windows, BOS, text hash); the best pruned row of each column
/// (per method) marked, and the calibration language's own cell underlined. Files of the same model make one row.
/// </summary>
public static class EvalMatrixCommand
{
    /// <param name="Perplexity">From <c>eval ppl</c>, per evaluation language (empty when no such file was given).</param>
    /// <param name="SnrDb">From <c>eval hidden</c>: the mean SNR over layers, in dB.</param>
    /// <param name="PruningError">From <c>eval hidden</c>: the mean pruning error over layers.</param>
    /// <param name="Accuracy">From <c>eval mc</c>: acc in percent, as the papers print it.</param>
    public sealed record Row(string Calibration, string Method, string Model, IReadOnlyDictionary<string, double> Perplexity,
                             IReadOnlyDictionary<string, double> BitsPerByte, IReadOnlyDictionary<string, double> SnrDb,
                             IReadOnlyDictionary<string, double> PruningError, IReadOnlyDictionary<string, double> Accuracy)
    {
        /// <summary>Per (eval command, language): what must agree between rows for their numbers to share a column, and the file it came from.</summary>
        [System.Text.Json.Serialization.JsonIgnore]
        public IReadOnlyDictionary<(string Kind, string Language), (IReadOnlyDictionary<string, string> Fields, string File)> Fingerprints { get; init; } =
            new Dictionary<(string, string), (IReadOnlyDictionary<string, string>, string)>();
    }

    /// <summary>A metric the matrix can show: its name, how to read it from a row, and which way is better.</summary>
    sealed record Metric(string Title, Func<Row, IReadOnlyDictionary<string, double>> Cells, bool HigherIsBetter, string Format);

    static readonly Metric[] Metrics =
    [
        new("perplexity", r => r.Perplexity, HigherIsBetter: false, "F2"),
        new("SNR (dB)", r => r.SnrDb, HigherIsBetter: true, "F2"),
        new("pruning error", r => r.PruningError, HigherIsBetter: false, "F1"),
        new("accuracy (%)", r => r.Accuracy, HigherIsBetter: true, "F1"),
    ];

    public static Command Create()
    {
        var results = new Argument<string[]>("results") { Description = "result files written by `repro eval ppl`, `eval hidden` or `eval mc`", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--out") { Description = "write the matrix as JSON here" };
        var command = new Command("matrix", "Calibration × evaluation-language tables (perplexity, SNR, pruning error, accuracy) from eval ppl / hidden / mc result files.")
        {
            results, output,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(output) is { } target) OutputPaths.CheckResultFile(target, "--out", parse.GetValue(results)!);
            var rows = Merge(parse.GetValue(results)!.Select(Read));
            CheckFingerprints(rows);
            var languages = rows.SelectMany(r => Metrics.SelectMany(m => m.Cells(r).Keys)).Distinct().ToList();
            foreach (var metric in Metrics.Where(m => rows.Any(r => m.Cells(r).Count > 0)))
                Print(metric, rows.Where(r => metric.Cells(r).Count > 0).ToList(), languages);
            if (parse.GetValue(output) is { } path)
            {
                ResultFiles.WriteJson(path, new { command = "eval matrix", codeVersion = CodeVersion.Current, languages, rows });
                AnsiConsole.MarkupLine($"Matrix written to [bold]{Terminal.Text(path)}[/]");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    static Row Read(string file)
    {
        if (!File.Exists(file)) throw new BadInputException($"{file}: result file not found");
        JsonNode json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(file)) ?? throw new FormatException("empty");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException)
        {
            throw new BadInputException($"{file}: not a JSON result file ({e.Message})");
        }
        if (json is not JsonObject)
            throw new BadInputException($"{file}: not a result file of `repro eval` (a JSON {json.GetValueKind().ToString().ToLowerInvariant()}, not an object)");
        var kind = json["command"] is JsonValue c && c.TryGetValue<string>(out var k) ? k : null;
        if (kind is not ("eval ppl" or "eval hidden" or "eval mc") || json["results"] is not JsonArray results)
            throw new BadInputException($"{file}: not written by `repro eval ppl`, `eval hidden` or `eval mc` (no \"command\" of these with \"results\")");
        // A field of the wrong JSON type (a number where a language is, an object where a name is) surfaces as one of
        // these from System.Text.Json's node casts: the file's fault, said as such.
        try
        {
            var model = (string?)json[kind == "eval hidden" ? "pruned" : "model"] ?? "";
            if (json["evaluated"] is not JsonObject evaluated)
                throw new BadInputException($"{file}: has no \"evaluated\" record of the model it measured (written by an older repro); run the eval command again");
            var (calibration, method) = ((string?)evaluated["calibration"] ?? "?", (string?)evaluated["method"] ?? "?");
            Dictionary<string, double> Column(Func<JsonNode, JsonNode?> field, double scale = 1) =>
                results.ToDictionary(r => (string)r!["language"]!, r => scale * Number(field(r!)));
            var fingerprints = results.ToDictionary(r => (kind, (string)r!["language"]!), r => (Fingerprint(kind, json, r!), file));
            var row = kind switch
            {
                "eval ppl" => new Row(calibration, method, model, Column(r => r["perplexity"]), Column(r => r["bitsPerByte"]), Empty, Empty, Empty),
                "eval hidden" => new Row(calibration, method, model, Empty, Empty, Column(r => r["meanSnrDb"]), Column(r => r["meanPruningError"]), Empty),
                _ => new Row(calibration, method, model, Empty, Empty, Empty, Empty, Column(r => r["result"]?["accuracy"], scale: 100)),
            };
            return row with { Fingerprints = fingerprints };
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or ArgumentException)
        {
            throw new BadInputException($"{file}: a field is missing or of the wrong type ({e.Message})");
        }
    }

    /// <summary>
    /// What must be equal for two rows' numbers to share a column: the split, window length and count, BOS policy and
    /// hash of the evaluated text (eval ppl, hidden); the task file's hash, format, shots and BOS (eval mc).
    /// </summary>
    static IReadOnlyDictionary<string, string> Fingerprint(string kind, JsonNode file, JsonNode row)
    {
        static string S(JsonNode? n) => n?.ToJsonString() ?? "null";
        return kind switch
        {
            "eval ppl" => new Dictionary<string, string>
            {
                ["split"] = S(file["split"]), ["seqlen"] = S(row["seqlen"]), ["windows"] = S(row["windows"]), ["bos"] = S(row["bosPolicy"]), ["textSha256"] = S(row["textSha256"]),
            },
            "eval hidden" => new Dictionary<string, string>
            {
                ["split"] = S(file["split"]), ["seqlen"] = S(file["seqlen"]), ["windows"] = S(row["windows"]), ["textSha256"] = S(row["textSha256"]),
            },
            _ => new Dictionary<string, string>
            {
                ["fileSha256"] = S(row["fileSha256"]), ["format"] = S(file["fingerprint"]?["format"]), ["shots"] = S(file["fingerprint"]?["shots"]),
                ["bos"] = S(file["fingerprint"]?["bos"]), ["limit"] = S(file["fingerprint"]?["limit"]),
            },
        };
    }

    /// <summary>Every column's rows must agree on their fingerprints; the first disagreement is bad input naming the field and both files.</summary>
    static void CheckFingerprints(IReadOnlyList<Row> rows)
    {
        var first = new Dictionary<(string, string), (IReadOnlyDictionary<string, string> Fields, string File)>();
        foreach (var row in rows)
            foreach (var (key, (fields, file)) in row.Fingerprints)
            {
                if (!first.TryGetValue(key, out var seen)) { first[key] = (fields, file); continue; }
                foreach (var (name, value) in fields)
                    if (seen.Fields.GetValueOrDefault(name) != value)
                        throw new BadInputException($"{file}: its {key.Item1} results for '{key.Item2}' were measured with {name} {value}, but {seen.File}'s with " +
                                                    $"{seen.Fields.GetValueOrDefault(name)}; rows measured differently cannot share a column");
            }
    }

    static readonly IReadOnlyDictionary<string, double> Empty = new Dictionary<string, double>();

    /// <summary>Rows of the same model folder become one, in the order each model first appears; a language given twice for one metric is an error.</summary>
    static List<Row> Merge(IEnumerable<Row> rows)
    {
        var merged = new List<Row>();
        foreach (var row in rows)
        {
            var index = merged.FindIndex(r => PathsEqual(r.Model, row.Model));
            if (index < 0)
            {
                merged.Add(row);
                continue;
            }
            var old = merged[index];
            merged[index] = old with
            {
                Perplexity = Union(old.Perplexity, row.Perplexity, row.Model),
                BitsPerByte = Union(old.BitsPerByte, row.BitsPerByte, row.Model),
                SnrDb = Union(old.SnrDb, row.SnrDb, row.Model),
                PruningError = Union(old.PruningError, row.PruningError, row.Model),
                Accuracy = Union(old.Accuracy, row.Accuracy, row.Model),
                Fingerprints = old.Fingerprints.Concat(row.Fingerprints).ToDictionary(),
            };
        }
        return merged;
    }

    static bool PathsEqual(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)), StringComparison.Ordinal);

    static Dictionary<string, double> Union(IReadOnlyDictionary<string, double> a, IReadOnlyDictionary<string, double> b, string model)
    {
        var union = new Dictionary<string, double>(a);
        foreach (var (language, value) in b)
            if (!union.TryAdd(language, value))
                throw new BadInputException($"two result files give {model} a value for '{language}' of the same metric; pass each model's results once");
        return union;
    }

    static double Number(JsonNode? node) => node?.GetValueKind() == System.Text.Json.JsonValueKind.Number ? (double)node : double.NaN;

    static void Print(Metric metric, IReadOnlyList<Row> rows, IReadOnlyList<string> languages)
    {
        var better = metric.HigherIsBetter ? "highest" : "lowest";
        var table = new Table
        {
            Title = new TableTitle($"{metric.Title}: rows = calibration, columns = evaluation language; [bold green]{better}[/] per column, [underline]diagonal[/] underlined"),
        };
        table.AddColumns(["method", "calibration", .. languages.Select(Terminal.Text)]);
        var pruned = rows.Where(r => r.Method != "dense").ToList();
        bool Beats(double other, double value) => metric.HigherIsBetter ? other > value : other < value;
        foreach (var row in rows)
        {
            var cells = languages.Select(lang =>
            {
                if (!metric.Cells(row).TryGetValue(lang, out var value)) return "–";
                var text = double.IsFinite(value) ? value.ToString(metric.Format, CultureInfo.InvariantCulture) : "non-finite";
                var best = row.Method != "dense" && double.IsFinite(value) && pruned.Where(r => r.Method == row.Method)
                    .All(r => !metric.Cells(r).TryGetValue(lang, out var other) || !Beats(other, value));
                if (best) text = $"[bold green]{text}[/]";
                if (row.Calibration == lang) text = $"[underline]{text}[/]";
                return text;
            });
            table.AddRow([Terminal.Text(row.Method), Terminal.Text(row.Calibration), .. cells]);
        }
        AnsiConsole.Write(table);
    }
}
