using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using static Repro.Core.Tests.Models.TinyModels;

namespace Repro.Core.Tests.Models;

public sealed class ModelConfigTests
{
    const string Llama31Json = """
        {
          "architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": false, "mlp_bias": false,
          "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
          "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 131072,
          "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
          "rms_norm_eps": 1e-05,
          "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                           "original_max_position_embeddings": 8192, "rope_type": "llama3"},
          "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 128256
        }
        """;

    // Aya-23-8B's shapes; logit_scale and pad id chosen to differ from CohereConfig's defaults.
    const string Aya23Json = """
        {
          "architectures": ["CohereForCausalLM"], "model_type": "cohere", "bos_token_id": 5, "eos_token_id": 255001,
          "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336, "layer_norm_eps": 1e-05,
          "logit_scale": 0.125, "max_position_embeddings": 8192, "num_attention_heads": 32, "num_hidden_layers": 32,
          "num_key_value_heads": 8, "pad_token_id": 0, "rope_theta": 10000, "torch_dtype": "float16",
          "use_qk_norm": false, "vocab_size": 256000
        }
        """;

    static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    [Test]
    public void Llama_3_1_config_parses_with_llama3_rope_scaling_and_several_eos_ids()
    {
        var config = ModelConfig.FromJson(Parse(Llama31Json), "/m/config.json");

        Assert.That(config.Family, Is.EqualTo(ModelFamily.Llama));
        Assert.That(config.HeadDim, Is.EqualTo(128));
        Assert.That(config.QueriesPerKeyValue, Is.EqualTo(4));
        Assert.That(config.RopeScaling, Is.EqualTo(new RopeScaling("llama3", 8, 1, 4, 8192)));
        Assert.That(config.EosTokenIds, Is.EqualTo(new[] { 128001, 128008, 128009 }));
        Assert.That(config.TorchDtype, Is.EqualTo("bfloat16"));
        Assert.That(config.ParameterCount(), Is.EqualTo(8_030_261_248L));   // Llama-3.1-8B, as HF reports it
    }

    [Test]
    public void An_Aya_23_config_parses_as_a_tied_cohere_model_with_its_logit_scale()
    {
        var config = ModelConfig.FromJson(Parse(Aya23Json), "/m/config.json");

        Assert.That(config.Family, Is.EqualTo(ModelFamily.Cohere));
        Assert.That(config.TieWordEmbeddings, Is.True, "CohereConfig ties by default");
        Assert.That(config.LogitScale, Is.EqualTo(0.125));
        Assert.That(config.NormEps, Is.EqualTo(1e-5));
        Assert.That(config.PadTokenId, Is.EqualTo(0));
        Assert.That(config.ExpectedTensorNames(), Does.Not.Contain("lm_head.weight").And.Not.Contain("model.layers.0.post_attention_layernorm.weight"));
        Assert.That(config.ParameterCount(), Is.EqualTo(8_028_033_024L));   // aya-23-8B: embedding counted once
    }

    [Test]
    public void Transformers_v5_rope_parameters_are_read_like_rope_scaling()
    {
        var json = Parse(Llama31Json);
        var rope = json["rope_scaling"]!.AsObject().DeepClone().AsObject();
        rope["rope_theta"] = 500000.0;
        json.Remove("rope_scaling");
        json.Remove("rope_theta");
        json["rope_parameters"] = rope;

        var config = ModelConfig.FromJson(json, "/m/config.json");

        Assert.That(config.RopeTheta, Is.EqualTo(500000));
        Assert.That(config.RopeScaling, Is.EqualTo(new RopeScaling("llama3", 8, 1, 4, 8192)));
    }

    [TestCaseSource(typeof(TinyModels), nameof(Families))]
    public void ToJson_round_trips_and_names_the_HF_architecture(ModelFamily family)
    {
        var config = Config(family) with { RopeScaling = family == ModelFamily.Llama ? new RopeScaling("llama3", 8, 1, 4, 32) : null };

        var json = config.ToJson();
        var again = ModelConfig.FromJson(JsonNode.Parse(json.ToJsonString())!.AsObject(), "/again/config.json");

        Assert.That(again, Is.EqualTo(config));
        Assert.That(json["model_type"]!.GetValue<string>(), Is.EqualTo(family.ToString().ToLowerInvariant()));
        Assert.That(json["architectures"]![0]!.GetValue<string>(), Does.EndWith("ForCausalLM").And.StartWith(family.ToString()));
    }

    [Test]
    public void Qwen3_head_dim_is_independent_of_hidden_size()
    {
        var config = Config(ModelFamily.Qwen3);

        Assert.That(config.LayerTensors(0).Single(t => t.Name.EndsWith("q_proj.weight")).Shape, Is.EqualTo(new long[] { 64, 32 }));
        Assert.That(config.LayerTensors(0).Single(t => t.Name.EndsWith("o_proj.weight")).Shape, Is.EqualTo(new long[] { 32, 64 }));
        Assert.That(config.LayerTensors(0).Single(t => t.Name.EndsWith("q_norm.weight")).Shape, Is.EqualTo(new long[] { 16 }));
        Assert.That(config.LayerTensorNames(0), Has.None.EndsWith(".bias"));
    }

