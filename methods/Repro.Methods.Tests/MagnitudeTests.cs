using FsCheck;
using FsCheck.Fluent;
using Repro.Core;
using TorchSharp;
using static Repro.Methods.Tests.SmallLayers;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

public sealed class MagnitudeTests
{
    [Test]
    public void Ties_across_rows_go_to_the_lower_flat_index()
    {
        using var scope = NewDisposeScope();
        // |W| flat = [3, 1, 2, 1, 2, 5]: floor(6·0.5) = 3 → the two 1s, then the first 2 (flat 2, not flat 4).
        var w = tensor(new float[,] { { 3, -1, 2 }, { 1, -2, 5 } });
        Assert.That(ToArray(Magnitude.Mask(w, new Sparsity(0.5m))), Is.EqualTo(new[,] { { false, true, true }, { true, false, false } }));
    }

    [Test]
    public void Exactly_floor_of_numel_times_s_not_one_more()
    {
        using var scope = NewDisposeScope();
        // 0.29 · 100 = 29 exactly in decimal; in double (int)(0.29 * 100) is 28. The reference would prune 29 + 1 (≤ thr).
        var w = arange(1, 101, ScalarType.Float32).reshape(10, 10);
        using var mask = Magnitude.Mask(w, new Sparsity(0.29m));
        Assert.That(mask.sum().item<long>(), Is.EqualTo(29));
        Assert.That(mask.reshape(-1).narrow(0, 0, 29).all().item<bool>(), Is.True);
    }

    [Test]
    public void Two_of_four_is_per_row_and_per_group_not_per_matrix()
    {
        using var scope = NewDisposeScope();
        var w = tensor(new float[,] { { 9, 8, 1, 2, 0.5f, 7, 0.25f, 6 }, { 100, 200, 300, 400, 1, 1, 1, 1 } });
        Assert.That(ToArray(Magnitude.Mask(w, new NmPattern(2, 4))), Is.EqualTo(new[,]
        {
            { false, false, true, true, true, false, true, false },
            { true, true, false, false, true, true, false, false },
        }));
    }

    [Test]
    public void Apply_ignores_activations_and_records_what_it_did()
    {
        using var scope = NewDisposeScope();
        var method = new Magnitude(new Sparsity(0.5m));
        Assert.That(method.NeedsCalibration, Is.False);
        Assert.That(method.HyperParameters.ToJsonString(), Is.EqualTo("""{"sparsity":0.5,"structure":"unstructured","group":"per-matrix","ties":"lower index first"}"""));
        Assert.That(new Magnitude(new NmPattern(2, 4)).HyperParameters.ToJsonString(), Is.EqualTo("""{"sparsity":0.5,"structure":"2:4","group":"nm","ties":"lower index first"}"""));
        using var linear = LinearWith(tensor(new float[,] { { 1, -2 }, { 3, -4 } }));
        using var compressor = method.Begin("model.layers.0.self_attn.v_proj", linear);
        compressor.Observe(full(1, 1, 2, 1000f));
        var result = compressor.Apply();
        using var mask = result.Mask!;
        Assert.That(linear.weight!.detach().data<float>().ToArray(), Is.EqualTo(new float[] { 0, 0, 3, -4 }));
        Assert.That((result.Name, result.Elements, result.Zeros, result.Diagnostics["pruned"]), Is.EqualTo(("model.layers.0.self_attn.v_proj", 4L, 2L, 2.0)));
    }

    [Test]
    public void An_infinite_weight_is_an_error_naming_the_sublayer()
    {
        using var scope = NewDisposeScope();
        using var linear = LinearWith(tensor(new float[,] { { 1, float.NegativeInfinity } }));
        using var compressor = new Magnitude(new Sparsity(0.5m)).Begin("model.layers.3.mlp.down_proj", linear);
        Assert.That(() => compressor.Apply(),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("model.layers.3.mlp.down_proj").And.Message.Contains("[0, 1]"));
    }

    [Test]
    public void Ragged_n_m_is_refused()
    {
        using var scope = NewDisposeScope();
        Assert.That(() => Magnitude.Mask(ones(3, 10), new NmPattern(2, 4)), Throws.InstanceOf<InputException>().With.Message.Contains("multiple of 4"));
    }

    [Test]
    public void Fp16_weights_rank_by_their_own_magnitudes()
    {
        using var scope = NewDisposeScope();
        var w = tensor(new float[,] { { 0.1f, -0.3f, 0.2f, 65504f } }).to(ScalarType.Float16);
        Assert.That(ToArray(Magnitude.Mask(w, new Sparsity(0.5m))), Is.EqualTo(new[,] { { true, false, true, false } }));
    }

