using System.CommandLine;
using System.Globalization;
using Repro.Core.Checkpoints;
using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Tokenizers;
using Repro.Core.Torch;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary><c>repro eval hidden</c>: SNR and pruning error of every decoder layer's outputs, dense vs compressed (METHODS §7, EVALUATION §3).</summary>
public static class EvalHiddenCommand
{
    public static Command Create()
    {
        var dense = new Option<string>("--dense") { Description = "the dense model folder", Required = true };
        var pruned = new Option<string>("--pruned") { Description = "the compressed model folder (same architecture)", Required = true };
        var data = new Option<string>("--data") { Description = "corpus folder: DIR/{lang}/{split}.jsonl.gz (or .jsonl, .txt, .parquet) or DIR/{lang}.jsonl[.gz]|.txt|.parquet", Required = true };
        var langs = new Option<string>("--langs") { Description = "comma-separated evaluation languages, e.g. ar,de,en", Required = true };
        var split = new Option<string>("--split") { Description = "corpus split", DefaultValueFactory = _ => "validation" };
        var seqlen = new Option<int>("--seqlen") { Description = "tokens per window", DefaultValueFactory = _ => 2048 };
        var nsamples = new Option<int>("--nsamples") { Description = "windows per language", DefaultValueFactory = _ => 64 };
        var seed = new Option<int?>("--seed") { Description = "draw the windows at random with this seed (default: the first ones)" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType("float32");
        var output = new Option<string?>("--out") { Description = "JSON results file (default: results/hidden-<pruned>.json)" };
        var command = new Command("hidden", "Per-layer SNR (dB) and pruning error of hidden states, dense vs compressed, per language (METHODS §7).")
        {
            dense, pruned, data, langs, split, seqlen, nsamples, seed, device, dtype, output,
        };
        command.SetAction(parse =>
        {
            var n = parse.GetValue(nsamples);
            var t = parse.GetValue(seqlen);
            if (n < 1) throw new BadInputException($"--nsamples must be at least 1, got {n}");
            if (t < 1) throw new BadInputException($"--seqlen must be at least 1, got {t}");
            var prunedDir = parse.GetValue(pruned)!;
            var outPath = parse.GetValue(output) ?? CommonOptions.DefaultResultPath("hidden", prunedDir);
            OutputPaths.CheckResultFile(outPath, "--out", parse.GetValue(dense)!, prunedDir, parse.GetValue(data)!);
            return Run(parse.GetValue(dense)!, prunedDir, parse.GetValue(data)!, CommonOptions.ParseLanguages(parse.GetValue(langs)!),
                       parse.GetValue(split)!, t, n, parse.GetValue(seed), parse.GetValue(device)!, parse.GetValue(dtype)!, outPath);
        });
        return command;
    }

    static int Run(string denseDir, string prunedDir, string dataDir, IReadOnlyList<string> languages, string split, int seqlen, int nsamples,
                   int? seed, string deviceText, string dtypeText, string outPath)
    {
        foreach (var dir in new[] { denseDir, prunedDir })
            if (!Directory.Exists(dir)) throw new BadInputException($"{dir}: model folder not found; check the path");
        var corpora = CorpusDirectory.Open(dataDir);
        var corpusByLanguage = languages.ToDictionary(l => l, l => corpora.Stream(l, split));
        var evaluated = EvaluatedModel.Describe(prunedDir);
        TorchRuntime.EnsureLoaded();
        var device = TorchRuntime.ParseDevice(deviceText);
        var dtype = CommonOptions.ParseDType(dtypeText);
        var tokenizer = TokenizerLoader.FromFolder(denseDir);
        ModelConfig config;
        using (var checkpoint = HfCheckpoint.Open(denseDir)) config = ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
        TokenizerLoader.RequireFits(tokenizer, config.VocabSize, denseDir);
        // Special tokens are run (they are context) but not measured (METHODS §7).
        var excluded = HiddenStateMetricsEvaluator.SpecialTokenIds(tokenizer, config);

        var options = new PerplexityOptions(seqlen, nsamples, seed);
        var rows = new List<object>();
        var results = new List<(string Language, int Windows, HiddenStateMetricsResult Result)>();
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var texts = languages.Select(l =>
                    LanguageCorpusText.Leading(corpusByLanguage[l], tokenizer, options, seed is null ? nsamples : int.MaxValue)).ToList();
                var sets = texts.Select(text => HiddenStateMetricsEvaluator.Windows(text, tokenizer, seqlen, nsamples, seed)).ToList();
                var tasks = languages.Select(l => ctx.AddTask(Terminal.Text(l))).ToList();
                // Every language's windows go through each layer of both models before the next layer is loaded.
                var progress = new SynchronousProgress<HiddenStateProgress>(p =>
                {
                    var task = tasks[p.Set];
                    task.MaxValue = p.Layers;
                    task.Value = p.Layer + (double)p.SamplesDone / p.SamplesTotal;
                    task.Description = $"{Terminal.Text(languages[p.Set])} layer {p.Layer + 1}/{p.Layers}";
                });
                var compared = HiddenStateMetricsEvaluator.Compare(denseDir, prunedDir, sets, excluded, device, dtype, progress);
                for (var i = 0; i < languages.Count; i++)
                {
                    var (language, text, ids, result) = (languages[i], texts[i], sets[i], compared[i]);
                    tasks[i].Value = tasks[i].MaxValue;
                    tasks[i].StopTask();
                    results.Add((language, ids.GetLength(0), result));
                    rows.Add(new
                    {
                        language,
                        windows = ids.GetLength(0),
                        availableWindows = text.AvailableWindows,
                        textSha256 = text.TextSha256,
                        meanSnrDb = result.MeanSnrDb,
                        meanPruningError = result.MeanPruningError,
                        meanPruningErrorPerToken = result.MeanPruningErrorPerToken,
                        identicalLayers = result.IdenticalLayers,
                        layers = result.Layers,
                    });
                }
            });

