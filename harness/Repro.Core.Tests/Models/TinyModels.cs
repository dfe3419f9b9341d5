using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Models;

/// <summary>Tiny configs of every family (hidden 32, 2 layers, vocab 61) and weights that make their quirks visible.</summary>
static class TinyModels
{
    public static readonly ModelFamily[] Families = Enum.GetValues<ModelFamily>();

    public static JsonObject Json(ModelFamily family)
    {
        var json = new JsonObject
        {
            ["model_type"] = family.ToString().ToLowerInvariant(),
            ["vocab_size"] = 61,
            ["hidden_size"] = 32,
            ["intermediate_size"] = 48,
            ["num_hidden_layers"] = 2,
            ["num_attention_heads"] = 4,
            ["num_key_value_heads"] = 2,
            ["max_position_embeddings"] = 64,
            ["rope_theta"] = 100.0,            // small theta: every frequency turns visibly within a few tokens
            ["hidden_act"] = "silu",
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
            ["torch_dtype"] = "float32",
        };
        switch (family)
        {
            case ModelFamily.Llama:
                json["rms_norm_eps"] = 1e-5;
                json["attention_bias"] = true;
                json["mlp_bias"] = true;
                break;
            case ModelFamily.Mistral:
                json["rms_norm_eps"] = 1e-5;
                json["sliding_window"] = null;
                break;
            case ModelFamily.Qwen2:
                json["rms_norm_eps"] = 1e-6;
                json["tie_word_embeddings"] = true;
                break;
            case ModelFamily.Qwen3:
                json["rms_norm_eps"] = 1e-6;
                json["head_dim"] = 16;            // heads × head_dim = 64 ≠ hidden 32, as in real Qwen3
                json["tie_word_embeddings"] = false;
                break;
            case ModelFamily.Cohere:
                json["layer_norm_eps"] = 1e-5;
                json["use_qk_norm"] = true;
                json["logit_scale"] = 0.25;
                json["tie_word_embeddings"] = true;
                break;
        }
        return json;
    }

    public static ModelConfig Config(ModelFamily family, Action<JsonObject>? edit = null)
    {
        var json = Json(family);
        edit?.Invoke(json);
        return ModelConfig.FromJson(json, "/tiny/config.json");
    }

    /// <summary>
    /// RandomWeights scaled to std 0.2 (so attention is far from uniform) with norm weights drawn
    /// around 1 (so a norm weight that is loaded but not applied shows). Tensors belong to the caller's scope.
    /// </summary>
    public static Dictionary<string, Tensor> Weights(ModelConfig config, long seed = 7)
    {
        using var noGrad = no_grad();
        var weights = CausalLM.RandomWeights(config, seed).ToDictionary();
        using var generator = new Generator((ulong)seed + 1000);
        foreach (var name in weights.Keys.ToList())
            weights[name] = name.EndsWith("norm.weight", StringComparison.Ordinal)
                ? 1 + 0.3 * randn(weights[name].shape, generator: generator)
                : weights[name] * 10;
        return weights;
    }

    public static CausalLM Load(ModelConfig config, IReadOnlyDictionary<string, Tensor> weights, ScalarType dtype = ScalarType.Float32) =>
        CausalLM.Load(config, new InMemoryTensorSource(weights), CPU, dtype);

    public static Tensor Ids(params long[] ids) => tensor(ids, dtype: ScalarType.Int64).unsqueeze(0);

    public static double MaxAbsDiff(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
    public static double MaxAbs(Tensor a) => a.to(ScalarType.Float64).abs().max().item<double>();
}
