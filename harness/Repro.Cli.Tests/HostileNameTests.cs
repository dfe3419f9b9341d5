using System.CommandLine;
using System.Text.Json.Nodes;
using Repro.Core;

namespace Repro.Cli.Tests;

/// <summary>
/// Names that come from data (model folders, corpus language folders) and reach the terminal through real commands:
/// an escape sequence in one is shown as a visible <c>\u001b</c> escape, never sent as ESC, and Spectre markup brackets
/// in one print as themselves instead of breaking the renderer.
/// </summary>
public sealed class HostileNameTests
{
    const char Esc = '\u001b';
    static readonly string Tiny = Path.Combine(RepoPaths.Fixtures, "models", "tiny");

    /// <summary>A language folder named like markup, one holding an ANSI colour sequence, and an OSC 8 hyperlink opener for a model folder.</summary>
    const string MarkupLanguage = "de[x]";
    const string AnsiLanguage = "\u001b[31mzz";
    const string HyperlinkModel = "tiny\u001b]8;;x\u0007[red]m";

    static string CopyTiny(TempFolder temp, string name)
    {
        var model = Directory.CreateDirectory(temp.Sub(name)).FullName;
        foreach (var file in Directory.GetFiles(Tiny)) File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        return model;
    }

    static void AssertInert(Cli.Outcome outcome)
    {
        Assert.That(outcome.Out.Contains(Esc), Is.False, "an ESC byte reached standard output:\n" + Terminal.Inert(outcome.Out));
        Assert.That(outcome.Error.Contains(Esc), Is.False, "an ESC byte reached standard error:\n" + Terminal.Inert(outcome.Error));
        Assert.That(outcome.Out + outcome.Error, Does.Not.Contain('\u0007'), "a BEL byte reached the terminal");
    }

    /// <summary>
    /// The first column of every row of the table in <paramref name="output"/>, its wrapped pieces joined: Spectre wraps a
    /// long cell onto continuation lines whose second column is blank.
    /// </summary>
    static List<string> FirstColumn(string output)
    {
        var cells = new List<string>();
        foreach (var line in output.ReplaceLineEndings("\n").Split('\n').Where(l => l.StartsWith('│')))
        {
            var parts = line.Split('│');
            if (parts.Length < 4) continue;
            if (parts[2].Trim().Length == 0 && cells.Count > 0) cells[^1] += parts[1].Trim();
            else cells.Add(parts[1].Trim());
        }
        return cells;
    }

