using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Torch;
using Spectre.Console;

namespace Repro.Cli.Commands;

public static class EvalCommands
{
    public static Command Create() => new("eval", "Evaluate a model per language.")
    {
        Perplexity(),
        EvalHiddenCommand.Create(),
        EvalMatrixCommand.Create(),
        EvalMultipleChoiceCommand.Create(),
    };

    static Command Perplexity()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (config.json, *.safetensors, tokenizer)", Required = true };
        var data = new Option<string>("--data") { Description = "corpus folder: DIR/{lang}/{split}.jsonl.gz (or .jsonl, .txt, .parquet) or DIR/{lang}.jsonl[.gz]|.txt|.parquet", Required = true };
        var langs = new Option<string>("--langs") { Description = "comma-separated language codes, e.g. ar,de,en", Required = true };
        var split = new Option<string>("--split") { Description = "corpus split", DefaultValueFactory = _ => "validation" };
        var seqlen = new Option<int>("--seqlen") { Description = "tokens per window", DefaultValueFactory = _ => 2048 };
        var nsamples = new Option<int?>("--nsamples") { Description = "windows per language (default: every window of the text)" };
        var seed = new Option<int?>("--seed") { Description = "draw --nsamples windows at random with this seed (default: the first ones)" };
        var batch = new Option<int>("--batch-size") { Description = "windows per forward pass", DefaultValueFactory = _ => 1 };
        var bos = new Option<string>("--bos") { Description = "stream: BOS only at the start of the text (wanda); window: BOS before every window", DefaultValueFactory = _ => "stream" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType("float32");
        var output = new Option<string?>("--out") { Description = "JSON results file (default: results/ppl-<model>.json)" };
        var command = new Command("ppl", "Windowed perplexity and bits per byte per language (EVALUATION.md §1).")
        {
            model, data, langs, split, seqlen, nsamples, seed, batch, bos, device, dtype, output,
        };
        command.SetAction(parse =>
        {
            var request = new PerplexityRequest(
                Model: parse.GetValue(model)!, Data: parse.GetValue(data)!, Languages: CommonOptions.ParseLanguages(parse.GetValue(langs)!),
                Split: parse.GetValue(split)!, Device: parse.GetValue(device)!, DType: parse.GetValue(dtype)!,
                Options: new PerplexityOptions(Positive(parse.GetValue(seqlen), "--seqlen", minimum: 2), PositiveOrNull(parse.GetValue(nsamples), "--nsamples"),
                                               parse.GetValue(seed), ParseBos(parse.GetValue(bos)!), Positive(parse.GetValue(batch), "--batch-size")));
            var outPath = parse.GetValue(output) ?? CommonOptions.DefaultResultPath("ppl", request.Model);
            OutputPaths.CheckResultFile(outPath, "--out", request.Model, request.Data);
            return RunPerplexity(request, outPath);
        });
        return command;
    }

    /// <summary>One language's result with the unigram byte entropy (bits) of the text it was scored on.</summary>
    sealed record LanguagePerplexity(PerplexityResult Result, double? UnigramEntropyBits)
    {
        public double? EntropyRatio => UnigramEntropyBits is { } h && h > 0 && Result.Windows > 0 ? Result.BitsPerByte / h : null;

        /// <summary>The result's fields, flat, followed by <c>unigramEntropyBits</c> and <c>entropyRatio</c>.</summary>
        public JsonObject ToJson()
        {
            var json = JsonSerializer.SerializeToNode(Result, ResultFiles.Options)!.AsObject();
            json["unigramEntropyBits"] = UnigramEntropyBits;
            json["entropyRatio"] = EntropyRatio;
            return json;
        }
    }

    sealed record PerplexityRequest(string Model, string Data, IReadOnlyList<string> Languages, string Split,
                                    string Device, string DType, PerplexityOptions Options);

