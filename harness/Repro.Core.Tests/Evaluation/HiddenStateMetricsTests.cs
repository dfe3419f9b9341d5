using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Checkpoints;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Tests.Corpora;
using Repro.Core.Tokenizers;
using TorchSharp;
using static Repro.Core.Tests.Models.TinyModels;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Evaluation;

public sealed class HiddenStateMetricsTests
{
    [Test]
    public void A_hand_computed_layer()
    {
        using var scope = NewDisposeScope();
        // Dense norms 5 and 10 (mean 7.5), pruned norms 5 and 0 (mean 2.5):
        // H̃ = [[.4, 8/15], [.8, 16/15]], Ĥ̃ = [[1.2, 1.6], [0, 0]] → PE = 16/9 + 16/9, Σ H̃² = 125/56.25 = 20/9.
        var dense = tensor(new double[] { 3, 4, 6, 8 }).view(1, 2, 2);
        var pruned = tensor(new double[] { 3, 4, 0, 0 }).view(1, 2, 2);

        var m = HiddenStateMetrics.Compute(dense, pruned, layer: 5);

        Assert.That(m.Layer, Is.EqualTo(5));
        Assert.That(m.Tokens, Is.EqualTo(2));
        Assert.That(m.DenseMeanNorm, Is.EqualTo(7.5).Within(1e-12));
        Assert.That(m.PrunedMeanNorm, Is.EqualTo(2.5).Within(1e-12));
        Assert.That(m.PruningError, Is.EqualTo(32.0 / 9).Within(1e-12));
        Assert.That(m.PruningErrorPerToken, Is.EqualTo(16.0 / 9).Within(1e-12));
        Assert.That(m.SnrDb, Is.EqualTo(10 * Math.Log10(20.0 / 32)).Within(1e-12));
    }

    [Test]
    public void Pruning_error_is_the_per_sequence_sum_averaged_over_sequences()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(1);
        var dense = randn([1, 5, 4], generator: generator);
        var pruned = randn([1, 5, 4], generator: generator);

        var one = HiddenStateMetrics.Compute(dense, pruned);
        var twice = HiddenStateMetrics.Compute(cat([dense, dense]), cat([pruned, pruned]));

