using Repro.Core.Checkpoints;
using Repro.Core.Models;
using TorchSharp;
using static Repro.Core.Tests.Models.TinyModels;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Models;

public sealed class DecoderLayerTests
{
    static Tensor Hidden(int tokens = 5, long seed = 3)
    {
        using var generator = new Generator((ulong)seed);
        return randn([1, tokens, 32], generator: generator);
    }

    static DecoderLayer LoadLayer(ModelConfig config, IReadOnlyDictionary<string, Tensor> weights, RotaryEmbedding rope, int index = 0)
    {
        var layer = DecoderLayer.Create(config, index, rope);
        layer.LoadWeights(new InMemoryTensorSource(weights), CPU, ScalarType.Float32);
        return layer;
    }

    [Test]
    public void A_layer_loaded_on_its_own_computes_what_it_computes_inside_the_model()
    {
        var config = Config(ModelFamily.Llama);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weights = Weights(config);
        using var model = Load(config, weights);
        using var rope = new RotaryEmbedding(config);
        using var layer = LoadLayer(config, weights, rope, index: 1);
        var hidden = Hidden();

        Assert.That(layer.call(hidden).Equals(model.Layers[1].call(hidden)), Is.True);
        Assert.That(layer.named_parameters().Select(p => ModelConfig.LayerPrefix(1) + p.name),
            Is.EquivalentTo(config.LayerTensorNames(1)));
    }

    [Test]
    public void A_layer_without_weights_refuses_to_run()
    {
        var config = Config(ModelFamily.Llama);
        using var rope = new RotaryEmbedding(config);
        using var layer = DecoderLayer.Create(config, 0, rope);

        Assert.That(layer.IsLoaded, Is.False);
        var error = Assert.Throws<InvalidOperationException>(() => layer.call(zeros(1, 2, 32)));
        Assert.That(error!.Message, Does.Contain("LoadWeights"));
    }

    [Test]
    public void Loading_a_layer_checks_every_tensor_before_replacing_any()
    {
        var config = Config(ModelFamily.Llama);
        using var scope = NewDisposeScope();
        var weights = Weights(config);
        using var rope = new RotaryEmbedding(config);
        using var layer = LoadLayer(config, weights, rope);
        var before = layer.SelfAttention.QProj.weight.clone();
        weights["model.layers.0.mlp.down_proj.weight"] = zeros(32, 47);
        weights["model.layers.0.self_attn.q_proj.weight"] = zeros(32, 32);

        var error = Assert.Throws<CheckpointFormatException>(() => layer.LoadWeights(new InMemoryTensorSource(weights), CPU, ScalarType.Float32));

        Assert.That(error!.Message, Does.Contain("model.layers.0.mlp.down_proj.weight").And.Contain("[32, 47]").And.Contain("[32, 48]"));
        Assert.That(layer.SelfAttention.QProj.weight.Equals(before), Is.True, "q_proj must keep its old weight");
    }

