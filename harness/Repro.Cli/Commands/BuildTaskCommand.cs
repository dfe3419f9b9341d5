using Repro.Fixtures.Tasks;
using System.CommandLine;
using Repro.Core.Tasks;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary><c>repro fixtures build-task</c>: the word-order multiple-choice task, from the committed corpora's test split.</summary>
public static class BuildTaskCommand
{
    public static Command Create()
    {
        var corpora = new Option<string>("--corpora") { Description = "corpus folder to read ({lang}/test.jsonl.gz)", DefaultValueFactory = _ => "fixtures/corpora" };
        var output = new Option<string>("--out") { Description = "folder for the task files", DefaultValueFactory = _ => $"fixtures/tasks/{WordOrderTask.Name}" };
        var corruption = new Option<string>("--corruption")
        {
            Description = $"how distractors are made: {string.Join(", ", Enum.GetNames<WordOrderCorruption>().Select(Kebab))} (the committed task uses {Kebab(WordOrderTask.Committed.ToString())})",
            DefaultValueFactory = _ => Kebab(WordOrderTask.Committed.ToString()),
        };
        var command = new Command("build-task",
            "Build the word-order multiple-choice task (Belebele layout: which sentence continues the passage, the distractors being the true " +
            "sentence with its words out of order) from the test split of a corpus folder, with a manifest.")
        {
            corpora, output, corruption,
        };
        command.SetAction(parse =>
        {
            var name = parse.GetValue(corruption)!;
            var kind = Enum.GetValues<WordOrderCorruption>().Where(c => Kebab(c.ToString()) == name).Select(c => (WordOrderCorruption?)c).FirstOrDefault()
                ?? throw new BadInputException($"--corruption {name}: unknown; use one of {string.Join(", ", Enum.GetNames<WordOrderCorruption>().Select(Kebab))}");
            var corporaDir = parse.GetValue(corpora)!;
            if (!Directory.Exists(corporaDir)) throw new BadInputException($"{corporaDir}: no such corpus folder; pass --corpora fixtures/corpora");
            var written = WordOrderTask.WriteAll(corporaDir, parse.GetValue(output)!, kind);
            AnsiConsole.MarkupLine($"[grey]{Terminal.Text($"{WordOrderTask.Name} ({name}): {string.Join(", ", written.Select(w => $"{w.Dialect} {w.Items}"))} items in {parse.GetValue(output)}")}[/]");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>SwapOne → swap-one.</summary>
    static string Kebab(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : $"{c}"));
}