        Assert.That(twice.Sequences, Is.EqualTo(2));
        Assert.That(twice.PruningError, Is.EqualTo(one.PruningError).Within(1e-9));
        Assert.That(twice.SnrDb, Is.EqualTo(one.SnrDb).Within(1e-9));
    }

    [Test]
    public void Identical_states_have_zero_error_and_infinite_snr_left_out_of_the_mean()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(2);
        var states = randn([2, 6, 8], generator: generator, dtype: ScalarType.Float32);
        var other = states + 0.1 * randn([2, 6, 8], generator: generator);

        var same = HiddenStateMetrics.Compute(states, states.clone(), layer: 0);
        var different = HiddenStateMetrics.Compute(states, other, layer: 1);
        var result = new HiddenStateMetricsResult([same, different]);

        Assert.That(same.PruningError, Is.Zero);
        Assert.That(same.Identical, Is.True);
        Assert.That(double.IsPositiveInfinity(same.SnrDb), Is.True);
        Assert.That(result.IdenticalLayers, Is.EqualTo(1));
        Assert.That(result.MeanSnrDb, Is.EqualTo(different.SnrDb));
        Assert.That(result.MeanPruningError, Is.EqualTo(different.PruningError / 2));
        Assert.That(new HiddenStateMetricsResult([same]).MeanSnrDb, Is.NaN);
    }

    static Arbitrary<(int Seed, double DenseScale, double PrunedScale)> Scales() =>
        (from seed in Gen.Choose(0, 10_000)
         from a in Gen.Choose(-30, 30)
         from b in Gen.Choose(-30, 30)
         select (seed, Math.Pow(1.37, a), Math.Pow(1.37, b))).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 60)]
    public Property Scaling_either_models_states_changes_neither_error_nor_snr() =>
        Prop.ForAll(Scales(), c =>
        {
            using var scope = NewDisposeScope();
            using var generator = new Generator((ulong)c.Seed);
            var dense = randn([2, 5, 6], generator: generator, dtype: ScalarType.Float64);
            var pruned = dense + 0.3 * randn([2, 5, 6], generator: generator, dtype: ScalarType.Float64);
            var plain = HiddenStateMetrics.Compute(dense, pruned);
            var scaled = HiddenStateMetrics.Compute(dense * c.DenseScale, pruned * c.PrunedScale);
            return (Math.Abs(scaled.PruningError - plain.PruningError) <= 1e-9 * plain.PruningError).Label($"PE {plain.PruningError} vs {scaled.PruningError}")
                .And((Math.Abs(scaled.SnrDb - plain.SnrDb) <= 1e-9).Label($"SNR {plain.SnrDb} vs {scaled.SnrDb}"));
        });

    [Test]
    public void Excluded_positions_enter_neither_norms_nor_sums()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        var dense = randn([2, 5, 4], generator: generator);
        var pruned = dense + 0.2 * randn([2, 5, 4], generator: generator);
        var keep = ones([2, 5], dtype: ScalarType.Bool);
        keep[0, 0] = tensor(false);
        keep[1, 3] = tensor(false);
        var garbage = pruned.clone();
        garbage[0, 0] = full(4, 1e6f);
        garbage[1, 3] = full(4, -1e6f);

        var clean = HiddenStateMetrics.Compute(dense, pruned, keep);
        var dirty = HiddenStateMetrics.Compute(dense, garbage, keep);

        Assert.That(clean.Tokens, Is.EqualTo(8));
        Assert.That(dirty.PruningError, Is.EqualTo(clean.PruningError));
        Assert.That(dirty.SnrDb, Is.EqualTo(clean.SnrDb));
    }

    // ------------------------------------------------------------ side-by-side evaluation

    static ModelConfig ThreeLayers() => Config(ModelFamily.Llama, j => j["num_hidden_layers"] = 3);

    /// <summary>Weights with the smaller half of every projection zeroed.</summary>
    static Dictionary<string, Tensor> Pruned(Dictionary<string, Tensor> weights) => weights.ToDictionary(kv => kv.Key, kv =>
    {
        if (!kv.Key.EndsWith("_proj.weight", StringComparison.Ordinal)) return kv.Value;
        var threshold = kv.Value.abs().flatten().sort().Values[kv.Value.NumberOfElements / 2];
        return kv.Value.masked_fill(kv.Value.abs() <= threshold, 0);
    });

    static long[,] Ids(int windows, int tokens, ulong seed = 9)
    {
        var rng = new Repro.Core.Corpora.SplitMix64(seed);
        var ids = new long[windows, tokens];
        for (var w = 0; w < windows; w++)
            for (var t = 0; t < tokens; t++) ids[w, t] = (long)(rng.NextUInt64() % 61);
        return ids;
    }

    [Test]
    public void A_model_compared_with_itself_has_zero_error_in_every_layer()
    {
        using var scope = NewDisposeScope();
        var config = ThreeLayers();
        var source = new InMemoryTensorSource(Weights(config));

        var result = HiddenStateMetricsEvaluator.Compare(source, source, config, Ids(2, 6), [], CPU, ScalarType.Float32);

        Assert.That(result.Layers.Select(l => l.PruningError), Is.EqualTo(new double[] { 0, 0, 0 }));
        Assert.That(result.IdenticalLayers, Is.EqualTo(3));
        Assert.That(result.MeanSnrDb, Is.NaN);
    }

    [Test]
    public void Side_by_side_layers_give_what_two_full_forward_passes_give()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var config = ThreeLayers();
        var dense = Weights(config);
        var pruned = Pruned(dense);
        var ids = Ids(3, 7);
        ids[0, 0] = 1;   // BOS: run, not measured

        var result = HiddenStateMetricsEvaluator.Compare(new InMemoryTensorSource(dense), new InMemoryTensorSource(pruned), config, ids, [1], CPU, ScalarType.Float32);

        var denseOutputs = LayerOutputs(config, dense, ids);
        var prunedOutputs = LayerOutputs(config, pruned, ids);
        var keep = tensor(Enumerable.Range(0, ids.Length).Select(i => ids[i / 7, i % 7] != 1).ToArray()).view(3, 7);
        for (var l = 0; l < 3; l++)
        {
            var expected = HiddenStateMetrics.Compute(denseOutputs[l], prunedOutputs[l], keep, l);
            Assert.That(result.Layers[l].Tokens, Is.EqualTo(keep.sum().item<long>()).And.LessThan(21));
            Assert.That(result.Layers[l].PruningError, Is.EqualTo(expected.PruningError).Within(1e-6 * expected.PruningError), $"layer {l}");
            Assert.That(result.Layers[l].SnrDb, Is.EqualTo(expected.SnrDb).Within(1e-5), $"layer {l}");
            Assert.That(double.IsFinite(result.Layers[l].SnrDb) && result.Layers[l].SnrDb > 0, Is.True, $"layer {l} SNR {result.Layers[l].SnrDb}");
        }
    }

    /// <summary>Each decoder layer's outputs [windows, tokens, hidden] from one full model, captured by forward hooks.</summary>
    static List<Tensor> LayerOutputs(ModelConfig config, Dictionary<string, Tensor> weights, long[,] ids)
    {
        using var model = CausalLM.Load(config, new InMemoryTensorSource(weights), CPU, ScalarType.Float32);
        var perLayer = Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new List<Tensor>()).ToList();
        var hooks = model.Layers.Select(layer => layer.register_forward_hook((_, _, output) =>
        {
            perLayer[layer.Index].Add(output.clone());
            return output;
        })).ToList();
        for (var w = 0; w < ids.GetLength(0); w++)
            model.call(tensor(Enumerable.Range(0, ids.GetLength(1)).Select(t => ids[w, t]).ToArray()).unsqueeze(0));
        hooks.ForEach(h => h.remove());
        return perLayer.Select(list => cat(list)).ToList();
    }

    static readonly string TinyModel = Path.Combine(RepoPaths.Fixtures, "models", "tiny");

    /// <summary>The tiny fixture model and a copy with half of every projection zeroed, as two checkpoint folders.</summary>
    static (string Dense, string Pruned) TinyPair(TempFolder folder)
    {
        using var scope = NewDisposeScope();
        using var checkpoint = HfCheckpoint.Open(TinyModel);
        var weights = checkpoint.Names.ToDictionary(n => n, n => checkpoint.Load(n));
        var prunedDir = Path.Combine(folder.Path, "pruned");
        HfCheckpointWriter.Write(prunedDir, checkpoint.ConfigJson.DeepClone().AsObject(), Pruned(weights));
        return (TinyModel, prunedDir);
    }

    static long[,] TinyIds(int windows, int tokens, ulong seed)
    {
        var ids = Ids(windows, tokens, seed);
        for (var w = 0; w < windows; w++)
            for (var t = 0; t < tokens; t++) ids[w, t] = ids[w, t] * 4 + (long)(seed % 4);   // spread over the 259 ids
        ids[0, 0] = 256;                                                                        // BOS, excluded
        return ids;
    }

    [TestCase(ScalarType.Float32)]
    [TestCase(ScalarType.BFloat16)]
    public void Languages_compared_together_give_bit_for_bit_what_each_gives_alone(ScalarType dtype)
    {
        using var folder = new TempFolder();
        var (denseDir, prunedDir) = TinyPair(folder);
        long[] excluded = [256, 257, 258];
        // Three languages of different window counts, as eval hidden and runs give them: one call loads each layer once.
        var sets = new[] { TinyIds(3, 24, 1), TinyIds(1, 24, 2), TinyIds(2, 24, 3) };
        var reports = new List<HiddenStateProgress>();

        var together = HiddenStateMetricsEvaluator.Compare(denseDir, prunedDir, sets, excluded, CPU, dtype, new ListProgress(reports));
        var alone = sets.Select(ids => HiddenStateMetricsEvaluator.Compare(denseDir, prunedDir, ids, excluded, CPU, dtype)).ToList();

        Assert.That(together, Has.Count.EqualTo(3));
        for (var s = 0; s < sets.Length; s++)
        {
            Assert.That(together[s].Layers, Is.EqualTo(alone[s].Layers), $"set {s}: every field of every layer, exactly");
            Assert.That(together[s].Layers.All(l => l.PruningError > 0 && double.IsFinite(l.SnrDb)), Is.True, "a pruned model differs in every layer");
        }
        Assert.That(together[0].Layers[0], Is.Not.EqualTo(together[1].Layers[0]), "the sets are measured apart, not pooled");
        // Progress: layer-major, each set's windows in turn within a layer.
        Assert.That(reports.Select(r => (r.Layer, r.Set, r.SamplesDone)).Take(7),
                    Is.EqualTo(new[] { (0, 0, 1), (0, 0, 2), (0, 0, 3), (0, 1, 1), (0, 2, 1), (0, 2, 2), (1, 0, 1) }));
    }

    [Test]
    public void Embedding_rows_read_from_the_file_give_what_the_whole_table_gave()
    {
        using var folder = new TempFolder();
        var (denseDir, prunedDir) = TinyPair(folder);
        var ids = TinyIds(2, 16, 5);
        var result = HiddenStateMetricsEvaluator.Compare(denseDir, prunedDir, ids, [256], CPU, ScalarType.Float32);

        // The whole-table path this evaluator took before it read rows: load the table, take the rows, convert them.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var dense = HfCheckpoint.Open(denseDir);
        using var pruned = HfCheckpoint.Open(prunedDir);
        var config = ModelConfig.FromJson(dense.ConfigJson, dense.ConfigPath);
        var flat = new long[ids.Length];
        Buffer.BlockCopy(ids, 0, flat, 0, flat.Length * sizeof(long));
        Tensor WholeTable(ITensorSource source) =>
            source.Load("model.embed_tokens.weight").index_select(0, tensor(flat)).view(2, 16, -1).to(ScalarType.Float32).contiguous();
        var (d, p) = (WholeTable(dense), WholeTable(pruned));
        var keep = tensor(flat.Select(id => id != 256).ToArray()).view(2, 16);
        using var rope = new RotaryEmbedding(config);
        for (var l = 0; l < config.NumHiddenLayers; l++)
        {
            using var denseLayer = DecoderLayer.Create(config, l, rope);
            denseLayer.LoadWeights(dense, CPU, ScalarType.Float32);
            using var prunedLayer = DecoderLayer.Create(config, l, rope);
            prunedLayer.LoadWeights(pruned, CPU, ScalarType.Float32);
            for (var i = 0; i < 2; i++)
            {
                d.narrow(0, i, 1).copy_(denseLayer.call(d.narrow(0, i, 1)));
                p.narrow(0, i, 1).copy_(prunedLayer.call(p.narrow(0, i, 1)));
            }
            Assert.That(result.Layers[l], Is.EqualTo(HiddenStateMetrics.Compute(d, p, keep, l)), $"layer {l}");
        }
    }

    /// <summary>A checkpoint that counts the tensors loaded whole out of it; rows read straight from its file are not loads.</summary>
    sealed class CountingSource(ITensorSource inner) : ITensorSource
    {
        public Dictionary<string, int> Loads { get; } = new(StringComparer.Ordinal);
        public IReadOnlyCollection<string> Names => inner.Names;
        public bool Contains(string name) => inner.Contains(name);
        public TensorInfo Describe(string name) => inner.Describe(name);

        public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
        {
            Loads[name] = Loads.GetValueOrDefault(name) + 1;
            return inner.Load(name, dtype, device);
        }

        public void Dispose() => inner.Dispose();
    }

    /// <summary>
    /// The memory shape eval hidden promises: for three languages, every decoder layer tensor of each model is loaded
    /// exactly once, nothing else is loaded whole (the embedding table, the final norm, the head), and the embedding is
    /// read as rows.
    /// </summary>
    [Test]
    public void Each_layer_of_each_model_is_loaded_once_for_all_languages_and_the_embedding_table_never_whole()
    {
        using var folder = new TempFolder();
        var (denseDir, prunedDir) = TinyPair(folder);
        using var dense = new CountingSource(HfCheckpoint.Open(denseDir));
        using var pruned = new CountingSource(HfCheckpoint.Open(prunedDir));
        using var checkpoint = HfCheckpoint.Open(denseDir);
        var config = ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
        var sets = new[] { TinyIds(2, 16, 1), TinyIds(1, 16, 2), TinyIds(3, 16, 3) };

        var results = HiddenStateMetricsEvaluator.Compare(dense, pruned, config, sets, [256], CPU, ScalarType.Float32);

        Assert.That(results, Has.Count.EqualTo(3));
        var layerTensors = Enumerable.Range(0, config.NumHiddenLayers).SelectMany(config.LayerTensorNames).ToList();
        Assert.That(layerTensors, Is.Not.Empty.And.Unique);
        foreach (var (name, source) in new[] { ("dense", dense), ("pruned", pruned) })
        {
            Assert.That(source.Loads.Keys, Is.EquivalentTo(layerTensors), $"{name}: exactly the decoder layers' tensors are loaded");
            Assert.That(source.Loads.Where(kv => kv.Value != 1).Select(kv => $"{kv.Key} ×{kv.Value}"), Is.Empty, $"{name}: each once, for all three languages");
            Assert.That(source.Loads.ContainsKey("model.embed_tokens.weight"), Is.False, $"{name}: the embedding table is read as rows");
        }
    }

    sealed class ListProgress(List<HiddenStateProgress> list) : IProgress<HiddenStateProgress>
    {
        public void Report(HiddenStateProgress value) => list.Add(value);
    }

    [Test]
    public void A_pruned_model_whose_states_are_all_scaled_by_four_scores_the_same()
    {
        using var scope = NewDisposeScope();
        var config = ThreeLayers() with { NormEps = 1e-12 };   // RMSNorm is scale-invariant up to its eps
        var dense = Weights(config);
        var pruned = Pruned(dense);
        // ×4 on the embedding and on everything added to the residual stream scales every layer's output by 4.
        var scaled = pruned.ToDictionary(kv => kv.Key, kv =>
            kv.Key == "model.embed_tokens.weight" || kv.Key.Contains("o_proj") || kv.Key.Contains("down_proj") ? kv.Value * 4 : kv.Value);
        var ids = Ids(2, 6);
        var denseSource = new InMemoryTensorSource(dense);

        var plain = HiddenStateMetricsEvaluator.Compare(denseSource, new InMemoryTensorSource(pruned), config, ids, [], CPU, ScalarType.Float64);
        var four = HiddenStateMetricsEvaluator.Compare(denseSource, new InMemoryTensorSource(scaled), config, ids, [], CPU, ScalarType.Float64);

        for (var l = 0; l < 3; l++)
        {
            Assert.That(four.Layers[l].PrunedMeanNorm, Is.EqualTo(4 * plain.Layers[l].PrunedMeanNorm).Within(1e-9 * four.Layers[l].PrunedMeanNorm));
            Assert.That(four.Layers[l].PruningError, Is.EqualTo(plain.Layers[l].PruningError).Within(1e-9 * plain.Layers[l].PruningError));
            Assert.That(four.Layers[l].SnrDb, Is.EqualTo(plain.Layers[l].SnrDb).Within(1e-9));
        }
    }

    [Test]
    public void Nan_weights_in_a_pruned_folder_are_an_error_naming_the_folder_and_the_layer()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = ThreeLayers();
        var dense = Weights(config);
        var broken = Pruned(dense);
        broken["model.layers.1.mlp.down_proj.weight"] = broken["model.layers.1.mlp.down_proj.weight"].clone();
        broken["model.layers.1.mlp.down_proj.weight"][0, 0] = tensor(float.NaN);
        var (denseDir, brokenDir) = (Path.Combine(folder.Path, "dense"), Path.Combine(folder.Path, "broken"));
        HfCheckpointWriter.Write(denseDir, config.ToJson(), dense);
        HfCheckpointWriter.Write(brokenDir, config.ToJson(), broken);

        var error = Assert.Throws<NonFiniteStatesException>(() => HiddenStateMetricsEvaluator.Compare(denseDir, brokenDir, Ids(1, 4), [], CPU, ScalarType.Float32));

        Assert.That(error!.Message, Does.StartWith(brokenDir + ": the output of decoder layer 1 holds").And.Contain("non-finite"));
        Assert.That(error, Is.InstanceOf<InputFileException>(), "bad input, not a crash");
    }

    [Test]
    public void A_folder_with_integer_weights_is_refused_naming_the_tensor()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = ThreeLayers();
        var dense = Weights(config);
        var ints = new Dictionary<string, Tensor>(dense) { ["model.layers.2.self_attn.q_proj.weight"] = dense["model.layers.2.self_attn.q_proj.weight"].to(ScalarType.Int32) };
        var (denseDir, intDir) = (Path.Combine(folder.Path, "dense"), Path.Combine(folder.Path, "ints"));
        HfCheckpointWriter.Write(denseDir, config.ToJson(), dense);
        HfCheckpointWriter.Write(intDir, config.ToJson(), ints);

        var error = Assert.Throws<CheckpointFormatException>(() => HiddenStateMetricsEvaluator.Compare(denseDir, intDir, Ids(1, 4), [], CPU, ScalarType.Float32));

        Assert.That(error!.Message, Does.StartWith(intDir).And.Contain("'model.layers.2.self_attn.q_proj.weight' is stored as I32").And.Contain("must be a float"));
    }

    [Test]
    public void Folders_of_different_architectures_are_refused()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var a = ThreeLayers();
        var b = Config(ModelFamily.Llama);
        var (dirA, dirB) = (Path.Combine(folder.Path, "a"), Path.Combine(folder.Path, "b"));
        HfCheckpointWriter.Write(dirA, a.ToJson(), Weights(a));
        HfCheckpointWriter.Write(dirB, b.ToJson(), Weights(b));

        var error = Assert.Throws<CheckpointFormatException>(() => HiddenStateMetricsEvaluator.Compare(dirA, dirB, Ids(1, 4), [], CPU, ScalarType.Float32));

        Assert.That(error!.Message, Does.Contain("3 layers").And.Contain("2 layers"));
    }

    [Test]
    public void Windows_are_the_stream_only_windows_of_the_text()
    {
        var tokenizer = new ByteTokenizer();
        var text = new LanguageCorpusText("de", "abcdefghij", 1, 11, 2, "mem", "hash");

        var all = HiddenStateMetricsEvaluator.Windows(text, tokenizer, 4, null, null);
        var first = HiddenStateMetricsEvaluator.Windows(text, tokenizer, 4, 1, null);

        Assert.That(all.GetLength(0), Is.EqualTo(2));
        Assert.That(Enumerable.Range(0, 4).Select(t => all[0, t]), Is.EqualTo(new long[] { tokenizer.BosId!.Value, 'a', 'b', 'c' }));
        Assert.That(Enumerable.Range(0, 4).Select(t => all[1, t]), Is.EqualTo(new long[] { 'd', 'e', 'f', 'g' }));
        Assert.That(first.GetLength(0), Is.EqualTo(1));
        Assert.Throws<InputException>(() => HiddenStateMetricsEvaluator.Windows(text, tokenizer, 12, null, null));
    }
}