    [Test]
    public void Qwen3_q_norm_makes_attention_blind_to_the_scale_of_q_proj()
    {
        var config = Config(ModelFamily.Qwen3, j => j["num_hidden_layers"] = 1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weights = Weights(config);
        // The same layer without q/k norm: a Llama with Qwen3's shapes.
        var llamaConfig = Config(ModelFamily.Llama, j => { j["num_hidden_layers"] = 1; j["head_dim"] = 16; j["attention_bias"] = false; j["mlp_bias"] = false; });
        var llamaWeights = weights.Where(kv => !kv.Key.Contains("_norm.weight") || kv.Key.Contains("layernorm")).ToDictionary();
        using var rope = new RotaryEmbedding(config);
        using var qwen = LoadLayer(config, weights, rope);
        using var llama = LoadLayer(llamaConfig, llamaWeights, rope);
        var hidden = Hidden();
        var qwenBefore = qwen.call(hidden);
        var llamaBefore = llama.call(hidden);

        qwen.SelfAttention.QProj.weight.mul_(7);
        llama.SelfAttention.QProj.weight.mul_(7);

        Assert.That(MaxAbsDiff(qwen.call(hidden), qwenBefore), Is.LessThan(1e-5));
        Assert.That(MaxAbsDiff(llama.call(hidden), llamaBefore), Is.GreaterThan(1e-2));
    }

    [Test]
    public void Qwen3_attention_of_one_head_over_two_tokens_matches_a_hand_computation()
    {
        // One head of size 4 on 2 tokens, hidden 4, identity projections: q = k = v = x.
        var config = Config(ModelFamily.Qwen3, j =>
        {
            j["hidden_size"] = 4; j["num_attention_heads"] = 1; j["num_key_value_heads"] = 1; j["head_dim"] = 4;
            j["num_hidden_layers"] = 1; j["rope_theta"] = 10000.0;
        });
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weights = CausalLM.RandomWeights(config, 1).ToDictionary();
        foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
            weights[$"model.layers.0.self_attn.{proj}.weight"] = eye(4);
        weights["model.layers.0.self_attn.q_norm.weight"] = tensor(new[] { 1f, 1f, 2f, 1f });
        using var rope = new RotaryEmbedding(config);
        using var layer = LoadLayer(config, weights, rope);
        float[] x0 = [1, 0, 0, 0], x1 = [0, 0, 3, 4];

        var output = layer.SelfAttention.call(tensor(x0.Concat(x1).ToArray(), [1, 2, 4]));

        // Token 0 attends only to itself: output = v0 = x0.
        // Token 1: RMSNorm with weights → q = (0,0,3,4)/sqrt(25/4) · (1,1,2,1) = (0,0,2.4,1.6) and k0 = x0/0.5 = (2,0,0,0),
        // k1 = (0,0,1.2,1.6). RoPE pairs (0,2) and (1,3), frequencies 1 and 10000^(−1/2) = 0.01.
        // Position 1 rotates q pair (0,2) by angle 1 and pair (1,3) by 0.01; k0 stays at position 0.
        double[] Rotate(double[] v, int t) =>
        [
            v[0] * Math.Cos(t) - v[2] * Math.Sin(t), v[1] * Math.Cos(0.01 * t) - v[3] * Math.Sin(0.01 * t),
            v[2] * Math.Cos(t) + v[0] * Math.Sin(t), v[3] * Math.Cos(0.01 * t) + v[1] * Math.Sin(0.01 * t),
        ];
        var q = Rotate([0, 0, 2.4, 1.6], 1);
        var k1 = Rotate([0, 0, 1.2, 1.6], 1);
        var s0 = q[0] * 2 / 2;                                   // q · (2,0,0,0) / sqrt(4)
        var s1 = q.Zip(k1, (a, b) => a * b).Sum() / 2;
        var p0 = Math.Exp(s0) / (Math.Exp(s0) + Math.Exp(s1));
        double[] expected1 = [p0 * 1, 0, (1 - p0) * 3, (1 - p0) * 4];

        Assert.That(output[0, 0].data<float>().ToArray(), Is.EqualTo(x0).Within(1e-5));
        Assert.That(output[0, 1].data<float>().ToArray().Select(v => (double)v), Is.EqualTo(expected1).Within(1e-5));
    }

    [Test]
    public void Cohere_layer_adds_attention_and_mlp_of_one_layer_norm_in_parallel()
    {
        var config = Config(ModelFamily.Cohere);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weights = Weights(config);
        using var rope = new RotaryEmbedding(config);
        using var layer = LoadLayer(config, weights, rope);
        var hidden = Hidden() * 3 + 1;

        var w = weights["model.layers.0.input_layernorm.weight"];
        var centred = hidden - hidden.mean([-1L], keepdim: true);
        var normed = centred / (centred.square().mean([-1L], keepdim: true) + 1e-5).sqrt() * w;
        var expected = hidden + layer.SelfAttention.call(normed) + layer.Mlp.call(normed);

        Assert.That(layer.PostAttentionLayerNorm, Is.Null);
        Assert.That(MaxAbsDiff(layer.InputLayerNorm.call(hidden), normed), Is.LessThan(1e-5));
        Assert.That(MaxAbsDiff(layer.call(hidden), expected), Is.LessThan(1e-5));
    }

    [Test]
    public void A_layer_call_leaves_only_its_output_alive()
    {
        var config = Config(ModelFamily.Qwen3);
        using var scope = NewDisposeScope();
        var weights = Weights(config);
        using var rope = new RotaryEmbedding(config);
        using var layer = LoadLayer(config, weights, rope);
        using var noGrad = no_grad();
        var hidden = Hidden();
        layer.call(hidden).Dispose();   // fills the RoPE cache

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var output = layer.call(hidden);
        var after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        Assert.That(after, Is.EqualTo(before + 1));
        Assert.That(output.shape, Is.EqualTo(hidden.shape));
    }
}
