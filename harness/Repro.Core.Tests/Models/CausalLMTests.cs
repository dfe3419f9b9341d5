using Repro.Core.Checkpoints;
using Repro.Core.Models;
using TorchSharp;
using static Repro.Core.Tests.Models.TinyModels;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Models;

public sealed class CausalLMTests
{
    static readonly long[] Sequence = [5, 17, 3, 42, 8, 29];

    [TestCaseSource(typeof(TinyModels), nameof(Families))]
    public void Logits_match_a_naive_float64_reference_of_the_HF_architecture(ModelFamily family)
    {
        using var scope = NewDisposeScope();
        // Mistral with a 3-token window, so the sliding-window mask is exercised on 6 tokens.
        var config = Config(family, j => { if (family == ModelFamily.Mistral) j["sliding_window"] = 3; });
        var weights = Weights(config);
        using var model = Load(config, weights);

        var logits = model.Logits(Ids(Sequence))[0];
        var expected = ReferenceDecoder.ToTensor(new ReferenceDecoder(config, weights).Logits(Sequence));

        Assert.That(logits.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(logits.shape, Is.EqualTo(new long[] { Sequence.Length, config.VocabSize }));
        Assert.That(MaxAbs(expected), Is.GreaterThan(0.5), "test weights too small to show differences");
        Assert.That(MaxAbsDiff(logits, expected), Is.LessThan(2e-4 * Math.Max(1, MaxAbs(expected))));
    }

    [TestCaseSource(typeof(TinyModels), nameof(Families))]
    public void Appending_tokens_does_not_change_earlier_logits(ModelFamily family)
    {
        using var scope = NewDisposeScope();
        var config = Config(family);
        using var model = Load(config, Weights(config));

        var full = model.Logits(Ids(Sequence));
        var prefix = model.Logits(Ids(Sequence[..3]));

        Assert.That(MaxAbsDiff(full.narrow(1, 0, 3), prefix), Is.LessThan(1e-5));
        Assert.That(MaxAbsDiff(full.narrow(1, 3, 1), full.narrow(1, 2, 1)), Is.GreaterThan(1e-3), "later positions must differ");
    }

    [TestCaseSource(typeof(TinyModels), nameof(Families))]
    public void Rows_after_a_shared_prefix_get_the_logits_of_the_joined_rows(ModelFamily family)
    {
        using var scope = NewDisposeScope();
        // Mistral with a 3-token window: suffix tokens must stop seeing the prefix's oldest tokens.
        var config = Config(family, j => { if (family == ModelFamily.Mistral) j["sliding_window"] = 3; });
        using var model = Load(config, Weights(config));
        long[] prefix = [5, 17, 3, 42];
        var suffixes = tensor(new long[,] { { 8, 29, 11 }, { 30, 2, 0 } });   // the second row padded on the right

        var (shared, rows) = model.LogitsSharingPrefix(prefix, suffixes, sharedFrom: 1);
        var joined = model.Logits(cat([tensor(prefix).unsqueeze(0).expand(2, -1), suffixes], 1));

        Assert.That(shared.shape, Is.EqualTo(new long[] { 3, config.VocabSize }));
        Assert.That(rows.shape, Is.EqualTo(new long[] { 2, 3, config.VocabSize }));
        Assert.That(MaxAbsDiff(shared, joined[0].narrow(0, 1, 3)), Is.LessThan(1e-5));
        Assert.That(MaxAbsDiff(shared, joined[1].narrow(0, 1, 3)), Is.LessThan(1e-5));
        Assert.That(MaxAbsDiff(rows, joined.narrow(1, 4, 3)), Is.LessThan(1e-5));
        Assert.That(MaxAbsDiff(rows[0], rows[1]), Is.GreaterThan(1e-3), "rows with other suffixes must differ");
    }

    [Test]
    public void A_batch_gives_each_sequence_the_logits_it_gets_alone()
    {
        using var scope = NewDisposeScope();
        var config = Config(ModelFamily.Llama);
        using var model = Load(config, Weights(config));
        var a = Ids(1, 2, 3, 4);
        var b = Ids(9, 8, 7, 6);

        var batch = model.Logits(cat([a, b], 0));

        Assert.That(MaxAbsDiff(batch[0], model.Logits(a)[0]), Is.LessThan(1e-5));
        Assert.That(MaxAbsDiff(batch[1], model.Logits(b)[0]), Is.LessThan(1e-5));
    }

    [Test]
    public void Mistral_sliding_window_hides_tokens_older_than_the_window()
    {
        using var scope = NewDisposeScope();
        var config = Config(ModelFamily.Mistral, j => { j["sliding_window"] = 2; j["num_hidden_layers"] = 1; });
        using var model = Load(config, Weights(config));

        var original = model.Logits(Ids(5, 17, 3, 42, 8));
        var changedFirst = model.Logits(Ids(6, 17, 3, 42, 8));

        // One layer, window 2: position t sees tokens t−1 and t only.
        Assert.That(MaxAbsDiff(original.narrow(1, 0, 2), changedFirst.narrow(1, 0, 2)), Is.GreaterThan(1e-3));
        Assert.That(MaxAbsDiff(original.narrow(1, 2, 3), changedFirst.narrow(1, 2, 3)), Is.LessThan(1e-6));
    }

    [Test]
    public void Grouped_query_heads_read_kv_head_h_over_n_rep()
    {
        using var scope = NewDisposeScope();
        // 4 query heads, 2 KV heads: v_proj ignores its input and KV head k emits the constant k + 1,
        // so whatever the attention weights, query head h must output h / 2 + 1 into o_proj.
        var config = Config(ModelFamily.Llama, j => j["num_hidden_layers"] = 1);
        var weights = Weights(config);
        weights["model.layers.0.self_attn.v_proj.weight"] = zeros(16, 32);
        weights["model.layers.0.self_attn.v_proj.bias"] = cat([full(8, 1f), full(8, 2f)]);
        using var model = Load(config, weights);
        Tensor? seen = null;
        var hook = model.Layers[0].SelfAttention.OProj.register_forward_pre_hook((_, x) =>
        {
            seen = x.clone().DetachFromDisposeScope();
            return x;
        });

        model.Logits(Ids(Sequence));
        hook.remove();

        using var oInput = seen!;
        Assert.That(oInput.shape, Is.EqualTo(new long[] { 1, Sequence.Length, 32 }));
        for (var h = 0; h < 4; h++)
            Assert.That(MaxAbsDiff(oInput.narrow(2, h * 8, 8), full(new long[] { 1, Sequence.Length, 8 }, h / 2 + 1f)), Is.LessThan(1e-5), $"query head {h}");
    }

    [Test]
    public void Grouped_query_attention_equals_multi_head_attention_with_kv_heads_repeated_in_repeat_kv_order()
    {
        using var scope = NewDisposeScope();
        var gqa = Config(ModelFamily.Llama);
        var mha = gqa with { NumKeyValueHeads = 4 };
        var weights = Weights(gqa);
        Dictionary<string, Tensor> Expanded(Func<Tensor, Tensor> expand) => weights.ToDictionary(kv => kv.Key,
            kv => kv.Key.Contains(".k_proj.") || kv.Key.Contains(".v_proj.") ? expand(kv.Value) : kv.Value);
        // [kv·d, …] → [kv, d, …] → each KV head twice in a row (k0 k0 k1 k1), as repeat_kv serves them.
        Tensor RepeatKv(Tensor t) => t.reshape([2, 8, .. t.shape[1..]]).repeat_interleave(2, 0).reshape([32, .. t.shape[1..]]);
        Tensor Tile(Tensor t) => t.reshape([2, 8, .. t.shape[1..]]).repeat([2, .. Enumerable.Repeat(1L, (int)t.dim())]).reshape([32, .. t.shape[1..]]);
        using var grouped = Load(gqa, weights);
        using var multi = Load(mha, Expanded(RepeatKv));
        using var tiled = Load(mha, Expanded(Tile));

        var expected = grouped.Logits(Ids(Sequence));

        Assert.That(MaxAbsDiff(multi.Logits(Ids(Sequence)), expected), Is.LessThan(1e-5));
        Assert.That(MaxAbsDiff(tiled.Logits(Ids(Sequence)), expected), Is.GreaterThan(1e-3), "k0 k1 k0 k1 order must not match");
    }

    [Test]
    public void Cohere_ties_lm_head_to_the_embedding_and_scales_logits()
    {
        using var scope = NewDisposeScope();
        var config = Config(ModelFamily.Cohere);
        var weights = Weights(config);
        Assert.That(weights.ContainsKey("lm_head.weight"), Is.False);
        using var model = Load(config, weights);
        using var noGrad = no_grad();

        var hidden = model.Embed(Ids(Sequence));
        foreach (var layer in model.Layers) hidden = layer.call(hidden);
        var expected = matmul(model.FinalNorm.call(hidden), weights["model.embed_tokens.weight"].t()) * 0.25;

        Assert.That(model.LmHead, Is.Null);
        Assert.That(MaxAbsDiff(model.Logits(Ids(Sequence)), expected), Is.LessThan(1e-5));
    }

    [Test]
    public void Logits_scale_linearly_with_logit_scale()
    {
        using var scope = NewDisposeScope();
        var config = Config(ModelFamily.Cohere);
        var weights = Weights(config);
        using var quarter = Load(config, weights);
        using var one = Load(config with { LogitScale = 1 }, weights);

        Assert.That(MaxAbsDiff(quarter.Logits(Ids(Sequence)) * 4, one.Logits(Ids(Sequence))), Is.LessThan(1e-5));
    }

    [Test]
    public void Parameters_carry_the_checkpoint_names()
    {
        var config = Config(ModelFamily.Qwen3);
        using var scope = NewDisposeScope();
        using var model = Load(config, Weights(config));

        var names = model.named_parameters().Select(p => p.name).ToList();

        Assert.That(names, Is.EquivalentTo(config.ExpectedTensorNames()));
        Assert.That(model.parameters().Sum(p => p.numel()), Is.EqualTo(config.ParameterCount()));
    }

    [Test]
    public void Random_weights_are_deterministic_for_a_seed_and_complete()
    {
        var config = Config(ModelFamily.Llama);
        using var scope = NewDisposeScope();

        var a = CausalLM.RandomWeights(config, 42);
        var b = CausalLM.RandomWeights(config, 42);
        var c = CausalLM.RandomWeights(config, 43);

        Assert.That(a.Keys, Is.EqualTo(config.ExpectedTensorNames()));
        Assert.That(a.Keys.All(k => a[k].Equals(b[k])), Is.True, "same seed, same tensors");
        Assert.That(a["model.layers.1.mlp.up_proj.weight"].Equals(c["model.layers.1.mlp.up_proj.weight"]), Is.False);
        Assert.That(a["model.norm.weight"].Equals(ones(32)), Is.True);
        var std = a["model.layers.0.self_attn.q_proj.weight"].std().item<float>();
        Assert.That(std, Is.EqualTo(0.02).Within(0.003));
        Assert.That(CausalLM.RandomWeights(config, 42, ScalarType.BFloat16)["model.embed_tokens.weight"].dtype, Is.EqualTo(ScalarType.BFloat16));
    }

    [Test]
    public void Loading_lists_every_missing_tensor()
    {
        var config = Config(ModelFamily.Llama);
        using var scope = NewDisposeScope();
        var weights = Weights(config);
        weights.Remove("lm_head.weight");
        weights.Remove("model.layers.1.mlp.down_proj.bias");

        var error = Assert.Throws<CheckpointFormatException>(() => Load(config, weights));

        Assert.That(error!.Message, Does.Contain("lm_head.weight").And.Contain("model.layers.1.mlp.down_proj.bias").And.Contain("2 of the"));
    }

    [Test]
    public void Loading_names_a_tensor_whose_shape_disagrees_with_config_json()
    {
        var config = Config(ModelFamily.Llama);
        using var scope = NewDisposeScope();
        var weights = Weights(config);
        weights["model.layers.0.self_attn.k_proj.weight"] = zeros(32, 32);

        var error = Assert.Throws<CheckpointFormatException>(() => Load(config, weights));

        Assert.That(error!.Message, Does.Contain("model.layers.0.self_attn.k_proj.weight").And.Contain("[32, 32]").And.Contain("[16, 32]"));
    }

    [Test]
    public void Every_linear_sublayer_sees_its_input_through_a_forward_pre_hook()
    {
        var config = Config(ModelFamily.Qwen2);
        using var scope = NewDisposeScope();
        using var model = Load(config, Weights(config));
        var seen = new List<(int Layer, string Name, long[] Shape)>();
        var hooks = model.Layers.SelectMany(layer => layer.Linears().Select(l => l.Module.register_forward_pre_hook((_, x) =>
        {
            seen.Add((layer.Index, l.Name, x.shape));
            return x;
        }))).ToList();

        model.Logits(Ids(Sequence));
        hooks.ForEach(h => h.remove());

        string[] order = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
        Assert.That(seen.Select(s => (s.Layer, s.Name)), Is.EqualTo(
            from layer in new[] { 0, 1 } from name in order select (layer, name)));
        long T = Sequence.Length;
        Assert.That(seen.Single(s => s.Layer == 1 && s.Name == "self_attn.o_proj").Shape, Is.EqualTo(new[] { 1, T, 32 }));
        Assert.That(seen.Single(s => s.Layer == 1 && s.Name == "mlp.down_proj").Shape, Is.EqualTo(new[] { 1, T, 48 }));
        Assert.That(seen.Single(s => s.Layer == 0 && s.Name == "self_attn.q_proj").Shape, Is.EqualTo(new[] { 1, T, 32 }));
    }

    [Test]
    public void Logits_leave_no_live_tensors_behind()
    {
        var config = Config(ModelFamily.Cohere);
        var weights = Weights(config);
        using var model = Load(config, weights);
        using var ids = Ids(Sequence);
        using (var warm = NewDisposeScope()) model.Logits(ids);   // fills the RoPE cache

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            model.Logits(ids);
        }
        var after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        Assert.That(after, Is.EqualTo(before));
        foreach (var w in weights.Values) w.Dispose();
    }