    [Test]
    public void Eval_ppl_shows_hostile_model_and_language_names_inert_and_recognisable()
    {
        using var temp = new TempFolder();
        var model = CopyTiny(temp, HyperlinkModel);
        var data = Directory.CreateDirectory(temp.Sub("data")).FullName;
        foreach (var language in new[] { MarkupLanguage, AnsiLanguage })
            File.Copy(Path.Combine(RepoPaths.Fixtures, "samples", "de.jsonl"), Path.Combine(data, language + ".jsonl"));
        var results = temp.Sub("ppl.json");

        var outcome = Cli.Run("eval", "ppl", "--model", model, "--data", data, "--langs", $"{MarkupLanguage},{AnsiLanguage}",
                              "--seqlen", "64", "--out", results);

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.Ok), Terminal.Inert(outcome.Error));
        AssertInert(outcome);
        Assert.That(FirstColumn(outcome.Out), Is.EqualTo(new[] { "lang", MarkupLanguage, Terminal.Inert(AnsiLanguage)}));
        var json = JsonNode.Parse(File.ReadAllText(results))!;
        Assert.That((string)json["evaluated"]!["folder"]!, Is.EqualTo(HyperlinkModel), "the file keeps the name as it is");
    }

    [Test]
    public void Eval_ppl_names_a_missing_hostile_language_on_one_inert_line()
    {
        using var temp = new TempFolder();
        var model = CopyTiny(temp, HyperlinkModel);

        var outcome = Cli.Run("eval", "ppl", "--model", model, "--data", Path.Combine(RepoPaths.Fixtures, "samples"),
                              "--langs", AnsiLanguage, "--seqlen", "64", "--out", temp.Sub("ppl.json"));

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput), Terminal.Inert(outcome.Out + outcome.Error));
        AssertInert(outcome);
        Assert.That(outcome.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(outcome.Error, Does.Contain(Terminal.Inert(AnsiLanguage)));
    }

    [Test]
    public void Eval_ppl_names_a_hostile_model_folder_without_config_on_one_inert_line()
    {
        using var temp = new TempFolder();
        var model = CopyTiny(temp, HyperlinkModel);
        File.Delete(Path.Combine(model, "config.json"));

        var outcome = Cli.Run("eval", "ppl", "--model", model, "--data", Path.Combine(RepoPaths.Fixtures, "samples"),
                              "--langs", "de", "--seqlen", "64", "--out", temp.Sub("ppl.json"));

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput), Terminal.Inert(outcome.Out + outcome.Error));
        AssertInert(outcome);
        Assert.That(outcome.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(outcome.Error, Does.Contain(Terminal.Inert(HyperlinkModel)), "markup in the name prints as itself");
    }

    /// <summary><c>fixtures snapshot</c> prints the quality table; its languages come from the training record and the corpus folders.</summary>
    [Test]
    public void Fixtures_snapshot_renders_hostile_language_names_in_its_quality_table()
    {
        using var temp = new TempFolder();
        var model = CopyTiny(temp, "tiny");
        var data = Directory.CreateDirectory(temp.Sub("data")).FullName;
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "training.json")))!.AsObject();
        var evaluation = record["evaluation"]!.AsObject();
        var template = evaluation["languages"]!.AsArray().Single(l => (string)l!["language"]! == "de")!;
        var languages = new JsonArray();
        foreach (var language in new[] { MarkupLanguage, AnsiLanguage })
        {
            var folder = Directory.CreateDirectory(Path.Combine(data, language)).FullName;
            File.Copy(Path.Combine(RepoPaths.Fixtures, "corpora", "de", "validation.jsonl.gz"), Path.Combine(folder, "validation.jsonl.gz"));
            var entry = template.DeepClone().AsObject();
            entry["language"] = language;
            languages.Add(entry);
        }
        evaluation["languages"] = languages;
        evaluation["windowsPerLanguage"] = 2;   // the table's rows, not the figures, are under test
        File.WriteAllText(Path.Combine(model, "training.json"), record.ToJsonString());

        var outcome = Cli.Run("fixtures", "snapshot", "--model", model, "--data", data, "--out", temp.Sub("snapshot.json"));

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.Ok), Terminal.Inert(outcome.Out + outcome.Error));
        AssertInert(outcome);
        Assert.That(FirstColumn(outcome.Out), Is.EqualTo(new[] { "lang", MarkupLanguage, Terminal.Inert(AnsiLanguage) }));
    }

    static RootCommand Failing(Exception error)
    {
        var fail = new Command("fail");
        fail.SetAction(_ => Throw(error));
        return new RootCommand("test") { fail };
    }

    static int Throw(Exception error) => throw error;

    [Test]
    public void An_input_error_carrying_escapes_and_markup_is_printed_inert_and_literal()
    {
        var outcome = Cli.RunWith(Failing(new InputException($"token '{HyperlinkModel}' is not in the vocabulary")), "fail");

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        AssertInert(outcome);
        Assert.That(outcome.Error.TrimEnd(), Is.EqualTo($"error: token '{Terminal.Inert(HyperlinkModel)}' is not in the vocabulary"));
    }

    [Test]
    public void A_failure_carrying_escapes_and_markup_keeps_its_stack_trace_and_prints_inert()
    {
        var outcome = Cli.RunWith(Failing(new InvalidOperationException($"tensor '{HyperlinkModel}' broke")), "fail");

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.Failure));
        AssertInert(outcome);
        Assert.That(outcome.Error, Does.Contain("InvalidOperationException").And.Contain("[red]m"));
    }
}
