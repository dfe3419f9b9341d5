using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using TorchSharp;

namespace Repro.Core.Tests.Checkpoints;

public sealed class HfCheckpointTests
{
    TempDirectory dir = null!;
    DisposeScope scope = null!;

    [SetUp]
    public void SetUp()
    {
        dir = new TempDirectory();
        scope = torch.NewDisposeScope();
    }

    [TearDown]
    public void TearDown()
    {
        scope.Dispose();
        dir.Dispose();
    }

    static JsonObject Config() => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["hidden_size"] = 8,
        ["torch_dtype"] = "float32",
    };

    /// <summary>Ten small tensors in model order, of mixed dtypes, 32..96 bytes each.</summary>
    static List<KeyValuePair<string, torch.Tensor>> Model()
    {
        var tensors = new List<KeyValuePair<string, torch.Tensor>>
        {
            new("model.embed_tokens.weight", SampleTensors.Of(torch.ScalarType.Float32, 1)),
        };
        for (var layer = 0; layer < 3; layer++)
        {
            tensors.Add(new($"model.layers.{layer}.self_attn.q_proj.weight", SampleTensors.Of(torch.ScalarType.BFloat16, 10 + layer)));
            tensors.Add(new($"model.layers.{layer}.mlp.up_proj.weight", SampleTensors.Of(torch.ScalarType.Float16, 20 + layer)));
        }
        tensors.Add(new("model.norm.weight", SampleTensors.Of(torch.ScalarType.Float32, 3)));
        tensors.Add(new("model.rotary.positions", SampleTensors.Of(torch.ScalarType.Int64, 4)));
        tensors.Add(new("model.mask", SampleTensors.Of(torch.ScalarType.Bool, 5)));
        return tensors;
    }

    static void AssertSameTensors(ITensorSource source, IEnumerable<KeyValuePair<string, torch.Tensor>> expected)
    {
        var list = expected.ToList();
        Assert.That(source.Names, Is.EquivalentTo(list.Select(kv => kv.Key)));
        foreach (var (name, tensor) in list)
        {
            var loaded = source.Load(name);
            Assert.That(loaded.dtype, Is.EqualTo(tensor.dtype), name);
            Assert.That(loaded.shape, Is.EqualTo(tensor.shape), name);
            Assert.That(SampleTensors.BytesOf(loaded), Is.EqualTo(SampleTensors.BytesOf(tensor)), name);
        }
    }

    [Test]
    public void A_single_file_checkpoint_round_trips_with_its_config()
    {
        var model = Model();
        HfCheckpointWriter.Write(dir.Path, Config(), model);

        Assert.That(File.Exists(dir.File("model.safetensors")), Is.True);
        Assert.That(File.Exists(dir.File("model.safetensors.index.json")), Is.False);
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        Assert.That(checkpoint.IsSharded, Is.False);
        Assert.That(checkpoint.ConfigPath, Is.EqualTo(dir.File("config.json")));
        Assert.That(JsonNode.DeepEquals(checkpoint.ConfigJson, Config()), Is.True);
        Assert.That(checkpoint.Metadata["format"], Is.EqualTo("pt"));
        AssertSameTensors(checkpoint, model);
        Assert.That(File.ReadAllText(dir.File("config.json")), Does.Contain("\n  \"hidden_size\": 8"), "config.json is pretty-printed");
    }

    [Test]
    public void A_sharded_checkpoint_round_trips_and_its_index_matches_transformers()
    {
        var model = Model();
        HfCheckpointWriter.Write(dir.Path, Config(), model, new CheckpointWriteOptions { MaxShardBytes = 200 });

        var shards = Directory.GetFiles(dir.Path, "model-*.safetensors").Select(FileName).Order().ToList();
        Assert.That(shards, Has.Count.GreaterThanOrEqualTo(3));
        var n = shards.Count;
        Assert.That(shards, Is.EqualTo(Enumerable.Range(1, n).Select(i => $"model-{i:D5}-of-{n:D5}.safetensors")));
        Assert.That(File.Exists(dir.File("model.safetensors")), Is.False);

        var index = JsonNode.Parse(File.ReadAllText(dir.File("model.safetensors.index.json")))!.AsObject();
        var weightMap = index["weight_map"]!.AsObject();
        Assert.That(weightMap.Select(kv => kv.Key), Is.EqualTo(model.Select(kv => kv.Key).Order(StringComparer.Ordinal)), "weight_map is sorted and complete");
        Assert.That(index["metadata"]!["total_size"]!.GetValue<long>(), Is.EqualTo(model.Sum(kv => kv.Value.NumberOfElements * kv.Value.ElementSize)));
        Assert.That(weightMap["model.embed_tokens.weight"]!.GetValue<string>(), Is.EqualTo(shards[0]), "shards follow the caller's order");
        Assert.That(weightMap["model.mask"]!.GetValue<string>(), Is.EqualTo(shards[^1]));

        using var checkpoint = HfCheckpoint.Open(dir.Path);
        Assert.That(checkpoint.IsSharded, Is.True);
        Assert.That(checkpoint.WeightFiles.Select(FileName), Is.EqualTo(shards));
        foreach (var (name, shard) in weightMap)
            Assert.That(Path.GetFileName(checkpoint.Describe(name).File), Is.EqualTo(shard!.GetValue<string>()));
        foreach (var shard in shards)
        {
            using var file = SafetensorsFile.Open(dir.File(shard));
            Assert.That(file.Entries.Sum(e => e.ByteCount), Is.LessThanOrEqualTo(200));
        }
        AssertSameTensors(checkpoint, model);
    }

    [Test]
    public void A_shard_limit_everything_fits_under_gives_one_plain_file()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 1 << 20 });
        Assert.That(Directory.GetFiles(dir.Path).Select(FileName), Is.EquivalentTo(new[] { "config.json", "model.safetensors" }));
    }

    [Test]
    public void Float_tensors_are_converted_on_write_and_integer_tensors_are_left_alone()
    {
        var model = Model();
        HfCheckpointWriter.Write(dir.Path, Config(), model, new CheckpointWriteOptions { DType = torch.ScalarType.BFloat16 });

        using var checkpoint = HfCheckpoint.Open(dir.Path);
        Assert.That(checkpoint.Describe("model.embed_tokens.weight").DType, Is.EqualTo("BF16"));
        Assert.That(checkpoint.Describe("model.layers.0.mlp.up_proj.weight").DType, Is.EqualTo("BF16"));
        Assert.That(checkpoint.Describe("model.rotary.positions").DType, Is.EqualTo("I64"));
        Assert.That(checkpoint.Describe("model.mask").DType, Is.EqualTo("BOOL"));
        var original = model.Single(kv => kv.Key == "model.embed_tokens.weight").Value;
        Assert.That(SampleTensors.BytesOf(checkpoint.Load("model.embed_tokens.weight")),
                    Is.EqualTo(SampleTensors.BytesOf(original.to(torch.ScalarType.BFloat16))));
    }

    [Test]
    public void A_checkpoint_can_be_streamed_into_another_folder_resharded_and_converted()
    {
        var model = Model();
        HfCheckpointWriter.Write(dir.Path, Config(), model);
        var copy = Path.Combine(dir.Path, "copy");
        using (var source = HfCheckpoint.Open(dir.Path))
            HfCheckpointWriter.Write(copy, source.ConfigJson, source, new CheckpointWriteOptions { MaxShardBytes = 100, DType = torch.ScalarType.Float32 });

        using var converted = HfCheckpoint.Open(copy);
        Assert.That(converted.IsSharded, Is.True);
        var expected = model.Select(kv => KeyValuePair.Create(kv.Key,
            SafetensorsDType.IsFloating(kv.Value.dtype) ? kv.Value.to(torch.ScalarType.Float32) : kv.Value));
        AssertSameTensors(converted, expected);
    }

    [Test]
    public void Every_shard_carries_the_format_and_the_extra_metadata()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions
        {
            MaxShardBytes = 200, Metadata = new Dictionary<string, string> { ["pruned_by"] = "wanda" },
        });
        foreach (var shard in Directory.GetFiles(dir.Path, "model-*.safetensors"))
        {
            using var file = SafetensorsFile.Open(shard);
            Assert.That(file.Metadata, Is.EqualTo(new Dictionary<string, string> { ["format"] = "pt", ["pruned_by"] = "wanda" }), shard);
        }
    }

    [Test]
    public void Options_that_make_no_sense_are_refused_before_anything_is_written()
    {
        Assert.Throws<ArgumentException>(() => HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { DType = torch.ScalarType.Int8 }));
        Assert.Throws<ArgumentException>(() => HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = -1 }));
        var duplicate = Model().Concat(Model().Take(1));
        Assert.That(() => HfCheckpointWriter.Write(dir.Path, Config(), duplicate),
                    Throws.ArgumentException.With.Message.Contains("'model.embed_tokens.weight' is given twice"));
        Assert.That(Directory.GetFiles(dir.Path), Is.Empty);
    }

    [Test]
    public void A_folder_can_be_converted_in_place_while_it_is_open()
    {
        var model = Model();
        HfCheckpointWriter.Write(dir.Path, Config(), model, new CheckpointWriteOptions { MaxShardBytes = 200 });
        using (var source = HfCheckpoint.Open(dir.Path))
            HfCheckpointWriter.Write(dir.Path, source.ConfigJson, source, new CheckpointWriteOptions { DType = torch.ScalarType.BFloat16 });

        Assert.That(Directory.GetFiles(dir.Path).Select(FileName), Is.EquivalentTo(new[] { "config.json", "model.safetensors" }));
        using var converted = HfCheckpoint.Open(dir.Path);
        AssertSameTensors(converted, model.Select(kv => KeyValuePair.Create(kv.Key,
            SafetensorsDType.IsFloating(kv.Value.dtype) ? kv.Value.to(torch.ScalarType.BFloat16) : kv.Value)));
    }

    [Test]
    public void In_memory_and_file_sources_describe_dtypes_alike()
    {
        var model = Model();
        HfCheckpointWriter.Write(dir.Path, Config(), model);
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        using var memory = new InMemoryTensorSource(model.ToDictionary());
        foreach (var (name, _) in model)
            Assert.That(memory.Describe(name).DType, Is.EqualTo(checkpoint.Describe(name).DType), name);
    }

    [Test]
    public void Rewriting_a_folder_replaces_stale_weights_and_keeps_unrelated_files()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 200 });
        File.WriteAllText(dir.File("README.md"), "mine");
        File.WriteAllText(dir.File("tokenizer.json"), "{}");

        var smaller = new Dictionary<string, torch.Tensor> { ["w"] = torch.ones(2) };
        HfCheckpointWriter.Write(dir.Path, Config(), smaller);

        Assert.That(Directory.GetFiles(dir.Path).Select(FileName),
                    Is.EquivalentTo(new[] { "config.json", "model.safetensors", "README.md", "tokenizer.json" }));
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        AssertSameTensors(checkpoint, smaller);
    }

    [Test]
    public void A_failed_write_leaves_the_previous_checkpoint_intact_and_no_temporaries()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 200 });
        var before = Directory.GetFiles(dir.Path).ToDictionary(FileName, File.ReadAllBytes);

        var newConfig = Config();
        newConfig["hidden_size"] = 16;
        Assert.Throws<InvalidOperationException>(() => HfCheckpointWriter.Write(dir.Path, newConfig, ThrowingModel(),
                                                                              new CheckpointWriteOptions { MaxShardBytes = 200 }));
        // Fails while the second shard's data is written, after the first shard is complete on disk.
        var late = Model().Append(KeyValuePair.Create("zz.meta", torch.empty(new long[] { 64 }, device: torch.META)));
        Assert.That(() => HfCheckpointWriter.Write(dir.Path, newConfig, late, new CheckpointWriteOptions { MaxShardBytes = 200 }),
                    Throws.Exception.With.Message.Contains("meta tensor"));

        var after = Directory.GetFiles(dir.Path).ToDictionary(FileName, File.ReadAllBytes);
        Assert.That(after.Keys, Is.EquivalentTo(before.Keys));
        foreach (var (name, bytes) in before) Assert.That(after[name], Is.EqualTo(bytes), name);
        Assert.That(dir.LeftoverTemporaries(), Is.Empty);
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        AssertSameTensors(checkpoint, Model());
    }

    static IEnumerable<KeyValuePair<string, torch.Tensor>> ThrowingModel()
    {
        foreach (var kv in Model().Take(4)) yield return kv;
        throw new InvalidOperationException("the pruned model failed to produce its next tensor");
    }

    [Test]
    public void Auxiliary_tokenizer_files_are_copied_and_nothing_else()
    {
        var source = Path.Combine(dir.Path, "src");
        Directory.CreateDirectory(source);
        foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.model", "notes.txt", "config.json" })
            File.WriteAllText(Path.Combine(source, name), name);
        var target = Path.Combine(dir.Path, "out");

        var copied = HfCheckpointWriter.CopyAuxiliaryFiles(source, target);

        var expected = new[] { "generation_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json" };
        Assert.That(copied, Is.EquivalentTo(expected));
        Assert.That(Directory.GetFiles(target).Select(FileName), Is.EquivalentTo(expected));
        Assert.That(File.ReadAllText(Path.Combine(target, "tokenizer.json")), Is.EqualTo("tokenizer.json"));
    }

    // ---- Require ----

    [Test]
    public void Require_passes_when_every_tensor_is_present()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model());
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        Assert.DoesNotThrow(() => checkpoint.Require(Model().Select(kv => kv.Key), "LlamaForCausalLM"));
    }

    [Test]
    public void Require_names_the_architecture_and_up_to_ten_missing_tensors()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model());
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        var wanted = Model().Select(kv => kv.Key).Concat(Enumerable.Range(0, 12).Select(i => $"lm_head.{i:D2}"));

        var e = Assert.Throws<CheckpointFormatException>(() => checkpoint.Require(wanted, "LlamaForCausalLM"))!;
        Assert.That(e.Path, Is.EqualTo(dir.File("model.safetensors")));
        Assert.That(e.Message, Does.Contain("lacks 12 tensors that architecture 'LlamaForCausalLM' needs")
                                   .And.Contain("'lm_head.00'").And.Contain("'lm_head.09'").And.Contain("and 2 more")
                                   .And.Not.Contain("'lm_head.10'"));
    }

    [Test]
    public void Loading_an_absent_tensor_names_the_checkpoint()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model());
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        var e = Assert.Throws<CheckpointFormatException>(() => checkpoint.Load("lm_head.weight"))!;
        Assert.That(e.Message, Does.Contain("model.safetensors").And.Contain("has no tensor 'lm_head.weight'"));
    }

    [Test]
    public void Dispose_closes_every_shard()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 200 });
        var checkpoint = HfCheckpoint.Open(dir.Path);
        checkpoint.Dispose();
        foreach (var name in checkpoint.Names)
            Assert.Throws<ObjectDisposedException>(() => checkpoint.Load(name), name);
    }

    // ---- Bad folders ----

    [Test]
    public void A_missing_folder_is_named()
    {
        var missing = dir.File("nowhere");
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(missing))!;
        Assert.That(e.Path, Is.EqualTo(missing));
        Assert.That(e.Message, Does.Contain("model folder not found"));
    }

    [Test]
    public void An_empty_folder_is_named()
    {
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Message, Does.StartWith(dir.Path).And.Contain("model folder is empty"));
    }

    [Test]
    public void A_pickle_only_folder_is_refused_without_reading_the_pickle()
    {
        File.WriteAllText(dir.File("config.json"), Config().ToJsonString());
        File.WriteAllBytes(dir.File("pytorch_model-00001-of-00002.bin"), [0x80, 0x02]);
        File.WriteAllBytes(dir.File("pytorch_model-00002-of-00002.bin"), [0x80, 0x02]);

        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Message, Does.Contain("pytorch_model-00001-of-00002.bin").And.Contain("can execute arbitrary code")
                                   .And.Contain("never loaded").And.Contain("safe_serialization=True"));
    }

    [TestCase("consolidated.pth")]
    [TestCase("model.ckpt")]
    [TestCase("weights.pt")]
    public void Other_pickle_extensions_are_refused_too(string file)
    {
        File.WriteAllText(dir.File("config.json"), Config().ToJsonString());
        File.WriteAllBytes(dir.File(file), [0x80, 0x02]);
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Message, Does.Contain(file).And.Contain("pickle"));
    }

    [Test]
    public void A_folder_without_weights_lists_what_it_has()
    {
        File.WriteAllText(dir.File("config.json"), Config().ToJsonString());
        File.WriteAllText(dir.File("tf_model.h5"), "");
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Message, Does.Contain("has neither model.safetensors nor model.safetensors.index.json").And.Contain("tf_model.h5"));
    }

    [Test]
    public void A_missing_config_is_named()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model());
        File.Delete(dir.File("config.json"));
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Path, Is.EqualTo(dir.File("config.json")));
        Assert.That(e.Message, Does.Contain("config.json is missing"));
    }

    [TestCase("{\"hidden_size\": ", "not valid JSON")]
    [TestCase("[1, 2]", "not an object")]
    [TestCase("{\"a\": 1, \"a\": 2}", "not valid JSON")]
    public void A_broken_config_is_named(string text, string phrase)
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model());
        File.WriteAllText(dir.File("config.json"), text);
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Message, Does.StartWith(dir.File("config.json")).And.Contain(phrase));
    }

    [Test]
    public void Both_a_single_file_and_an_index_is_ambiguous()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 200 });
        SafetensorsWriter.Write(dir.File("model.safetensors"), Model());
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Message, Does.Contain("holds both model.safetensors and model.safetensors.index.json"));
    }

    [Test]
    public void An_index_pointing_to_a_missing_shard_names_the_shard()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 200 });
        var shard = Directory.GetFiles(dir.Path, "model-00002-of-*.safetensors").Single();
        File.Delete(shard);

        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Path, Is.EqualTo(dir.File("model.safetensors.index.json")));
        Assert.That(e.Message, Does.Contain($"lists shard '{Path.GetFileName(shard)}'").And.Contain("shard file is missing"));
    }

    [Test]
    public void A_tensor_the_index_lists_but_its_shard_lacks_is_named()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 200 });
        var index = ReadIndex();
        var first = index["weight_map"]!["model.embed_tokens.weight"]!.GetValue<string>();
        index["weight_map"]!["lm_head.weight"] = first;
        WriteIndex(index);

        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Path, Is.EqualTo(dir.File(first)));
        Assert.That(e.Message, Does.Contain("lacks tensor 'lm_head.weight' that model.safetensors.index.json places in it"));
    }

    [Test]
    public void A_tensor_in_a_shard_but_not_in_the_index_is_named()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 200 });
        var index = ReadIndex();
        var shard = index["weight_map"]!["model.norm.weight"]!.GetValue<string>();
        index["weight_map"]!.AsObject().Remove("model.norm.weight");
        WriteIndex(index);

        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Path, Is.EqualTo(dir.File(shard)));
        Assert.That(e.Message, Does.Contain("holds tensor 'model.norm.weight', which model.safetensors.index.json does not list"));
    }

    [Test]
    public void A_tensor_in_two_shards_is_named_with_both()
    {
        File.WriteAllText(dir.File("config.json"), Config().ToJsonString());
        SafetensorsWriter.Write(dir.File("model-00001-of-00002.safetensors"), new Dictionary<string, torch.Tensor> { ["a"] = torch.ones(1), ["b"] = torch.ones(1) });
        SafetensorsWriter.Write(dir.File("model-00002-of-00002.safetensors"), new Dictionary<string, torch.Tensor> { ["b"] = torch.ones(1), ["c"] = torch.ones(1) });
        WriteIndex(new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = 12 },
            ["weight_map"] = new JsonObject { ["a"] = "model-00001-of-00002.safetensors", ["b"] = "model-00001-of-00002.safetensors", ["c"] = "model-00002-of-00002.safetensors" },
        });

        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Path, Is.EqualTo(dir.File("model-00002-of-00002.safetensors")));
        Assert.That(e.Message, Does.Contain("holds tensor 'b', which shard 'model-00001-of-00002.safetensors' holds too"));
    }

    [TestCase("../outside.safetensors")]
    [TestCase("/etc/passwd")]
    [TestCase("model.bin")]
    public void An_index_cannot_point_outside_the_folder_or_to_other_formats(string shard)
    {
        File.WriteAllText(dir.File("config.json"), Config().ToJsonString());
        WriteIndex(new JsonObject { ["weight_map"] = new JsonObject { ["a"] = shard } });
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Message, Does.Contain("not a .safetensors file name in the same folder"));
    }

    [TestCase("{", "index is not valid JSON")]
    [TestCase("{\"metadata\": {}}", "has no \"weight_map\" object")]
    [TestCase("{\"weight_map\": {\"a\": \"x.safetensors\", \"a\": \"y.safetensors\"}}", "index is not valid JSON")]
    public void A_broken_index_is_named(string text, string phrase)
    {
        File.WriteAllText(dir.File("config.json"), Config().ToJsonString());
        File.WriteAllText(dir.File("model.safetensors.index.json"), text);
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Message, Does.StartWith(dir.File("model.safetensors.index.json")).And.Contain(phrase));
    }

    [Test]
    public void A_corrupt_shard_is_named_by_the_shard_reader()
    {
        HfCheckpointWriter.Write(dir.Path, Config(), Model(), new CheckpointWriteOptions { MaxShardBytes = 200 });
        var shard = Directory.GetFiles(dir.Path, "model-00002-of-*.safetensors").Single();
        File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..^1]);
        var e = Assert.Throws<CheckpointFormatException>(() => HfCheckpoint.Open(dir.Path))!;
        Assert.That(e.Path, Is.EqualTo(shard));
        Assert.That(e.Message, Does.Contain("file is truncated"));
    }

    static string FileName(string path) => Path.GetFileName(path);

    JsonObject ReadIndex() => JsonNode.Parse(File.ReadAllText(dir.File("model.safetensors.index.json")))!.AsObject();

    void WriteIndex(JsonObject index) => File.WriteAllText(dir.File("model.safetensors.index.json"), index.ToJsonString());
}
