using Repro.Core;

namespace Repro.Cli.Tests;

/// <summary>
/// Results paths are checked before any work: a folder, a path under a file, or a path inside one of the run's inputs
/// (through a symbolic link too) is refused with exit 2 and one line, and nothing an input holds is touched.
/// </summary>
public sealed class OutputPathTests
{
    static string Model => Path.Combine(RepoPaths.Fixtures, "models", "tiny");
    static string Corpora => Path.Combine(RepoPaths.Fixtures, "corpora");

    static Cli.Outcome Ppl(string output) =>
        Cli.Run("eval", "ppl", "--model", Model, "--data", Corpora, "--langs", "de", "--seqlen", "32", "--nsamples", "1", "--out", output);

    static void AssertRefused(Cli.Outcome outcome, string fragment)
    {
        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput), outcome.Error);
        Assert.That(outcome.Error.Trim().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace");
        Assert.That(outcome.Error, Does.Contain(fragment));
    }

    [Test]
    public void The_models_own_config_is_refused_as_an_output_and_left_as_it_was()
    {
        var config = Path.Combine(Model, "config.json");
        var before = File.ReadAllBytes(config);
        AssertRefused(Ppl(config), "which this run reads");
        Assert.That(File.ReadAllBytes(config), Is.EqualTo(before));
    }

    [Test]
    public void An_output_reached_through_a_symbolic_link_into_the_model_is_refused()
    {
        using var folder = new TempFolder();
        var link = folder.Sub("link");
        Directory.CreateSymbolicLink(link, Model);
        var weights = Path.Combine(Model, "model.safetensors");
        var before = File.GetLastWriteTimeUtc(weights);
        AssertRefused(Ppl(Path.Combine(link, "model.safetensors")), "which this run reads");
        Assert.That(File.GetLastWriteTimeUtc(weights), Is.EqualTo(before));
    }

    /// <summary>
    /// A Hugging Face cache: <c>snapshots/&lt;rev&gt;/config.json -&gt; ../../blobs/&lt;sha&gt;</c> for every file, as
    /// <c>huggingface_hub</c> lays it out. Returns the snapshot folder and the blob each file name links to.
    /// </summary>
    static (string Snapshot, Dictionary<string, string> Blobs) HfCache(TempFolder folder, string model)
    {
        var repo = folder.Sub("hub/models--org--tiny");
        var snapshot = Path.Combine(repo, "snapshots", "0123abc");
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        Directory.CreateDirectory(snapshot);
        var blobs = new Dictionary<string, string>();
        foreach (var file in Directory.EnumerateFiles(model))
        {
            var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)));
            var blob = Path.Combine(repo, "blobs", sha);
            File.Copy(file, blob, overwrite: true);
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", sha));
            blobs[Path.GetFileName(file)] = blob;
        }
        return (snapshot, blobs);
    }

    [Test]
    public void The_blob_a_hugging_face_cache_snapshot_links_its_config_to_is_refused_and_kept()
    {
        using var folder = new TempFolder();
        var (snapshot, blobs) = HfCache(folder, Model);
        var before = File.ReadAllBytes(blobs["config.json"]);

        var outcome = Cli.Run("eval", "ppl", "--model", snapshot, "--data", Corpora, "--langs", "de", "--seqlen", "32", "--nsamples", "1",
                              "--out", blobs["config.json"]);

        AssertRefused(outcome, "which this run reads");
        Assert.That(outcome.Error, Does.Contain(Path.Combine(snapshot, "config.json")).And.Contain(Path.GetFileName(blobs["config.json"])), "names both");
        Assert.That(File.ReadAllBytes(blobs["config.json"]), Is.EqualTo(before));

        // A folder linked from inside the model: nothing under it may be written either.
        Directory.CreateDirectory(folder.Sub("shared"));
        Directory.CreateSymbolicLink(Path.Combine(snapshot, "extra"), folder.Sub("shared"));
        var linked = Cli.Run("eval", "ppl", "--model", snapshot, "--data", Corpora, "--langs", "de", "--seqlen", "32", "--nsamples", "1",
                             "--out", Path.Combine(folder.Sub("shared"), "ppl.json"));
        AssertRefused(linked, "the folder " + Path.Combine(snapshot, "extra") + " links to");
    }

    [Test]
    public void Eval_hidden_refuses_the_weights_blob_of_the_pruned_model_and_a_path_inside_the_dense_one()
    {
        using var folder = new TempFolder();
        var (snapshot, blobs) = HfCache(folder, Model);
        var weights = blobs["model.safetensors"];
        var before = File.ReadAllBytes(weights);
        string[] Hidden(string output) =>
            ["eval", "hidden", "--dense", Model, "--pruned", snapshot, "--data", Corpora, "--langs", "de", "--seqlen", "32", "--nsamples", "1", "--out", output];

        AssertRefused(Cli.Run(Hidden(weights)), "model.safetensors links to");
        AssertRefused(Cli.Run(Hidden(Path.Combine(Model, "hidden.json"))), "is inside");
        Assert.That(File.ReadAllBytes(weights), Is.EqualTo(before));
        Assert.That(File.Exists(Path.Combine(Model, "hidden.json")), Is.False);
    }

    [Test]
    public void Eval_mc_refuses_a_path_inside_its_task_folder_and_the_task_file_a_link_there_leads_to()
    {
        using var folder = new TempFolder();
        var tasks = folder.Sub("tasks");
        Directory.CreateDirectory(tasks);
        var real = folder.Sub("elsewhere");
        Directory.CreateDirectory(real);
        var task = Path.Combine(real, "deu_Latn.jsonl.gz");
        File.Copy(Path.Combine(RepoPaths.Fixtures, "tasks", "belebele-style", "deu_Latn.jsonl.gz"), task);
        File.CreateSymbolicLink(Path.Combine(tasks, "deu_Latn.jsonl.gz"), task);
        var before = File.ReadAllBytes(task);
        string[] Mc(string output) => ["eval", "mc", "--model", Model, "--tasks", tasks, "--langs", "de", "--limit", "1", "--out", output];

        AssertRefused(Cli.Run(Mc(Path.Combine(tasks, "mc.json"))), "is inside");
        AssertRefused(Cli.Run(Mc(task)), "deu_Latn.jsonl.gz links to");
        AssertRefused(Cli.Run(Mc(Path.Combine(tasks, "deu_Latn.jsonl.gz"))), "deu_Latn.jsonl.gz links to");
        Assert.That(File.ReadAllBytes(task), Is.EqualTo(before));
    }

    [Test]
    public void An_output_inside_the_corpus_being_read_is_refused() =>
        AssertRefused(Ppl(Path.Combine(Corpora, "de", "results.json")), "which this run reads");

    [Test]
    public void An_output_whose_parent_is_a_file_is_refused_before_the_evaluation()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Sub("file"), "x");
        AssertRefused(Ppl(Path.Combine(folder.Sub("file"), "out.json")), "is a file, not a folder");
    }

    [Test]
    public void An_existing_folder_as_the_output_is_refused()
    {
        using var folder = new TempFolder();
        AssertRefused(Ppl(folder.Path), "is a folder");
    }

    [Test]
    public void Eval_matrix_refuses_a_json_array_and_fields_of_the_wrong_type_naming_the_file()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Sub("array.json"), "[1, 2]");
        AssertRefused(Cli.Run("eval", "matrix", folder.Sub("array.json")), "array.json: not a result file");
        File.WriteAllText(folder.Sub("typed.json"), """{"command": "eval ppl", "model": "m", "results": [{"language": 3}], "evaluated": {"calibration": {"x": 1}}}""");
        AssertRefused(Cli.Run("eval", "matrix", folder.Sub("typed.json")), "typed.json: a field is missing or of the wrong type");
    }

    [Test]
    public void Eval_matrix_refuses_to_write_over_one_of_the_files_it_reads()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.Sub("array.json"), "[1, 2]");
        AssertRefused(Cli.Run("eval", "matrix", folder.Sub("array.json"), "--out", folder.Sub("array.json")), "which this run reads");
        Assert.That(File.ReadAllText(folder.Sub("array.json")), Is.EqualTo("[1, 2]"));
    }
}

