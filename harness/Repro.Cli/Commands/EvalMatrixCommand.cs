using System.CommandLine;
using System.Text.Json.Nodes;
using Repro.Core.Runs;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary>
/// <c>repro eval matrix</c>: gathers <c>eval ppl</c> result files of models pruned with different calibration
/// languages into the calibration × evaluation table the papers print (Kurz et al., Table 1): one row per
/// calibration setting, read from each pruned model's prune.json ("dense" where there is none), one column per
/// evaluation language, the best row of each column marked.
/// </summary>
public static class EvalMatrixCommand
{
    public sealed record Row(string Calibration, string Method, string Model, IReadOnlyDictionary<string, double> Perplexity,
                             IReadOnlyDictionary<string, double> BitsPerByte);

    public static Command Create()
    {
        var results = new Argument<string[]>("results") { Description = "result files written by `repro eval ppl`", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--out") { Description = "write the matrix as JSON here" };
        var command = new Command("matrix", "Calibration × evaluation-language perplexity table from eval ppl result files.")
        {
            results, output,
        };
        command.SetAction(parse =>
        {
            var rows = parse.GetValue(results)!.Select(Read).ToList();
            var languages = rows.SelectMany(r => r.Perplexity.Keys).Distinct().ToList();
            Print(rows, languages);
            if (parse.GetValue(output) is { } path)
            {
                ResultFiles.WriteJson(path, new { command = "eval matrix", codeVersion = CodeVersion.Current, languages, rows });
                AnsiConsole.MarkupLine($"Matrix written to [bold]{Markup.Escape(path)}[/]");
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
        if ((string?)json["command"] != "eval ppl" || json["results"] is not JsonArray results)
            throw new BadInputException($"{file}: not written by `repro eval ppl` (no \"command\": \"eval ppl\" with \"results\")");
        var model = (string?)json["model"] ?? "";
        var (calibration, method) = Calibration(model);
        return new Row(calibration, method, model,
                       results.ToDictionary(r => (string)r!["language"]!, r => Number(r!["perplexity"])),
                       results.ToDictionary(r => (string)r!["language"]!, r => Number(r!["bitsPerByte"])));
    }

    /// <summary>The calibration languages and method from the model's prune.json; "dense" for an unpruned model.</summary>
    static (string Calibration, string Method) Calibration(string modelDir)
    {
        var prune = Path.Combine(modelDir, "prune.json");
        if (!File.Exists(prune)) return ("dense", "dense");
        var json = JsonNode.Parse(File.ReadAllText(prune))!;
        var languages = json["calibration"]?["provenance"]?["spec"]?["languages"]?.AsArray().Select(l => (string)l!).ToList();
        return (languages is { Count: > 0 } ? string.Join("+", languages) : "(no calibration)", (string?)json["method"] ?? "?");
    }

    static double Number(JsonNode? node) => node?.GetValueKind() == System.Text.Json.JsonValueKind.Number ? (double)node : double.NaN;

    static void Print(IReadOnlyList<Row> rows, IReadOnlyList<string> languages)
    {
        var table = new Table { Title = new TableTitle("perplexity: rows = calibration, columns = evaluation language; [bold green]best[/] per column, [underline]diagonal[/] underlined") };
        table.AddColumns(["method", "calibration", .. languages]);
        var pruned = rows.Where(r => r.Method != "dense").ToList();
        foreach (var row in rows)
        {
            var cells = languages.Select(lang =>
            {
                if (!row.Perplexity.TryGetValue(lang, out var ppl)) return "–";
                var text = double.IsFinite(ppl) ? ppl.ToString("F2") : "non-finite";
                var best = row.Method != "dense" && pruned.Where(r => r.Method == row.Method)
                    .All(r => !r.Perplexity.TryGetValue(lang, out var other) || !(other < ppl));
                if (best) text = $"[bold green]{text}[/]";
                if (row.Calibration == lang) text = $"[underline]{text}[/]";
                return text;
            });
            table.AddRow([Markup.Escape(row.Method), Markup.Escape(row.Calibration), .. cells]);
        }
        AnsiConsole.Write(table);
    }
}
