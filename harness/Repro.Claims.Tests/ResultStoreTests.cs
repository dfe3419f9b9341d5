using Repro.Methods.Claims;
using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Claims;
using Repro.Core.Runs;
using Repro.Methods.Runs;

namespace Repro.Claims.Tests;

public sealed class ResultStoreTests
{
    [Test]
    public void The_executor_runs_wanda_calibrated_on_de_and_a_second_call_reuses_the_stored_result()
    {
        using var folder = new TempFolder();
        var store = new ResultStore(folder.Path);
        var first = RunExecutor.GetOrRun(TinyRuns.Wanda(), store, out var reusedFirst);
        var second = RunExecutor.GetOrRun(TinyRuns.Wanda(), store, out var reusedSecond);
        Assert.Multiple(() =>
        {
            Assert.That(reusedFirst, Is.False);
            Assert.That(reusedSecond, Is.True);
            Assert.That(File.Exists(store.PathOf(first.Spec)), "one result file named by the spec");
            Assert.That(Directory.EnumerateFiles(folder.Path, "*.json").Count(), Is.EqualTo(1));
            Assert.That(second.Measurements, Is.EqualTo(first.Measurements).Using<Measurement>((a, b) => a.Metric == b.Metric && a.Language == b.Language && a.Value == b.Value));
            Assert.That(first.Compression!.Sparsity, Is.EqualTo(0.5).Within(0.01));
            Assert.That(first.Measurements.Select(m => (m.Metric, m.Language)), Is.EquivalentTo(new[] { ("ppl", "de"), ("bpb", "de"), ("ppl", "zh"), ("bpb", "zh") }));
            Assert.That(first.Measurements.Where(m => m.Metric == "ppl").Select(m => m.HigherIsBetter), Is.All.False);
            Assert.That(Directory.Exists(store.WorkFolder(first.Spec)), Is.False, "the pruned model folder is intermediate");
        });
    }

    [Test]
    public void Keeping_models_leaves_the_pruned_folder_for_inspection()
    {
        using var folder = new TempFolder();
        var store = new ResultStore(folder.Path);
        var result = RunExecutor.Run(TinyRuns.Wanda(seed: 2), store, keepModel: true);
        Assert.That(File.Exists(Path.Combine(store.WorkFolder(result.Spec), "prune.json")));
    }

    [Test]
    public void Seeds_languages_and_evaluations_each_change_the_spec_hash_and_nothing_else_does()
    {
        var a = TinyRuns.Wanda();
        Assert.Multiple(() =>
        {
            Assert.That(TinyRuns.Wanda().Spec.Hash, Is.EqualTo(a.Spec.Hash), "an equal request");
            Assert.That(TinyRuns.Wanda(seed: 2).Spec.Hash, Is.Not.EqualTo(a.Spec.Hash), "seed");
            Assert.That(TinyRuns.Wanda(language: "zh").Spec.Hash, Is.Not.EqualTo(a.Spec.Hash), "language");
            Assert.That(TinyRuns.Wanda(windows: 3).Spec.Hash, Is.Not.EqualTo(a.Spec.Hash), "evaluation windows");
            Assert.That(a.Spec.FileStem, Does.StartWith("tiny-wanda-0.5-de-s1-").And.EndWith(a.Spec.Hash[..16]));
            Assert.That(CanonicalJson.Text(a.Spec), Does.Not.Contain(TinyRuns.Model), "no absolute path in the spec");
        });
    }

    [Test]
    public void A_run_that_fails_midway_leaves_no_result_file_and_no_work_folder()
    {
        using var folder = new TempFolder();
        var store = new ResultStore(folder.Path);
        var request = TinyRuns.Wanda() with { Evaluations = [new EvaluationChoice("ppl", ["xx"], Seqlen: 64, Windows: 2)] };
        Assert.That(() => RunExecutor.Run(request, store), Throws.Exception);
        Assert.That(Directory.EnumerateFiles(folder.Path, "*", SearchOption.AllDirectories), Is.Empty);
        Assert.That(Directory.Exists(Path.Combine(folder.Path, ".work")) ? Directory.EnumerateDirectories(Path.Combine(folder.Path, ".work")) : [], Is.Empty);
    }

