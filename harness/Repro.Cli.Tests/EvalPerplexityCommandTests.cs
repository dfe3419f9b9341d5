using System.Text.Json.Nodes;
using Repro.Core;
using Repro.Fixtures.Training;

namespace Repro.Cli.Tests;

public sealed class EvalPerplexityCommandTests
{
    static readonly string Samples = Path.Combine(RepoPaths.Fixtures, "samples");
    static readonly string[] Languages = ["ar", "de", "en", "es", "ru", "sw", "zh"];

    [Test]
    public void Generated_model_is_evaluated_per_language_and_the_results_file_lists_every_language()
    {
        using var temp = new TempFolder();
        var model = temp.Sub("model");
        var generate = Cli.Run("fixtures", "generate", "--params", "100K", "--out", model);
        Assert.That(generate.ExitCode, Is.EqualTo(0), generate.Error);

        var results = temp.Sub("ppl.json");
        var eval = Cli.Run("eval", "ppl", "--model", model, "--data", Samples, "--langs", string.Join(',', Languages),
                           "--seqlen", "64", "--out", results);
        Assert.That(eval.ExitCode, Is.EqualTo(0), eval.Error);

        var json = JsonNode.Parse(File.ReadAllText(results))!;
        var rows = json["results"]!.AsArray();
        Assert.That(rows.Select(r => (string)r!["language"]!), Is.EqualTo(Languages));
        foreach (var row in rows)
        {
            Assert.That((int)row!["windows"]!, Is.GreaterThan(0), $"{row["language"]} scored nothing");
            Assert.That((bool)row["isFinite"]!, Is.True);
            // A random model cannot beat the uniform distribution by much, nor be infinitely worse: a sanity band, not a figure.
            Assert.That((double)row["perplexity"]!, Is.GreaterThan(1.0));
        }
        Assert.That((string)json["codeVersion"]!, Is.Not.Empty);
    }

    /// <summary>The figures in expectations/ are the ones <c>eval ppl</c> prints, measured the way the snapshot says.</summary>
    [Test]
    public void Eval_ppl_on_the_tiny_fixture_model_prints_its_snapshot_figures()
    {
        var snapshot = QualitySnapshot.Read(QualitySnapshot.PathFor("tiny"));
        using var temp = new TempFolder();
        var file = temp.Sub("ppl.json");
        var outcome = Cli.Run("eval", "ppl", "--model", Path.Combine(RepoPaths.Root, snapshot.Model), "--data", Path.Combine(RepoPaths.Fixtures, "corpora"),
                              "--split", snapshot.Split, "--langs", string.Join(',', snapshot.Languages.Select(l => l.Language)),
                              "--seqlen", snapshot.Seqlen.ToString(), "--nsamples", snapshot.WindowsPerLanguage.ToString(), "--bos", "stream", "--out", file);
        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        Assert.That(outcome.Out, Does.Contain("entropy").And.Contain("ratio"));
        var rows = JsonNode.Parse(File.ReadAllText(file))!["results"]!.AsArray();
        Assert.That(rows.Select(r => (string)r!["language"]!), Is.EqualTo(snapshot.Languages.Select(l => l.Language)));
        foreach (var (row, expected) in rows.Zip(snapshot.Languages))
        {
            Assert.That((double)row!["bitsPerByte"]!, Is.EqualTo(expected.BitsPerByte).Within(snapshot.BitsPerByteTolerance), expected.Language);
            Assert.That((double)row["unigramEntropyBits"]!, Is.EqualTo(expected.UnigramEntropyBits).Within(1e-9), expected.Language);
            Assert.That((double)row["entropyRatio"]!, Is.EqualTo(expected.EntropyRatio).Within(snapshot.BitsPerByteTolerance), expected.Language);
        }
    }

    [Test]
    public void Seeded_nsamples_draws_from_every_window_of_the_split_and_unseeded_takes_the_first()
    {
        using var temp = new TempFolder();
        var model = temp.Sub("model");
        Assert.That(Cli.Run("fixtures", "generate", "--params", "100K", "--out", model).ExitCode, Is.EqualTo(0));
        JsonNode Row(params string[] extra)
        {
            var file = temp.Sub($"ppl-{Guid.NewGuid():N}.json");
            var outcome = Cli.Run(["eval", "ppl", "--model", model, "--data", Samples, "--langs", "de", "--seqlen", "64", "--out", file, .. extra]);
            Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
            return JsonNode.Parse(File.ReadAllText(file))!["results"]![0]!;
        }
        var all = Row();
        var seeded = Row("--nsamples", "3", "--seed", "1");
        var first = Row("--nsamples", "3");
        Assert.That((int)seeded["windows"]!, Is.EqualTo(3));
        Assert.That((int)seeded["availableWindows"]!, Is.EqualTo((int)all["windows"]!));
        Assert.That((int)first["windows"]!, Is.EqualTo(3));
    }

    [Test]
    public void Missing_model_folder_is_bad_input_named_in_the_message()
    {
        using var temp = new TempFolder();
        var missing = temp.Sub("no-such-model");
        var outcome = Cli.Run("eval", "ppl", "--model", missing, "--data", Samples, "--langs", "en", "--out", temp.Sub("x.json"));
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain(missing));
        Assert.That(File.Exists(temp.Sub("x.json")), Is.False);
    }

    [Test]
    public void Pickle_only_model_folder_is_refused_as_bad_input()
    {
        using var temp = new TempFolder();
        var model = Directory.CreateDirectory(temp.Sub("pickled")).FullName;
        new Repro.Core.Tokenizers.ByteTokenizer().WriteHfFiles(model);
        File.WriteAllText(Path.Combine(model, "config.json"), "{\"model_type\": \"llama\"}");
        File.WriteAllBytes(Path.Combine(model, "pytorch_model.bin"), [0x80, 0x02]);
        var outcome = Cli.Run("eval", "ppl", "--model", model, "--data", Samples, "--langs", "en", "--out", temp.Sub("x.json"));
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("pickle"));
    }

    [Test]
    public void Unknown_language_is_bad_input_listing_the_available_ones()
    {
        var outcome = Cli.Run("eval", "ppl", "--model", "unused", "--data", Samples, "--langs", "en,xx");
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("'xx'").And.Contain("ar, de, en"));
    }

    [TestCase("--seqlen", "1")]
    [TestCase("--nsamples", "0")]
    [TestCase("--batch-size", "0")]
    [TestCase("--dtype", "int4")]
    [TestCase("--bos", "sometimes")]
    [TestCase("--device", "tpu")]
    public void Invalid_option_values_are_bad_input(string option, string value)
    {
        using var temp = new TempFolder();
        var model = temp.Sub("model");
        Assert.That(Cli.Run("fixtures", "generate", "--params", "100K", "--out", model).ExitCode, Is.EqualTo(0));
        var outcome = Cli.Run("eval", "ppl", "--model", model, "--data", Samples, "--langs", "en", option, value, "--out", temp.Sub("x.json"));
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain(value));
    }

    [Test]
    public void Unknown_option_is_bad_input()
    {
        var outcome = Cli.Run("eval", "ppl", "--bogus");
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("--bogus"));
    }
}
