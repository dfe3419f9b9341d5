using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Checkpoints;
using TorchSharp;

namespace Repro.Core.Tests.Checkpoints;

public sealed class ShardingProperties
{
    static readonly torch.ScalarType[] Types =
        [torch.ScalarType.Float32, torch.ScalarType.BFloat16, torch.ScalarType.Float16, torch.ScalarType.Int64, torch.ScalarType.Int8, torch.ScalarType.Bool];

    sealed record Spec(torch.ScalarType Type, long[] Shape, int Seed);

    static Arbitrary<(Spec[] Tensors, long MaxShardBytes)> Checkpoints() =>
        (from count in Gen.Choose(1, 8)
         from specs in (from type in Gen.Elements(Types)
                        from rank in Gen.Choose(0, 3)
                        from dims in Gen.Choose(0, 5).Select(d => (long)d).ArrayOf(rank)
                        from seed in Gen.Choose(0, 1000)
                        select new Spec(type, dims, seed)).ArrayOf(count)
         from limit in Gen.OneOf(Gen.Constant(0L), Gen.Choose(1, 300).Select(l => (long)l))
         select (specs, limit)).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 40)]
    public Property Any_tensors_and_shard_limit_round_trip_with_shards_in_order_and_within_the_limit() =>
        Prop.ForAll(Checkpoints(), c =>
        {
            using var scope = torch.NewDisposeScope();
            using var dir = new TempDirectory();
            var tensors = c.Tensors.Select((s, i) => KeyValuePair.Create($"t{i}.{s.Type}",
                SampleTensors.Of(s.Type, s.Seed).reshape(-1).repeat(13).narrow(0, 0, s.Shape.Aggregate(1L, (a, b) => a * b)).reshape(s.Shape))).ToList();
            HfCheckpointWriter.Write(dir.Path, new System.Text.Json.Nodes.JsonObject(), tensors, new CheckpointWriteOptions { MaxShardBytes = c.MaxShardBytes });

            using var checkpoint = HfCheckpoint.Open(dir.Path);
            var exact = tensors.All(kv => SampleTensors.BytesOf(checkpoint.Load(kv.Key)).SequenceEqual(SampleTensors.BytesOf(kv.Value))
                                          && checkpoint.Describe(kv.Key).Shape.SequenceEqual(kv.Value.shape));
            var files = tensors.Select(kv => checkpoint.Describe(kv.Key).File).ToList();
            var inOrder = files.Zip(files.Skip(1)).All(p => string.CompareOrdinal(p.First, p.Second) <= 0);
            var withinLimit = c.MaxShardBytes == 0 || files.GroupBy(f => f).All(g =>
                g.Count() == 1 || tensors.Where(kv => checkpoint.Describe(kv.Key).File == g.Key).Sum(kv => checkpoint.Describe(kv.Key).ByteCount) <= c.MaxShardBytes);
            return exact.Label("bit-exact round trip")
                .And(inOrder.Label($"shards follow the input order: {string.Join(", ", files.Select(Path.GetFileName))}"))
                .And(withinLimit.Label("every multi-tensor shard is within the limit"));
        });
}