    [TestCaseSource(typeof(TinyModels), nameof(Families))]
    public void Gradients_reach_the_weights_through_call(ModelFamily family)
    {
        // Taylor importance (LLM-Pruner, Lang-Prune) backpropagates through the same modules.
        var config = Config(family);
        using var scope = NewDisposeScope();
        using var model = Load(config, Weights(config));
        var gate = model.Layers[0].Mlp.GateProj.weight.requires_grad_(true);
        var q = model.Layers[0].SelfAttention.QProj.weight.requires_grad_(true);

        var logits = model.call(Ids(Sequence));
        nn.functional.cross_entropy(logits[0].narrow(0, 0, 5), tensor(Sequence[1..])).backward();

        Assert.That(gate.grad, Is.Not.Null);
        Assert.That(gate.grad!.abs().sum().item<float>(), Is.GreaterThan(0));
        Assert.That(q.grad!.isfinite().all().item<bool>(), Is.True);
        Assert.That(MaxAbsDiff(logits, model.Logits(Ids(Sequence))), Is.LessThan(1e-5), "same pass with and without autograd");
    }

    [TestCase(ScalarType.BFloat16, 0.05)]
    [TestCase(ScalarType.Float16, 0.01)]
    public void Half_precision_models_return_float32_logits_close_to_float32(ScalarType dtype, double tolerance)
    {
        var config = Config(ModelFamily.Qwen3);
        using var scope = NewDisposeScope();
        var weights = Weights(config);
        using var reference = Load(config, weights);
        using var half = Load(config, weights, dtype);

        var logits = half.Logits(Ids(Sequence));
        var expected = reference.Logits(Ids(Sequence));

        Assert.That(half.Layers[0].SelfAttention.QProj.weight.dtype, Is.EqualTo(dtype));
        Assert.That(logits.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(MaxAbsDiff(logits, expected), Is.LessThan(tolerance * Math.Max(1, MaxAbs(expected))));
    }
}
