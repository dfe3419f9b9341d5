using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;

namespace Repro.Core.Tests.Models;

/// <summary>config.json's per-layer widths of a structurally pruned model (LLM-Pruner, Lang-Prune).</summary>
public sealed class LayerWidthsTests
{
    static JsonObject Llama() => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"), ["model_type"] = "llama", ["vocab_size"] = 64, ["hidden_size"] = 32,
        ["intermediate_size"] = 48, ["num_hidden_layers"] = 3, ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2,
        ["max_position_embeddings"] = 64,
    };

    static ModelConfig Parse(JsonObject json) => ModelConfig.FromJson(json, "m/config.json");

    [Test]
    public void Uniform_widths_stay_an_ordinary_hf_config_without_per_layer_lists()
    {
        var config = Parse(Llama());
        var same = config.WithLayerWidths([.. Enumerable.Repeat(config.Widths(0), 3)]);
        Assert.That(same.ToJson().ToJsonString(), Is.EqualTo(config.ToJson().ToJsonString()));
        var smaller = config.WithLayerWidths([.. Enumerable.Repeat(new LayerWidths(2, 1, 20), 3)]);
        Assert.That(smaller.PerLayerWidths, Is.Null);
        Assert.That((smaller.NumAttentionHeads, smaller.NumKeyValueHeads, smaller.IntermediateSize), Is.EqualTo((2, 1, 20)));
        Assert.That(smaller.ToJson().ContainsKey(ModelConfig.LayerHeadsField), Is.False);
    }

    [Test]
    public void Per_layer_widths_round_trip_and_size_every_layers_tensors()
    {
        var config = Parse(Llama()).WithLayerWidths([new LayerWidths(4, 2, 48), new LayerWidths(2, 1, 20), new LayerWidths(4, 2, 7)]);
        var json = config.ToJson();
        Assert.That(json[ModelConfig.LayerIntermediateField]!.ToJsonString(), Is.EqualTo("[48,20,7]"));
        var back = Parse(json);
        Assert.That(back, Is.EqualTo(config));
        var specs = back.LayerTensors(1).ToDictionary(s => s.Name[ModelConfig.LayerPrefix(1).Length..], s => s.Shape);
        Assert.That(specs["self_attn.q_proj.weight"], Is.EqualTo(new long[] { 16, 32 }));
        Assert.That(specs["self_attn.k_proj.weight"], Is.EqualTo(new long[] { 8, 32 }));
        Assert.That(specs["self_attn.o_proj.weight"], Is.EqualTo(new long[] { 32, 16 }));
        Assert.That(specs["mlp.down_proj.weight"], Is.EqualTo(new long[] { 32, 20 }));
        Assert.That(back.LayerTensors(2).Single(s => s.Name.EndsWith("gate_proj.weight")).Shape, Is.EqualTo(new long[] { 7, 32 }));
        Assert.That(back.ToString(), Does.Contain("per layer heads 4/2 2/1 4/2"));
    }

    static IEnumerable<TestCaseData> Broken()
    {
        yield return new TestCaseData((Action<JsonObject>)(j => j[ModelConfig.LayerHeadsField] = new JsonArray(4, 4, 4)), "per-layer widths need all three").SetName("one list alone");
        yield return new TestCaseData((Action<JsonObject>)(j =>
        {
            j[ModelConfig.LayerHeadsField] = new JsonArray(4, 4);
            j[ModelConfig.LayerKeyValueHeadsField] = new JsonArray(2, 2);
            j[ModelConfig.LayerIntermediateField] = new JsonArray(48, 48);
        }), "'num_hidden_layers' is 3").SetName("lists shorter than the layers");
        yield return new TestCaseData((Action<JsonObject>)(j =>
        {
            j[ModelConfig.LayerHeadsField] = new JsonArray(4, 3, 4);
            j[ModelConfig.LayerKeyValueHeadsField] = new JsonArray(2, 2, 2);
            j[ModelConfig.LayerIntermediateField] = new JsonArray(48, 48, 48);
        }), "layer 1 has 3 query heads").SetName("heads not a multiple of kv heads");
        yield return new TestCaseData((Action<JsonObject>)(j =>
        {
            j[ModelConfig.LayerHeadsField] = new JsonArray(4, 4, 4);
            j[ModelConfig.LayerKeyValueHeadsField] = new JsonArray(2, 2, 2);
            j[ModelConfig.LayerIntermediateField] = new JsonArray(48, 0, 48);
        }), "every width must be positive").SetName("a layer without channels");
        yield return new TestCaseData((Action<JsonObject>)(j =>
        {
            j[ModelConfig.LayerHeadsField] = "4,4,4";
            j[ModelConfig.LayerKeyValueHeadsField] = new JsonArray(2, 2, 2);
            j[ModelConfig.LayerIntermediateField] = new JsonArray(48, 48, 48);
        }), "must be a list of integers").SetName("a list that is a string");
    }

    [TestCaseSource(nameof(Broken))]
    public void Broken_per_layer_widths_are_refused_naming_the_file(Action<JsonObject> edit, string problem)
    {
        var json = Llama();
        edit(json);
        var e = Assert.Throws<CheckpointFormatException>(() => Parse(json))!;
        Assert.That(e.Message, Does.Contain("m/config.json").And.Contain(problem));
    }
}
