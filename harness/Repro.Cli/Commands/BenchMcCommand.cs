using System.CommandLine;
using System.Diagnostics;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Tasks;
using Repro.Core.Torch;
using Repro.Methods.Runs;
using Spectre.Console;
using TorchSharp;

namespace Repro.Cli.Commands;

/// <summary>
/// <c>repro bench mc</c>: multiple-choice scoring with each item's shared prefix run once, against every choice run
/// whole (lm-eval-harness's way), on the same items in one process; prints the speed-up and checks the answers agree.
/// </summary>
public static class BenchMcCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder", DefaultValueFactory = _ => "fixtures/models/small" };
        var tasks = new Option<string>("--tasks") { Description = "folder of Belebele-layout task files", DefaultValueFactory = _ => "fixtures/tasks/word-order" };
        var lang = new Option<string>("--lang") { Description = "language code or Belebele dialect", DefaultValueFactory = _ => "de" };
        var format = new Option<string>("--format") { Description = "cloze or letters", DefaultValueFactory = _ => "cloze" };
        var limit = new Option<int>("--limit") { Description = "items scored (the first N)", DefaultValueFactory = _ => 20 };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType("float32");
        var command = new Command("mc",
            "Time multiple-choice scoring with shared prefixes run once against every choice run whole, on the same items; prints seconds per item and the ratio.")
        {
            model, tasks, lang, format, limit, device, dtype,
        };
        command.SetAction(parse =>
        {
            var formatValue = EvalMultipleChoiceCommand.ParseFormat(parse.GetValue(format)!);
            if (parse.GetValue(limit) < 1) throw new BadInputException($"--limit must be at least 1, got {parse.GetValue(limit)}");
            var path = TaskFiles.Find(parse.GetValue(tasks)!, TaskFiles.Dialect(parse.GetValue(lang)!));
            var items = BelebeleMultipleChoice.Build(BelebeleReader.Read(path), formatValue).Take(parse.GetValue(limit)).ToList();

            TorchRuntime.EnsureLoaded();
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device)!);
            using var loaded = LoadedModel.Open(parse.GetValue(model)!, dev, CommonOptions.ParseDType(parse.GetValue(dtype)!));
            var options = new MultipleChoiceOptions(loaded.Config.MaxPositionEmbeddings);
            var shared = new MultipleChoiceScorer(loaded.Model, loaded.Tokenizer, options);
            var joined = new MultipleChoiceScorer(new JoinedRowsModel(loaded.Model), loaded.Tokenizer, options);

            shared.Score("warm-up", items.Take(1).ToList());
            joined.Score("warm-up", items.Take(1).ToList());
            var (joinedResult, joinedSeconds) = Timed(() => joined.Score(path, items));
            var (sharedResult, sharedSeconds) = Timed(() => shared.Score(path, items));
            var disagreements = sharedResult.Scores.Zip(joinedResult.Scores).Count(p => p.First.Predicted != p.Second.Predicted);
            var largest = sharedResult.Scores.Zip(joinedResult.Scores)
                .SelectMany(p => p.First.LogLikelihoods.Zip(p.Second.LogLikelihoods, (a, b) => Math.Abs(a - b))).Max();

            var table = new Table().AddColumns("measure", "value");
            table.AddRow("machine", Terminal.Text($"{Environment.ProcessorCount} logical cores, torch threads {torch.get_num_threads()}, device {dev}"));
            table.AddRow("items", Terminal.Text($"{items.Count} from {path} ({formatValue.ToString().ToLowerInvariant()})"));
            table.AddRow("every choice whole", $"{joinedSeconds / items.Count * 1e3:F0} ms per item");
            table.AddRow("shared prefix once", $"{sharedSeconds / items.Count * 1e3:F0} ms per item");
            table.AddRow("largest log-likelihood difference", $"{largest:G3}");
            table.AddRow("items answered differently", $"{disagreements}");
            table.AddRow("[bold]whole / shared[/]", $"[bold]{joinedSeconds / sharedSeconds:F2}[/]");
            AnsiConsole.Write(table);
            return disagreements == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }

    static (MultipleChoiceResult Result, double Seconds) Timed(Func<MultipleChoiceResult> score)
    {
        var clock = Stopwatch.StartNew();
        var result = score();
        return (result, clock.Elapsed.TotalSeconds);
    }
}
