using TorchSharp;
using static Repro.Methods.Tests.SmallLayers;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

/// <summary>
/// Repro's Wanda against masks the reference implementation computed (tools/reference/wanda_golden.py,
/// locuslab/wanda@8e8fc87, 16×32 weights, 4 sequences × 8 tokens). Masks must match exactly, the accumulator to
/// float32 rounding.
/// </summary>
public sealed class WandaGoldenTests
{
    static readonly string[] Cases =
    [
        "wanda-unstructured-50", "wanda-unstructured-30-dead", "wanda-unstructured-50-ties",
        "wanda-2of4", "wanda-4of8", "wanda-variant-50", "wanda-variant-30", "wanda-variant-30-ties",
    ];

    static ICompressionMethod MethodOf(GoldenCase g) =>
        g.Pattern is { } p ? new Wanda(p) : new Wanda(new Sparsity(g.Sparsity), useVariant: g.UseVariant);

    static Tensor MaskFromNorms(GoldenCase g, Tensor norms)
    {
        if (g.Pattern is { } p) return Wanda.Mask(g.Weight, norms, p);
        if (g.UseVariant) return Wanda.MaskVariant(g.Weight, norms, new Sparsity(g.Sparsity)).Mask;
        return Wanda.Mask(g.Weight, norms, new Sparsity(g.Sparsity));
    }

    static string Mismatch(Tensor got, Tensor want) =>
        $"{got.ne(want).sum().item<long>()} of {want.numel()} entries differ (Repro prunes {got.sum().item<long>()}, the reference {want.sum().item<long>()})";

    [TestCaseSource(nameof(Cases))]
    public void Accumulator_matches_the_reference_scaler_to_float32_rounding(string name)
    {
        using var scope = NewDisposeScope();
        using var g = GoldenCase.Load(name);
        using var stats = new InputSquareMean(g.Weight.shape[1]);
        foreach (var x in g.Samples()) stats.Add(x);
        var mean = stats.Mean();
        var reference = g.Scaler!;
        var absolute = (mean - reference).abs().max().item<float>();
        var relative = ((mean - reference).abs() / reference.abs().clamp_min(1e-30)).max().item<float>();
        var identical = Bits(mean).SequenceEqual(Bits(reference));
        TestContext.Out.WriteLine($"{name}: max |Δscaler| = {absolute:G3}, max relative = {relative:G3}, bit-identical: {identical}");
        Assert.That(stats.Sequences, Is.EqualTo(4));
        Assert.That(mean.allclose(reference, rtol: 1e-6, atol: 1e-7), Is.True, $"max relative difference {relative}");
    }

    [TestCaseSource(nameof(Cases))]
    public void Mask_from_the_reference_scaler_is_the_reference_mask(string name)
    {
        using var scope = NewDisposeScope();
        using var g = GoldenCase.Load(name);
        var mask = MaskFromNorms(g, g.Scaler!.sqrt());
        TestContext.Out.WriteLine($"{name}: {Mismatch(mask, g.Mask)}");
        Assert.That(mask.Equals(g.Mask), Is.True, Mismatch(mask, g.Mask));
    }

    [TestCaseSource(nameof(Cases))]
    public void Hooked_sublayer_prunes_the_reference_weight_bit_for_bit(string name)
    {
        using var scope = NewDisposeScope();
        using var g = GoldenCase.Load(name);
        using var linear = LinearWith(g.Weight);
        using var compressor = MethodOf(g).Begin("golden." + name, linear);
        foreach (var x in g.Samples()) compressor.Observe(x);
        var result = compressor.Apply();
        using var mask = result.Mask!;
        Assert.That(mask.Equals(g.Mask), Is.True, Mismatch(mask, g.Mask));
        Assert.That(Bits(linear.weight!.detach()), Is.EqualTo(Bits(g.Pruned)));
        if (g.UseVariant)
        {
            var perRow = mask.sum(1).data<long>().ToArray();
            TestContext.Out.WriteLine($"{name}: α = {result.Diagnostics["variantAlpha"]:R} (reference {g.Metadata["alpha"]}), " +
                                      $"steps {result.Diagnostics["variantSteps"]}, sparsity {result.Diagnostics["variantSparsity"]}, per-row counts {perRow.Min()}..{perRow.Max()}");
            Assert.That(result.Diagnostics["variantAlpha"], Is.EqualTo(double.Parse(g.Metadata["alpha"], System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    [Test]
    public void The_dead_channel_case_really_has_a_dead_channel_and_the_ties_case_really_ties()
    {
        using var scope = NewDisposeScope();
        using (var dead = GoldenCase.Load("wanda-unstructured-30-dead"))
        {
            Assert.That(dead.Scaler![5].item<float>(), Is.EqualTo(0f));
            Assert.That(dead.Mask[TensorIndex.Colon, 5].all().item<bool>(), Is.True, "column 5 (score 0) is pruned in every row");
        }
        using (var ties = GoldenCase.Load("wanda-unstructured-50-ties"))
        {
            Assert.That(ties.Scaler!.eq(ties.Scaler![0]).all().item<bool>(), Is.True, "±1 inputs give every feature the same scaler");
            // Each row has 32 scores from 4 distinct magnitudes, so the cut at 16 falls inside a run of ties in most rows.
            var scores = Wanda.Scores(ties.Weight, ties.Scaler!.sqrt()).sort(1).Values;
            var tiedAtCut = scores.narrow(1, 15, 1).eq(scores.narrow(1, 16, 1)).sum().item<long>();
            TestContext.Out.WriteLine($"ties case: {tiedAtCut} of 16 rows tie across the cut");
            Assert.That(tiedAtCut, Is.GreaterThan(8));
        }
    }
}
