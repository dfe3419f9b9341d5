using System.Text.Json.Nodes;

namespace Repro.Cli.Tests;

public sealed class EvalMatrixCommandTests
{
    /// <summary>A result file as an eval command writes it: its command, the model it evaluated, one object per language.</summary>
    static string EvalFile(TempFolder temp, string name, string command, string modelField, string modelDir, IEnumerable<JsonObject> results)
    {
        var file = temp.Sub(name);
        var json = new JsonObject
        {
            ["command"] = command, [modelField] = modelDir, ["evaluated"] = Commands.EvaluatedModel.Describe(modelDir), ["results"] = new JsonArray([.. results]),
        };
        File.WriteAllText(file, json.ToJsonString());
        return file;
    }

    static string ResultFile(TempFolder temp, string name, string modelDir, params (string Lang, double Ppl)[] cells) =>
        EvalFile(temp, name, "eval ppl", "model", modelDir,
                 cells.Select(c => new JsonObject { ["language"] = c.Lang, ["perplexity"] = c.Ppl, ["bitsPerByte"] = Math.Log2(c.Ppl) / 2 }));

    static string HiddenFile(TempFolder temp, string name, string prunedDir, params (string Lang, double Snr, double Pe)[] cells) =>
        EvalFile(temp, name, "eval hidden", "pruned", prunedDir,
                 cells.Select(c => new JsonObject { ["language"] = c.Lang, ["meanSnrDb"] = c.Snr, ["meanPruningError"] = c.Pe }));

    static string AccuracyFile(TempFolder temp, string name, string modelDir, params (string Lang, double Acc)[] cells) =>
        EvalFile(temp, name, "eval mc", "model", modelDir,
                 cells.Select(c => new JsonObject { ["language"] = c.Lang, ["result"] = new JsonObject { ["accuracy"] = c.Acc } }));

    static string PrunedModel(TempFolder temp, string name, params string[] calibrationLanguages)
    {
        var dir = Directory.CreateDirectory(temp.Sub(name)).FullName;
        var prune = new JsonObject
        {
            ["method"] = "wanda",
            ["calibration"] = new JsonObject { ["provenance"] = new JsonObject { ["spec"] = new JsonObject
            {
                ["languages"] = new JsonArray(calibrationLanguages.Select(l => (JsonNode)JsonValue.Create(l)!).ToArray()),
            } } },
        };
        File.WriteAllText(Path.Combine(dir, "prune.json"), prune.ToJsonString());
        return dir;
    }

    [Test]
    public void Rows_are_named_by_the_calibration_languages_in_prune_json_and_dense_without_one()
    {
        using var temp = new TempFolder();
        var dense = ResultFile(temp, "dense.json", Directory.CreateDirectory(temp.Sub("dense")).FullName, ("de", 5.0), ("zh", 7.0));
        var de = ResultFile(temp, "de.json", PrunedModel(temp, "pruned-de", "de"), ("de", 5.5), ("zh", 8.5));
        var mix = ResultFile(temp, "mix.json", PrunedModel(temp, "pruned-mix", "de", "zh"), ("de", 5.8), ("zh", 8.0));
        var output = temp.Sub("matrix.json");

        var outcome = Cli.Run("eval", "matrix", dense, de, mix, "--out", output);

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        var rows = JsonNode.Parse(File.ReadAllText(output))!["rows"]!.AsArray();
        Assert.That(rows.Select(r => (string)r!["calibration"]!), Is.EqualTo(new[] { "dense", "de", "de+zh" }));
        Assert.That((double)rows[2]!["perplexity"]!["zh"]!, Is.EqualTo(8.0));
    }

    [Test]
    public void Hidden_state_files_join_the_rows_of_their_models_with_snr_and_pruning_error()
    {
        using var temp = new TempFolder();
        var (de, zh) = (PrunedModel(temp, "pruned-de", "de"), PrunedModel(temp, "pruned-zh", "zh"));
        string[] files =
        [
            ResultFile(temp, "de.json", de, ("de", 5.5), ("zh", 8.5)),
            ResultFile(temp, "zh.json", zh, ("de", 6.0), ("zh", 8.0)),
            HiddenFile(temp, "hidden-de.json", de, ("de", 14.0, 70.0), ("zh", 11.0, 150.0)),
            HiddenFile(temp, "hidden-zh.json", zh + Path.DirectorySeparatorChar, ("de", 13.0, 80.0), ("zh", 12.5, 120.0)),
        ];
        var output = temp.Sub("matrix.json");

        var outcome = Cli.Run(["eval", "matrix", .. files, "--out", output]);

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        Assert.That(outcome.Out, Does.Contain("perplexity:").And.Contain("SNR (dB):").And.Contain("pruning error:"));
        var rows = JsonNode.Parse(File.ReadAllText(output))!["rows"]!.AsArray();
        Assert.That(rows.Select(r => (string)r!["calibration"]!), Is.EqualTo(new[] { "de", "zh" }), "one row per model, whatever its path's spelling");
        Assert.That(((double)rows[0]!["perplexity"]!["de"]!, (double)rows[0]!["snrDb"]!["de"]!, (double)rows[1]!["pruningError"]!["zh"]!),
                    Is.EqualTo((5.5, 14.0, 120.0)));
    }

