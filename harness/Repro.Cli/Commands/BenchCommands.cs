using System.CommandLine;
using System.Diagnostics;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Torch;
using Spectre.Console;
using TorchSharp;

namespace Repro.Cli.Commands;

/// <summary>
/// Benchmarks print figures as ratios measured in one process, so they compare across machines
/// and never gate the tests.
/// </summary>
public static class BenchCommands
{
    public static Command Create() => new("bench", "Benchmarks that report speed and memory as ratios measured in one run.")
    {
        Forward(),
        BenchPruneCommand.Create(),
        BenchMcCommand.Create(),
        BenchEvalCommand.Create(),
    };

    static Command Forward()
    {
        var size = new Option<string>("--params", "--size") { Description = $"generated model size: {string.Join(", ", GeneratedModelShapes.All.Select(s => s.Name))}", DefaultValueFactory = _ => "100M" };
        var seqlen = new Option<int>("--seqlen") { Description = "tokens per window", DefaultValueFactory = _ => 512 };
        var repeats = new Option<int>("--repeats") { Description = "timed forward passes", DefaultValueFactory = _ => 5 };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType("float32");
        var command = new Command("forward",
            "Matrix-multiply probe of attainable FLOP/s, then the forward pass of a generated model; prints the forward pass's FLOP/s as a ratio of the probe.")
        {
            size, seqlen, repeats, device, dtype,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(seqlen) < 1) throw new BadInputException($"--seqlen must be at least 1, got {parse.GetValue(seqlen)}");
            TorchRuntime.EnsureLoaded();
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device)!);
            var type = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            var result = ForwardBenchmark.Run(GeneratedModelShapes.Get(parse.GetValue(size)!), parse.GetValue(seqlen),
                                              Math.Max(1, parse.GetValue(repeats)), dev, type);
            var table = new Table().AddColumns("measure", "value");
            table.AddRow("machine", Terminal.Text($"{Environment.ProcessorCount} logical cores, torch threads {torch.get_num_threads()}, device {dev}"));
            table.AddRow("model", Terminal.Text($"{result.Model} ({result.Parameters / 1e6:F1}M parameters, {type})"));
            table.AddRow("matmul probe", $"{result.ProbeFlops / 1e9:F1} GFLOP/s");
            table.AddRow("forward pass", $"{result.ForwardFlops / 1e9:F1} GFLOP/s ({result.TokensPerSecond:F0} tokens/s, {result.SecondsPerWindow * 1e3:F0} ms per {result.Seqlen}-token window)");
            table.AddRow("[bold]forward / probe[/]", $"[bold]{result.Ratio:F2}[/]");
            AnsiConsole.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }
}

public sealed record ForwardBenchmarkResult(string Model, long Parameters, int Seqlen, double ProbeFlops, double ForwardFlops,
                                            double SecondsPerWindow, double TokensPerSecond)
{
    public double Ratio => ForwardFlops / ProbeFlops;
}

public static class ForwardBenchmark
{
    /// <summary>
    /// FLOPs of one forward pass as the usual accounting counts them: 2 per multiply-add of every
    /// linear layer (lm_head included, embedding lookup excluded), plus the causal attention
    /// products QKᵀ and AV over the lower triangle only (the work a causal kernel must do).
    /// Norms, RoPE and softmax are left out, which makes the ratio conservative.
    /// </summary>
    public static double ForwardFlops(GeneratedModelShapes.Shape s, int tokens)
    {
        long headDim = s.Hidden / s.Heads;
        long attnLinear = (long)s.Hidden * s.Heads * headDim * 2 + (long)s.Hidden * s.KvHeads * headDim * 2;
        long mlp = 3L * s.Hidden * s.Intermediate;
        double linear = 2.0 * tokens * ((attnLinear + mlp) * s.Layers + (long)s.Hidden * s.Vocab);
        double attention = s.Layers * 2.0 * (2.0 * tokens * (tokens + 1) / 2 * s.Heads * headDim);
        return linear + attention;
    }

    public static ForwardBenchmarkResult Run(GeneratedModelShapes.Shape shape, int seqlen, int repeats, torch.Device device, torch.ScalarType dtype)
    {
        using var noGrad = torch.no_grad();
        var probe = MatmulProbe(device, dtype);

        var config = ModelConfig.FromJson(GeneratedModelShapes.LlamaConfig(shape), $"generated {shape.Name}");
        using var source = new InMemoryTensorSource(CausalLM.RandomWeights(config, seed: 0, dtype));
        using var model = CausalLM.Load(config, source, device, dtype);
        var gen = new torch.Generator(1);
        using var ids = torch.randint(0, shape.Vocab, [1, seqlen], dtype: torch.int64, generator: gen).to(device);

        for (var i = 0; i < 2; i++) { using var scope = torch.NewDisposeScope(); model.Logits(ids); Sync(device); }
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < repeats; i++) { using var scope = torch.NewDisposeScope(); model.Logits(ids); Sync(device); }
        var seconds = clock.Elapsed.TotalSeconds / repeats;
        return new ForwardBenchmarkResult(shape.Name, config.ParameterCount(), seqlen, probe,
                                          ForwardFlops(shape, seqlen) / seconds, seconds, seqlen / seconds);
    }

    /// <summary>Best FLOP/s of square matrix products in the model's dtype: what this machine can attain.</summary>
    static double MatmulProbe(torch.Device device, torch.ScalarType dtype)
    {
        var best = 0.0;
        foreach (var n in new[] { 1024, 2048 })
        {
            using var scope = torch.NewDisposeScope();
            var gen = new torch.Generator(2);
            var a = torch.randn([n, n], generator: gen).to(dtype).to(device);
            var b = torch.randn([n, n], generator: gen).to(dtype).to(device);
            for (var i = 0; i < 2; i++) torch.mm(a, b).Dispose();
            Sync(device);
            var repeats = n == 1024 ? 20 : 6;
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < repeats; i++) torch.mm(a, b).Dispose();
            Sync(device);
            best = Math.Max(best, 2.0 * n * n * n * repeats / clock.Elapsed.TotalSeconds);
        }
        return best;
    }

    static void Sync(torch.Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }
}
