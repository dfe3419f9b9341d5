using System.CommandLine;
using System.Globalization;
using Repro.Core;
using Repro.Core.Evaluation;
using Repro.Methods.Runs;
using Repro.Fixtures;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Tasks;
using Repro.Core.Torch;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary><c>repro eval mc</c>: multiple-choice accuracy per language on Belebele-layout task files (EVALUATION §2).</summary>
public static class EvalMultipleChoiceCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder", Required = true };
        var tasks = new Option<string>("--tasks") { Description = "folder of Belebele-layout files named by dialect: DIR/arb_Arab.jsonl[.gz], ... (e.g. fixtures/tasks/belebele-style)", Required = true };
        var langs = new Option<string>("--langs") { Description = "comma-separated languages: codes (ar,de,...) or Belebele dialects (arb_Arab,...)", Required = true };
        var format = new Option<string>("--format") { Description = "letters: lm-eval-harness's Belebele prompt, choices A-D; cloze: passage as context, answers as continuations", DefaultValueFactory = _ => "letters" };
        var shots = new Option<int>("--shots") { Description = "few-shot examples (letters only), the first ones of the split other than the item", DefaultValueFactory = _ => 0 };
        var limit = new Option<int?>("--limit") { Description = "score only the first N items per language (default: all)" };
        var bos = new Option<string>("--bos") { Description = "prefix: BOS before every context (newer harness, chat templates); none: no BOS (older harness versions, add_special_tokens=False)", DefaultValueFactory = _ => "prefix" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType("float32");
        var output = new Option<string?>("--out") { Description = "JSON results file (default: results/mc-<format>-<model>.json)" };
        var command = new Command("mc", "Multiple-choice accuracy (acc, acc_norm) per language on Belebele-layout tasks, scored as lm-eval-harness does.")
        {
            model, tasks, langs, format, shots, limit, bos, device, dtype, output,
        };
        command.SetAction(parse =>
        {
            var formatValue = ParseFormat(parse.GetValue(format)!);
            var shotCount = parse.GetValue(shots);
            if (shotCount < 0) throw new BadInputException($"--shots must be 0 or more, got {shotCount}");
            if (shotCount > 0 && formatValue != BelebeleFormat.Letters) throw new BadInputException("--shots needs --format letters (the cloze form has no few-shot prompt)");
            if (parse.GetValue(limit) is < 1) throw new BadInputException($"--limit must be at least 1, got {parse.GetValue(limit)}");
            var prefixBos = parse.GetValue(bos)!.Trim().ToLowerInvariant() switch
            {
                "prefix" => true,
                "none" => false,
                var other => throw new BadInputException($"unknown --bos '{other}': use prefix or none"),
            };
            var modelDir = parse.GetValue(model)!;
            var outPath = parse.GetValue(output) ?? CommonOptions.DefaultResultPath($"mc-{formatValue.ToString().ToLowerInvariant()}", modelDir);
            OutputPaths.CheckResultFile(outPath, "--out", modelDir, parse.GetValue(tasks)!);
            return Run(modelDir, parse.GetValue(tasks)!, CommonOptions.ParseLanguages(parse.GetValue(langs)!), formatValue, shotCount,
                       parse.GetValue(limit), prefixBos, parse.GetValue(device)!, parse.GetValue(dtype)!, outPath);
        });
        return command;
    }

    internal static BelebeleFormat ParseFormat(string text) => text.Trim().ToLowerInvariant() switch
    {
        "letters" => BelebeleFormat.Letters,
        "cloze" => BelebeleFormat.Cloze,
        _ => throw new BadInputException($"unknown --format '{text}': use letters or cloze"),
    };

    static int Run(string modelDir, string taskFolder, IReadOnlyList<string> languages, BelebeleFormat format, int shots, int? limit,
                   bool prefixBos, string deviceText, string dtypeText, string outPath)
    {
        // Read and check every task file before loading weights.
        var tasks = languages.Select(language =>
        {
            var dialect = TaskFiles.Dialect(language);
            var path = TaskFiles.Find(taskFolder, dialect);
            var items = BelebeleReader.Read(path);
            IReadOnlyList<MultipleChoiceItem> questions;
            try
            {
                questions = BelebeleMultipleChoice.Build(items, format, shots);
            }
            catch (InputException e)
            {
                throw new BadInputException($"{path}: {e.Message}");
            }
            return (Language: language, Dialect: dialect, Path: path, Sha256: SourcePackages.Sha256OfFile(path),
                    Items: limit is { } n ? [.. questions.Take(n)] : questions);
        }).ToList();
        var evaluated = EvaluatedModel.Describe(modelDir);

        TorchRuntime.EnsureLoaded();
        var device = TorchRuntime.ParseDevice(deviceText);
        var dtype = CommonOptions.ParseDType(dtypeText);
        using var loaded = AnsiConsole.Status().Start($"Loading {Terminal.Text(modelDir)}", _ => LoadedModel.Open(modelDir, device, dtype));
        var options = new MultipleChoiceOptions(loaded.Config.MaxPositionEmbeddings, prefixBos);
        var scorer = new MultipleChoiceScorer(loaded.Model, loaded.Tokenizer, options);
        var results = new List<MultipleChoiceResult>();
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                foreach (var task in tasks)
                {
                    var bar = ctx.AddTask(Terminal.Text(task.Dialect), maxValue: task.Items.Count);
                    results.Add(scorer.Score(task.Dialect, task.Items, new SynchronousProgress<int>(done => bar.Value = done)));
                    bar.StopTask();
                }
            });

        var chance = 1.0 / 4;
        var table = new Table().AddColumns("lang", "dialect", "items", "acc", "± s.e.", "acc_norm", "± s.e.", "truncated");
        foreach (var (task, r) in tasks.Zip(results))
            table.AddRow(Terminal.Text(task.Language), Terminal.Text(task.Dialect), r.Items.ToString(CultureInfo.InvariantCulture), Percent(r.Accuracy), Percent(r.AccuracyStdErr),
                         Percent(r.AccuracyNorm), Percent(r.AccuracyNormStdErr), r.Truncated.ToString(CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"format {format.ToString().ToLowerInvariant()}, {shots}-shot, BOS {(prefixBos ? "prefix" : "none")}, " +
                               $"max length {options.MaxLength} tokens; chance is {Percent(chance)} %");

        ResultFiles.WriteJson(outPath, new
        {
            command = "eval mc",
            codeVersion = CodeVersion.Current,
            evaluated,
            model = Path.GetFullPath(modelDir),
            modelType = loaded.Config.ModelType,
            device = deviceText,
            dtype = dtypeText,
            fingerprint = new
            {
                format = format.ToString().ToLowerInvariant(),
                prompt = format == BelebeleFormat.Letters ? "lm-eval-harness belebele default template, Answer + U+FF1A" : "passage, then \" \" + answer",
                shots,
                limit,
                bos = prefixBos ? "prefix" : "none",
                targetDelimiter = options.TargetDelimiter,
                maxLength = options.MaxLength,
                metric = "acc and acc_norm (log-likelihood per code point), fractions",
            },
            results = tasks.Zip(results).Select(x => new { language = x.First.Language, dialect = x.First.Dialect, file = Path.GetFullPath(x.First.Path), fileSha256 = x.First.Sha256, result = x.Second }),
        });
        AnsiConsole.MarkupLine($"Results written to [bold]{Terminal.Text(outPath)}[/]");
        return ExitCodes.Ok;
    }

    static string Percent(double fraction) => double.IsNaN(fraction) ? "-" : (100 * fraction).ToString("F1", CultureInfo.InvariantCulture);
}
