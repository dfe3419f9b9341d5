using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Repro.Core.Runs;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary><c>repro runs list | hash</c>: what a result store holds, and the hash that names a spec's file.</summary>
public static class RunsCommands
{
    public static Command Create() => new("runs", "Result stores: list finished runs; print the hash and file name of a run spec.")
    {
        List(), Hash(), Merge(),
    };

    static Command Merge()
    {
        var into = new Option<string>("--into") { Description = "the store to merge into (created if missing)", Required = true };
        var shards = new Argument<string[]>("shards") { Description = "shard stores (folders written by `repro claims run --shard i/n`)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("merge", "Merge shard stores into one by copying their result files; a spec present twice must carry the same measurements. Then run `repro claims verdict` on the merged store.") { into, shards };
        command.SetAction(parse =>
        {
            var target = new ResultStore(parse.GetValue(into)!);
            var summary = Repro.Methods.Claims.StoreMerge.Merge(parse.GetValue(shards)!, target);
            AnsiConsole.MarkupLine($"Merged {parse.GetValue(shards)!.Length} stores into [bold]{Terminal.Text(target.Root)}[/]: {summary.Copied} result files copied, " +
                                   $"{summary.Identical} already there with the same measurements.");
            return ExitCodes.Ok;
        });
        return command;
    }

    static Command List()
    {
        var store = new Option<string>("--store") { Description = "result store folder", Required = true };
        var command = new Command("list", "One line per finished run of a store: file, model, method, calibration, seed, measurements, seconds.") { store };
        command.SetAction(parse =>
        {
            var root = parse.GetValue(store)!;
            if (!Directory.Exists(root)) throw new BadInputException($"{root}: result store not found");
            var results = new ResultStore(root).All();
            var table = new Table().AddColumns("file", "model", "method", "calibration", "seed", "measurements", "seconds");
            foreach (var r in results)
                table.AddRow(Terminal.Text(r.Spec.FileStem + ".json"), Terminal.Text(r.Spec.Model.Name), Terminal.Text(r.Spec.Method.Label),
                             Terminal.Text(r.Spec.Calibration is { } c ? string.Join('+', c.Languages) : "–"),
                             r.Spec.Calibration?.Seed.ToString(CultureInfo.InvariantCulture) ?? "–", r.Measurements.Count.ToString(CultureInfo.InvariantCulture),
                             r.Seconds.ToString("F1", CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"{results.Count} runs in {Terminal.Text(Path.GetFullPath(root))}");
            return ExitCodes.Ok;
        });
        return command;
    }

    static Command Hash()
    {
        var file = new Argument<string>("spec") { Description = "a JSON file holding a run spec (or a result file, whose spec is read)" };
        var command = new Command("hash", "Print the SHA-256 of a run spec's canonical form and the result file name it gives.") { file };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path)) throw new BadInputException($"{path}: file not found");
            RunSpec? spec;
            try
            {
                var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path));
                spec = (json?["spec"] ?? json).Deserialize<RunSpec>(ResultFiles.Options);
            }
            catch (JsonException e)
            {
                throw new BadInputException($"{path}: not a run spec ({e.Message})");
            }
            if (spec is null) throw new BadInputException($"{path}: not a run spec");
            Console.WriteLine(spec.Hash);
            Console.WriteLine(spec.FileStem + ".json");
            return ExitCodes.Ok;
        });
        return command;
    }
}
