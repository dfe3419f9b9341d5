using TorchSharp;
using static Repro.Methods.Tests.SmallLayers;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

/// <summary>
/// Repro's magnitude pruning against the reference's <c>prune_magnitude</c> (tools/reference/wanda_golden.py).
/// N:M agrees exactly. Unstructured differs <b>on purpose</b> (METHODS.md §3): the reference prunes
/// <c>|W| ≤ sort(|W|)[floor(numel·s)]</c>, one weight more than floor(numel·s) plus every tie of that threshold;
/// Repro prunes exactly floor(numel·s). These tests pin that the difference is exactly those entries and nothing else.
/// </summary>
public sealed class MagnitudeGoldenTests
{
    [Test]
    public void Two_of_four_is_the_reference_mask_exactly()
    {
        using var scope = NewDisposeScope();
        using var g = GoldenCase.Load("magnitude-2of4");
        using var linear = LinearWith(g.Weight);
        using var compressor = new Magnitude(g.Pattern!).Begin("golden.magnitude-2of4", linear);
        var result = compressor.Apply();
        using var mask = result.Mask!;
        Assert.That(mask.Equals(g.Mask), Is.True, $"{mask.ne(g.Mask).sum().item<long>()} entries differ");
        Assert.That(Bits(linear.weight!.detach()), Is.EqualTo(Bits(g.Pruned)));
    }

    [TestCase("magnitude-unstructured-50", 256, 1)]
    [TestCase("magnitude-unstructured-50-ties", 256, 13)]
    public void Unstructured_reference_mask_is_repros_plus_exactly_the_weights_tied_with_its_threshold(string name, long repro, long extra)
    {
        using var scope = NewDisposeScope();
        using var g = GoldenCase.Load(name);
        var magnitudes = g.Weight.abs();
        var k = new Sparsity(g.Sparsity).PruneCount(magnitudes.numel());
        var threshold = magnitudes.reshape(-1).sort().Values[k];             // the reference's thresh = sort(|W|)[int(numel·s)]
        var mask = Magnitude.Mask(g.Weight, new Sparsity(g.Sparsity));
        var onlyReference = g.Mask.logical_and(mask.logical_not());

        TestContext.Out.WriteLine($"{name}: Repro prunes {mask.sum().item<long>()} = floor(numel·s), the reference " +
                                  $"{g.Mask.sum().item<long>()}; {onlyReference.sum().item<long>()} only in the reference, all with |w| = {threshold.item<float>()}");
        Assert.That(g.Mask.Equals(magnitudes <= threshold), Is.True, "the reference's rule is |W| ≤ sort(|W|)[floor(numel·s)]");
        Assert.That(mask.sum().item<long>(), Is.EqualTo(repro).And.EqualTo(k));
        Assert.That(mask.logical_and(g.Mask.logical_not()).any().item<bool>(), Is.False, "Repro prunes nothing the reference keeps");
        Assert.That(onlyReference.sum().item<long>(), Is.EqualTo(extra));
        Assert.That(magnitudes.masked_select(onlyReference).eq(threshold).all().item<bool>(), Is.True,
            "every entry only the reference prunes ties with its threshold");
        // Kept weights agree with the reference's output wherever both keep them.
        using var linear = LinearWith(g.Weight);
        using var compressor = new Magnitude(new Sparsity(g.Sparsity)).Begin("golden." + name, linear);
        using var applied = compressor.Apply().Mask!;
        var bothKeep = g.Mask.logical_not().reshape(-1).data<bool>().ToArray();
        var (ours, theirs) = (Bits(linear.weight!.detach()), Bits(g.Pruned));
        Assert.That(Enumerable.Range(0, ours.Length).Where(i => bothKeep[i]).All(i => ours[i] == theirs[i]), Is.True);
    }
}
