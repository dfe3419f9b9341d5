using System.CommandLine;
using System.Globalization;
using Repro.Core;
using Repro.Core.Calibration;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using Repro.Core.Torch;
using Repro.Methods;
using Repro.Methods.Pipeline;
using Repro.Methods.Runs;
using Repro.Methods.Structured;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary><c>repro prune</c> and <c>repro quantize</c>: the layer-by-layer pipeline (METHODS §2) from the command line.</summary>
public static class PruneCommands
{
    public static Command Prune(IReadOnlyList<MethodRegistration>? methods = null, ICalibrationSource? calibration = null)
    {
        var common = new CommonPipelineOptions();
        var sparsity = new Option<string?>("--sparsity") { Description = "fraction of weights to remove, in [0, 1) (default 0.5, or N/M with --nm)" };
        var nm = new Option<string?>("--nm") { Description = "semi-structured N:M pattern, e.g. 2:4 (N of every M consecutive inputs pruned)" };
        var structured = new StructuredPruneOptions();
        var command = new Command("prune", "Prune a model with a calibration set and write a Hugging Face folder with prune.json: layer by layer " +
                                           "(magnitude, wanda, sparsegpt; zeros and masks) or structured (llm-pruner, lang-prune; a smaller model).")
        {
            sparsity, nm,
        };
        common.AddTo(command, trueSequential: false);
        structured.AddTo(command);
        command.SetAction(parse =>
        {
            var (s, pattern) = ParseSparsity(parse.GetValue(sparsity), parse.GetValue(nm));
            return Run(common, parse, methods ?? MethodRegistry.Default, MethodKinds.Pruning, new MethodOptions(s, pattern, Structured: structured.Parse(parse)),
                       calibration ?? new CorpusCalibrationSource(NotePrinter));
        });
        return command;
    }

    public static Command Quantize(IReadOnlyList<MethodRegistration>? methods = null, ICalibrationSource? calibration = null)
    {
        var common = new CommonPipelineOptions();
        var bits = new Option<int>("--bits") { Description = "bits per weight", DefaultValueFactory = _ => 4 };
        var groupSize = new Option<int>("--group-size") { Description = "columns per quantization group; -1: one group per row", DefaultValueFactory = _ => 128 };
        var sym = new Option<bool>("--sym") { Description = "symmetric grid (gptq default: asymmetric)" };
        var actOrder = new Option<bool>("--act-order") { Description = "quantize columns in order of decreasing Hessian diagonal" };
        var command = new Command("quantize", "Quantize a model layer by layer (weights written dequantized) with a calibration set.")
        {
            bits, groupSize, sym, actOrder,
        };
        common.AddTo(command, trueSequential: true);
        command.SetAction(parse =>
        {
            var b = parse.GetValue(bits);
            if (b is < Quantizer.MinBits or > Quantizer.MaxBits)
                throw new BadInputException($"--bits must be between {Quantizer.MinBits} and {Quantizer.MaxBits} (4 and 8 in the papers), got {b}");
            var g = parse.GetValue(groupSize);
            if (g == 0 || g < -1) throw new BadInputException($"--group-size must be positive or -1 (one group per row), got {g}");
            return Run(common, parse, methods ?? MethodRegistry.Default, MethodKinds.Quantization,
                       new MethodOptions(new Sparsity(0), null, b, g, parse.GetValue(sym), parse.GetValue(actOrder)),
                       calibration ?? new CorpusCalibrationSource(NotePrinter));
        });
        return command;
    }

    static void NotePrinter(string note) => AnsiConsole.MarkupLine(Terminal.Text(note));

    /// <summary>--sparsity and --nm, checked against each other: N:M fixes the fraction (wanda asserts 0.5 for 2:4).</summary>
    static (Sparsity, NmPattern?) ParseSparsity(string? sparsityText, string? nmText)
    {
        NmPattern? pattern = null;
        if (nmText is not null)
        {
            try
            {
                pattern = NmPattern.Parse(nmText);
            }
            catch (InputException)
            {
                throw new BadInputException($"--nm '{nmText}' is not an N:M pattern with 1 ≤ N ≤ M, such as 2:4");
            }
        }
        decimal fraction;
        if (sparsityText is null) fraction = pattern is null ? 0.5m : (decimal)pattern.N / pattern.M;
        else if (!decimal.TryParse(sparsityText, NumberStyles.Float, CultureInfo.InvariantCulture, out fraction))
            throw new BadInputException($"--sparsity '{sparsityText}' is not a number; give a fraction such as 0.5");
        if (fraction < 0m || fraction >= 1m)
            throw new BadInputException($"--sparsity must be in [0, 1) (a fraction of the weights, e.g. 0.5), got {sparsityText}");
        if (pattern is not null && fraction != (decimal)pattern.N / pattern.M)
            throw new BadInputException($"--nm {pattern} prunes {(decimal)pattern.N / pattern.M} of the weights, but --sparsity is {sparsityText}; give one or make them agree");
        return (new Sparsity(fraction), pattern);
    }