    static int RunPerplexity(PerplexityRequest request, string outPath)
    {
        // Validate cheap inputs before loading weights, so a typo costs nothing.
        var corpora = CorpusDirectory.Open(request.Data);
        var corpusByLanguage = request.Languages.ToDictionary(l => l, l => corpora.Stream(l, request.Split));
        var evaluated = EvaluatedModel.Describe(request.Model);
        TorchRuntime.EnsureLoaded();
        var device = TorchRuntime.ParseDevice(request.Device);
        var dtype = CommonOptions.ParseDType(request.DType);

        using var loaded = AnsiConsole.Status().Start($"Loading {Terminal.Text(request.Model)}", _ => LoadedModel.Open(request.Model, device, dtype));
        AnsiConsole.MarkupLine($"[bold]{Terminal.Text(loaded.Config.ModelType)}[/] model, {loaded.Config.ParameterCount() / 1e6:F1}M parameters, " +
                               $"{Terminal.Text(device.ToString())} {Terminal.Text(request.DType)}, tokenizer {Terminal.Text(loaded.Tokenizer.GetType().Name)}");

        var evaluator = new WindowedPerplexity(loaded.Model, loaded.Tokenizer, request.Options);
        var rows = new List<LanguagePerplexity>();
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                foreach (var language in request.Languages)
                {
                    // Without a seed the first windows are scored, so the leading documents that hold them suffice;
                    // with a seed the windows are drawn from the whole split.
                    var text = LanguageCorpusText.Leading(corpusByLanguage[language], loaded.Tokenizer, request.Options,
                                                          request.Options.Seed is null ? request.Options.NSamples ?? int.MaxValue : int.MaxValue);
                    var task = ctx.AddTask(Terminal.Text(language));
                    var progress = new SynchronousProgress<EvalProgress>(p =>
                    {
                        task.MaxValue = Math.Max(1, p.WindowsTotal);
                        task.Value = p.WindowsDone;
                        task.Description = $"{Terminal.Text(language)} {p.WindowsDone}/{p.WindowsTotal} windows, {p.TokensPerSecond:F0} tok/s";
                    });
                    rows.Add(new LanguagePerplexity(evaluator.Evaluate(text, progress), text.Text.Length == 0 ? null : ByteEntropy.Unigram(text.Text)));
                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            });

        // The zeroth-order baseline next to each bits/byte: a ratio near 1 means the model knows byte frequencies and
        // little else (a language it never saw); the fixture models' trained languages sit well below 0.75.
        var table = new Table().AddColumns("lang", "windows", "scored tokens", "bytes", "perplexity", "bits/byte", "unigram entropy", "ratio");
        foreach (var (r, h, ratio) in rows.Select(x => (x.Result, x.UnigramEntropyBits, x.EntropyRatio)))
            table.AddRow(Terminal.Text(r.Language), $"{r.Windows}/{r.AvailableWindows}", r.ScoredTokens.ToString(), r.ScoredBytes.ToString(),
                         r.IsFinite ? $"{r.Perplexity:F3}" : "[red]non-finite[/]", r.IsFinite ? $"{r.BitsPerByte:F4}" : "[red]non-finite[/]",
                         h is { } e ? $"{e:F4}" : "-", r.IsFinite && ratio is { } q ? $"{q:F3}" : "-");
        var results = rows.Select(x => x.Result).ToList();
        AnsiConsole.Write(table);
        foreach (var r in results.Where(r => r.Windows == 0))
            AnsiConsole.MarkupLine($"[yellow]warning:[/] {Terminal.Text(r.Language)} has fewer than {request.Options.Seqlen} tokens in its {Terminal.Text(request.Split)} split; nothing was scored");

        var record = new
        {
            command = "eval ppl",
            codeVersion = CodeVersion.Current,
            evaluated,
            model = Path.GetFullPath(request.Model),
            modelType = loaded.Config.ModelType,
            data = Path.GetFullPath(request.Data),
            split = request.Split,
            device = request.Device,
            dtype = request.DType,
            options = request.Options,
            results = rows.Select(r => r.ToJson()),
        };
        ResultFiles.WriteJson(outPath, record);
        AnsiConsole.MarkupLine($"Results written to [bold]{Terminal.Text(outPath)}[/]");
        return results.All(r => r.IsFinite) ? ExitCodes.Ok : ExitCodes.Failure;
    }

    static BosPolicy ParseBos(string text) => text.Trim().ToLowerInvariant() switch
    {
        "stream" or "streamonly" => BosPolicy.StreamOnly,
        "window" or "perwindow" => BosPolicy.PerWindow,
        _ => throw new BadInputException($"unknown --bos '{text}': use stream or window"),
    };

    static int Positive(int value, string name, int minimum = 1) =>
        value >= minimum ? value : throw new BadInputException($"{name} must be at least {minimum}, got {value}");

    static int? PositiveOrNull(int? value, string name) => value is { } v ? Positive(v, name) : null;
}

/// <summary>Calls back on the reporting thread, unlike <see cref="Progress{T}"/>, which posts to the thread pool.</summary>
sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
