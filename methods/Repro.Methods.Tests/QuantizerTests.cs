using FsCheck;
using FsCheck.Fluent;
using Repro.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

[SingleTorchThread]
public sealed class QuantizerTests
{
    static double[] Quantize(double[] row, int bits, bool symmetric)
    {
        using var scope = NewDisposeScope();
        var x = tensor(row).reshape(1, -1);
        return new Quantizer(bits, symmetric).FindParams(x).Quantize(x).data<double>().ToArray();
    }

    [Test]
    public void Two_bit_asymmetric_row_worked_by_hand()
    {
        // xmin = −1, xmax = 2 → scale = 3/3 = 1, zero = round(1/1) = 1; codes clamp(round(x) + 1, 0, 3):
        // −1 → 0, 0 → 1, 0.5 → round half to even = 0 → 1, 2 → 3; values scale·(code − zero).
        Assert.That(Quantize([-1, 0, 0.5, 2], bits: 2, symmetric: false), Is.EqualTo(new double[] { -1, 0, 0, 2 }));
    }

    [Test]
    public void Two_bit_symmetric_row_worked_by_hand()
    {
        // xmax = max(|−1|, 2) = 2, xmin = −2 → scale = 4/3, zero = (3+1)/2 = 2; x/scale = −0.75, 0, 0.375, 1.5
        // → round −1, 0, 0, 2 (1.5 to even) → +2 → 1, 2, 2, 4 → clamp to 3 → values (1−2, 0, 0, 3−2)·4/3.
        var q = Quantize([-1, 0, 0.5, 2], bits: 2, symmetric: true);
        Assert.That(q, Is.EqualTo(new[] { -4 / 3.0, 0, 0, 4 / 3.0 }).Within(1e-15));
    }

    [Test]
    public void Symmetric_with_a_non_negative_row_clamps_the_upper_half_as_the_reference_does()
    {
        // xmin stays 0 (not < 0), so scale = 3/3 = 1 but zero = 2: only codes 2 and 3 are reachable from x ≥ 0.
        Assert.That(Quantize([0, 1, 2, 3], bits: 2, symmetric: true), Is.EqualTo(new double[] { 0, 1, 1, 1 }));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void An_all_zero_row_gets_range_minus_one_to_one_and_stays_zero(bool symmetric)
    {
        using var scope = NewDisposeScope();
        var x = zeros(1, 4, ScalarType.Float64);
        var grid = new Quantizer(4, symmetric).FindParams(x);
        Assert.Multiple(() =>
        {
            Assert.That(grid.Scale.item<double>(), Is.EqualTo(2 / 15.0));
            // asym: zero = round(1/(2/15)), which lands on 7.5 ± rounding (7 in float32, 8 in float64); either way 0 maps to 0.
            if (symmetric) Assert.That(grid.Zero.item<double>(), Is.EqualTo(8), "(15 + 1)/2");
            Assert.That(grid.Quantize(x).Equals(x), Is.True);
        });
    }

    [TestCase(1)]
    [TestCase(9)]
    [TestCase(16)]
    public void Bits_outside_two_to_eight_are_refused(int bits) =>
        Assert.That(() => new Quantizer(bits, false), Throws.InstanceOf<InputException>().With.Message.Contains("2..8"));

    [Test]
    public void Round_to_nearest_refuses_a_group_size_that_does_not_divide_the_width()
    {
        using var w = zeros(2, 10);
        Assert.That(() => new Quantizer(4, false).RoundToNearest(w, 4), Throws.InstanceOf<InputException>().With.Message.Contains("divide"));
    }

    static Arbitrary<(float[,] W, int Bits, bool Sym, int Group)> Rows() =>
        (from rows in Gen.Choose(1, 5)
         from groups in Gen.Choose(1, 4)
         from width in Gen.Elements(1, 2, 4, 8)
         from w in Gen.Choose(-999, 999).Select(v => v / 128f).Array2DOf(rows, groups * width)
         from bits in Gen.Choose(2, 8)
         from sym in Gen.Elements(false, true)
         select (w, bits, sym, width)).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 200)]
    public Property Round_to_nearest_puts_every_value_on_its_group_grid() =>
        Prop.ForAll(Rows(), c =>
        {
            using var scope = NewDisposeScope();
            var quantizer = new Quantizer(c.Bits, c.Sym);
            var w = tensor(c.W);
            var q = quantizer.RoundToNearest(w, c.Group);
            var ok = true;
            for (long start = 0; start < w.shape[1]; start += c.Group)
            {
                var grid = quantizer.FindParams(w.narrow(1, start, c.Group));
                var part = q.narrow(1, start, c.Group);
                var codes = (part / grid.Scale + grid.Zero).round();
                ok &= (codes >= 0).all().item<bool>() && (codes <= quantizer.MaxQ).all().item<bool>()
                      && (grid.Scale * (codes - grid.Zero)).Equals(part);
                if (c.Sym) ok &= (grid.Zero == (quantizer.MaxQ + 1) / 2.0).all().item<bool>();
            }
            return ok.Label("a value off its grid, a code outside [0, maxq], or a symmetric zero ≠ (maxq+1)/2");
        });
}
