using Repro.Core;
using Repro.Methods;

namespace Repro.Methods.Tests;

public sealed class SparsityTests
{
    [TestCase(0.29, 100, 29)]
    [TestCase(0.5, 7, 3)]
    [TestCase(0.0, 10, 0)]
    [TestCase(0.999, 1000, 999)]
    public void Prune_count_is_the_exact_floor(decimal fraction, long count, long expected) =>
        Assert.That(new Sparsity(fraction).PruneCount(count), Is.EqualTo(expected));

    [TestCase(-0.1)]
    [TestCase(1.0)]
    [TestCase(1.5)]
    public void Sparsity_outside_zero_to_one_is_refused(decimal fraction) =>
        Assert.That(() => new Sparsity(fraction), Throws.InstanceOf<InputException>().With.Message.Contains("[0, 1)"));

    [TestCase("2:4", 2, 4)]
    [TestCase("4:8", 4, 8)]
    public void Nm_pattern_parses(string text, int n, int m) =>
        Assert.That(NmPattern.Parse(text), Is.EqualTo(new NmPattern(n, m)));

    [TestCase("5:4")]
    [TestCase("0:4")]
    [TestCase("2-4")]
    [TestCase("a:b")]
    public void Bad_nm_pattern_is_refused(string text) =>
        Assert.That(() => NmPattern.Parse(text), Throws.InstanceOf<InputException>());
}