/// <summary><c>fixtures generate --out</c> never replaces a folder it was not told to, nor one that is not a generated model.</summary>
public sealed class GenerateOutputTests
{
    [Test]
    public void An_existing_model_folder_is_kept_without_overwrite_and_replaced_with_it()
    {
        using var folder = new TempFolder();
        var model = folder.Sub("m");
        Assert.That(Cli.Run("fixtures", "generate", "--params", "100K", "--out", model).ExitCode, Is.Zero);
        var before = File.ReadAllBytes(Path.Combine(model, "model.safetensors"));

        var again = Cli.Run("fixtures", "generate", "--params", "100K", "--seed", "7", "--out", model);
        Assert.That(again.ExitCode, Is.EqualTo(ExitCodes.BadInput), again.Error);
        Assert.That(again.Error, Does.Contain("--overwrite"));
        Assert.That(File.ReadAllBytes(Path.Combine(model, "model.safetensors")), Is.EqualTo(before), "untouched");

        Assert.That(Cli.Run("fixtures", "generate", "--params", "100K", "--seed", "7", "--out", model, "--overwrite").ExitCode, Is.Zero);
        Assert.That(File.ReadAllBytes(Path.Combine(model, "model.safetensors")), Is.Not.EqualTo(before), "replaced by the new seed's weights");
    }

    [Test]
    public void Overwrite_refuses_a_folder_that_holds_anything_a_generated_model_does_not()
    {
        using var folder = new TempFolder();
        var target = folder.Sub("notes");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "config.json"), "{}");
        File.WriteAllText(Path.Combine(target, "notes.md"), "mine");
        var outcome = Cli.Run("fixtures", "generate", "--params", "100K", "--out", target, "--overwrite");
        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput), outcome.Error);
        Assert.That(outcome.Error, Does.Contain("notes.md"));
        Assert.That(File.ReadAllText(Path.Combine(target, "notes.md")), Is.EqualTo("mine"));
        Assert.That(File.ReadAllText(Path.Combine(target, "config.json")), Is.EqualTo("{}"));
    }
}
