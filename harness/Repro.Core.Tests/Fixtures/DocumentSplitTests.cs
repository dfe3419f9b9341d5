using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Fixtures;

namespace Repro.Core.Tests.Fixtures;

public sealed class DocumentSplitTests
{
    static Arbitrary<string[]> Keys() =>
        Gen.Choose(0, 300).Select(n => Enumerable.Range(0, n).Select(i => $"src:doc-{i}").ToArray()).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 60)]
    public Property Every_key_gets_exactly_one_split_with_the_rounded_counts_whatever_the_input_order() =>
        Prop.ForAll(Keys(), keys =>
        {
            var fractions = new SplitFractions(0.1, 0.1, 0.1);
            var a = DocumentSplit.Assign(keys, fractions);
            var b = DocumentSplit.Assign(keys.Reverse(), fractions);
            var counts = DocumentSplit.Names.ToDictionary(s => s, s => a.Values.Count(v => v == s));
            var n = keys.Length;
            var heldOut = n >= 4 ? Math.Max(1, (int)Math.Round(n * 0.1, MidpointRounding.AwayFromZero)) : (int)Math.Round(n * 0.1, MidpointRounding.AwayFromZero);
            return (a.Count == n).Label("every key assigned")
                .And(a.OrderBy(p => p.Key).SequenceEqual(b.OrderBy(p => p.Key))).Label("order of the input does not matter")
                .And(counts[DocumentSplit.Test] == heldOut && counts[DocumentSplit.Validation] == heldOut && counts[DocumentSplit.Calibration] == heldOut)
                .Label($"held-out counts {counts[DocumentSplit.Test]}/{counts[DocumentSplit.Validation]}/{counts[DocumentSplit.Calibration]}, want {heldOut}");
        });

    [Test]
    public void Adding_a_document_keeps_the_others_where_they_were_unless_it_displaces_one_at_a_boundary()
    {
        var keys = Enumerable.Range(0, 100).Select(i => $"src:{i}").ToList();
        var before = DocumentSplit.Assign(keys, new SplitFractions(0.1, 0.1, 0.1));
        var after = DocumentSplit.Assign([.. keys, "src:new"], new SplitFractions(0.1, 0.1, 0.1));
        Assert.That(keys.Count(k => before[k] != after[k]), Is.LessThanOrEqualTo(3));
    }

    [Test]
    public void Fractions_above_one_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => DocumentSplit.Assign(["a"], new SplitFractions(0.5, 0.5, 0.5)));
    }
}