        var table = new Table().AddColumns("lang", "windows", "tokens", "SNR (dB)", "pruning error", "PE / token", "identical layers");
        foreach (var (language, windows, r) in results)
            table.AddRow(Terminal.Text(language), windows.ToString(CultureInfo.InvariantCulture), r.Layers[0].Tokens.ToString(CultureInfo.InvariantCulture),
                         double.IsNaN(r.MeanSnrDb) ? "∞ (identical)" : r.MeanSnrDb.ToString("F2", CultureInfo.InvariantCulture),
                         r.MeanPruningError.ToString("F3", CultureInfo.InvariantCulture),
                         r.MeanPruningErrorPerToken.ToString("G4", CultureInfo.InvariantCulture),
                         $"{r.IdenticalLayers}/{r.Layers.Count}");
        AnsiConsole.Write(table);

        ResultFiles.WriteJson(outPath, new
        {
            command = "eval hidden",
            codeVersion = CodeVersion.Current,
            evaluated,
            dense = Path.GetFullPath(denseDir),
            pruned = Path.GetFullPath(prunedDir),
            modelType = config.ModelType,
            data = Path.GetFullPath(dataDir),
            split,
            seqlen,
            nsamples,
            seed,
            device = deviceText,
            dtype = dtypeText,
            excludedTokenIds = excluded,
            definitions = "METHODS §7: each model's layer outputs divided by their own mean token norm; PE per window summed over tokens and features, " +
                          "averaged over windows; SNR = 10·log10(Σ H̃² / Σ (H̃−Ĥ̃)²); model SNR = mean over layers with PE > 0; model PE = mean over layers",
            results = rows,
        });
        AnsiConsole.MarkupLine($"Results written to [bold]{Terminal.Text(outPath)}[/]");
        return ExitCodes.Ok;
    }
}
