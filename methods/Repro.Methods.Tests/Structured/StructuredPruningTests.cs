using Repro.Core;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Methods.Pipeline;
using Repro.Methods.Structured;
using Repro.Methods.Tests.Pipeline;
using static TorchSharp.torch;

namespace Repro.Methods.Tests.Structured;

/// <summary>LLM-Pruner's coupled structures, their removal and the smaller model it writes (METHODS §8, §11).</summary>
[SingleTorchThread]
public sealed class StructuredPruningTests
{
    static readonly ModelFamily[] Families = [ModelFamily.Llama, ModelFamily.Qwen2, ModelFamily.Qwen3, ModelFamily.Cohere];

    static CalibrationTokens Calibration(int n = 4, int t = 12, string[]? languages = null) =>
        new(TinyCheckpoint.Ids(n, t), seed: 1, provenance: new { sampler = "test" }) { RowLanguages = languages };

    /// <summary>A random plan for every layer in [1, L): each layer keeps a random non-empty subset of units and channels.</summary>
    static Dictionary<int, LayerPlan> RandomPlans(ModelConfig config, int seed)
    {
        var rng = new Random(seed);
        var plans = new Dictionary<int, LayerPlan>();
        for (var l = 1; l < config.NumHiddenLayers; l++)
        {
            var s = LayerStructures.Of(config, l);
            int[] Keep(int n)
            {
                var keep = Enumerable.Range(0, n).Where(_ => rng.NextDouble() < 0.6).ToArray();
                return keep.Length > 0 ? keep : [rng.Next(n)];
            }
            plans[l] = new LayerPlan(s, Keep(s.Units), Keep(s.Channels));
        }
        return plans;
    }

    static Tensor Logits(string dir, long[,] ids)
    {
        using var loaded = LoadedModel.Open(dir, CPU, ScalarType.Float64);
        return loaded.Model.Logits(tensor(ids.Cast<long>().ToArray(), [ids.GetLength(0), ids.GetLength(1)])).to(ScalarType.Float64);
    }

