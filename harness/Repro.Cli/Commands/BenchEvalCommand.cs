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
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Cli.Commands;

/// <summary>
/// <c>repro bench eval</c>: peak memory of <c>eval ppl</c> and <c>eval hidden</c> on a model folder against a budget
/// derived from the model's shape, as the ratio peak / budget measured in one process.
/// </summary>
/// <remarks>
/// What is measured: anonymous resident memory (<see cref="RssAnon"/>: the managed heap and libtorch's tensors, not the
/// memory-mapped checkpoint's page cache), sampled every 5 ms and at the end of each phase, less its value at the
/// phase's start after a full collection and <c>malloc_trim</c>. So each phase is charged what it adds, and the
/// budget needs no term for the runtime's own resident size. VmHWM is not used: it is the process's lifetime peak (it
/// cannot be given to one phase) and counts the mapped checkpoint pages. A child process per phase would give clean
/// peaks too, but needs the CLI's executable, which the in-process CLI tests do not have; in one process the second
/// phase starts on a heap the first has grown and trimmed, which the subtraction takes out.
/// Resident memory includes what glibc's malloc keeps of freed blocks below its mmap threshold (see
/// <see cref="NativeHeap"/>): at fixture scale, where every tensor is below it, that retention can double the peak
/// of the live tensors; <c>MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=0</c> in the environment shows the
/// live memory alone. At paper scale a layer's weights and a window's activations are far above the threshold and
/// are returned when freed.
/// </remarks>
public static class BenchEvalCommand
{
    /// <summary>The runtime's growth within a phase (thread pools, allocator caches, code paths run the first time): a fixed allowance.</summary>
    public const long RuntimeAllowance = 64L << 20;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "model folder (eval ppl; the dense side of eval hidden)", DefaultValueFactory = _ => "fixtures/models/small" };
        var pruned = new Option<string?>("--pruned") { Description = "compressed model folder for eval hidden (default: --model compared with itself, which holds the same memory)" };
        var data = new Option<string>("--data") { Description = "corpus folder", DefaultValueFactory = _ => "fixtures/corpora" };
        var langs = new Option<string>("--langs") { Description = "comma-separated languages", DefaultValueFactory = _ => "de,en,zh" };
        var split = new Option<string>("--split") { Description = "corpus split", DefaultValueFactory = _ => "validation" };
        var seqlen = new Option<int>("--seqlen") { Description = "tokens per window", DefaultValueFactory = _ => 256 };
        var nsamples = new Option<int>("--nsamples", "--limit") { Description = "windows per language", DefaultValueFactory = _ => 8 };
        var batch = new Option<int>("--batch-size") { Description = "eval ppl windows per forward pass", DefaultValueFactory = _ => 1 };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType("float32");
        var output = new Option<string?>("--out") { Description = "also write the figures as JSON to this file" };
        var command = new Command("eval",
            "Peak anonymous memory of eval ppl and eval hidden on a model, each against a budget derived from the model's shape (printed as a formula), as peak / budget.")
        {
            model, pruned, data, langs, split, seqlen, nsamples, batch, device, dtype, output,
        };
        command.SetAction(parse =>
        {
            var (t, n, b) = (parse.GetValue(seqlen), parse.GetValue(nsamples), parse.GetValue(batch));
            if (t < 1 || n < 1 || b < 1) throw new BadInputException($"--seqlen, --nsamples and --batch-size must be at least 1, got {t}, {n} and {b}");
            var modelDir = parse.GetValue(model)!;
            var prunedDir = parse.GetValue(pruned) ?? modelDir;
            foreach (var dir in new[] { modelDir, prunedDir })
                if (!Directory.Exists(dir)) throw new BadInputException($"{dir}: model folder not found; check the path");
            var corpora = CorpusDirectory.Open(parse.GetValue(data)!);
            var languages = CommonOptions.ParseLanguages(parse.GetValue(langs)!);
            var streams = languages.Select(l => corpora.Stream(l, parse.GetValue(split)!)).ToList();
            TorchRuntime.EnsureLoaded();
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device)!);
            var type = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            var report = Bench(modelDir, prunedDir, streams, new PerplexityOptions(t, n, BatchSize: b), dev, type);
            Print(report, parse.GetValue(dtype)!);
            if (parse.GetValue(output) is { } path) ResultFiles.WriteJson(path, report);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>One term of a budget: its name, the formula with the model's numbers in it, and its bytes.</summary>
    public sealed record BudgetTerm(string Name, string Formula, long Bytes);

    /// <summary>
    /// One phase: peak RssAnon above its start (<see cref="PeakBytes"/>, null without /proc), the largest managed heap
    /// seen, the budget and its terms.
    /// </summary>
    public sealed record PhaseMemory(string Phase, long? PeakBytes, long? StartBytes, long ManagedPeakBytes, double Seconds,
                                     IReadOnlyList<BudgetTerm> Budget, object Result)
    {
        public long BudgetBytes => Budget.Sum(t => t.Bytes);
        public double? Ratio => PeakBytes is { } p ? (double)p / BudgetBytes : null;
    }

    /// <summary>The shape the budgets are computed from, as config.json gives it.</summary>
    public sealed record ModelShape(string Folder, long Parameters, int Layers, int Hidden, int Intermediate, int Heads, int Vocab,
                                    long LargestLayerParameters, long PrunedLargestLayerParameters);

    public sealed record BenchEvalReport(string Machine, ModelShape Model, string DType, int ElementBytes, IReadOnlyList<string> Languages,
                                         int Seqlen, int WindowsPerLanguage, int BatchSize, IReadOnlyList<PhaseMemory> Phases);

    static BenchEvalReport Bench(string modelDir, string prunedDir, IReadOnlyList<CorpusStream> corpora, PerplexityOptions options,
                                 Device device, ScalarType dtype)
    {
        var config = ReadConfig(modelDir);
        var prunedConfig = ReadConfig(prunedDir);
        var shape = new ModelShape(Path.GetFullPath(modelDir), config.ParameterCount(), config.NumHiddenLayers, config.HiddenSize,
                                   config.IntermediateSize, config.NumAttentionHeads, config.VocabSize, LargestLayer(config), LargestLayer(prunedConfig));
        var e = SafetensorsDType.SizeOf(dtype);
        var (t, b, w) = ((long)options.Seqlen, (long)options.BatchSize, (long)options.NSamples!.Value);

        var ppl = Measure("eval ppl", PerplexityBudget(shape, e, t, b), () =>
        {
            using var loaded = LoadedModel.Open(modelDir, device, dtype);
            var evaluator = new WindowedPerplexity(loaded.Model, loaded.Tokenizer, options);
            return corpora.Select(c => evaluator.Evaluate(LanguageCorpusText.Leading(c, loaded.Tokenizer, options, options.NSamples!.Value)))
                          .Select(r => new { language = r.Language, windows = r.Windows, perplexity = r.Perplexity }).ToList();
        });

        // The windows are cut before the phase: text and tokenization are eval hidden's inputs, not what it holds per layer.
        var tokenizer = TokenizerLoader.FromFolder(modelDir);
        TokenizerLoader.RequireFits(tokenizer, config.VocabSize, modelDir);
        var sets = corpora.Select(c => HiddenStateMetricsEvaluator.Windows(LanguageCorpusText.Leading(c, tokenizer, options, options.NSamples!.Value),
                                                                           tokenizer, options.Seqlen, options.NSamples, null)).ToList();
        var excluded = HiddenStateMetricsEvaluator.SpecialTokenIds(tokenizer, config);
        var hidden = Measure("eval hidden", HiddenBudget(shape, e, t, sets.Sum(s => (long)s.GetLength(0))), () =>
            HiddenStateMetricsEvaluator.Compare(modelDir, prunedDir, sets, excluded, device, dtype)
                .Select((r, i) => new { language = corpora[i].Language, windows = sets[i].GetLength(0), meanSnrDb = r.MeanSnrDb, meanPruningError = r.MeanPruningError })
                .ToList());

        var machine = $"{Environment.ProcessorCount} logical cores, torch threads {torch.get_num_threads()}, device {device}";
        return new BenchEvalReport(machine, shape, dtype.ToString(), e, [.. corpora.Select(c => c.Language)], options.Seqlen, (int)w, options.BatchSize, [ppl, hidden]);
    }

    static ModelConfig ReadConfig(string dir)
    {
        using var checkpoint = HfCheckpoint.Open(dir);
        return ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
    }

    /// <summary>Parameters of the largest decoder layer (structured pruning may leave layers of different widths).</summary>
    static long LargestLayer(ModelConfig config) =>
        Enumerable.Range(0, config.NumHiddenLayers).Max(l => config.LayerTensors(l).Sum(s => s.ElementCount));

    static string I(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>
    /// One window batch through one decoder layer: its input and the norm, q/k/v, attention and output projections
    /// (4 × hidden), the MLP's gate, up and their product (3 × intermediate), and attention scores in float32 where the
    /// kernel materialises them. A layer frees its temporaries before the next runs (its own dispose scope).
    /// </summary>
    static BudgetTerm WorkingSet(ModelShape m, int e, long t, long b) =>
        new("layer working set", I($"b·t·(4·h + 3·i)·e + b·heads·t²·4 = {b}·{t}·(4·{m.Hidden} + 3·{m.Intermediate})·{e} + {b}·{m.Heads}·{t}²·4"),
            b * t * (4L * m.Hidden + 3L * m.Intermediate) * e + b * m.Heads * t * t * 4);

    static BudgetTerm Runtime() => new("runtime allowance", "fixed", RuntimeAllowance);

    /// <summary>eval ppl loads the whole model; the trunk's output is kept while the head runs on slices of at most 2^26 logits.</summary>
    public static IReadOnlyList<BudgetTerm> PerplexityBudget(ModelShape m, int e, long t, long b)
    {
        var slice = Math.Min(WindowedPerplexity.DefaultSliceElements, b * t * m.Vocab);
        return
        [
            new("weights", I($"all parameters·e = {m.Parameters}·{e}"), m.Parameters * e),
            new("logits", I($"2·min(2^26, b·t·vocab)·4 = 2·min(2^26, {b}·{t}·{m.Vocab})·4 (a float32 slice and one temporary of its size in logsumexp)"), 2 * slice * 4),
            new("trunk output", I($"b·t·h·e = {b}·{t}·{m.Hidden}·{e}"), b * t * m.Hidden * e),
            WorkingSet(m, e, t, b),
            Runtime(),
        ];
    }

    /// <summary>
    /// eval hidden holds one layer of each model, both models' states for every language's windows, the embedding rows one
    /// model's windows use while it embeds them, and one window's working set.
    /// </summary>
    public static IReadOnlyList<BudgetTerm> HiddenBudget(ModelShape m, int e, long t, long windows)
    {
        var rows = Math.Min(m.Vocab, windows * t);
        return
        [
            new("two layers", I($"(largest dense layer + largest compressed layer)·e = ({m.LargestLayerParameters} + {m.PrunedLargestLayerParameters})·{e}"),
                (m.LargestLayerParameters + m.PrunedLargestLayerParameters) * e),
            new("states", I($"2·windows·t·h·e = 2·{windows}·{t}·{m.Hidden}·{e} (both models, every language)"), 2 * windows * t * m.Hidden * e),
            new("embedding rows", I($"min(vocab, windows·t)·h·e = min({m.Vocab}, {windows}·{t})·{m.Hidden}·{e}"), rows * m.Hidden * e),
            WorkingSet(m, e, t, 1),
            Runtime(),
        ];
    }

    static PhaseMemory Measure(string phase, IReadOnlyList<BudgetTerm> budget, Func<object> run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        NativeHeap.Trim();
        var start = RssAnon.Current();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        object result;
        long? peak;
        long managed;
        using (var sampler = new RssAnon.Sampler(TimeSpan.FromMilliseconds(5)))
        {
            result = AnsiConsole.Status().Start($"{phase}", _ => run());
            peak = sampler.Stop();
            managed = sampler.ManagedPeak;
        }
        var seconds = clock.Elapsed.TotalSeconds;
        NativeHeap.Trim();
        return new PhaseMemory(phase, peak is { } p && start is { } s ? Math.Max(0, p - s) : null, start, managed, seconds, budget, result);
    }

    static string MiB(long bytes) => (bytes / (double)(1 << 20)).ToString("F2", CultureInfo.InvariantCulture) + " MiB";

    static void Print(BenchEvalReport report, string dtypeText)
    {
        var m = report.Model;
        var table = new Table().AddColumns("measure", "value");
        table.AddRow("machine", Terminal.Text(report.Machine));
        table.AddRow("model", Terminal.Text(I($"{m.Folder}: {m.Parameters / 1e6:F2}M parameters, {m.Layers} layers, hidden {m.Hidden}, intermediate {m.Intermediate}, heads {m.Heads}, vocab {m.Vocab}; compute {dtypeText} (e = {report.ElementBytes} B)")));
        table.AddRow("windows", Terminal.Text(I($"{string.Join(",", report.Languages)} × {report.WindowsPerLanguage} × {report.Seqlen} tokens (eval ppl batch {report.BatchSize})")));
        table.AddRow("measured", "peak RssAnon (managed heap + libtorch tensors, not mapped checkpoint pages) above its value at the phase's start, sampled every 5 ms");
        foreach (var phase in report.Phases)
        {
            table.AddRow($"[bold]{Terminal.Text(phase.Phase)}[/] budget", Terminal.Text(
                string.Join(" + ", phase.Budget.Select(x => x.Name)) + " = " + MiB(phase.BudgetBytes)));
            foreach (var term in phase.Budget)
                table.AddRow($"  {Terminal.Text(term.Name)}", Terminal.Text($"{term.Formula} = {MiB(term.Bytes)}"));
            table.AddRow($"[bold]{Terminal.Text(phase.Phase)}[/] peak", phase.PeakBytes is { } p
                ? Terminal.Text(I($"{MiB(p)} above {MiB(phase.StartBytes!.Value)} at start (managed heap at most {MiB(phase.ManagedPeakBytes)}), {phase.Seconds:F1} s")) +
                  I($"; [bold]peak / budget {phase.Ratio!.Value:F2}[/] ") + (p <= phase.BudgetBytes ? "[green]within[/]" : "[red]over[/]")
                : "not available (no /proc/self/status)");
        }
        AnsiConsole.Write(table);
    }
}
