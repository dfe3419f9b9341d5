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
        var overwrite = new Option<bool>("--overwrite") { Description = "replace an existing generated model folder (only one holding nothing but a generated model's files)" };
        var command = new Command("generate",
            "Write a random-weight Llama-family checkpoint (Hugging Face folder with a byte-level tokenizer) for tests and benchmarks.")
        {
            size, seed, dtype, shardMb, output, overwrite,
        };
        command.SetAction(parse =>
        {
            TorchRuntime.EnsureLoaded();
            var shape = GeneratedModelShapes.Get(parse.GetValue(size)!);
            if (parse.GetValue(shardMb) < 0) throw new BadInputException($"--max-shard-mb must be 0 (one file) or positive, got {parse.GetValue(shardMb)}");
            var dir = parse.GetValue(output)!;
            CheckGenerateTarget(dir, parse.GetValue(overwrite));
            var configJson = GeneratedModelShapes.LlamaConfig(shape);
            var config = ModelConfig.FromJson(configJson, Path.Combine(dir, "config.json"));
            AnsiConsole.MarkupLine($"Generating [bold]{Terminal.Text(shape.Name)}[/] Llama-family model ({config.ParameterCount() / 1e6:F1}M parameters) in {Terminal.Text(dir)}");
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

    /// <summary>The files a generated model folder holds; --overwrite replaces a folder only if it holds nothing else.</summary>
    static bool IsGeneratedModelFile(string name) =>
        name is "config.json" or "model.safetensors.index.json" or "tokenizer.json" or "tokenizer_config.json" or "special_tokens_map.json"
        || (name.StartsWith("model", StringComparison.Ordinal) && name.EndsWith(".safetensors", StringComparison.Ordinal));

    static void CheckGenerateTarget(string dir, bool overwrite)
    {
        if (File.Exists(dir)) throw new BadInputException($"--out {dir}: is a file; the output must be a folder");
        if (!Directory.Exists(dir) || !Directory.EnumerateFileSystemEntries(dir).Any()) return;
        if (!overwrite) throw new BadInputException($"--out {dir}: already exists and is not empty; pass --overwrite to replace a generated model there, or choose another folder");
        var foreign = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Where(n => Directory.Exists(Path.Combine(dir, n!)) || !IsGeneratedModelFile(n!))
            .Order(StringComparer.Ordinal).Take(4).ToList();
        if (foreign.Count > 0)
            throw new BadInputException($"--out {dir}: holds {string.Join(", ", foreign)}, which a generated model does not; --overwrite replaces only a generated model's files: choose another folder");
        foreach (var file in Directory.EnumerateFiles(dir)) File.Delete(file);
    }
}