    [TestCaseSource(nameof(Families))]
    public void The_smaller_model_computes_what_the_original_computes_with_the_removed_units_zeroed(ModelFamily family)
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), family: family);
        using var scope = NewDisposeScope();
        var plans = RandomPlans(model.Config, seed: (int)family + 3);
        var pruned = model.Config.WithLayerWidths([.. Enumerable.Range(0, model.Config.NumHiddenLayers)
            .Select(l => plans.TryGetValue(l, out var p) ? p.Widths : model.Config.Widths(l))]);
        using (var checkpoint = HfCheckpoint.Open(model.Dir))
        using (var source = new PrunedCheckpoint(checkpoint, pruned, plans))
        {
            HfCheckpointWriter.Write(folder.Sub("small"), pruned.ToJson(), source);
            new Repro.Core.Tokenizers.ByteTokenizer().WriteHfFiles(folder.Sub("small"), 64);
        }

        // The original with the removed heads' o_proj columns and the removed channels' down_proj columns zeroed: those
        // units then add nothing, which is what removing them must compute.
        var zeroed = model.Weights.ToDictionary(p => p.Key, p => p.Value.clone());
        foreach (var (l, plan) in plans)
        {
            var p = ModelConfig.LayerPrefix(l);
            var s = plan.Structures;
            foreach (var k in plan.RemovedUnits)
                zeroed[p + "self_attn.o_proj.weight"].narrow(1, k * s.QueriesPerUnit * s.HeadDim, s.QueriesPerUnit * s.HeadDim).zero_();
            foreach (var c in plan.RemovedChannels) zeroed[p + "mlp.down_proj.weight"].narrow(1, c, 1).zero_();
        }
        HfCheckpointWriter.Write(folder.Sub("zeroed"), model.Json, zeroed);
        new Repro.Core.Tokenizers.ByteTokenizer().WriteHfFiles(folder.Sub("zeroed"), 64);

        var ids = TinyCheckpoint.Ids(2, 10);
        var small = Logits(folder.Sub("small"), ids);
        var reference = Logits(folder.Sub("zeroed"), ids);
        var difference = (small - reference).abs().max().item<double>();
        Assert.That(difference, Is.LessThan(1e-4 * reference.abs().max().item<double>()),
                    $"{family}: the smaller model's logits differ from the zeroed original's by {difference}");
    }

    [TestCaseSource(nameof(Families))]
    public void Removing_a_unit_removes_exactly_its_coupled_rows_and_columns_and_keeps_every_other_weight_bit_for_bit(ModelFamily family)
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), family: family);
        using var scope = NewDisposeScope();
        var plans = RandomPlans(model.Config, seed: 17 + (int)family);
        var pruned = model.Config.WithLayerWidths([.. Enumerable.Range(0, model.Config.NumHiddenLayers)
            .Select(l => plans.TryGetValue(l, out var p) ? p.Widths : model.Config.Widths(l))]);
        using var checkpoint = HfCheckpoint.Open(model.Dir);
        using var source = new PrunedCheckpoint(checkpoint, pruned, plans);
        Assert.That(source.Names, Is.EquivalentTo(pruned.ExpectedTensorNames()));
        foreach (var name in source.Names)
        {
            var got = source.Load(name);
            var original = model.Weights[name];
            var layer = name.StartsWith("model.layers.", StringComparison.Ordinal) ? int.Parse(name.Split('.')[2]) : -1;
            if (!plans.TryGetValue(layer, out var plan) || name.Contains("post_attention_layernorm") || name.Contains("input_layernorm")
                || (name.Contains("_norm.") && !pruned.IsCohere) || name.EndsWith("o_proj.bias") || name.EndsWith("down_proj.bias"))
            {
                Assert.That(got.Equals(original), $"{name} must be copied unchanged");
                continue;
            }
            var s = plan.Structures;
            var (dim, keep) = name switch
            {
                _ when name.Contains("q_proj") => (0, s.QueryRows(plan.KeptUnits)),
                _ when name.Contains("k_proj") || name.Contains("v_proj") => (0, s.KeyValueRows(plan.KeptUnits)),
                _ when name.Contains("o_proj") => (1, s.QueryRows(plan.KeptUnits)),
                _ when name.Contains("q_norm") => (0, s.QueryHeads(plan.KeptUnits)),
                _ when name.Contains("k_norm") => (0, plan.KeptUnits.Select(k => (long)k).ToArray()),
                _ when name.Contains("down_proj") => (1, plan.KeptChannels.Select(c => (long)c).ToArray()),
                _ => (0, plan.KeptChannels.Select(c => (long)c).ToArray()),
            };
            Assert.That(got.Equals(original.index_select(dim, tensor(keep))), $"{name}: not exactly the kept {(dim == 0 ? "rows" : "columns")} of the original");
        }
        // Shapes agree with each other as METHODS §11 lists them.
        foreach (var (l, plan) in plans)
        {
            var p = ModelConfig.LayerPrefix(l);
            long Rows(string n) => source.Describe(p + n + ".weight").Shape[0];
            long Cols(string n) => source.Describe(p + n + ".weight").Shape[1];
            Assert.That(Cols("self_attn.o_proj"), Is.EqualTo(Rows("self_attn.q_proj")));
            Assert.That(Rows("self_attn.k_proj"), Is.EqualTo(Rows("self_attn.v_proj")));
            Assert.That(Rows("self_attn.k_proj") * plan.Structures.QueriesPerUnit, Is.EqualTo(Rows("self_attn.q_proj")));
            Assert.That(Cols("mlp.down_proj"), Is.EqualTo(Rows("mlp.gate_proj")).And.EqualTo(Rows("mlp.up_proj")));
        }
    }

    /// <summary>METHODS §8's worked counts (8 KV heads of 128 channels) and a sparsity where double and decimal disagree.</summary>
    [TestCase(8, 128, 0.3, 2)]
    [TestCase(8, 128, 0.5, 4)]
    [TestCase(8, 128, 0.7, 5)]
    public void Heads_removed_are_the_pruned_channels_of_the_root_over_head_dim(int kvHeads, int headDim, double ratio, int removed)
    {
        var s = new LayerStructures(0, new LayerWidths(kvHeads * 4, kvHeads, 100), headDim);
        Assert.That(s.UnitsToRemove(ratio), Is.EqualTo(removed));
    }

    [Test]
    public void Pruned_channels_are_truncated_in_double_as_python_int_does()
    {
        // 100 · (1 − 0.34) is 66 in decimal but 65.99999… in double: Python's int(100 * (1 - 0.34)) is 65, so 35 channels go.
        Assert.That(LayerStructures.PrunedChannels(100, 0.34), Is.EqualTo(35));
        Assert.That(100 - (int)decimal.Truncate(100 * (1 - 0.34m)), Is.EqualTo(34), "the decimal count differs: the test would not tell them apart otherwise");
    }

    [Test]
    public void A_run_removes_the_lowest_scored_units_writes_a_smaller_folder_every_loader_reads_and_records_it()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), layers: 4);
        var method = StructuredPruner.LlmPruner(new Sparsity(0.5m), new StructuredOptions(Layers: new LayerRange(1, 3), MicroBatch: 3));
        var report = method.Run(new StructuredJob(model.Dir, folder.Sub("out"), Calibration()));

        Assert.That(File.Exists(Path.Combine(folder.Sub("out"), "prune.json")));
        var written = ModelConfig.FromJson(HfCheckpoint.ReadConfig(Path.Combine(folder.Sub("out"), "config.json")), "config.json");
        Assert.That(written.PerLayerWidths, Is.Not.Null);
        for (var l = 0; l < 4; l++)
        {
            var record = report.Layers[l];
            Assert.That(written.Widths(l), Is.EqualTo(record.After));
            Assert.That(record.Pruned, Is.EqualTo(l is 1 or 2));
            if (!record.Pruned) continue;
            var s = LayerStructures.Of(model.Config, l);
            Assert.That(record.RemovedUnits, Has.Count.EqualTo(s.UnitsToRemove(0.5)));
            Assert.That(record.RemovedChannels, Has.Count.EqualTo(s.ChannelsToRemove(0.5)));
            var maxRemoved = record.RemovedUnits.Max(u => record.UnitScores![u]);
            var minKept = Enumerable.Range(0, s.Units).Except(record.RemovedUnits).Min(u => record.UnitScores![u]);
            Assert.That(maxRemoved, Is.LessThanOrEqualTo(minKept), $"layer {l}: a removed unit scored above a kept one");
        }
        Assert.That(report.Parameters.After, Is.EqualTo(written.ParameterCount()));
        Assert.That(report.Parameters.Before, Is.EqualTo(model.Config.ParameterCount()));
        using var loaded = LoadedModel.Open(folder.Sub("out"), CPU, ScalarType.Float32);
        var logits = loaded.Model.Logits(tensor(TinyCheckpoint.Ids(1, 8).Cast<long>().ToArray(), [1, 8]));
        Assert.That(logits.isfinite().all().item<bool>());
    }

    [Test]
    public void Layers_outside_the_range_are_copied_bit_for_bit()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), layers: 4);
        StructuredPruner.LlmPruner(new Sparsity(0.5m), new StructuredOptions(Layers: new LayerRange(1, 3)))
            .Run(new StructuredJob(model.Dir, folder.Sub("out"), Calibration()));
        using var output = HfCheckpoint.Open(folder.Sub("out"));
        foreach (var name in model.Config.ExpectedTensorNames().Where(n => !n.StartsWith("model.layers.1.") && !n.StartsWith("model.layers.2.")))
            Assert.That(output.Load(name).Equals(model.Weights[name]), $"{name} changed");
    }

    [Test]
    public void A_range_that_prunes_nothing_or_a_ratio_that_empties_a_layer_is_refused_before_any_output()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), layers: 3);
        var empty = Assert.Throws<InputException>(() => StructuredPruner.LlmPruner(new Sparsity(0.5m))
            .Run(new StructuredJob(model.Dir, folder.Sub("out"), Calibration())))!;
        Assert.That(empty.Message, Does.Contain("layer range 4:-2"));
        var all = Assert.Throws<InputException>(() => StructuredPruner.LlmPruner(new Sparsity(0.99m), new StructuredOptions(Layers: new LayerRange(0, 0)))
            .Run(new StructuredJob(model.Dir, folder.Sub("out"), Calibration())))!;
        Assert.That(all.Message, Does.Contain("leaving none"));
        Assert.That(Directory.Exists(folder.Sub("out")), Is.False);
    }

    [Test]
    public void Lang_prune_needs_the_language_of_every_window()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), layers: 2);
        var e = Assert.Throws<ArgumentException>(() => StructuredPruner.LangPrune(new Sparsity(0.5m), new StructuredOptions(Layers: new LayerRange(0, 0)))
            .Run(new StructuredJob(model.Dir, folder.Sub("out"), Calibration())))!;
        Assert.That(e.Message, Does.Contain("language of every calibration window"));
    }

    [TestCase(LanguageMerge.Max)]
    [TestCase(LanguageMerge.Mean)]
    [TestCase(LanguageMerge.Min)]
    public void With_every_language_given_the_same_windows_lang_prune_removes_what_mixed_data_llm_pruner_removes(LanguageMerge merge)
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), layers: 3);
        var ids = TinyCheckpoint.Ids(3, 12);
        var twice = new long[6, 12];
        for (var i = 0; i < 6; i++)
            for (var j = 0; j < 12; j++) twice[i, j] = ids[i % 3, j];
        var options = new StructuredOptions(Layers: new LayerRange(0, 0), Merge: merge, MicroBatch: 3);
        var mixed = StructuredPruner.LlmPruner(new Sparsity(0.5m), options)
            .Run(new StructuredJob(model.Dir, folder.Sub("mixed"), new CalibrationTokens(twice)));
        var perLanguage = StructuredPruner.LangPrune(new Sparsity(0.5m), options)
            .Run(new StructuredJob(model.Dir, folder.Sub("lang"), new CalibrationTokens(twice) { RowLanguages = ["de", "de", "de", "en", "en", "en"] }));
        for (var l = 0; l < 3; l++)
        {
            Assert.That(perLanguage.Layers[l].RemovedUnits, Is.EqualTo(mixed.Layers[l].RemovedUnits), $"layer {l} units");
            Assert.That(perLanguage.Layers[l].RemovedChannels, Is.EqualTo(mixed.Layers[l].RemovedChannels), $"layer {l} channels");
        }
    }

    [Test]
    public void Recall_is_the_kept_share_of_each_languages_most_specific_channels()
    {
        // One layer, one unit, ten channels; de's importance rises with the channel index, en's falls.
        var s = new LayerStructures(0, new LayerWidths(2, 1, 10), 4);
        IReadOnlyList<LayerImportance> Language(Func<int, double> score) => [new LayerImportance(0, [5], [.. Enumerable.Range(0, 10).Select(score)])];
        var languages = new Dictionary<string, IReadOnlyList<LayerImportance>> { ["de"] = Language(c => c), ["en"] = Language(c => 9 - c) };
        // Top 3 by specificity: de channels 9, 8, 7; en channels 0, 1, 2. Keep 0–4 and 9.
        var plan = new LayerPlan(s, [0], [0, 1, 2, 3, 4, 9]);
        var recall = StructuredPruner.Recall(languages, new Dictionary<int, LayerPlan> { [0] = plan }, 1e-12, 0.3);
        Assert.That(recall["de"], Is.EqualTo(1.0 / 3));
        Assert.That(recall["en"], Is.EqualTo(1.0));
    }

    [Test]
    public void A_multilingual_run_records_a_recall_per_language_within_zero_and_one()
    {
        using var folder = new TempFolder();
        using var model = new TinyCheckpoint(folder.Sub("in"), layers: 2);
        foreach (var method in new[] { StructuredPruner.LlmPruner(new Sparsity(0.5m), new StructuredOptions(Layers: new LayerRange(0, 0))),
                                       StructuredPruner.LangPrune(new Sparsity(0.5m), new StructuredOptions(Layers: new LayerRange(0, 0))) })
        {
            var report = method.Run(new StructuredJob(model.Dir, folder.Sub(method.Name), Calibration(languages: ["de", "de", "zh", "zh"])));
            Assert.That(report.Recall, Is.Not.Null, method.Name);
            Assert.That(report.Recall!.Keys, Is.EqualTo(new[] { "de", "zh" }));
            Assert.That(report.Recall.Values, Has.All.InRange(0.0, 1.0));
        }
    }

    // ---------- Lang-Prune's normalisation and merge ----------

    static Gen<List<List<LayerImportance>>> Importances() =>
        from languages in Gen.Choose(1, 4)
        from layers in Gen.Choose(1, 3)
        from units in Gen.Choose(1, 4)
        from channels in Gen.Choose(2, 6)
        from values in Gen.Choose(0, 1000).ArrayOf(languages * layers * (units + channels))
        select Enumerable.Range(0, languages).Select(g => Enumerable.Range(0, layers).Select(l =>
        {
            var at = (g * layers + l) * (units + channels);
            return new LayerImportance(l, [.. values.Skip(at).Take(units).Select(v => v / 7.0)], [.. values.Skip(at + units).Take(channels).Select(v => v / 7.0)]);
        }).ToList()).ToList();

    static IEnumerable<double> All(IEnumerable<LayerImportance> layers) => layers.SelectMany(l => l.Units.Concat(l.Channels));

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property Normalised_scores_lie_in_zero_to_one_and_max_is_at_least_mean_at_least_min() =>
        Prop.ForAll(Importances().ToArbitrary(), languages =>
        {
            IReadOnlyList<IReadOnlyList<LayerImportance>> input = [.. languages];
            var max = All(StructuredPruner.Merge(input, LanguageMerge.Max, 1e-12)).ToArray();
            var mean = All(StructuredPruner.Merge(input, LanguageMerge.Mean, 1e-12)).ToArray();
            var min = All(StructuredPruner.Merge(input, LanguageMerge.Min, 1e-12)).ToArray();
            var single = input.Select(l => All(StructuredPruner.Merge([l], LanguageMerge.Max, 1e-12))).SelectMany(x => x).ToArray();
            return single.All(x => x >= 0 && x < 1).Label("a normalised score outside [0, 1)")
                .And(max.Zip(mean).All(p => p.First >= p.Second - 1e-15).Label("max < mean"))
                .And(mean.Zip(min).All(p => p.First >= p.Second - 1e-15).Label("mean < min"));
        });

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property One_language_gives_max_mean_and_min_alike_and_its_own_ranking() =>
        Prop.ForAll(Importances().ToArbitrary(), languages =>
        {
            IReadOnlyList<IReadOnlyList<LayerImportance>> one = [languages[0]];
            var max = All(StructuredPruner.Merge(one, LanguageMerge.Max, 1e-12)).ToArray();
            var mean = All(StructuredPruner.Merge(one, LanguageMerge.Mean, 1e-12)).ToArray();
            var min = All(StructuredPruner.Merge(one, LanguageMerge.Min, 1e-12)).ToArray();
            var raw = All(languages[0]).ToArray();
            var order = Enumerable.Range(0, raw.Length).OrderBy(i => raw[i]).ThenBy(i => i);
            var merged = Enumerable.Range(0, raw.Length).OrderBy(i => max[i]).ThenBy(i => i);
            return (max.SequenceEqual(mean) && mean.SequenceEqual(min)).Label("aggregations differ for one language")
                .And(order.SequenceEqual(merged).Label("normalising changed the ranking"));
        });

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property Scaling_one_languages_importance_by_a_positive_factor_changes_no_merged_score() =>
        Prop.ForAll(Importances().ToArbitrary(), Gen.Choose(1, 1000).ToArbitrary(), (languages, factor) =>
        {
            var scale = factor / 37.0;
            IReadOnlyList<IReadOnlyList<LayerImportance>> input = [.. languages];
            IReadOnlyList<IReadOnlyList<LayerImportance>> scaled =
                [[.. languages[0].Select(l => new LayerImportance(l.Layer, [.. l.Units.Select(x => x * scale)], [.. l.Channels.Select(x => x * scale)]))], .. languages.Skip(1)];
            var ok = true;
            foreach (var merge in Enum.GetValues<LanguageMerge>())
            {
                var a = All(StructuredPruner.Merge(input, merge, 1e-12)).ToArray();
                var b = All(StructuredPruner.Merge(scaled, merge, 1e-12)).ToArray();
                ok &= a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-9);
            }
            return ok.Label("a merged score moved when one language's importance was scaled");
        });
}
