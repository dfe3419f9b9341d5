using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Tests.Corpora;
using static Repro.Core.Tests.Models.TinyModels;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Models;

public sealed class EmbeddingRowsTests
{
    [TestCase(ScalarType.Float32, ScalarType.Float32)]
    [TestCase(ScalarType.BFloat16, ScalarType.Float32)]
    [TestCase(ScalarType.BFloat16, ScalarType.BFloat16)]
    public void Rows_read_from_the_file_equal_rows_of_the_loaded_table(ScalarType stored, ScalarType dtype)
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = Config(ModelFamily.Llama);
        var dir = Path.Combine(folder.Path, "model");
        // Small shards: the table sits in a file of its own, at an offset other than the first tensor's.
        HfCheckpointWriter.Write(dir, config.ToJson(), Weights(config), new CheckpointWriteOptions { DType = stored, MaxShardBytes = 4_000 });
        using var checkpoint = HfCheckpoint.Open(dir);
        var ids = new long[3, 9];
        for (var i = 0; i < ids.Length; i++) ids[i / 9, i % 9] = (i * 7 + 3) % config.VocabSize;
        ids[0, 0] = 0;
        ids[2, 8] = config.VocabSize - 1;

        var rows = EmbeddingRows.Lookup(checkpoint, "model.embed_tokens.weight", ids, CPU, dtype);

        var table = checkpoint.Load("model.embed_tokens.weight").to(dtype);
        var flat = new long[ids.Length];
        Buffer.BlockCopy(ids, 0, flat, 0, flat.Length * sizeof(long));
        var expected = table.index_select(0, tensor(flat)).view(3, 9, -1);
        Assert.That(rows.dtype, Is.EqualTo(dtype));
        Assert.That(rows.Equals(expected), Is.True);
        Assert.That(checkpoint.Describe("model.embed_tokens.weight").File, Does.EndWith(".safetensors"));
    }

    [Test]
    public void An_id_outside_the_table_names_the_file()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = Config(ModelFamily.Llama);
        var dir = Path.Combine(folder.Path, "model");
        HfCheckpointWriter.Write(dir, config.ToJson(), Weights(config));
        using var checkpoint = HfCheckpoint.Open(dir);

        var error = Assert.Throws<InputException>(() => EmbeddingRows.Lookup(checkpoint, "model.embed_tokens.weight", new long[,] { { 1, config.VocabSize } }, CPU, ScalarType.Float32));

        Assert.That(error!.Message, Does.Contain($"token id {config.VocabSize}").And.Contain(".safetensors"));
    }
}