    [Test]
    public void A_result_file_renamed_to_another_specs_name_is_refused_naming_the_file()
    {
        using var folder = new TempFolder();
        var store = new ResultStore(folder.Path);
        var result = RunExecutor.Run(TinyRuns.Wanda(), store);
        var other = TinyRuns.Wanda(seed: 7).Spec;
        File.Copy(store.PathOf(result.Spec), store.PathOf(other));
        var error = Assert.Throws<ResultFileException>(() => store.TryGet(other));
        Assert.That(error!.Message, Does.StartWith(store.PathOf(other)).And.Contain("delete it"));
    }

    [Test]
    public void Numbers_of_one_column_with_different_fingerprints_are_refused_naming_the_field()
    {
        using var folder = new TempFolder();
        var store = new ResultStore(folder.Path);
        var two = RunExecutor.Run(TinyRuns.Wanda(windows: 2), store);
        var three = RunExecutor.Run(TinyRuns.Wanda(language: "zh", windows: 3), store);
        GridRun Grid(RunResult r, string row) => new("tiny", "wanda", row, 1, TinyRuns.Wanda());
        var error = Assert.Throws<InvalidOperationException>(() =>
            ClaimVerdicts.Build("tiny", "wanda", ["de", "zh"], ["ppl"], [(Grid(two, "de"), two), (Grid(three, "zh"), three)], null));
        Assert.That(error!.Message, Does.Contain("'windows'"));
    }

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property Shards_partition_the_grid() =>
        Prop.ForAll(Gen.Choose(0, 40).ToArbitrary(), Gen.Choose(1, 7).ToArbitrary(), (runs, count) =>
        {
            var grid = Enumerable.Range(0, runs).Select(i => Spec(i)).ToList();
            var slices = Enumerable.Range(1, count).Select(i => new Shard(i, count).Select(grid)).ToList();
            var all = slices.SelectMany(s => s.Select(x => x.Hash)).ToList();
            return (all.Count == runs && all.Distinct().Count() == runs && slices.All(s => s.Count >= runs / count && s.Count <= runs / count + 1))
                .Label($"{runs} runs in {count} shards: {string.Join(", ", slices.Select(s => s.Count))}");
        });

    [Test]
    public void A_shard_is_parsed_from_i_of_n_and_nonsense_is_refused()
    {
        Assert.That(Shard.Parse("2/4"), Is.EqualTo(new Shard(2, 4)));
        foreach (var bad in new[] { "0/4", "5/4", "1/0", "x", "1/2/3" })
            Assert.That(() => Shard.Parse(bad), Throws.TypeOf<FormatException>().With.Message.Contains(bad), bad);
    }

    static RunSpec Spec(int seed) => new(new ModelIdentity("m", "c", [new FileDigest("model.safetensors", 1, "w")]), MethodSpec.Dense,
        new CalibrationRecipe(["de"], [1], 1, 2, seed, "calibration", false, []), [], new ComputeSpec("cpu", "float32"), new CodeVersionRecord("v", false, null));
}

public sealed class CodeVersionTests
{
    [Test]
    public void In_a_checkout_the_code_version_hashes_the_computing_sources_not_the_commit()
    {
        var record = CodeVersion.Record;
        Assert.That(record.Version, Does.StartWith("sources-"), "git could not list the computing sources, so the version fell back to the assembly's");
        Assert.That(record.Version, Does.Not.Contain(CodeVersion.Commit[..7]));
    }

    [Test]
    public void The_engine_and_the_methods_use_no_Repro_assembly_outside_the_computing_sources()
    {
        // The fixture tooling (fixtures/Repro.Fixtures), the CLI and the reports are not hashed into the code version, which
        // is right only while no run can call them. The compiler keeps a reference only to an assembly the code uses.
        var computing = new[] { typeof(CodeVersion).Assembly, typeof(Repro.Methods.Runs.RunExecutor).Assembly };
        Assert.That(CodeVersion.ComputingSources, Is.SupersetOf(new[] { "harness/Repro.Core", "methods/Repro.Methods" }));
        var names = computing.Select(a => a.GetName().Name).ToList();
        Assert.That(names, Is.EqualTo(new[] { "Repro.Core", "Repro.Methods" }));
        foreach (var assembly in computing)
            Assert.That(assembly.GetReferencedAssemblies().Select(r => r.Name!).Where(n => n.StartsWith("Repro", StringComparison.OrdinalIgnoreCase)),
                        Is.SubsetOf(names), $"{assembly.GetName().Name} uses an assembly whose sources the code version does not hash");
    }
}
