using System.CommandLine;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using Repro.Core.Torch;
using Spectre.Console;

namespace Repro.Cli.Commands;

public static class FixturesCommands
{
    public static Command Create() => new("fixtures", "Build the small models and data that ship with Repro.")
    {
        Generate(),
        BuildCorporaCommand.Create(),
        BuildTaskCommand.Create(),
        TrainCommand.Create(),
        SnapshotCommand.Create(),
    };

    static Command Generate()
    {
        var size = new Option<string>("--params", "--size") { Description = $"model size: {string.Join(", ", GeneratedModelShapes.All.Select(s => s.Name))}", DefaultValueFactory = _ => "100K" };
        var seed = new Option<long>("--seed") { Description = "seed of the random weights", DefaultValueFactory = _ => 0 };
        var dtype = CommonOptions.DType("bfloat16");
        var shardMb = new Option<long>("--max-shard-mb") { Description = "split safetensors into shards of at most this many MiB (0: one file)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "output model folder", Required = true };
        var command = new Command("generate",
            "Write a random-weight Llama-family checkpoint (Hugging Face folder with a byte-level tokenizer) for tests and benchmarks.")
        {
            size, seed, dtype, shardMb, output,
        };
        command.SetAction(parse =>
        {
            TorchRuntime.EnsureLoaded();
            var shape = GeneratedModelShapes.Get(parse.GetValue(size)!);
            var dir = parse.GetValue(output)!;
            var configJson = GeneratedModelShapes.LlamaConfig(shape);
            var config = ModelConfig.FromJson(configJson, Path.Combine(dir, "config.json"));
            AnsiConsole.MarkupLine($"Generating [bold]{shape.Name}[/] Llama-family model ({config.ParameterCount() / 1e6:F1}M parameters) in {Terminal.Text(dir)}");
            var weights = CausalLM.RandomWeights(config, parse.GetValue(seed), TorchSharp.torch.float32);
            try
            {
                HfCheckpointWriter.Write(dir, configJson, weights, new CheckpointWriteOptions
                {
                    DType = CommonOptions.ParseDType(parse.GetValue(dtype)!),
                    MaxShardBytes = parse.GetValue(shardMb) * 1024 * 1024,
                });
            }
            finally
            {
                foreach (var t in weights.Values) t.Dispose();
            }
            new ByteTokenizer().WriteHfFiles(dir, configJson["max_position_embeddings"]!.GetValue<int>());
            AnsiConsole.MarkupLine("[green]done[/]");
            return ExitCodes.Ok;
        });
        return command;
    }
}
