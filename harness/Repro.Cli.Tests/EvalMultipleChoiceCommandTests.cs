using System.Text.Json.Nodes;
using Repro.Core;

namespace Repro.Cli.Tests;

public sealed class EvalMultipleChoiceCommandTests
{
    static readonly string Tiny = Path.Combine(RepoPaths.Fixtures, "models", "tiny");
    static readonly string Tasks = Path.Combine(RepoPaths.Fixtures, "tasks", "belebele-style");

    [TestCase("cloze", "0")]
    [TestCase("letters", "1")]
    public void The_fixture_task_is_scored_per_language_and_every_item_is_in_the_results_file(string format, string shots)
    {
        using var temp = new TempFolder();
        var results = temp.Sub("mc.json");
        var outcome = Cli.Run("eval", "mc", "--model", Tiny, "--tasks", Tasks, "--langs", "de,swh_Latn", "--format", format,
                              "--shots", shots, "--limit", "3", "--out", results);
        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);

        var json = JsonNode.Parse(File.ReadAllText(results))!;
        Assert.That((string)json["fingerprint"]!["format"]!, Is.EqualTo(format));
        Assert.That((int)json["fingerprint"]!["shots"]!, Is.EqualTo(int.Parse(shots)));
        var rows = json["results"]!.AsArray();
        Assert.That(rows.Select(r => (string)r!["dialect"]!), Is.EqualTo(new[] { "deu_Latn", "swh_Latn" }));
        foreach (var row in rows)
        {
            var result = row!["result"]!;
            Assert.That((int)result["items"]!, Is.EqualTo(3));
            var scores = result["scores"]!.AsArray();
            Assert.That(scores.Select(s => s!["logLikelihoods"]!.AsArray().Count), Has.All.EqualTo(4));
            var correct = scores.Count(s => (int)s!["predicted"]! == (int)s["gold"]!);
            Assert.That((double)result["accuracy"]!, Is.EqualTo(correct / 3.0).Within(1e-12), "accuracy is the share of items whose arg-max is gold");
            Assert.That((string)row["fileSha256"]!, Has.Length.EqualTo(64));
        }
    }

    [TestCase(new[] { "--langs", "xx" }, "no Belebele dialect known for 'xx'")]
    [TestCase(new[] { "--langs", "fra_Latn" }, "no fra_Latn.jsonl or fra_Latn.jsonl.gz; the folder holds: arb_Arab.jsonl.gz")]
    [TestCase(new[] { "--format", "cloze", "--shots", "1" }, "--shots needs --format letters")]
    [TestCase(new[] { "--format", "essay" }, "unknown --format 'essay'")]
    [TestCase(new[] { "--bos", "always" }, "unknown --bos 'always'")]
    [TestCase(new[] { "--limit", "0" }, "--limit must be at least 1")]
    public void Bad_input_is_exit_code_2_with_a_message(string[] change, string expected)
    {
        using var temp = new TempFolder();
        var args = new Dictionary<string, string> { ["--model"] = Tiny, ["--tasks"] = Tasks, ["--langs"] = "de", ["--out"] = temp.Sub("mc.json") };
        for (var i = 0; i < change.Length; i += 2) args[change[i]] = change[i + 1];

        var outcome = Cli.Run(["eval", "mc", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);

        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain(expected));
        Assert.That(File.Exists(temp.Sub("mc.json")), Is.False);
    }
}