    [FsCheck.NUnit.Property(MaxTest = 300)]
    public Property Mask_is_exactly_the_lowest_floor_s_numel_magnitudes_ties_to_the_lower_flat_index() =>
        Prop.ForAll(Any(), c =>
        {
            using var scope = NewDisposeScope();
            var s = new Sparsity(c.S);
            var mask = Magnitude.Mask(c.Weight(), s);
            var m = ToArray(mask);
            var n = c.Rows * c.Columns;
            var k = s.PruneCount(n);
            var magnitudes = Enumerable.Range(0, n).Select(i => Math.Abs((double)c.W[i / c.Columns, i % c.Columns])).ToArray();
            var want = LowestByOracle(magnitudes, k);
            var got = Enumerable.Range(0, n).Where(i => m[i / c.Columns, i % c.Columns]).ToHashSet();
            var maxPruned = got.Count == 0 ? double.NegativeInfinity : got.Max(i => magnitudes[i]);
            var minKept = got.Count == n ? double.PositiveInfinity : Enumerable.Range(0, n).Where(i => !got.Contains(i)).Min(i => magnitudes[i]);
            return (got.Count == k).Label($"pruned {got.Count}, want floor({c.S}·{n}) = {k}")
                .And((maxPruned <= minKept).Label($"a kept |w| {minKept} is below a pruned |w| {maxPruned}"))
                .And(got.SetEquals(want).Label("not the lowest-by-(|w|, flat index) set"));
        });

    [FsCheck.NUnit.Property(MaxTest = 300)]
    public Property N_m_prunes_exactly_n_smallest_of_every_aligned_group_of_m() =>
        Prop.ForAll(WithPattern(), c =>
        {
            using var scope = NewDisposeScope();
            var (layer, pattern) = c;
            var m = ToArray(Magnitude.Mask(layer.Weight(), pattern));
            for (var r = 0; r < layer.Rows; r++)
                for (var g = 0; g < layer.Columns; g += pattern.M)
                {
                    var want = LowestByOracle(Enumerable.Range(g, pattern.M).Select(j => Math.Abs((double)layer.W[r, j])).ToArray(), pattern.N)
                        .Select(i => g + i).ToHashSet();
                    var got = Enumerable.Range(g, pattern.M).Where(j => m[r, j]).ToHashSet();
                    if (got.Count != pattern.N || !got.SetEquals(want))
                        return false.Label($"{pattern}, row {r}, group at {g}: pruned [{string.Join(",", got.Order())}], want [{string.Join(",", want.Order())}]");
                }
            return true.Label("ok");
        });

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property Apply_zeroes_exactly_the_mask_keeps_the_rest_bit_identical_and_is_deterministic() =>
        Prop.ForAll(Any(), Gen.Elements(false, true).ToArbitrary(), (c, nm) =>
        {
            using var scope = NewDisposeScope();
            var w = c.Weight();
            ICompressionMethod method = nm && c.Columns % 4 == 0 ? new Magnitude(new NmPattern(2, 4)) : new Magnitude(new Sparsity(c.S));
            using var first = LinearWith(w);
            using var second = LinearWith(w);
            SublayerResult Run(TorchSharp.Modules.Linear linear)
            {
                using var compressor = method.Begin("model.layers.0.mlp.up_proj", linear);
                return compressor.Apply();
            }
            var a = Run(first);
            var b = Run(second);
            using var maskA = a.Mask!;
            using var maskB = b.Mask!;
            var (before, after) = (Bits(w), Bits(first.weight!.detach()));
            var m = maskA.data<bool>().ToArray();
            var exact = Enumerable.Range(0, before.Length).All(i => m[i] ? after[i] == 0 : after[i] == before[i]);
            var deterministic = maskA.Equals(maskB) && after.SequenceEqual(Bits(second.weight!.detach()));
            var zeros = a.Zeros == after.Count(bits => (bits & int.MaxValue) == 0);
            var unchangedAtZero = c.S != 0m || method is Magnitude { Pattern: not null } || after.SequenceEqual(before);
            return exact.Label("a pruned entry is not +0 or a kept entry changed")
                .And(deterministic.Label("two runs differ"))
                .And(zeros.Label($"Zeros = {a.Zeros} is not the zero count after pruning"))
                .And(unchangedAtZero.Label("sparsity 0 changed the weight"));
        });
}
