using System.CommandLine;
using Repro.Core.Corpora;
using Repro.Core.Models;
using Repro.Core.Torch;
using Repro.Fixtures.Training;
using Spectre.Console;
using TorchSharp;

namespace Repro.Cli.Commands;

/// <summary><c>repro fixtures train</c>: train a fixture model on a corpus folder and save it as a Hugging Face folder.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = $"model and schedule: {string.Join(", ", TrainingPresets.All.Select(p => p.Name))}", Required = true };
        var data = new Option<string>("--data") { Description = "corpus folder: DIR/{lang}/train.jsonl.gz and DIR/{lang}/validation.jsonl.gz", Required = true };
        var output = new Option<string>("--out") { Description = "output model folder", Required = true };
        var seed = new Option<long?>("--seed") { Description = "seed of the initial weights and the batches (default: the preset's, 0)" };
        var exclude = new Option<string?>("--exclude") { Description = "comma-separated languages left out of training (default: sw); 'none' trains on all" };
        var exponent = new Option<double?>("--language-exponent") { Description = "language shares ∝ training tokens^α: 0 equal, 1 by size (default: the preset's, 0.3)" };
        var steps = new Option<int?>("--steps") { Description = "optimizer steps (default: the preset's)" };
        var batch = new Option<int?>("--batch-size") { Description = "windows per step (default: the preset's)" };
        var seqlen = new Option<int?>("--seqlen") { Description = "tokens per window (default: the preset's)" };
        var lr = new Option<double?>("--lr") { Description = "peak learning rate (default: the preset's)" };
        var warmup = new Option<int?>("--warmup") { Description = "warm-up steps (default: the preset's)" };
        var validationEvery = new Option<int?>("--validation-every") { Description = "validation loss every N steps (default: the preset's)" };
        var evalWindows = new Option<int?>("--eval-windows") { Description = "validation windows per language in the final table (default: the preset's)" };
        var hidden = new Option<int?>("--hidden") { Description = "override the preset's hidden size (shape exploration)" };
        var layers = new Option<int?>("--layers") { Description = "override the preset's number of decoder layers" };
        var heads = new Option<int?>("--heads") { Description = "override the preset's attention heads" };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "override the preset's key/value heads" };
        var intermediate = new Option<int?>("--intermediate") { Description = "override the preset's MLP width" };
        var threads = new Option<int?>("--threads") { Description = "torch intra-op threads (default: torch's); the result is bit-identical only for the same count" };
        var dtype = new Option<string>("--save-dtype") { Description = "dtype of the saved weights: bfloat16 or float16", DefaultValueFactory = _ => "bfloat16" };
        var maxRatio = new Option<double>("--max-entropy-ratio")
        {
            Description = "quality bar: each trained language's validation bits per byte must be at most this times its unigram byte entropy",
            DefaultValueFactory = _ => TrainingJob.DefaultMaxEntropyRatio,
        };
        var command = new Command("train",
            "Train a small Llama-family model with the byte tokenizer on the train split of a corpus folder (all languages but the excluded ones), " +
            "deterministically from a seed, and save it as a Hugging Face folder with training.json and training-log.csv.")
        {
            preset, data, output, seed, exclude, exponent, steps, batch, seqlen, lr, warmup, validationEvery, evalWindows,
            hidden, layers, heads, kvHeads, intermediate, threads, dtype, maxRatio,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var chosen = TrainingPresets.Get(parse.GetValue(preset)!);
            var o = chosen.Options;
            o = o with
            {
                Seed = parse.GetValue(seed) ?? o.Seed,
                ExcludedLanguages = parse.GetValue(exclude) is { } ex ? ParseExcluded(ex) : o.ExcludedLanguages,
                LanguageExponent = parse.GetValue(exponent) ?? o.LanguageExponent,
                Steps = parse.GetValue(steps) ?? o.Steps,
                BatchSize = parse.GetValue(batch) ?? o.BatchSize,
                Seqlen = parse.GetValue(seqlen) ?? o.Seqlen,
                PeakLearningRate = parse.GetValue(lr) ?? o.PeakLearningRate,
                ValidationEvery = parse.GetValue(validationEvery) ?? o.ValidationEvery,
                FinalEvaluationWindows = parse.GetValue(evalWindows) ?? o.FinalEvaluationWindows,
            };
            o = o with { WarmupSteps = parse.GetValue(warmup) ?? Math.Min(o.WarmupSteps, o.Steps) };
            var s = chosen.Shape;
            s = s with
            {
                Hidden = parse.GetValue(hidden) ?? s.Hidden,
                Layers = parse.GetValue(layers) ?? s.Layers,
                Heads = parse.GetValue(heads) ?? s.Heads,
                KvHeads = parse.GetValue(kvHeads) ?? s.KvHeads,
                Intermediate = parse.GetValue(intermediate) ?? s.Intermediate,
            };
            if (s != chosen.Shape) s = s with { Name = $"{chosen.Name}-custom" };
            if (s.Hidden % s.Heads != 0) throw new BadInputException($"--hidden {s.Hidden} must be a multiple of --heads {s.Heads}");
            var run = chosen with { Shape = s, Options = o.Validated() };

            TorchRuntime.EnsureLoaded();
            if (parse.GetValue(threads) is { } t)
            {
                if (t < 1) throw new BadInputException($"--threads must be at least 1, got {t}");
                torch.set_num_threads(t);
            }
            var savedDType = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            if (savedDType == torch.float32) throw new BadInputException("--save-dtype float32 doubles the committed size; use bfloat16 or float16 (the loader upcasts)");
            return Task.FromResult(Train(run, parse.GetValue(data)!, parse.GetValue(output)!, savedDType, parse.GetValue(maxRatio), cancellationToken));
        });
        return command;
    }

    static int Train(TrainingPreset run, string data, string output, torch.ScalarType savedDType, double maxRatio, CancellationToken cancellationToken)
    {
        var config = ModelConfig.FromJson(run.ConfigJson(), "(preset config.json)");
        var o = run.Options;
        AnsiConsole.MarkupLine(
            $"Training [bold]{Terminal.Text(run.Name)}[/] ({Terminal.Text(run.Shape.Name)}: hidden {run.Shape.Hidden}, {run.Shape.Layers} layers, " +
            $"{run.Shape.Heads}/{run.Shape.KvHeads} heads, MLP {run.Shape.Intermediate}; {config.ParameterCount() / 1e6:F2}M parameters) " +
            $"for {o.Steps} steps of {o.BatchSize}×{o.Seqlen} tokens, seed {o.Seed}, {torch.get_num_threads()} torch threads");

        var interactive = AnsiConsole.Profile.Capabilities.Interactive;
        var everyLine = Math.Max(1, o.Steps / 50);
        TrainingRecord? record = null;
        try
        {
            if (interactive)
            {
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                             new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("loading", maxValue: o.Steps);
                        var progress = new SynchronousProgress<TrainingProgress>(p =>
                        {
                            task.Value = p.Step;
                            task.Description = Describe(p);
                        });
                        record = TrainingJob.Run(run, data, output, savedDType, maxRatio, progress,
                                                 phase => task.Description = phase == "training" ? task.Description : phase, cancellationToken);
                        task.StopTask();
                    });
            }
            else
            {
                // Redirected output (CI, nohup, tee): one plain line every 2 % instead of a live bar.
                var progress = new SynchronousProgress<TrainingProgress>(p =>
                {
                    if (p.Step % everyLine == 0 || p.Step == p.Steps || p.Step <= 3)
                        Console.WriteLine($"{Describe(p)}  elapsed {p.Elapsed:hh\\:mm\\:ss}  eta {Eta(p):hh\\:mm\\:ss}");
                });
                record = TrainingJob.Run(run, data, output, savedDType, maxRatio, progress, phase => Console.WriteLine($"[{phase}]"), cancellationToken);
            }
        }
        catch (Exception e) when (e is CorpusFormatException or KeyNotFoundException)
        {
            throw new BadInputException(e.Message);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"training cancelled; nothing was saved to {Terminal.Inert(output)}");
            return ExitCodes.Failure;
        }

        Report(record!, output);
        return record!.MeetsQualityBar ? ExitCodes.Ok : ExitCodes.Failure;
    }

    static string Describe(TrainingProgress p) =>
        $"step {p.Step}/{p.Steps}  loss {p.Loss:F3}" + (p.ValidationLoss is { } v ? $"  val {v:F3}" : "") +
        $"  lr {p.LearningRate:G2}  {p.TokensPerSecond:F0} tok/s";

    static TimeSpan Eta(TrainingProgress p) =>
        p.Step == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(p.Elapsed.TotalSeconds / p.Step * (p.Steps - p.Step));

    static void Report(TrainingRecord record, string output)
    {
        AnsiConsole.Write(QualityTable.Create(record.Evaluation.Languages, record.MaxEntropyRatio, l => l.Trained));
        AnsiConsole.MarkupLine(
            $"{record.Steps} steps, {record.TokensSeen / 1e6:F1}M tokens in {TimeSpan.FromSeconds(record.WallTimeSeconds):hh\\:mm\\:ss} " +
            $"({record.TrainingSecondsPerStep * 1e3:F0} ms/step); final train loss {record.FinalTrainLoss:F4}, validation loss {record.FinalValidationLoss:F4} nats/token");
        AnsiConsole.MarkupLine($"Saved to [bold]{Terminal.Text(output)}[/] (training.json, training-log.csv)");
        if (record.MeetsQualityBar)
            AnsiConsole.MarkupLine($"[green]quality bar met[/]: every trained language has bits/byte ≤ {record.MaxEntropyRatio} × its unigram byte entropy");
        else
            AnsiConsole.MarkupLine($"[red]quality bar missed[/] by {Terminal.Text(string.Join(", ", record.FailingLanguages))}: bits/byte above " +
                                   $"{record.MaxEntropyRatio} × unigram byte entropy; train longer or larger (the folder is saved all the same)");
    }

    static IReadOnlyList<string> ParseExcluded(string text) =>
        text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase) ? []
            : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
