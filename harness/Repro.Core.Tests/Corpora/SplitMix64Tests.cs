using Repro.Core.Corpora;

namespace Repro.Core.Tests.Corpora;

public sealed class SplitMix64Tests
{
    [Test]
    public void Seed_zero_gives_the_reference_stream()
    {
        // Values of Vigna's splitmix64.c with x = 0.
        var rng = new SplitMix64(0);
        Assert.That(new[] { rng.NextUInt64(), rng.NextUInt64(), rng.NextUInt64() },
            Is.EqualTo(new[] { 0xE220A8397B1DCDAFUL, 0x6E789E6AA1B965F4UL, 0x06C45D188009454FUL }));
    }

    [Test]
    public void Bounded_draws_stay_in_range_and_reach_every_value()
    {
        var rng = new SplitMix64(42);
        var seen = new int[7];
        for (var i = 0; i < 7000; i++) seen[rng.NextBelow(7)]++;
        Assert.That(seen, Has.All.InRange(850, 1150));
    }

    [TestCase(10, 3)]
    [TestCase(100, 100)]
    [TestCase(5, 0)]
    public void Samples_are_distinct_sorted_and_in_range(int population, int count)
    {
        var sample = new SplitMix64(7).SampleWithoutReplacement(population, count);
        Assert.That(sample, Has.Length.EqualTo(count));
        Assert.That(sample, Is.Ordered.And.Unique);
        Assert.That(sample, Has.All.InRange(0, population - 1));
    }

    [Test]
    public void Sampling_is_uniform_over_items()
    {
        var rng = new SplitMix64(1);
        var hits = new int[10];
        for (var i = 0; i < 5000; i++)
            foreach (var j in rng.SampleWithoutReplacement(10, 3)) hits[j]++;
        Assert.That(hits, Has.All.InRange(1350, 1650));   // expectation 1500
    }
}
