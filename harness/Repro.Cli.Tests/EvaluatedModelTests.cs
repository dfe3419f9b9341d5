using Repro.Cli.Commands;
using Repro.Core;

namespace Repro.Cli.Tests;

/// <summary>
/// The evaluated model's prune.json is read when an eval command starts: a field of the wrong type, or a string that is
/// an escaped lone surrogate, is bad input naming the file and the field, never an InvalidOperationException.
/// </summary>
public sealed class EvaluatedModelTests
{
    const string Lone = "\\udc00";

    static string Folder(TempFolder temp, string pruneJson)
    {
        var dir = Directory.CreateDirectory(temp.Sub("pruned")).FullName;
        File.WriteAllText(Path.Combine(dir, "prune.json"), pruneJson);
        return dir;
    }

    static readonly object[] Refused =
    [
        new object[] { "{\"method\": 3}", "field 'method' must be a string, not number" },
        new object[] { "{\"method\": [\"wanda\"]}", "field 'method' must be a string, not array" },
        new object[] { "{\"method\": \"wanda\", \"calibration\": {\"provenance\": {\"spec\": {\"languages\": \"de\"}}}}",
                       "field 'calibration.provenance.spec.languages' must be an array of language codes, not string" },
        new object[] { "{\"method\": \"wanda\", \"calibration\": {\"provenance\": {\"spec\": {\"languages\": [\"de\", 7]}}}}",
                       "field 'calibration.provenance.spec.languages[1]' must be a string, not number" },
        new object[] { "{\"method\": \"wanda\", \"calibration\": {\"provenance\": {\"spec\": {\"languages\": [null]}}}}",
                       "field 'calibration.provenance.spec.languages[0]' must be a string, not null" },
        new object[] { "{\"method\": \"w" + Lone + "\"}", "the string at $.method is not valid Unicode text" },
        new object[] { "{\"method\": \"wanda\", \"calibration\": {\"provenance\": {\"spec\": {\"languages\": [\"d" + Lone + "\"]}}}}",
                       "the string at $.calibration.provenance.spec.languages[0] is not valid Unicode text" },
    ];

    [TestCaseSource(nameof(Refused))]
    public void A_prune_json_field_that_cannot_be_read_is_bad_input_naming_the_file_and_field(string json, string expected)
    {
        using var temp = new TempFolder();
        var dir = Folder(temp, json);

        var e = Assert.Throws<BadInputException>(() => EvaluatedModel.Describe(dir))!;

        Assert.That(e.Message, Does.StartWith(Path.Combine(dir, "prune.json") + ": ").And.Contain(expected));
    }

    [Test]
    public void A_well_formed_prune_json_still_names_method_and_calibration()
    {
        using var temp = new TempFolder();
        var dir = Folder(temp, "{\"method\": \"wanda\", \"seed\": 3, \"calibration\": {\"provenance\": {\"spec\": {\"languages\": [\"de\", \"zh\"]}}}}");

        var described = EvaluatedModel.Describe(dir);

        Assert.That(((string?)described["method"], (string?)described["calibration"], (int?)described["seed"]), Is.EqualTo(("wanda", "de+zh", 3)));
    }

    [Test]
    public void Eval_ppl_refuses_a_wrong_typed_prune_json_with_exit_2_on_one_line()
    {
        using var temp = new TempFolder();
        var model = Directory.CreateDirectory(temp.Sub("tiny")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(RepoPaths.Fixtures, "models", "tiny")))
            File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(model, "prune.json"), "{\"method\": {\"name\": \"wanda\"}}");

        var outcome = Cli.Run("eval", "ppl", "--model", model, "--data", Path.Combine(RepoPaths.Fixtures, "samples"), "--langs", "de",
                              "--seqlen", "64", "--out", temp.Sub("ppl.json"));

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput), outcome.Error);
        Assert.That(outcome.Error.TrimEnd().Split('\n'), Is.EqualTo(new[]
        {
            $"error: {Path.Combine(model, "prune.json")}: field 'method' must be a string, not object; " +
            "it was not written by `repro prune` or was edited: write it again",
        }));
        Assert.That(File.Exists(temp.Sub("ppl.json")), Is.False);
    }
}