    [Test]
    public void Bias_tensors_follow_each_family()
    {
        static string[] Biases(ModelConfig c) => c.LayerTensorNames(0).Where(n => n.EndsWith(".bias")).Select(n => n[15..]).ToArray();

        Assert.That(Biases(Config(ModelFamily.Qwen2)), Is.EqualTo(new[] { "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias" }));
        Assert.That(Biases(Config(ModelFamily.Llama)), Has.Length.EqualTo(7));
        Assert.That(Biases(Config(ModelFamily.Mistral, j => j["attention_bias"] = true)), Is.Empty);
        Assert.That(Config(ModelFamily.Cohere).LayerTensors(0).Single(t => t.Name.EndsWith("k_norm.weight")).Shape,
            Is.EqualTo(new long[] { 2, 8 }));
    }

    static IEnumerable<TestCaseData> BrokenConfigs()
    {
        TestCaseData Case(string name, ModelFamily family, Action<JsonObject> edit, string field) =>
            new TestCaseData(family, edit, field).SetArgDisplayNames(name);
        yield return Case("no model_type", ModelFamily.Llama, j => j.Remove("model_type"), "model_type");
        yield return Case("unknown model_type", ModelFamily.Llama, j => j["model_type"] = "gpt2", "gpt2");
        yield return Case("no hidden_size", ModelFamily.Llama, j => j.Remove("hidden_size"), "hidden_size");
        yield return Case("hidden_size not a number", ModelFamily.Llama, j => j["hidden_size"] = "big", "hidden_size");
        yield return Case("fractional layers", ModelFamily.Llama, j => j["num_hidden_layers"] = 2.5, "num_hidden_layers");
        yield return Case("heads not a multiple of kv heads", ModelFamily.Llama, j => j["num_key_value_heads"] = 3, "num_key_value_heads");
        yield return Case("gelu", ModelFamily.Llama, j => j["hidden_act"] = "gelu", "hidden_act");
        yield return Case("yarn", ModelFamily.Llama, j => j["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 }, "yarn");
        yield return Case("llama3 without high_freq_factor", ModelFamily.Llama,
            j => j["rope_scaling"] = new JsonObject { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0 }, "high_freq_factor");
        yield return Case("mistral without kv heads", ModelFamily.Mistral, j => j.Remove("num_key_value_heads"), "num_key_value_heads");
        yield return Case("qwen3 without head_dim", ModelFamily.Qwen3, j => j.Remove("head_dim"), "head_dim");
        yield return Case("qwen2 sliding window", ModelFamily.Qwen2, j => j["use_sliding_window"] = true, "use_sliding_window");
        yield return Case("quantized", ModelFamily.Llama, j => j["quantization_config"] = new JsonObject { ["bits"] = 4 }, "quantization_config");
        yield return Case("odd head_dim", ModelFamily.Llama, j => j["head_dim"] = 7, "head_dim");
        yield return Case("eos list with text", ModelFamily.Llama, j => j["eos_token_id"] = new JsonArray(1, "x"), "eos_token_id[1]");
        yield return Case("tie not a bool", ModelFamily.Llama, j => j["tie_word_embeddings"] = "yes", "tie_word_embeddings");
        yield return Case("2^31-1 layers", ModelFamily.Llama, j => j["num_hidden_layers"] = int.MaxValue, "'num_hidden_layers' is 2,147,483,647, beyond any real model");
        yield return Case("absurd vocabulary", ModelFamily.Llama, j => j["vocab_size"] = 1_000_000_000, "'vocab_size' is 1,000,000,000");
        yield return Case("absurd hidden size", ModelFamily.Qwen3, j => j["hidden_size"] = 1 << 30, "hidden_size");
        yield return Case("absurd mlp", ModelFamily.Mistral, j => j["intermediate_size"] = int.MaxValue, "intermediate_size");
        yield return Case("absurd heads", ModelFamily.Llama, j => { j["num_attention_heads"] = 1 << 20; j["num_key_value_heads"] = 1 << 20; }, "num_attention_heads");
    }

    [TestCaseSource(nameof(BrokenConfigs))]
    public void A_broken_config_is_rejected_naming_config_json_and_the_field(ModelFamily family, Action<JsonObject> edit, string field)
    {
        var json = Json(family);
        edit(json);

        var error = Assert.Throws<CheckpointFormatException>(() => ModelConfig.FromJson(json, "/models/x/config.json"));

        Assert.That(error!.Path, Is.EqualTo("/models/x/config.json"));
        Assert.That(error.Message, Does.Contain("config.json").And.Contain(field));
    }

    [Test]
    public void Configs_built_in_code_are_validated_before_a_model_is_built()
    {
        var config = Config(ModelFamily.Llama) with { NumKeyValueHeads = 3 };

        Assert.That(config.Problems(), Has.Some.Contains("num_key_value_heads"));
        Assert.Throws<InputException>(() => CausalLM.RandomWeights(config, 1));
    }
}
