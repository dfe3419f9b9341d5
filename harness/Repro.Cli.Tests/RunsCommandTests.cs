using System.Diagnostics;
using Repro.Core.Runs;

namespace Repro.Cli.Tests;

public sealed class RunsCommandTests
{
    static RunSpec Spec() => new(new ModelIdentity("tiny", "c0nf1g", [new FileDigest("model.safetensors", 123, "w31ght")]),
        new MethodSpec("wanda", "wanda-0.5", new System.Text.Json.Nodes.JsonObject { ["sparsity"] = 0.5m, ["group"] = "row" }),
        new CalibrationRecipe(["de"], [16], 16, 128, 1, "calibration", false, [new CorpusDigest("de", "de/calibration.jsonl.gz", "c0rpus")]),
        [new EvaluationSpec("ppl", ["de", "zh"], "validation", 128, 16, "stream", [])], new ComputeSpec("cpu", "float32"),
        new CodeVersionRecord("sources-0123", false, null));

    [Test]
    public void A_spec_hashes_to_the_same_file_name_in_another_process()
    {
        using var folder = new TempFolder();
        var spec = Spec();
        var path = folder.Sub("spec.json");
        ResultFiles.WriteJson(path, spec);
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "repro.dll"), "runs", "hash", path])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, process.StandardError.ReadToEnd());
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { spec.Hash, spec.FileStem + ".json" }));
    }

    [Test]
    public void The_canonical_form_sorts_keys_and_spells_each_number_one_way()
    {
        var a = System.Text.Json.Nodes.JsonNode.Parse("""{"b": 0.50, "a": [1.0, 2E0, "x"], "c": null}""");
        var b = System.Text.Json.Nodes.JsonNode.Parse("""{"c": null, "a": [1, 2, "x"], "b": 5e-1}""");
        Assert.That(System.Text.Encoding.UTF8.GetString(CanonicalJson.Bytes(a)), Is.EqualTo("""{"a":[1,2,"x"],"b":0.5,"c":null}"""));
        Assert.That(CanonicalJson.Bytes(b), Is.EqualTo(CanonicalJson.Bytes(a)));
    }
}

public sealed class KilledRunTests
{
    [Test]
    public void A_grid_killed_mid_run_leaves_only_complete_result_files()
    {
        using var folder = new TempFolder();
        var store = folder.Sub("store");
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "repro.dll"), "claims", "run", "--profile", "tiny", "--claim", "C1-ppl", "--store", store])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var clock = Stopwatch.StartNew();
        // Kill it while a later run is in flight: after the first result file appears and a work folder exists again.
        while (clock.Elapsed < TimeSpan.FromMinutes(3) && !process.HasExited)
        {
            var results = Directory.Exists(store) ? Directory.GetFiles(store, "*.json").Length : 0;
            var working = Directory.Exists(Path.Combine(store, ".work")) && Directory.EnumerateFileSystemEntries(Path.Combine(store, ".work")).Any();
            if (results >= 2 && working) break;
            Thread.Sleep(50);
        }
        Assert.That(process.HasExited, Is.False, "the grid finished before it could be killed");
        process.Kill(entireProcessTree: true);
        process.WaitForExit();

        var finished = new ResultStore(store).All();   // throws, naming the file, if any *.json is not a complete result
        Assert.That(finished, Has.Count.GreaterThanOrEqualTo(2));
        Assert.That(finished.Select(r => Path.GetFileName(new ResultStore(store).PathOf(r.Spec))),
                    Is.EquivalentTo(Directory.GetFiles(store, "*.json").Select(Path.GetFileName)), "every result file is named by its own spec");
    }
}
