using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

public sealed class InputSquareMeanTests
{
    [Test]
    public void Two_calls_give_the_mean_over_sequences_of_the_summed_squares()
    {
        using var scope = NewDisposeScope();
        using var stats = new InputSquareMean(2);
        stats.Add(tensor(new float[,,] { { { 1, 2 } } }));                    // 1 sequence, 1 token: scaler = [1, 4], n = 1
        stats.Add(tensor(new float[,,] { { { 3, 0 } }, { { 0, 0 } } }));     // 2 sequences: [1, 4]·1/3 + [9, 0]/3
        Assert.That(stats.Mean().data<float>().ToArray(), Is.EqualTo(new[] { 10f / 3, 4f / 3 }).Within(1e-6));
        Assert.That((stats.Sequences, stats.Tokens), Is.EqualTo((3L, 3L)));
        Assert.That(stats.Norms().data<float>().ToArray(), Is.EqualTo(new[] { MathF.Sqrt(10f / 3), MathF.Sqrt(4f / 3) }).Within(1e-6));
    }

    [Test]
    public void The_counter_counts_sequences_not_tokens()
    {
        using var scope = NewDisposeScope();
        using var stats = new InputSquareMean(1);
        stats.Add(full(1, 4, 1, 2f));   // one sequence of four tokens, each x = 2: Σ x² = 16 over one sequence
        Assert.That(stats.Mean().item<float>(), Is.EqualTo(16f));   // a per-token counter would give 4
        Assert.That((stats.Sequences, stats.Tokens), Is.EqualTo((1L, 4L)));
    }

    [Test]
    public void A_two_dimensional_input_is_one_sequence()
    {
        using var scope = NewDisposeScope();
        using var a = new InputSquareMean(3);
        using var b = new InputSquareMean(3);
        var x = arange(6, ScalarType.Float32).reshape(2, 3);
        a.Add(x);
        b.Add(x.unsqueeze(0));
        Assert.That(a.Mean().Equals(b.Mean()) && a.Sequences == 1, Is.True);
    }

    [Test]
    public void Bf16_inputs_are_squared_in_float32()
    {
        using var scope = NewDisposeScope();
        using var stats = new InputSquareMean(1);
        stats.Add(full(1, 1, 1, 300f).to(ScalarType.BFloat16));   // 300² = 90000 is not a bf16 number (bf16 has 8 bits)
        Assert.That(stats.Mean().item<float>(), Is.EqualTo(90000f));
        Assert.That(stats.Mean().dtype, Is.EqualTo(ScalarType.Float32));
    }

    [Test]
    public void An_input_of_the_wrong_width_is_refused()
    {
        using var scope = NewDisposeScope();
        using var stats = new InputSquareMean(4);
        Assert.That(() => stats.Add(ones(1, 2, 3)), Throws.ArgumentException.With.Message.Contains("[1, 2, 3]").And.Message.Contains("4"));
    }

    [Test]
    public void The_statistic_outlives_the_scope_it_was_made_in()
    {
        InputSquareMean stats;
        using (var scope = NewDisposeScope())
        {
            stats = new InputSquareMean(2);
            stats.Add(ones(1, 1, 2));
        }
        using (stats)
        using (var scope = NewDisposeScope())
        {
            stats.Add(ones(1, 1, 2));
            Assert.That(stats.Mean().data<float>().ToArray(), Is.EqualTo(new[] { 1f, 1f }));
        }
    }

    [Test]
    public void Adding_leaves_no_live_tensor_behind()
    {
        using var stats = new InputSquareMean(8);
        using var x = randn(2, 5, 8);
        stats.Add(x);
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 5; i++) stats.Add(x);
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
    }

    /// <summary>Samples [count, tokens, features] and a split of the count into consecutive batch sizes.</summary>
    static Arbitrary<(double[][,] Samples, int[] Split)> SamplesAndSplit() =>
        (from count in Gen.Choose(1, 9)
         from tokens in Gen.Choose(1, 4)
         from features in Gen.Choose(1, 7)
         from samples in Gen.Choose(-1000, 1000).Select(v => v / 97.0).Array2DOf(tokens, features).ArrayOf(count)
         from cuts in Gen.SubListOf(Enumerable.Range(1, count - 1).ToArray())
         select (samples, Split(count, cuts.Order().ToArray()))).ToArbitrary();

    static int[] Split(int count, int[] cuts) =>
        cuts.Append(count).Zip(cuts.Prepend(0), (end, start) => end - start).ToArray();

    static Tensor Accumulate(double[][,] samples, int[] split, ScalarType dtype)
    {
        using var stats = new InputSquareMean(samples[0].GetLength(1), dtype: dtype);
        var at = 0;
        foreach (var size in split)
        {
            stats.Add(stack(samples.Skip(at).Take(size).Select(s => tensor(s)).ToList()).to(dtype));
            at += size;
        }
        Assert.That(stats.Sequences, Is.EqualTo(samples.Length));
        return stats.Mean().to(ScalarType.Float64);
    }

    [FsCheck.NUnit.Property(MaxTest = 300)]
    public Property Any_batch_split_gives_the_closed_form_mean_over_sequences() =>
        Prop.ForAll(SamplesAndSplit(), c =>
        {
            using var scope = NewDisposeScope();
            var all = stack(c.Samples.Select(s => tensor(s)).ToList());              // [N, T, C], float64
            var closed = all.pow(2).sum([0, 1]) / c.Samples.Length;                  // (1/N) Σ_seq Σ_tok x²
            var oneByOne = Enumerable.Repeat(1, c.Samples.Length).ToArray();
            var split64 = Accumulate(c.Samples, c.Split, ScalarType.Float64);
            var single64 = Accumulate(c.Samples, oneByOne, ScalarType.Float64);
            var split32 = Accumulate(c.Samples, c.Split, ScalarType.Float32);
            var single32 = Accumulate(c.Samples, oneByOne, ScalarType.Float32);
            return split64.allclose(closed, rtol: 1e-12, atol: 1e-12).Label($"float64, split [{string.Join(",", c.Split)}] ≠ closed form")
                .And(single64.allclose(closed, rtol: 1e-12, atol: 1e-12).Label("float64, one by one ≠ closed form"))
                .And(split32.allclose(single32, rtol: 1e-5, atol: 1e-6).Label($"float32, split [{string.Join(",", c.Split)}] ≠ one by one"))
                .And(split32.allclose(closed, rtol: 1e-5, atol: 1e-6).Label("float32 ≠ closed form"));
        });

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property The_same_inputs_give_bit_identical_statistics() =>
        Prop.ForAll(SamplesAndSplit(), c =>
        {
            using var scope = NewDisposeScope();
            return Accumulate(c.Samples, c.Split, ScalarType.Float32).Equals(Accumulate(c.Samples, c.Split, ScalarType.Float32)).Label("differ");
        });
}