    /// <summary>The options of llm-pruner and lang-prune (METHODS §8–9); refused with the other methods.</summary>
    sealed class StructuredPruneOptions
    {
        readonly Option<string?> aggregate = new("--aggregate") { Description = "lang-prune: merge of the per-language importances, max (default), mean or min" };
        readonly Option<string?> taylor = new("--taylor") { Description = "llm-pruner/lang-prune: Taylor importance, param_first (default), vectorize, param_second or param_mix" };
        readonly Option<string?> reduction = new("--group-reduction") { Description = "llm-pruner/lang-prune: reduction of a structure's member scores, sum (default), mean, max, prod or first" };
        readonly Option<string?> layers = new("--layers") { Description = "llm-pruner/lang-prune: layers to prune, start:end (end exclusive, ≤ 0 counts from the end; default 4:-2)" };
        readonly Option<int?> microBatch = new("--micro-batch") { Description = "llm-pruner/lang-prune: calibration sequences per gradient pass (default 4; gradients are accumulated)" };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { aggregate, taylor, reduction, layers, microBatch }) command.Options.Add(option);
        }

        /// <summary>The structured options when any is given or the method is structured; every bad value is an <see cref="InputException"/>.</summary>
        public StructuredOptions? Parse(ParseResult parse)
        {
            var (a, t, r, l, m) = (parse.GetValue(aggregate), parse.GetValue(taylor), parse.GetValue(reduction), parse.GetValue(layers), parse.GetValue(microBatch));
            var method = parse.GetValue<string>("--method")?.Trim().ToLowerInvariant();
            var isStructured = method is StructuredPruner.LlmPrunerName or StructuredPruner.LangPruneName;
            if (!isStructured)
            {
                var given = new (object? Value, string Name)[] { (a, "--aggregate"), (t, "--taylor"), (r, "--group-reduction"), (l, "--layers"), (m, "--micro-batch") }
                    .Where(x => x.Value is not null).Select(x => x.Name).ToList();
                return given.Count == 0 ? null
                    : throw new BadInputException($"{string.Join(", ", given)} {(given.Count == 1 ? "is an option" : "are options")} of llm-pruner and lang-prune, not of {method}");
            }
            if (a is not null && method != StructuredPruner.LangPruneName)
                throw new BadInputException("--aggregate merges per-language importances: it is an option of lang-prune, not llm-pruner");
            if (m is < 1) throw new BadInputException($"--micro-batch must be at least 1, got {m}");
            return new StructuredOptions(
                t is null ? TaylorVariant.ParamFirst : StructuredOptions.ParseImportance(t),
                r is null ? GroupReduction.Sum : StructuredOptions.ParseReduction(r),
                l is null ? null : LayerRange.Parse(l),
                a is null ? LanguageMerge.Max : StructuredOptions.ParseMerge(a),
                m ?? 4);
        }
    }

    sealed class CommonPipelineOptions
    {
        public readonly Option<string> Model = new("--model") { Description = "Hugging Face model folder to compress (read, never modified)", Required = true };
        public readonly Option<string> Method = new("--method") { Description = "method name (an unknown name lists the known ones)", Required = true };
        public readonly Option<string?> CalibData = new("--calib-data") { Description = "calibration corpus folder (DIR/{lang}/{split}.jsonl[.gz]|.txt|.parquet or DIR/{lang}.jsonl[.gz]|.txt|.parquet)" };
        public readonly Option<string?> CalibLangs = new("--calib-langs") { Description = "comma-separated calibration languages, equal shares, e.g. de or ar,de,en" };
        public readonly Option<string> CalibSplit = new("--calib-split") { Description = "corpus split to calibrate on (kept apart from the validation split that evaluation reads)", DefaultValueFactory = _ => CalibrationSampler.Split };
        public readonly Option<int> NSamples = new("--nsamples") { Description = "calibration sequences", DefaultValueFactory = _ => 128 };
        public readonly Option<int> Seqlen = new("--seqlen") { Description = "tokens per calibration sequence", DefaultValueFactory = _ => 2048 };
        public readonly Option<int> Seed = new("--seed") { Description = "calibration sampling seed", DefaultValueFactory = _ => 0 };
        public readonly Option<bool> AllowRepeatedText = new("--allow-repeated-text")
        {
            Description = "calibrate on a language whose text is shorter than its share × seqlen anyway (windows then repeat text; recorded in prune.json)",
        };
        public readonly Option<string> Output = new("--out") { Description = "output model folder (written as <out>.partial, renamed when complete)", Required = true };
        public readonly Option<bool> Overwrite = new("--overwrite") { Description = "replace an existing output folder (only once the new one is complete)" };
        public readonly Option<bool> TrueSequential = new("--true-sequential") { Description = "gptq's true-sequential: [k,v,q] → [o] → [up,gate] → [down], each on its compressed predecessors" };
        public readonly Option<string> Device = CommonOptions.Device();
        public readonly Option<string> DType = CommonOptions.DType("float32");

        public void AddTo(Command command, bool trueSequential)
        {
            foreach (var option in new Option[] { Model, Method, CalibData, CalibLangs, CalibSplit, NSamples, Seqlen, Seed, AllowRepeatedText, Output, Overwrite, Device, DType })
                command.Options.Add(option);
            if (trueSequential) command.Options.Add(TrueSequential);
        }
    }

    static int Run(CommonPipelineOptions o, ParseResult parse, IReadOnlyList<MethodRegistration> registry, MethodKinds kind,
                   MethodOptions options, ICalibrationSource calibrationSource)
    {
        // Cheap checks first: a typo costs nothing.
        var registration = MethodRegistry.Find(registry, parse.GetValue(o.Method)!, kind);
        var nsamples = parse.GetValue(o.NSamples);
        var seqlen = parse.GetValue(o.Seqlen);
        if (nsamples < 1) throw new BadInputException($"--nsamples must be at least 1, got {nsamples}");
        if (seqlen < 1) throw new BadInputException($"--seqlen must be at least 1, got {seqlen}");
        var modelDir = parse.GetValue(o.Model)!;
        if (!Directory.Exists(modelDir)) throw new BadInputException($"{modelDir}: model folder not found; check the path");
        var outputDir = parse.GetValue(o.Output)!;
        IMethod method;
        try
        {
            method = registration.Create(options);
        }
        catch (InputException e)
        {
            throw new BadInputException($"{registration.Name}: {e.Message}");
        }

        TorchRuntime.EnsureLoaded();
        var device = TorchRuntime.ParseDevice(parse.GetValue(o.Device)!);
        var dtype = CommonOptions.ParseDType(parse.GetValue(o.DType)!);

        CalibrationTokens? calibration = null;
        if (method.NeedsCalibration)
        {
            var data = parse.GetValue(o.CalibData) ?? throw new BadInputException($"method '{registration.Name}' needs calibration data: pass --calib-data DIR and --calib-langs");
            if (!Directory.Exists(data)) throw new BadInputException($"{data}: calibration corpus folder not found; check --calib-data");
            var langs = CommonOptions.ParseLanguages(parse.GetValue(o.CalibLangs) ?? throw new BadInputException("--calib-langs is required with --calib-data, e.g. --calib-langs de"));
            var tokenizer = TokenizerLoader.ForModel(modelDir);
            calibration = calibrationSource.Draw(new CalibrationRequest(data, langs, parse.GetValue(o.CalibSplit)!, nsamples, seqlen,
                                                                        parse.GetValue(o.Seed), tokenizer, modelDir,
                                                                        parse.GetValue(o.AllowRepeatedText)));
            if (calibration.NSamples != nsamples || calibration.Seqlen != seqlen)
                throw new InvalidOperationException($"the calibration source returned [{calibration.NSamples}, {calibration.Seqlen}] ids for --nsamples {nsamples} --seqlen {seqlen}");
        }

        if (method is IStructuredMethod structured)
            return RunStructured(structured, new StructuredJob(modelDir, outputDir, calibration!)
            {
                Device = device, DType = dtype, Overwrite = parse.GetValue(o.Overwrite),
            });
        var job = new LayerwiseJob(modelDir, outputDir, (ICompressionMethod)method, calibration)
        {
            Device = device,
            DType = dtype,
            TrueSequential = parse.GetValue(o.TrueSequential),
            Overwrite = parse.GetValue(o.Overwrite),
        };
        AnsiConsole.MarkupLine($"{(kind == MethodKinds.Quantization ? "Quantizing" : "Pruning")} [bold]{Terminal.Text(modelDir)}[/] with " +
                               $"[bold]{Terminal.Text(method.Name)}[/] {Terminal.Text(method.HyperParameters.ToJsonString())} on {Terminal.Text(device.ToString())} {Terminal.Text(dtype.ToString())}" +
                               (calibration is null ? ", no calibration" : $", {calibration.NSamples} × {calibration.Seqlen} calibration tokens"));
        var report = RunWithProgress(job);

        var table = new Table().AddColumns("measure", "value");
        table.AddRow("layers", report.Layers.Count.ToString(CultureInfo.InvariantCulture));
        table.AddRow("sparsity of the linear sublayers", string.Create(CultureInfo.InvariantCulture,
            $"{report.Sparsity.Fraction * 100:F2}% ({report.Sparsity.Zeros:N0} of {report.Sparsity.Elements:N0} weights)"));
        table.AddRow("seconds", report.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture));
        table.AddRow("output", Terminal.Text(Path.GetFullPath(outputDir)));
        AnsiConsole.Write(table);
        return ExitCodes.Ok;
    }

    /// <summary>A structured method under a progress bar, then what it removed: parameters, widths per layer, time and memory.</summary>
    static int RunStructured(IStructuredMethod method, StructuredJob job)
    {
        AnsiConsole.MarkupLine($"Pruning [bold]{Terminal.Text(job.ModelDir)}[/] with [bold]{Terminal.Text(method.Name)}[/] {Terminal.Text(method.HyperParameters.ToJsonString())} " +
                               $"on {Terminal.Text(job.Device.ToString())} {Terminal.Text(job.DType.ToString())}, {job.Calibration.NSamples} × {job.Calibration.Seqlen} calibration tokens");
        StructuredReport? report = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("gradients");
                report = method.Run(job, new SynchronousProgress<StructuredProgress>(p =>
                {
                    task.MaxValue = Math.Max(1, p.Total);
                    task.Value = p.Done;
                    task.Description = Terminal.Text($"{p.Stage} {p.Done}/{p.Total}");
                }));
                task.Value = task.MaxValue;
                task.StopTask();
            });
        var table = new Table().AddColumns("layer", "attention heads (query/KV)", "MLP channels", "removed");
        foreach (var layer in report!.Layers)
            table.AddRow(layer.Index.ToString(CultureInfo.InvariantCulture),
                         $"{layer.Before.NumAttentionHeads}/{layer.Before.NumKeyValueHeads} → {layer.After.NumAttentionHeads}/{layer.After.NumKeyValueHeads}",
                         $"{layer.Before.IntermediateSize} → {layer.After.IntermediateSize}",
                         layer.Pruned ? $"{layer.RemovedUnits.Count} attention units, {layer.RemovedChannels.Count} channels" : "dense (outside --layers)");
        AnsiConsole.Write(table);
        var summary = new Table().AddColumns("measure", "value");
        summary.AddRow("parameters", string.Create(CultureInfo.InvariantCulture,
            $"{report.Parameters.Before:N0} → {report.Parameters.After:N0} ({report.Parameters.Fraction * 100:F2}% removed)"));
        summary.AddRow("seconds", string.Create(CultureInfo.InvariantCulture, $"{report.TotalSeconds:F1} (gradients {report.Seconds["gradients"]:F1}, writing {report.Seconds["write"]:F1})"));
        if (report.Recall is { } recall)
            summary.AddRow("recall of language-specific MLP channels (top 30 %)", Terminal.Text(string.Join(", ",
                recall.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value * 100:F1}%")))));
        if (report.PeakMemoryBytes is { } peak) summary.AddRow("peak memory (gradient pass)", string.Create(CultureInfo.InvariantCulture, $"{peak / (double)(1 << 20):F0} MiB resident"));
        summary.AddRow("output", Terminal.Text(Path.GetFullPath(job.OutputDir)));
        AnsiConsole.Write(summary);
        return ExitCodes.Ok;
    }

    /// <summary>Runs the pipeline under a progress bar: layer i/L, stage, elapsed.</summary>
    internal static PruneReport RunWithProgress(LayerwiseJob job)
    {
        PruneReport? report = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("layers");
                var progress = new SynchronousProgress<LayerProgress>(p =>
                {
                    task.MaxValue = Math.Max(1, p.Layers);
                    task.Value = p.Stage == PipelineStage.LayerDone ? p.Layer + 1 : p.Layer;
                    var samples = p.SamplesTotal > 0 && p.Stage is PipelineStage.Calibrating or PipelineStage.Recomputing ? $" {p.SamplesDone}/{p.SamplesTotal}" : "";
                    task.Description = $"layer {Math.Min(p.Layer + 1, p.Layers)}/{p.Layers} {p.Stage.ToString().ToLowerInvariant()}{samples}";
                });
                report = LayerwiseCompressor.Run(job, progress);
                task.Value = task.MaxValue;
                task.StopTask();
            });
        return report!;
    }
}
