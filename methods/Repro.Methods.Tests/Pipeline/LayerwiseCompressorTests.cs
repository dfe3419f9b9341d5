using Repro.Core;
using System.Text.Json;
using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Methods.Pipeline;
using TorchSharp;
using static Repro.Methods.Tests.Pipeline.HandLayer;
using static TorchSharp.torch;

namespace Repro.Methods.Tests.Pipeline;

public sealed class LayerwiseCompressorTests
{
    const int Samples = 3, Tokens = 7;
    static readonly string[] Sublayers =
        ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

    static CalibrationTokens Calibration(int n = Samples, int t = Tokens) =>
        new(TinyCheckpoint.Ids(n, t), seed: 42, provenance: new { sampler = "test", languages = new[] { "de" } });

    static PruneReport Prune(TinyCheckpoint model, string output, ICompressionMethod method, CalibrationTokens? calibration = null,
                             bool trueSequential = false, IProgress<LayerProgress>? progress = null, bool overwrite = false) =>
        LayerwiseCompressor.Run(new LayerwiseJob(model.Dir, output, method, calibration ?? Calibration())
        {
            TrueSequential = trueSequential,
            Overwrite = overwrite,
        }, progress);

    /// <summary>Hidden states entering layer 0 for every sample, computed from the in-memory table.</summary>
    static List<Tensor> Embedded(TinyCheckpoint model, long[,] ids)
    {
        var table = model.Weights["model.embed_tokens.weight"].to(ScalarType.Float32);
        return Enumerable.Range(0, ids.GetLength(0)).Select(i =>
        {
            var row = Enumerable.Range(0, ids.GetLength(1)).Select(t => ids[i, t]).ToArray();
            return table.index_select(0, tensor(row)).unsqueeze(0);
        }).ToList();
    }

    [Test]
    public void Every_sublayer_sees_exactly_the_inputs_a_hand_run_of_its_layer_gives()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var recorder = new RecordingMethod();
        var calibration = Calibration();

        Prune(model, folder.Sub("out"), recorder, calibration);