    [Test]
    public void Rows_are_labelled_from_the_result_files_own_record_not_from_the_model_folder_at_matrix_time()
    {
        using var temp = new TempFolder();
        var de = PrunedModel(temp, "pruned", "de");
        var file = ResultFile(temp, "de.json", de, ("de", 5.5));
        File.Delete(Path.Combine(de, "prune.json"));   // the folder is intermediate: gone, or reused by another run

        var outcome = Cli.Run("eval", "matrix", file, "--out", temp.Sub("m.json"));

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        Assert.That((string)JsonNode.Parse(File.ReadAllText(temp.Sub("m.json")))!["rows"]![0]!["calibration"]!, Is.EqualTo("de"));
    }

    [Test]
    public void Rows_measured_with_different_windows_or_texts_are_refused_naming_the_field()
    {
        using var temp = new TempFolder();
        var (de, zh) = (PrunedModel(temp, "pruned-de", "de"), PrunedModel(temp, "pruned-zh", "zh"));
        JsonObject Cell(string lang, double ppl, int windows, string text) =>
            new() { ["language"] = lang, ["perplexity"] = ppl, ["bitsPerByte"] = 1.0, ["seqlen"] = 128, ["windows"] = windows, ["textSha256"] = text };
        var a = EvalFile(temp, "a.json", "eval ppl", "model", de, [Cell("de", 5.5, 16, "t1")]);
        var fewer = EvalFile(temp, "b.json", "eval ppl", "model", zh, [Cell("de", 6.0, 8, "t1")]);
        var other = EvalFile(temp, "c.json", "eval ppl", "model", zh, [Cell("de", 6.0, 16, "t2")]);

        var windows = Cli.Run("eval", "matrix", a, fewer);
        var text = Cli.Run("eval", "matrix", a, other);

        Assert.That(windows.ExitCode, Is.EqualTo(2));
        Assert.That(windows.Error, Does.Contain("b.json").And.Contain("windows 8").And.Contain("a.json"));
        Assert.That(text.ExitCode, Is.EqualTo(2));
        Assert.That(text.Error, Does.Contain("textSha256"));
    }

    [Test]
    public void Multiple_choice_files_add_an_accuracy_table_in_percent()
    {
        using var temp = new TempFolder();
        var (de, zh) = (PrunedModel(temp, "pruned-de", "de"), PrunedModel(temp, "pruned-zh", "zh"));
        var output = temp.Sub("matrix.json");

        var outcome = Cli.Run("eval", "matrix", AccuracyFile(temp, "de.json", de, ("de", 0.5), ("zh", 0.25)),
                              AccuracyFile(temp, "zh.json", zh, ("de", 0.4), ("zh", 0.375)), "--out", output);

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        Assert.That(outcome.Out, Does.Contain("accuracy (%):").And.Not.Contain("perplexity:"));
        var rows = JsonNode.Parse(File.ReadAllText(output))!["rows"]!.AsArray();
        Assert.That(((double)rows[0]!["accuracy"]!["de"]!, (double)rows[1]!["accuracy"]!["zh"]!), Is.EqualTo((50.0, 37.5)));
    }

    [Test]
    public void Two_files_with_the_same_metric_for_one_model_and_language_are_bad_input()
    {
        using var temp = new TempFolder();
        var de = PrunedModel(temp, "pruned-de", "de");
        var outcome = Cli.Run("eval", "matrix", ResultFile(temp, "a.json", de, ("de", 5.5)), ResultFile(temp, "b.json", de, ("de", 5.6)));
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("'de'"));
    }

    [Test]
    public void A_file_not_written_by_an_eval_command_is_bad_input()
    {
        using var temp = new TempFolder();
        var file = temp.Sub("other.json");
        File.WriteAllText(file, "{\"command\": \"bench prune\", \"results\": []}");
        var outcome = Cli.Run("eval", "matrix", file);
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain(file).And.Contain("eval ppl"));
    }

    [Test]
    public void A_missing_result_file_is_bad_input()
    {
        using var temp = new TempFolder();
        var outcome = Cli.Run("eval", "matrix", temp.Sub("missing.json"));
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("missing.json"));
    }

    /// <summary>The method and calibration labels come from data (a prune.json, a result file); markup in them prints as itself.</summary>
    [Test]
    public void Markup_in_a_result_files_labels_and_languages_is_printed_literally()
    {
        using var temp = new TempFolder();
        var dir = Directory.CreateDirectory(temp.Sub("pruned")).FullName;
        var file = ResultFile(temp, "r.json", dir, ("de[x]", 5.5));
        var json = JsonNode.Parse(File.ReadAllText(file))!;
        json["evaluated"]!["method"] = "[red]x[/]";
        json["evaluated"]!["calibration"] = "[bold]";
        File.WriteAllText(file, json.ToJsonString());

        var outcome = Cli.Run("eval", "matrix", file);

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        Assert.That(outcome.Out, Does.Contain("[red]x[/]").And.Contain("[bold]").And.Contain("de[x]"));
    }
}
