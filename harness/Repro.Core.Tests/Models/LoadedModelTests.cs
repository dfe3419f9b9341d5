using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Tests.Checkpoints;
using Repro.Core.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Models;

/// <summary>The whole path a user's folder takes: written as HF safetensors, read back memory-mapped, run.</summary>
public sealed class LoadedModelTests
{
    static readonly IEnumerable<TestCaseData> Layouts =
        from family in TinyModels.Families
        from layout in new[] { (Dtype: ScalarType.Float32, ShardBytes: 0L), (Dtype: ScalarType.BFloat16, ShardBytes: 6_000L) }
        select new TestCaseData(family, layout.Dtype, layout.ShardBytes).SetArgDisplayNames(family.ToString(), layout.Dtype.ToString(), $"shard {layout.ShardBytes}");

    [TestCaseSource(nameof(Layouts))]
    public void Folder_written_to_disk_gives_the_logits_of_the_same_weights_in_memory(ModelFamily family, ScalarType stored, long shardBytes)
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDirectory();
        var config = TinyModels.Config(family);
        var weights = TinyModels.Weights(config);
        HfCheckpointWriter.Write(temp.Path, config.ToJson(), weights, new CheckpointWriteOptions { DType = stored, MaxShardBytes = shardBytes });

        // Same weights, rounded the way storage rounded them.
        var rounded = weights.ToDictionary(kv => kv.Key, kv => kv.Value.to(stored).to(ScalarType.Float32));
        using var expected = TinyModels.Load(config, rounded);
        var ids = TinyModels.Ids(3, 14, 15, 9, 26, 5);
        var want = expected.Logits(ids);

        using var checkpoint = HfCheckpoint.Open(temp.Path);
        using var loaded = CausalLM.Load(ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath), checkpoint, CPU, ScalarType.Float32);
        Assert.That(checkpoint.IsSharded, Is.EqualTo(shardBytes > 0));
        Assert.That(loaded.Logits(ids).Equals(want), Is.True, "logits differ after a round trip through safetensors");
    }

    [Test]
    public void A_tensor_missing_for_the_architecture_is_named_before_any_weight_is_copied()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDirectory();
        var config = TinyModels.Config(ModelFamily.Llama, j => j["vocab_size"] = 300);
        var weights = TinyModels.Weights(config);
        weights.Remove("model.layers.1.mlp.up_proj.weight");
        HfCheckpointWriter.Write(temp.Path, config.ToJson(), weights);
        new ByteTokenizer().WriteHfFiles(temp.Path);

        var e = Assert.Throws<CheckpointFormatException>(() => LoadedModel.Open(temp.Path, CPU, ScalarType.Float32))!;
        Assert.That(e.Message, Does.Contain("model.layers.1.mlp.up_proj.weight"));
    }

    [Test]
    public void A_tokenizer_larger_than_the_model_vocabulary_is_refused()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDirectory();
        var config = TinyModels.Config(ModelFamily.Llama);            // vocab 61 < the byte tokenizer's 259
        HfCheckpointWriter.Write(temp.Path, config.ToJson(), TinyModels.Weights(config));
        new ByteTokenizer().WriteHfFiles(temp.Path);

        var e = Assert.Throws<Repro.Core.Tokenizers.TokenizerFormatException>(() => LoadedModel.Open(temp.Path, CPU, ScalarType.Float32))!;
        Assert.That(e.Message, Does.StartWith(temp.Path).And.Contain("vocab_size 61").And.Contain("259"));
    }

    [Test]
    public void Open_reads_config_weights_and_tokenizer_of_a_folder()
    {
        using var scope = NewDisposeScope();
        using var temp = new TempDirectory();
        var config = TinyModels.Config(ModelFamily.Qwen3, j => j["vocab_size"] = 260);
        HfCheckpointWriter.Write(temp.Path, config.ToJson(), TinyModels.Weights(config), new CheckpointWriteOptions { DType = ScalarType.BFloat16 });
        new ByteTokenizer().WriteHfFiles(temp.Path);

        using var loaded = LoadedModel.Open(temp.Path, CPU, ScalarType.Float32);
        Assert.That(loaded.Config, Is.EqualTo(config));
        Assert.That(loaded.Tokenizer, Is.InstanceOf<ByteTokenizer>());
        var ids = tensor(loaded.Tokenizer.Encode("héllo", addBos: true).Ids.Select(i => (long)i).ToArray()).unsqueeze(0);
        Assert.That(loaded.Model.Logits(ids).shape, Is.EqualTo(new long[] { 1, 7, 260 }));
    }
}
