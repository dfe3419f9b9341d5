using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using Repro.Core.Torch;
using Repro.Methods;
using Repro.Methods.Pipeline;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Cli.Commands;

/// <summary>
/// <c>repro bench prune</c>: the cost of the layer-by-layer pipeline on a generated model, as ratios measured in one
/// process — each method's total time over the time of the calibration forward passes alone, where that time goes,
/// and peak anonymous memory against what the design promises (one layer, its activations and statistics, + 1 GiB).
/// </summary>
public static class BenchPruneCommand
{
    public static Command Create(IReadOnlyList<MethodRegistration>? methods = null)
    {
        var size = new Option<string>("--params", "--size") { Description = $"generated model size: {string.Join(", ", GeneratedModelShapes.All.Select(s => s.Name))}", DefaultValueFactory = _ => "1B" };
        var model = new Option<string?>("--model") { Description = "use this model folder instead of generating one" };
        var nsamples = new Option<int>("--nsamples") { Description = "calibration sequences", DefaultValueFactory = _ => 16 };
        var seqlen = new Option<int>("--seqlen") { Description = "tokens per calibration sequence", DefaultValueFactory = _ => 512 };
        var methodNames = new Option<string>("--methods") { Description = "comma-separated methods to time", DefaultValueFactory = _ => "wanda,sparsegpt,gptq" };
        var sparsity = new Option<string>("--sparsity") { Description = "sparsity for pruning methods", DefaultValueFactory = _ => "0.5" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType("float32");
        var modelDType = new Option<string>("--model-dtype") { Description = "stored dtype of the generated model", DefaultValueFactory = _ => "bfloat16" };
        var work = new Option<string?>("--work") { Description = "folder for the generated model and outputs (default: a temporary folder, deleted afterwards)" };
        var command = new Command("prune",
            "Time the layer-by-layer pipeline on a generated model: method time ÷ calibration forward time, stages, and peak RssAnon vs one layer + activations + 1 GiB.")
        {
            size, model, nsamples, seqlen, methodNames, sparsity, device, dtype, modelDType, work,
        };
        command.SetAction(parse =>
        {
            var n = parse.GetValue(nsamples);
            var t = parse.GetValue(seqlen);
            if (n < 1 || t < 1) throw new BadInputException($"--nsamples and --seqlen must be at least 1, got {n} and {t}");
            var registry = methods ?? MethodRegistry.Default;
            var names = CommonOptions.ParseLanguages(parse.GetValue(methodNames)!);   // the same comma list parsing
            var registrations = names.Select(name => MethodRegistry.Find(registry, name, MethodKinds.Both)).ToList();
            if (registrations.FirstOrDefault(r => r.Create(new MethodOptions(new Sparsity(0.5m))) is not ICompressionMethod) is { } structured)
                throw new BadInputException($"bench prune times the layer-by-layer pipeline; '{structured.Name}' prunes the whole model at once (its prune.json records its times)");
            if (!decimal.TryParse(parse.GetValue(sparsity), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || s < 0 || s >= 1)
                throw new BadInputException($"--sparsity must be a fraction in [0, 1), got {parse.GetValue(sparsity)}");
            var existing = parse.GetValue(model);
            if (existing is not null && !Directory.Exists(existing)) throw new BadInputException($"{existing}: model folder not found");
            var shape = existing is null ? GeneratedModelShapes.Get(parse.GetValue(size)!) : null;

            TorchRuntime.EnsureLoaded();
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device)!);
            var type = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            var stored = CommonOptions.ParseDType(parse.GetValue(modelDType)!);
            var workDir = parse.GetValue(work) ?? Path.Combine(Path.GetTempPath(), $"repro-bench-prune-{Guid.NewGuid():N}");
            var ownsWork = parse.GetValue(work) is null;
            try
            {
                var modelDir = existing ?? Generate(shape!, Path.Combine(workDir, $"model-{shape!.Name}"), stored);
                Bench(modelDir, workDir, registrations, new MethodOptions(new Sparsity(s)), n, t, dev, type);
            }
            finally
            {
                if (ownsWork && Directory.Exists(workDir)) Directory.Delete(workDir, recursive: true);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    static string I(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>
    /// What a method keeps per layer between the calibration pass and its rule, as the design counts it: the float32
    /// Hessians (in_features² each) of an OBS method's sublayers, or one float64 running sum per input column otherwise.
    /// The OBS solve's transient n×n factors come on top; the 1 GiB of slack is for them and the runtime.
    /// </summary>
    static long StatisticsBytes(ModelConfig config, PruneReport report)
    {
        var obs = report.Layers[0].Sublayers.Any(x => x.Diagnostics.ContainsKey("blockUpdateSeconds"));
        return config.LayerTensors(0).Where(t => t.Name.EndsWith("_proj.weight", StringComparison.Ordinal))
                     .Sum(t => obs ? t.Shape[1] * t.Shape[1] * 4 : t.Shape[1] * 8);
    }

    static string Generate(GeneratedModelShapes.Shape shape, string dir, ScalarType stored)
    {
        if (File.Exists(Path.Combine(dir, HfCheckpoint.ConfigFileName))) return dir;
        var json = GeneratedModelShapes.LlamaConfig(shape);
        json["torch_dtype"] = stored == ScalarType.BFloat16 ? "bfloat16" : stored == ScalarType.Float16 ? "float16" : "float32";
        var config = ModelConfig.FromJson(json, Path.Combine(dir, "config.json"));
        AnsiConsole.Status().Start($"Generating the {shape.Name} model ({config.ParameterCount() / 1e6:F0}M parameters) in {Terminal.Text(dir)}", _ =>
        {
            using var source = new GeneratedTensorSource(config, seed: 0);
            HfCheckpointWriter.Write(dir, json, source, new CheckpointWriteOptions { DType = stored, MaxShardBytes = 2L << 30 });
            new ByteTokenizer().WriteHfFiles(dir, json["max_position_embeddings"]!.GetValue<int>());
        });
        return dir;
    }

    static void Bench(string modelDir, string workDir, IReadOnlyList<MethodRegistration> registrations, MethodOptions options,
                      int nsamples, int seqlen, Device device, ScalarType dtype)
    {
        ModelConfig config;
        long checkpointBytes;
        using (var checkpoint = HfCheckpoint.Open(modelDir))
        {
            config = ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
            checkpointBytes = checkpoint.WeightFiles.Sum(SafetensorsFile.FileLength);
        }
        var ids = new long[nsamples, seqlen];
        var rng = new Repro.Core.Corpora.SplitMix64(1);
        for (var i = 0; i < nsamples; i++)
            for (var j = 0; j < seqlen; j++) ids[i, j] = rng.NextBelow(Math.Min(config.VocabSize, 256));
        var calibration = new CalibrationTokens(ids, seed: 1, provenance: new { source = "bench prune: uniform random byte ids" });

        var forward = AnsiConsole.Status().Start("Calibration forward passes alone", _ => ForwardOnly(modelDir, config, ids, device, dtype));
        NativeHeap.Trim();

        var elementSize = SafetensorsDType.SizeOf(dtype);
        var layerBytes = config.LayerTensors(0).Sum(t => t.ElementCount) * elementSize;
        var activationBytes = 2L * nsamples * seqlen * config.HiddenSize * elementSize;
        const long GiB = 1L << 30;

        var table = new Table().AddColumns("measure", "value");
        table.AddRow("machine", Terminal.Text($"{Environment.ProcessorCount} logical cores, torch threads {torch.get_num_threads()}, device {device}, compute {dtype}"));
        table.AddRow("model", Terminal.Text($"{modelDir}: {config}, {config.ParameterCount() / 1e6:F0}M parameters, checkpoint {checkpointBytes / (double)GiB:F2} GiB"));
        table.AddRow("calibration", $"{nsamples} × {seqlen} tokens");
        table.AddRow("one dense forward pass", $"{forward.Forward:F1} s: every layer on the calibration set, layer by layer (+ {forward.Load:F1} s loading layers)");
        table.AddRow("design budget", $"one layer {layerBytes / (double)GiB:F3} GiB + activations {activationBytes / (double)GiB:F3} GiB + method statistics + 1 GiB");
        foreach (var registration in registrations)
        {
            var method = (ICompressionMethod)registration.Create(options);
            var output = Path.Combine(workDir, $"out-{registration.Name}");
            var job = new LayerwiseJob(modelDir, output, method, calibration) { Device = device, DType = dtype, Overwrite = true };
            NativeHeap.Trim();   // what the previous method freed is not this one's
            var baseline = RssAnon.Current();
            using var sampler = new RssAnon.Sampler();
            var clock = Stopwatch.StartNew();
            var report = PruneCommands.RunWithProgress(job);
            var total = clock.Elapsed.TotalSeconds;
            var peak = sampler.Stop();
            double Sum(Func<LayerTimings, double> stage) => report.Layers.Sum(l => stage(l.Seconds));
            double Diagnostic(string key) => report.Layers.SelectMany(l => l.Sublayers).Sum(x => x.Diagnostics.TryGetValue(key, out var v) ? v : 0);
            var statistics = StatisticsBytes(config, report);
            var budget = layerBytes + activationBytes + statistics + GiB;
            // The hooked passes minus the time inside the hooks, plus the recompute passes, are the forward work this
            // method's run needed, measured in the same run; that ratio does not move when other processes load the
            // machine between the baseline and the method.
            var ownForward = Sum(t => t.Calibration - t.Observe) + Sum(t => t.Recompute);
            table.AddRow($"[bold]{Terminal.Text(method.Name)}[/] total",
                I($"{total:F1} s = [bold]{total / forward.Forward:F2}×[/] one dense forward pass; ") +
                (ownForward > 0 ? I($"[bold]{total / ownForward:F2}×[/] the forward passes this run made ({ownForward:F1} s: hooked passes without the hooks + recompute)") : "no forward passes"));
            table.AddRow("  stages", string.Create(CultureInfo.InvariantCulture,
                $"load {Sum(t => t.Load):F1} s, calibration passes {Sum(t => t.Calibration):F1} s (of which in hooks {Sum(t => t.Observe):F1} s), " +
                $"apply {Sum(t => t.Apply):F1} s, recompute {Sum(t => t.Recompute):F1} s, write {Sum(t => t.Write):F1} s, other {total - report.Layers.Sum(l => l.Seconds.Total):F1} s"));
            // Matrix multiplies: the forward passes, and for OBS methods the Hessian products X·Xᵀ in the hooks and the
            // lazy block updates Err·U. Everything else (column loops, Cholesky factorisations, masks and grids, Wanda's
            // norms and sorts, loading and writing) is outside them.
            var blockUpdates = Diagnostic("blockUpdateSeconds");
            var obs = report.Layers.SelectMany(l => l.Sublayers).Any(x => x.Diagnostics.ContainsKey("blockUpdateSeconds"));
            var hessianProducts = obs ? Sum(t => t.Observe) : 0;
            var matmul = ownForward + hessianProducts + blockUpdates;
            var outside = total - matmul;
            var columnLoops = Diagnostic("columnLoopSeconds");
            var factorisations = Diagnostic("factorSeconds");
            table.AddRow("  outside matrix multiplies",
                I($"[bold]{outside:F1} s = {outside / total:P0}[/] of the total (matrix multiplies: forward {ownForward:F1} s") +
                (obs ? I($", Hessian X·Xᵀ {hessianProducts:F1} s, block updates {blockUpdates:F1} s") : "") + "); outside: " +
                (obs ? I($"column loops {columnLoops:F1} s, factorisations {factorisations:F1} s, ") : I($"statistics in hooks {Sum(t => t.Observe):F1} s, ")) +
                I($"rest of apply {Sum(t => t.Apply) - (obs ? columnLoops + factorisations + blockUpdates : 0):F1} s, load + write {Sum(t => t.Load) + Sum(t => t.Write):F1} s"));
            table.AddRow("  peak RssAnon", peak is { } p
                ? $"{p / (double)GiB:F2} GiB (at start {baseline.GetValueOrDefault() / (double)GiB:F2} GiB) vs budget {budget / (double)GiB:F2} GiB (statistics {statistics / (double)GiB:F3} GiB): " +
                  (p <= budget ? "[green]within[/]" : "[red]over[/]")
                : "not available (no /proc/self/status)");
            Directory.Delete(output, recursive: true);
        }
        AnsiConsole.Write(table);
    }

    /// <summary>The calibration forward passes with no method: embed, then every layer on every sample, layer by layer.</summary>
    static (double Forward, double Load) ForwardOnly(string modelDir, ModelConfig config, long[,] ids, Device device, ScalarType dtype)
    {
        using var checkpoint = HfCheckpoint.Open(modelDir);
        using var noGrad = no_grad();
        using var rope = new RotaryEmbedding(config);
        using var states = EmbeddingRows.Lookup(checkpoint, LayerwiseCompressor.EmbeddingName, ids, device, dtype).DetachFromDisposeScope();
        double forward = 0, load = 0;
        for (var l = 0; l < config.NumHiddenLayers; l++)
        {
            var clock = Stopwatch.StartNew();
            using var scope = NewDisposeScope();
            using var layer = DecoderLayer.Create(config, l, rope);
            layer.LoadWeights(checkpoint, device, dtype);
            load += clock.Elapsed.TotalSeconds;
            clock.Restart();
            for (var i = 0; i < ids.GetLength(0); i++)
            {
                using var sample = NewDisposeScope();
                var slot = states.narrow(0, i, 1);
                slot.copy_(layer.call(slot));
            }
            if (device.type == DeviceType.CUDA) cuda.synchronize(device);
            forward += clock.Elapsed.TotalSeconds;
        }
        return (forward, load);
    }

    /// <summary>
    /// Random weights made one tensor at a time when the writer asks for them, so generating a 1B checkpoint never holds
    /// more than one tensor (CausalLM.RandomWeights holds them all). N(0, 0.02²) projections and embeddings, norm weights 1.
    /// </summary>
    sealed class GeneratedTensorSource(ModelConfig config, long seed) : ITensorSource
    {
        readonly IReadOnlyList<TensorSpec> specs = config.ExpectedTensors();

        public IReadOnlyCollection<string> Names => specs.Select(s => s.Name).ToList();
        public bool Contains(string name) => specs.Any(s => s.Name == name);

        public TensorInfo Describe(string name)
        {
            var spec = Spec(name);
            return new TensorInfo(name, "F32", spec.Shape, "(generated)", 0, spec.ElementCount * 4);
        }

        public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
        {
            var spec = Spec(name);
            using var scope = NewDisposeScope();
            using var generator = new Generator(unchecked((ulong)seed * 1_000_003UL + (ulong)specs.ToList().IndexOf(spec)));
            var value = name.EndsWith("norm.weight", StringComparison.Ordinal)
                ? ones(spec.Shape)
                : randn(spec.Shape, generator: generator).mul_(0.02);
            return value.to(dtype ?? ScalarType.Float32, device ?? CPU).MoveToOuterDisposeScope();
        }

        TensorSpec Spec(string name) => specs.FirstOrDefault(s => s.Name == name) ?? throw new KeyNotFoundException(name);

        public void Dispose() { }
    }
}
