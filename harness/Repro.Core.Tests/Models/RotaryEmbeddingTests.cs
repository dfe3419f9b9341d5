using Repro.Core.Models;
using TorchSharp;
using static Repro.Core.Tests.Models.TinyModels;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Models;

public sealed class RotaryEmbeddingTests
{
    static readonly ModelFamily[] Layouts = [ModelFamily.Llama, ModelFamily.Cohere];

    static Tensor Random(params long[] shape)
    {
        using var generator = new Generator(11);
        return randn(shape, generator: generator);
    }

    [TestCaseSource(nameof(Layouts))]
    public void Position_zero_leaves_vectors_unchanged(ModelFamily family)
    {
        using var scope = NewDisposeScope();
        using var rope = new RotaryEmbedding(Config(family));
        var x = Random(1, 2, 3, 8);

        var rotated = rope.Rotate(x);

        Assert.That(rotated.narrow(2, 0, 1).Equals(x.narrow(2, 0, 1)), Is.True);
        Assert.That(MaxAbsDiff(rotated.narrow(2, 1, 1), x.narrow(2, 1, 1)), Is.GreaterThan(1e-3));
    }

    [TestCaseSource(nameof(Layouts))]
    public void Attention_scores_depend_only_on_the_distance_between_positions(ModelFamily family)
    {
        using var scope = NewDisposeScope();
        using var rope = new RotaryEmbedding(Config(family));
        const int T = 7;
        // The same query and the same key at every position; score[m, n] = rot(q, m) · rot(k, n).
        var q = rope.Rotate(Random(8).expand(1, 1, T, 8));
        var k = rope.Rotate((Random(8) * 2 - 1).flip(0).expand(1, 1, T, 8));
        var scores = matmul(q[0, 0], k[0, 0].t()).to(ScalarType.Float64);

        for (var m = 0; m + 1 < T; m++)
            for (var n = 0; n + 1 < T; n++)
                Assert.That(scores[m + 1, n + 1].item<double>(), Is.EqualTo(scores[m, n].item<double>()).Within(1e-4), $"({m},{n})");
        Assert.That(Math.Abs(scores[3, 0].item<double>() - scores[0, 3].item<double>()), Is.GreaterThan(1e-3));
    }

    [Test]
    public void Llama_rotates_coordinate_i_with_i_plus_half_and_Cohere_with_its_neighbour()
    {
        using var scope = NewDisposeScope();
        using var llama = new RotaryEmbedding(Config(ModelFamily.Llama));
        using var cohere = new RotaryEmbedding(Config(ModelFamily.Cohere));
        // Unit vector e0 at position 3: angle 3·f0 = 3 (f0 = theta^0).
        var e0 = zeros(1, 1, 4, 8);
        e0[0, 0, 3, 0] = tensor(1f);

        var l = llama.Rotate(e0)[0, 0, 3].data<float>().ToArray();
        var c = cohere.Rotate(e0)[0, 0, 3].data<float>().ToArray();

        Assert.That(l, Is.EqualTo(new[] { (float)Math.Cos(3), 0, 0, 0, (float)Math.Sin(3), 0, 0, 0 }).Within(1e-6));
        Assert.That(c, Is.EqualTo(new[] { (float)Math.Cos(3), (float)Math.Sin(3), 0, 0, 0, 0, 0, 0 }).Within(1e-6));
    }

    [Test]
    public void Default_frequencies_are_theta_to_the_minus_2i_over_d()
    {
        var inv = RotaryEmbedding.ComputeInverseFrequencies(8, 10000, null);

        Assert.That(inv, Is.EqualTo(new[] { 1, 0.1, 0.01, 0.001 }).Within(1e-6));
    }

    [Test]
    public void Linear_scaling_divides_every_frequency()
    {
        var plain = RotaryEmbedding.ComputeInverseFrequencies(8, 10000, null);
        var scaled = RotaryEmbedding.ComputeInverseFrequencies(8, 10000, new RopeScaling("linear", 4));

        Assert.That(scaled, Is.EqualTo(plain.Select(f => f / 4)).Within(1e-9));
    }

    [Test]
    public void Llama3_scaling_divides_low_frequencies_keeps_high_ones_and_interpolates_between()
    {
        // d = 16, theta = 10000: wavelengths 2π·10000^(i/8) ≈ 6.3, 19.9, 62.8, 199, 628, …
        // original context 64, low 1, high 4: keep wavelengths < 16, divide those > 64 by 8, blend in between.
        var scaling = new RopeScaling("llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64);
        var plain = RotaryEmbedding.ComputeInverseFrequencies(16, 10000, null);

        var scaled = RotaryEmbedding.ComputeInverseFrequencies(16, 10000, scaling);

        for (var i = 0; i < 8; i++)
        {
            var f = Math.Pow(10000, -i / 8.0);
            var wavelength = 2 * Math.PI / f;
            var smooth = (64 / wavelength - 1) / (4 - 1);
            var expected = wavelength < 16 ? f : wavelength > 64 ? f / 8 : (1 - smooth) * f / 8 + smooth * f;
            Assert.That(scaled[i], Is.EqualTo(expected).Within(2e-6 * f), $"frequency {i} (wavelength {wavelength:F1})");
            Assert.That(scaled[i], Is.InRange(plain[i] / 8 * (1 - 1e-6), plain[i] * (1 + 1e-6)));
        }
        Assert.That(scaled[0], Is.EqualTo(plain[0]), "high frequency unchanged");
        Assert.That(scaled[7], Is.EqualTo(plain[7] / 8).Within(1e-6 * plain[7]), "low frequency divided by factor");
        Assert.That(scaled[1], Is.GreaterThan(plain[1] / 8).And.LessThan(plain[1]), "medium frequency blended");
    }

    [Test]
    public void Cos_sin_tables_are_cached_and_grow_with_the_longest_request()
    {
        using var scope = NewDisposeScope();
        using var rope = new RotaryEmbedding(Config(ModelFamily.Llama));

        var (shortCos, _) = rope.CosSin(3, CPU, ScalarType.Float32);
        var (longCos, longSin) = rope.CosSin(10, CPU, ScalarType.Float32);
        var (again, _) = rope.CosSin(3, CPU, ScalarType.Float32);

        Assert.That(longCos.shape, Is.EqualTo(new long[] { 10, 8 }));
        Assert.That(again.Equals(shortCos), Is.True);
        Assert.That(longCos.narrow(0, 0, 3).Equals(shortCos), Is.True);
        Assert.That(MaxAbsDiff(longCos.square() + longSin.square(), ones(10, 8)), Is.LessThan(1e-6));
        Assert.That(rope.CosSin(4, CPU, ScalarType.BFloat16).Cos.dtype, Is.EqualTo(ScalarType.BFloat16));
    }
}