        using var rope = new RotaryEmbedding(model.Config);
        var hidden = Embedded(model, calibration.Ids);
        for (var layer = 0; layer < model.Config.NumHiddenLayers; layer++)
        {
            for (var s = 0; s < Samples; s++)
            {
                var trace = Run(model.Config, n => model.Weights[n], layer, hidden[s], rope);
                foreach (var sublayer in Sublayers)
                {
                    var seen = recorder.Inputs[$"model.layers.{layer}.{sublayer}"];
                    Assert.That(seen, Has.Count.EqualTo(Samples), $"layer {layer} {sublayer}: one observation per sample");
                    Assert.That(seen[s].shape, Is.EqualTo(trace.InputOf(sublayer).shape), $"layer {layer} {sublayer}");
                    Assert.That(MaxAbsDiff(seen[s], trace.InputOf(sublayer)), Is.LessThan(1e-5), $"layer {layer} {sublayer} sample {s}");
                }
                hidden[s] = trace.Output;   // the method changes nothing, so the next layer sees dense outputs
            }
        }
        recorder.Clear();
    }

    [Test]
    public void Layer_l_is_calibrated_on_the_outputs_of_the_already_compressed_layers_before_it()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var recorder = new RecordingMethod(new HalfMagnitudeMethod());
        var calibration = Calibration();

        Prune(model, folder.Sub("out"), recorder, calibration);

        // Hand-run with the weights as the method leaves them: each matrix loses its smaller half.
        Tensor Pruned(string name) => name.EndsWith("_proj.weight", StringComparison.Ordinal)
            ? model.Weights[name].masked_fill(HalfMagnitudeMethod.Mask(model.Weights[name]), 0)
            : model.Weights[name];
        using var rope = new RotaryEmbedding(model.Config);
        var hidden = Embedded(model, calibration.Ids);
        var dense = Embedded(model, calibration.Ids);
        for (var layer = 0; layer < model.Config.NumHiddenLayers; layer++)
            for (var s = 0; s < Samples; s++)
            {
                var seen = recorder.Inputs[$"model.layers.{layer}.self_attn.q_proj"][s];
                var trace = Run(model.Config, Pruned, layer, hidden[s], rope);
                var denseTrace = Run(model.Config, n => model.Weights[n], layer, dense[s], rope);
                Assert.That(MaxAbsDiff(seen, trace.Normed), Is.LessThan(1e-5), $"layer {layer} sample {s}");
                if (layer > 0)
                    Assert.That(MaxAbsDiff(seen, denseTrace.Normed), Is.GreaterThan(1e-3), $"layer {layer} must not see dense outputs");
                hidden[s] = trace.Output;
                dense[s] = denseTrace.Output;
            }
        recorder.Clear();
    }

    static readonly ModelFamily[] Families = Enum.GetValues<ModelFamily>();

    [TestCaseSource(nameof(Families))]
    public void The_output_folder_loads_and_equals_the_input_with_the_masks_applied(ModelFamily family)
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), family: family);
        var output = folder.Sub("out");

        Prune(model, output, new HalfMagnitudeMethod());

        using var scope = NewDisposeScope();
        var masks = MaskFile.Read(output);
        Assert.That(masks.Keys, Is.EquivalentTo(
            from l in Enumerable.Range(0, 3) from s in Sublayers select $"model.layers.{l}.{s}.weight"));
        var expected = model.Weights.ToDictionary(kv => kv.Key,
            kv => masks.TryGetValue(kv.Key, out var m) ? kv.Value.masked_fill(m, 0) : kv.Value);
        using (var written = HfCheckpoint.Open(output))
        {
            Assert.That(written.Names, Is.EquivalentTo(model.Config.ExpectedTensorNames()));
            foreach (var (name, value) in expected)
                Assert.That(written.Load(name).Equals(value), Is.True, name);
        }
        foreach (var (name, mask) in masks)
            Assert.That(mask.sum().item<long>(), Is.EqualTo(model.Weights[name].NumberOfElements / 2), name);

        using var loaded = LoadedModel.Open(output, CPU, ScalarType.Float32);
        using var reference = CausalLM.Load(model.Config, new InMemoryTensorSource(expected), CPU, ScalarType.Float32);
        var ids = tensor(new long[] { 256, 72, 101, 108, 108, 111 }).unsqueeze(0);
        Assert.That(loaded.Model.Logits(ids).Equals(reference.Logits(ids)), Is.True);
        foreach (var m in masks.Values) m.Dispose();
    }

    static readonly object[] FamiliesAndMethods =
        [.. from family in Enum.GetValues<ModelFamily>()
            from method in new Func<ICompressionMethod>[]
            {
                () => new Wanda(new Sparsity(0.5m)), () => new SparseGpt(new Sparsity(0.5m), null), () => new Gptq(4, 16, false, false),
            }
            select new TestCaseData(family, method).SetArgDisplayNames(family.ToString(), method().Name)];

    [TestCaseSource(nameof(FamiliesAndMethods))]
    public void Every_family_is_pruned_or_quantized_by_the_real_methods_into_a_folder_that_runs(ModelFamily family, Func<ICompressionMethod> create)
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), storedDType: "bfloat16", family: family);
        var method = create();

        var report = Prune(model, folder.Sub("out"), method, Calibration(8, 16));

        using var loaded = LoadedModel.Open(folder.Sub("out"), CPU, ScalarType.Float32);
        using var scope = NewDisposeScope();
        var logits = loaded.Model.Logits(tensor(new long[] { 256, 72, 101, 108, 108, 111 }).unsqueeze(0));
        Assert.That(logits.isfinite().all().item<bool>(), Is.True, "finite logits");
        Assert.That(report.Layers, Has.Count.EqualTo(3));
        if (method is Gptq)
        {
            using var written = HfCheckpoint.Open(folder.Sub("out"));
            foreach (var name in model.Config.ExpectedTensorNames().Where(n => n.EndsWith("_proj.weight", StringComparison.Ordinal)))
                Assert.That(written.Load(name).Equals(model.Weights[name]), Is.False, $"{name} is quantized");
        }
        else
            Assert.That(report.Sparsity.Fraction, Is.InRange(0.5, 0.51), "half of every linear sublayer, SparseGPT's blocks rounding up");
    }

    [TestCase(ModelFamily.Cohere, true)]
    [TestCase(ModelFamily.Llama, false)]
    public void In_Coheres_parallel_block_the_mlp_is_calibrated_on_the_attentions_input(ModelFamily family, bool parallel)
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), family: family);
        var recorder = new RecordingMethod();

        Prune(model, folder.Sub("out"), recorder);

        for (var layer = 0; layer < 3; layer++)
            for (var s = 0; s < Samples; s++)
            {
                var (attention, mlp) = (recorder.Inputs[$"model.layers.{layer}.self_attn.q_proj"][s], recorder.Inputs[$"model.layers.{layer}.mlp.gate_proj"][s]);
                Assert.That(attention.Equals(mlp), Is.EqualTo(parallel), $"layer {layer} sample {s}");
            }
        recorder.Clear();
    }

    [Test]
    public void The_input_checkpoint_is_byte_for_byte_unchanged()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), maxShardBytes: 20_000);
        var before = TinyCheckpoint.Hashes(model.Dir);

        Prune(model, folder.Sub("out"), new HalfMagnitudeMethod());

        Assert.That(TinyCheckpoint.Hashes(model.Dir), Is.EqualTo(before));
        Assert.That(before.Keys, Has.Some.StartsWith("model-00002-of-"), "the input was sharded");
    }

    [Test]
    public void Live_tensors_are_the_same_after_every_layer_and_after_the_run()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var calibration = Calibration();
        Prune(model, folder.Sub("warm"), new HalfMagnitudeMethod(), calibration);   // lazy TorchSharp statics

        var atLayerEnd = new List<long>();
        var progress = new ListProgress<LayerProgress>(p =>
        {
            if (p.Stage == PipelineStage.LayerDone) atLayerEnd.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        });
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Prune(model, folder.Sub("out"), new HalfMagnitudeMethod(), calibration, progress: progress);
        var after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        Assert.That(atLayerEnd, Has.Count.EqualTo(3));
        Assert.That(atLayerEnd.Distinct().Count(), Is.EqualTo(1), $"live tensors after each layer: {string.Join(", ", atLayerEnd)}");
        Assert.That(after, Is.EqualTo(before));
    }

    [Test]
    public void A_failure_midway_leaves_no_output_folder_and_no_partial_one()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        var sawPartial = false;
        var progress = new ListProgress<LayerProgress>(p =>
        {
            if (p is { Layer: 1, Stage: PipelineStage.Loading })
            {
                // Midway the work lives only under the partial name, marked unfinished, without index or report.
                sawPartial = Directory.Exists(output + ".partial") && !Directory.Exists(output)
                             && File.Exists(Path.Combine(output + ".partial", ".repro-partial"))
                             && !File.Exists(Path.Combine(output + ".partial", HfCheckpoint.IndexFileName))
                             && !File.Exists(Path.Combine(output + ".partial", PruneReport.FileName));
            }
        });

        var error = Assert.Throws<InvalidOperationException>(() =>
            Prune(model, output, new FailingMethod("model.layers.1.mlp.up_proj"), progress: progress));

        Assert.That(error!.Message, Does.Contain("model.layers.1.mlp.up_proj"));
        Assert.That(sawPartial, Is.True);
        Assert.That(Directory.Exists(output), Is.False);
        Assert.That(Directory.Exists(output + ".partial"), Is.False);
    }

    [Test]
    public void A_failed_overwrite_keeps_the_previous_output()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Prune(model, output, new HalfMagnitudeMethod());
        var before = TinyCheckpoint.Hashes(output);

        Assert.Throws<InvalidOperationException>(() => Prune(model, output, new FailingMethod("model.layers.2.mlp.down_proj"), overwrite: true));

        Assert.That(TinyCheckpoint.Hashes(output), Is.EqualTo(before));
    }

    [Test]
    public void An_existing_output_is_refused_without_overwrite_and_a_foreign_folder_even_with_it()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "thesis.tex"), "years of work");

        var error = Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod()));
        Assert.That(error!.Message, Does.Contain("--overwrite"));
        var foreign = Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod(), overwrite: true));
        Assert.That(foreign!.Message, Does.Contain("not a Repro output").And.Contain("thesis.tex"));
        Assert.That(File.ReadAllText(Path.Combine(output, "thesis.tex")), Is.EqualTo("years of work"), "nothing of it is touched");
        Assert.Throws<OutputFolderException>(() => Prune(model, model.Dir, new HalfMagnitudeMethod(), overwrite: true));
        Assert.Throws<OutputFolderException>(() => Prune(model, Path.Combine(model.Dir, "sub"), new HalfMagnitudeMethod()));
    }

    [Test]
    public void A_repro_output_is_replaced_with_overwrite_and_keeps_no_partial_marker_or_lock()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Prune(model, output, new HalfMagnitudeMethod());
        Prune(model, output, new HalfMagnitudeMethod(), overwrite: true);
        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(Path.Combine(output, PruneReport.FileName)), Is.True);
            Assert.That(File.Exists(Path.Combine(output, ".repro-partial")), Is.False, "the marker goes once the folder has its final name");
            Assert.That(File.Exists(output + ".lock"), Is.False, "the lock is released");
            Assert.That(Directory.Exists(output + ".partial"), Is.False);
        });
    }

    [Test]
    public void An_output_reached_through_a_symbolic_link_to_the_input_is_refused_and_the_input_kept()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var before = TinyCheckpoint.Hashes(model.Dir);
        Directory.CreateSymbolicLink(folder.Sub("alias"), model.Dir);

        var same = Assert.Throws<OutputFolderException>(() => Prune(model, folder.Sub("alias"), new HalfMagnitudeMethod(), overwrite: true));
        var inside = Assert.Throws<OutputFolderException>(() => Prune(model, Path.Combine(folder.Sub("alias"), "pruned"), new HalfMagnitudeMethod()));
        Assert.That(same!.Message, Does.Contain("input model folder"));
        Assert.That(inside!.Message, Does.Contain("input model folder"));
        Assert.That(TinyCheckpoint.Hashes(model.Dir), Is.EqualTo(before));
    }

    [Test]
    public void A_second_run_on_a_locked_output_is_refused_and_leaves_the_first_runs_partial_folder()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        // Another live run: it holds the lock and is writing its partial folder.
        Directory.CreateDirectory(output + ".partial");
        File.WriteAllText(Path.Combine(output + ".partial", ".repro-partial"), "");
        File.WriteAllText(Path.Combine(output + ".partial", "layer-0"), "being written");
        using (new FileStream(output + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var error = Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod(), overwrite: true));
            Assert.That(error!.Message, Does.Contain("another running Repro process").And.Contain(".lock"));
            Assert.That(File.ReadAllText(Path.Combine(output + ".partial", "layer-0")), Is.EqualTo("being written"));
        }
        // Once that run is gone (its lock released), its marked partial folder is a leftover and a new run replaces it.
        Prune(model, output, new HalfMagnitudeMethod());
        Assert.That(File.Exists(Path.Combine(output, PruneReport.FileName)), Is.True);
        Assert.That(Directory.Exists(output + ".partial"), Is.False);
    }

    static string Method(string output) => JsonNode.Parse(File.ReadAllText(Path.Combine(output, PruneReport.FileName)))!["method"]!.GetValue<string>();

    static bool Calibrated(string output) => JsonNode.Parse(File.ReadAllText(Path.Combine(output, PruneReport.FileName)))!["calibration"] is not null;

    static string[] Siblings(string output) =>
        [.. Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(output)!, Path.GetFileName(output) + "*").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];

    [Test]
    public void Overwrite_replaces_only_the_files_repro_wrote_and_moves_the_users_into_the_new_folder()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Prune(model, output, new FailingMethod("never"));
        File.WriteAllText(Path.Combine(output, "notes.md"), "mine");
        Directory.CreateDirectory(Path.Combine(output, "eval"));
        File.WriteAllText(Path.Combine(output, "eval", "results.json"), "{}");

        Prune(model, output, new HalfMagnitudeMethod(), overwrite: true);

        Assert.That(Method(output), Is.EqualTo("test-half-magnitude"));
        Assert.That(File.ReadAllText(Path.Combine(output, "notes.md")), Is.EqualTo("mine"));
        Assert.That(File.ReadAllText(Path.Combine(output, "eval", "results.json")), Is.EqualTo("{}"));
        Assert.That(Siblings(output), Is.EqualTo(new[] { "out" }), "no lock, partial, replaced or discarded folder left");
        var fresh = folder.Sub("fresh");
        Prune(model, fresh, new HalfMagnitudeMethod());
        var expected = TinyCheckpoint.Hashes(fresh).Keys.Append("notes.md").Append(Path.Combine("eval", "results.json")).Order(StringComparer.Ordinal);
        Assert.That(TinyCheckpoint.Hashes(output).Keys, Is.EqualTo(expected), "the new run's files, the user's, and nothing of the old run's besides");
    }

    [Test]
    public void Overwrite_of_a_folder_written_before_repro_listed_its_files_keeps_what_repro_does_not_write()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Prune(model, output, new HalfMagnitudeMethod());
        File.Delete(Path.Combine(output, OutputFolder.ManifestFileName));
        File.WriteAllText(Path.Combine(output, "results.json"), "{}");
        File.WriteAllText(Path.Combine(output, "model-00009-of-00009.safetensors"), "an old shard name");

        Prune(model, output, new HalfMagnitudeMethod(), overwrite: true);

        Assert.That(File.ReadAllText(Path.Combine(output, "results.json")), Is.EqualTo("{}"));
        Assert.That(File.Exists(Path.Combine(output, "model-00009-of-00009.safetensors")), Is.False, "a name Repro writes counts as Repro's");
    }

    [Test]
    public void Overwrite_stops_when_a_file_the_user_added_has_a_name_the_new_output_also_writes()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Prune(model, output, new HalfMagnitudeMethod());
        File.WriteAllText(Path.Combine(output, "generation_config.json"), "the user's");
        var before = TinyCheckpoint.Hashes(output);
        File.WriteAllText(Path.Combine(model.Dir, "generation_config.json"), "{}");   // now copied into every output

        var error = Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod(), overwrite: true));

        Assert.That(error!.Message, Does.Contain("generation_config.json").And.Contain("Repro did not write").And.Contain(output + ".partial"));
        Assert.That(TinyCheckpoint.Hashes(output), Is.EqualTo(before), "the old output and the user's file as they were");
        Assert.That(File.ReadAllText(Path.Combine(output + ".partial", "generation_config.json")), Is.EqualTo("{}"), "the new output kept beside it");
    }

    [Test]
    public void A_folder_that_appears_at_the_output_while_the_run_writes_is_left_alone_and_the_result_kept()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        var progress = new ListProgress<LayerProgress>(p =>
        {
            if (p is { Layer: 1, Stage: PipelineStage.Loading } && !Directory.Exists(output))
            {
                Directory.CreateDirectory(output);
                File.WriteAllText(Path.Combine(output, "thesis.tex"), "years of work");
            }
        });

        var error = Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod(), progress: progress, overwrite: true));

        Assert.That(error!.Message, Does.Contain("appeared while this run was writing").And.Contain("thesis.tex").And.Contain(output + ".partial"));
        Assert.That(Directory.EnumerateFileSystemEntries(output).Select(Path.GetFileName), Is.EqualTo(new[] { "thesis.tex" }));
        Assert.That(File.ReadAllText(Path.Combine(output, "thesis.tex")), Is.EqualTo("years of work"));
        Assert.That(File.Exists(Path.Combine(output + ".partial", PruneReport.FileName)), Is.True, "the finished output is kept");
        Assert.That(File.Exists(Path.Combine(output + ".partial", OutputFolder.MarkerFileName)), Is.False, "unmarked, so no later run deletes it");
        Assert.That(File.Exists(Path.Combine(output + ".partial", OutputFolder.ManifestFileName)), Is.True, "with the list of Repro's files, for a later --overwrite");
        Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod(), overwrite: true));
        Assert.That(File.Exists(Path.Combine(output + ".partial", PruneReport.FileName)), Is.True);
    }

    [Test]
    public void Two_runs_on_one_output_the_second_is_refused_and_the_first_finishes_with_its_own_parameters()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Prune(model, output, new HalfMagnitudeMethod(needsCalibration: false));
        using var midway = new ManualResetEventSlim();
        using var resume = new ManualResetEventSlim();
        var progress = new ListProgress<LayerProgress>(p =>
        {
            if (p is not { Layer: 1, Stage: PipelineStage.Loading } || midway.IsSet) return;
            midway.Set();
            if (!resume.Wait(TimeSpan.FromMinutes(2))) throw new TimeoutException("the test never let the first run go on");
        });
        Exception? failed = null;
        var first = new Thread(() =>
        {
            try { Prune(model, output, new HalfMagnitudeMethod(), progress: progress, overwrite: true); }
            catch (Exception e) { failed = e; }
        });
        first.Start();
        try
        {
            Assert.That(midway.Wait(TimeSpan.FromMinutes(2)), Is.True, failed?.ToString());
            var partial = TinyCheckpoint.Hashes(output + ".partial");
            var old = TinyCheckpoint.Hashes(output);

            var second = Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod(needsCalibration: false), overwrite: true));
            var plain = Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod(needsCalibration: false)));

            Assert.That(second!.Message, Does.Contain("another running Repro process").And.Contain(output + ".lock"));
            Assert.That(plain!.Message, Does.Contain("another running Repro process"), "checked under the lock, not as 'already exists' before it");
            Assert.That(TinyCheckpoint.Hashes(output + ".partial"), Is.EqualTo(partial), "the first run's partial folder untouched");
            Assert.That(TinyCheckpoint.Hashes(output), Is.EqualTo(old));
        }
        finally
        {
            resume.Set();
            first.Join();
        }
        Assert.That(failed, Is.Null, failed?.ToString());
        Assert.That(Calibrated(output), Is.True, "the first run's parameters: it calibrated, the second would not have");
        Assert.That(Siblings(output), Is.EqualTo(new[] { "out" }));
    }

    [Test]
    public void A_lock_on_a_file_no_longer_at_the_lock_name_is_not_taken_for_the_outputs_lock()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        var locked = false;
        var progress = new ListProgress<LayerProgress>(p =>
        {
            if (p is not { Layer: 0, Stage: PipelineStage.Loading }) return;
            try { using var probe = new FileStream(output + ".lock", FileMode.Open, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) { locked = true; }
        });
        var opened = 0;
        // As when the run before released its lock just after this one opened the file: the name now leads to a new file.
        OutputLock.Open.Value = path =>
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            if (opened++ > 0) return stream;
            File.Delete(path);
            File.WriteAllText(path, "");
            return stream;
        };
        try
        {
            Prune(model, output, new HalfMagnitudeMethod(), progress: progress);
        }
        finally
        {
            OutputLock.Open.Value = null;
        }
        Assert.That(opened, Is.EqualTo(2), "opened again after finding the name moved on");
        Assert.That(locked, Is.True, "the file at the lock name is the one locked while the run writes");
    }

    [Test]
    public void A_lock_file_that_cannot_be_opened_for_another_reason_is_not_reported_as_another_process()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        File.CreateSymbolicLink(output + ".lock", output + ".lock");   // a loop: ELOOP, not a held lock

        var error = Assert.Catch<IOException>(() => Prune(model, output, new HalfMagnitudeMethod()));

        Assert.That(error!.Message, Does.Not.Contain("another running Repro process").And.Contain(".lock"));
        Assert.That(Directory.Exists(output) || Directory.Exists(output + ".partial"), Is.False);
    }

    /// <summary>Runs a prune that stops at <paramref name="step"/> of the final rename, as if the process were killed there.</summary>
    static void CrashAt(string step, TinyCheckpoint model, string output, bool overwrite)
    {
        OutputFolder.CommitStep.Value = s =>
        {
            if (s == step) throw new OperationCanceledException($"killed at {s}");
        };
        try
        {
            Assert.Throws<OperationCanceledException>(() => Prune(model, output, new HalfMagnitudeMethod(), overwrite: overwrite));
        }
        finally
        {
            OutputFolder.CommitStep.Value = null;
        }
    }

    [Test]
    public void A_run_killed_between_the_rename_and_the_markers_deletion_is_completed_by_the_next_run()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Prune(model, output, new HalfMagnitudeMethod(needsCalibration: false));
        File.WriteAllText(Path.Combine(output, "notes.md"), "mine");

        CrashAt("renamed", model, output, overwrite: true);
        Assert.That(File.Exists(Path.Combine(output, OutputFolder.MarkerFileName)), Is.True, "the new folder, still marked");
        Assert.That(File.Exists(Path.Combine(output, "notes.md")), Is.False, "the user's file is still in the folder moved aside");

        var next = Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod()));

        Assert.That(next!.Message, Does.Contain("already exists"), "recognised as a finished output");
        Assert.That(Calibrated(output), Is.True, "the killed run's output, completed");
        Assert.That(File.ReadAllText(Path.Combine(output, "notes.md")), Is.EqualTo("mine"));
        Assert.That(File.Exists(Path.Combine(output, OutputFolder.MarkerFileName)), Is.False);
        Assert.That(Siblings(output), Is.EqualTo(new[] { "out" }));
    }

    [Test]
    public void A_run_killed_after_moving_the_old_output_aside_has_it_restored_by_the_next_run()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        Prune(model, output, new HalfMagnitudeMethod(needsCalibration: false));
        File.WriteAllText(Path.Combine(output, "notes.md"), "mine");
        var before = TinyCheckpoint.Hashes(output);

        CrashAt("moved-aside", model, output, overwrite: true);
        Assert.That(Directory.Exists(output), Is.False);
        Assert.That(Siblings(output).Count(s => s.StartsWith("out.replaced-", StringComparison.Ordinal)), Is.EqualTo(1));

        Assert.Throws<OutputFolderException>(() => Prune(model, output, new HalfMagnitudeMethod()));
        Assert.That(TinyCheckpoint.Hashes(output), Is.EqualTo(before), "the old output is back, the user's file in it");
        Prune(model, output, new HalfMagnitudeMethod(), overwrite: true);
        Assert.That(Calibrated(output), Is.True);
        Assert.That(File.ReadAllText(Path.Combine(output, "notes.md")), Is.EqualTo("mine"));
        Assert.That(Siblings(output), Is.EqualTo(new[] { "out" }));
    }

    [Test]
    public void A_mask_that_marks_non_zero_weights_is_an_error()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));

        var error = Assert.Throws<InvalidOperationException>(() => Prune(model, folder.Sub("out"), new LyingMethod()));

        Assert.That(error!.Message, Does.Contain("test-lying").And.Contain("model.layers.0.self_attn.q_proj"));
        Assert.That(Directory.Exists(folder.Sub("out")), Is.False);
    }

    [Test]
    public void A_method_without_calibration_gets_no_pass_and_needs_no_tokens()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var method = new HalfMagnitudeMethod(needsCalibration: false);
        var progress = new ListProgress<LayerProgress>();

        var report = LayerwiseCompressor.Run(new LayerwiseJob(model.Dir, folder.Sub("out"), method, Calibration: null), progress);

        Assert.That(method.Observed, Is.Zero);
        Assert.That(progress.Reports.Select(p => p.Stage), Has.None.EqualTo(PipelineStage.Calibrating).And.None.EqualTo(PipelineStage.Recomputing));
        Assert.That(report.Calibration, Is.Null);
        Assert.That(report.Sparsity.Fraction, Is.EqualTo(0.5));
        using var scope = NewDisposeScope();
        using var written = HfCheckpoint.Open(folder.Sub("out"));
        var name = "model.layers.2.mlp.down_proj.weight";
        Assert.That(written.Load(name).Equals(model.Weights[name].masked_fill(HalfMagnitudeMethod.Mask(model.Weights[name]), 0)), Is.True);
    }

    [Test]
    public void Tokens_given_to_a_method_that_ignores_them_are_not_recorded()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));

        var report = Prune(model, folder.Sub("out"), new HalfMagnitudeMethod(needsCalibration: false));

        Assert.That(report.Calibration, Is.Null);
        Assert.That(report.Seed, Is.Null);
    }

    [Test]
    public void Tensors_the_architecture_does_not_use_are_listed_and_not_copied()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        using var scope = NewDisposeScope();
        const string stale = "model.layers.0.self_attn.rotary_emb.inv_freq";
        HfCheckpointWriter.Write(model.Dir, model.Json, model.Weights.Append(KeyValuePair.Create(stale, ones(8))).ToList());

        var report = Prune(model, folder.Sub("out"), new HalfMagnitudeMethod());

        Assert.That(report.InputModel.IgnoredTensors, Is.EqualTo(new[] { stale }));
        using var written = HfCheckpoint.Open(folder.Sub("out"));
        Assert.That(written.Contains(stale), Is.False);
    }

    [Test]
    public void A_calibrating_method_without_tokens_is_refused_before_anything_is_written()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));

        Assert.Throws<ArgumentException>(() => LayerwiseCompressor.Run(new LayerwiseJob(model.Dir, folder.Sub("out"), new HalfMagnitudeMethod(), null)));
        Assert.That(Directory.Exists(folder.Sub("out")) || Directory.Exists(folder.Sub("out") + ".partial"), Is.False);
    }

    [Test]
    public void Token_ids_outside_the_vocabulary_are_refused()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var ids = TinyCheckpoint.Ids(2, 4);
        ids[1, 2] = TinyCheckpoint.Vocab;

        var error = Assert.Throws<InputException>(() => Prune(model, folder.Sub("out"), new HalfMagnitudeMethod(), new CalibrationTokens(ids)));

        Assert.That(error!.Message, Does.Contain("259"));
        Assert.That(Directory.Exists(folder.Sub("out")), Is.False);
    }

    [Test]
    public void True_sequential_calibrates_each_group_on_its_compressed_predecessors()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), layers: 1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var recorder = new RecordingMethod(new HalfMagnitudeMethod());
        var calibration = Calibration();

        Prune(model, folder.Sub("out"), recorder, calibration, trueSequential: true);

        var order = recorder.Events.Where(e => !e.StartsWith("begin", StringComparison.Ordinal))
                                   .Select(e => e.Replace("model.layers.0.", "").Replace("self_attn.", "").Replace("mlp.", "")).ToList();
        Assert.That(order, Is.EqualTo(new[]
        {
            "observe k_proj", "observe v_proj", "observe q_proj", "apply k_proj", "apply v_proj", "apply q_proj",
            "observe o_proj", "apply o_proj", "observe up_proj", "observe gate_proj", "apply up_proj", "apply gate_proj",
            "observe down_proj", "apply down_proj",
        }).Or.EqualTo(new[]
        {
            // q, k, v see the same tensor; their hooks fire in call order (q first) within one pass.
            "observe q_proj", "observe k_proj", "observe v_proj", "apply k_proj", "apply v_proj", "apply q_proj",
            "observe o_proj", "apply o_proj", "observe gate_proj", "observe up_proj", "apply up_proj", "apply gate_proj",
            "observe down_proj", "apply down_proj",
        }));

        // o_proj sees heads computed with pruned q, k, v; down_proj sees pruned gate and up; each with its own layer dense.
        string[] pruned = [];
        Tensor Weight(string name) => pruned.Any(p => name.EndsWith(p + ".weight", StringComparison.Ordinal))
            ? model.Weights[name].masked_fill(HalfMagnitudeMethod.Mask(model.Weights[name]), 0)
            : model.Weights[name];
        using var rope = new RotaryEmbedding(model.Config);
        var hidden = Embedded(model, calibration.Ids);
        for (var s = 0; s < Samples; s++)
        {
            pruned = ["q_proj", "k_proj", "v_proj"];
            var afterAttention = Run(model.Config, Weight, 0, hidden[s], rope);
            Assert.That(MaxAbsDiff(recorder.Inputs["model.layers.0.self_attn.o_proj"][s], afterAttention.Heads), Is.LessThan(1e-5));
            pruned = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"];
            var afterMlp = Run(model.Config, Weight, 0, hidden[s], rope);
            Assert.That(MaxAbsDiff(recorder.Inputs["model.layers.0.mlp.down_proj"][s], afterMlp.DownInput), Is.LessThan(1e-5));
            Assert.That(MaxAbsDiff(recorder.Inputs["model.layers.0.mlp.up_proj"][s], afterAttention.MlpNormed), Is.GreaterThan(1e-4),
                        "up_proj must see the attention output with o_proj pruned");
        }
        recorder.Clear();
    }

    [Test]
    public void Prune_json_records_method_calibration_model_sparsity_and_timings()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var output = folder.Sub("out");
        var calibration = Calibration();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var report = Prune(model, output, new HalfMagnitudeMethod(), calibration);
        var wall = clock.Elapsed.TotalSeconds;

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(output, PruneReport.FileName)))!.AsObject();
        Assert.That(json["format"]!.GetValue<string>(), Is.EqualTo("repro-prune/1"));
        Assert.That(json["method"]!.GetValue<string>(), Is.EqualTo("test-half-magnitude"));
        Assert.That(json["hyperParameters"]!["fraction"]!.GetValue<double>(), Is.EqualTo(0.5));
        Assert.That(json["seed"]!.GetValue<int>(), Is.EqualTo(42));
        Assert.That(json["calibration"]!["nsamples"]!.GetValue<int>(), Is.EqualTo(Samples));
        Assert.That(json["calibration"]!["seqlen"]!.GetValue<int>(), Is.EqualTo(Tokens));
        Assert.That(json["calibration"]!["idsSha256"]!.GetValue<string>(), Is.EqualTo(calibration.Sha256()).And.Length.EqualTo(64));
        Assert.That(json["calibration"]!["provenance"]!["sampler"]!.GetValue<string>(), Is.EqualTo("test"));
        Assert.That(json["inputModel"]!["path"]!.GetValue<string>(), Is.EqualTo(Path.GetFullPath(model.Dir)));
        Assert.That(json["inputModel"]!["configSha256"]!.GetValue<string>(),
                    Is.EqualTo(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(model.Dir, "config.json"))))));
        Assert.That(json["inputModel"]!["storedDTypes"]!.AsArray().Select(n => n!.GetValue<string>()), Is.EqualTo(new[] { "F32" }));
        Assert.That(json["device"]!.GetValue<string>(), Is.EqualTo("cpu"));
        Assert.That(json["dtype"]!.GetValue<string>(), Is.EqualTo("Float32"));
        Assert.That(json["codeVersion"]!.GetValue<string>(), Is.Not.Empty);
        Assert.That(json["sparsity"]!["fraction"]!.GetValue<double>(), Is.EqualTo(0.5));
        Assert.That(json["masks"]!["format"]!.GetValue<string>(), Is.EqualTo(MaskFile.FormatName));
        Assert.That(json["masks"]!["files"]!.AsArray(), Has.Count.EqualTo(3));

        var layers = json["layers"]!.AsArray();
        Assert.That(layers, Has.Count.EqualTo(3));
        var staged = 0.0;
        foreach (var layer in layers)
        {
            var seconds = layer!["seconds"]!.AsObject();
            foreach (var stage in new[] { "load", "calibration", "observe", "apply", "recompute", "write" })
            {
                var value = seconds[stage]!.GetValue<double>();
                // A stopwatch's seconds: each stage within the call's own time (a stage timed in ms, or timed twice, leaves it).
                Assert.That(value, Is.InRange(0.0, wall), stage);
                staged += value;
            }
            var sublayers = layer["sublayers"]!.AsArray();
            Assert.That(sublayers.Select(s => s!["name"]!.GetValue<string>()),
                        Is.EqualTo(Sublayers.Select(s => $"model.layers.{layer["index"]!.GetValue<int>()}.{s}")));
            foreach (var s in sublayers)
            {
                Assert.That(s!["sparsity"]!.GetValue<double>(), Is.EqualTo(0.5));
                Assert.That(s["masked"]!.GetValue<long>(), Is.EqualTo(s["zeros"]!.GetValue<long>()));
                Assert.That(s["diagnostics"]!["k"]!.GetValue<double>(), Is.EqualTo(s["elements"]!.GetValue<long>() / 2));
            }
        }
        Assert.That(layers[2]!["seconds"]!["recompute"]!.GetValue<double>(), Is.Zero, "nothing reads the last layer's outputs");
        // The stages run one after another inside the call: in seconds, their sum is some time and never more than the call took.
        Assert.That(staged, Is.GreaterThan(0).And.LessThanOrEqualTo(wall), $"stages sum to {staged} s, the call took {wall} s");
        Assert.That(report.Layers.Sum(l => l.Sublayers.Count), Is.EqualTo(21));
    }

    [Test]
    public void Output_tensors_keep_their_stored_dtype_and_untouched_ones_their_bytes()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), storedDType: "bfloat16", tied: true);
        var output = folder.Sub("out");

        Prune(model, output, new HalfMagnitudeMethod());

        using var input = HfCheckpoint.Open(model.Dir);
        using var written = HfCheckpoint.Open(output);
        Assert.That(written.Names, Is.EquivalentTo(input.Names));
        foreach (var name in input.Names)
        {
            Assert.That(written.Describe(name).DType, Is.EqualTo("BF16"), name);
            if (!name.EndsWith("_proj.weight", StringComparison.Ordinal))
                Assert.That(RawBytes(written, name), Is.EqualTo(RawBytes(input, name)), name);
        }
        Assert.That(File.ReadAllBytes(Path.Combine(output, "config.json")), Is.EqualTo(File.ReadAllBytes(Path.Combine(model.Dir, "config.json"))));
        Assert.That(File.Exists(Path.Combine(output, "tokenizer.json")), Is.True);
        using var loaded = LoadedModel.Open(output, CPU, ScalarType.Float32);
    }

    // fp16 storage pruned in bf16: a mask-only method writes the stored tensor with its mask, so every kept weight keeps
    // its bytes (bf16 has 8 mantissa bits to fp16's 10 and would round nearly all of them) and nothing it did not mask
    // turns into a zero.
    [TestCase("wanda")]
    [TestCase("magnitude")]
    public void A_mask_only_method_keeps_every_kept_weight_bit_identical_whatever_the_compute_dtype(string methodName)
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), storedDType: "float16");
        ICompressionMethod method = methodName == "wanda" ? new Wanda(new Sparsity(0.5m)) : new Magnitude(new Sparsity(0.5m));
        var output = folder.Sub("out");

        var report = LayerwiseCompressor.Run(new LayerwiseJob(model.Dir, output, method, Calibration()) { DType = ScalarType.BFloat16 });

        using var scope = NewDisposeScope();
        var masks = MaskFile.Read(output);
        using var written = HfCheckpoint.Open(output);
        var changed = 0L;
        foreach (var (name, mask) in masks)
        {
            var stored = model.Weights[name];
            var expected = stored.masked_fill(mask, 0);
            Assert.That(written.Describe(name).DType, Is.EqualTo("F16"), name);
            // Bytes, not values: Equals would take -0.0 for +0.0.
            Assert.That(written.Load(name).contiguous().bytes.ToArray(), Is.EqualTo(expected.contiguous().bytes.ToArray()),
                        $"{name}: kept weights bit-identical, masked ones zero");
            changed += stored.to(ScalarType.BFloat16).to(ScalarType.Float16).ne(stored).logical_and(mask.logical_not()).sum().item<long>();
        }
        Assert.That(changed, Is.GreaterThan(0), "the test is meaningless unless a bf16 round trip would have changed kept weights");
        Assert.That(report.Sparsity.Zeros, Is.EqualTo(masks.Values.Sum(m => m.sum().item<long>())), "zeros are exactly the masked weights");
        Assert.That(report.WeightsCast, Is.Null);
        foreach (var m in masks.Values) m.Dispose();
    }

    [TestCase("float16", "bfloat16", true)]
    [TestCase("bfloat16", "float16", true)]
    [TestCase("float32", "bfloat16", true)]
    [TestCase("float16", "float32", false)]
    [TestCase("bfloat16", "float32", false)]
    public void Prune_json_says_when_a_weight_updating_method_rounded_weights_through_the_compute_dtype(string stored, string compute, bool rounded)
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), layers: 1, storedDType: stored);
        var dtype = compute switch { "bfloat16" => ScalarType.BFloat16, "float16" => ScalarType.Float16, _ => ScalarType.Float32 };

        var report = LayerwiseCompressor.Run(new LayerwiseJob(model.Dir, folder.Sub("out"), new SparseGpt(new Sparsity(0.5m), null), Calibration()) { DType = dtype });

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Sub("out"), PruneReport.FileName)))!;
        if (rounded)
        {
            Assert.That(report.WeightsCast, Does.Contain($"were computed in {dtype}").And.Contain("rounded"));
            Assert.That((string?)json["weightsCast"], Is.EqualTo(report.WeightsCast));
        }
        else
        {
            Assert.That(report.WeightsCast, Is.Null);
            Assert.That(json.AsObject().ContainsKey("weightsCast"), Is.False);
        }
    }

    static byte[] RawBytes(HfCheckpoint checkpoint, string name)
    {
        using var scope = NewDisposeScope();
        var t = checkpoint.Load(name).contiguous();
        return t.bytes.ToArray();
    }

    [Test]
    public void Progress_walks_every_layer_in_order()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"));
        var progress = new ListProgress<LayerProgress>();

        Prune(model, folder.Sub("out"), new HalfMagnitudeMethod(), progress: progress);

        Assert.That(progress.Reports.Where(p => p.Stage == PipelineStage.LayerDone).Select(p => p.Layer), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(progress.Reports.All(p => p.Layers == 3), Is.True);
        Assert.That(progress.Reports.Select(p => p.Elapsed), Is.Ordered);
        Assert.That(progress.Reports.Where(p => p.Stage == PipelineStage.Calibrating).Max(p => p.SamplesDone), Is.EqualTo(Samples));
    }
}
