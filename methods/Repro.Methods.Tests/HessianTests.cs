using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

[SingleTorchThread]
public sealed class HessianTests
{
    [Test]
    public void Hessian_is_two_over_the_sequence_count_times_the_sum_of_x_x_transposed()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new double[] { 1, 2, 3, 4, 5, 6, 0, 1, -1, 2, 0.5, -2 }).reshape(2, 3, 2);   // 2 sequences × 3 tokens × 2
        using var hessian = new Hessian(2, dtype: ScalarType.Float64);
        hessian.Add(x);
        // Σ over all six tokens of x xᵀ = [[1+9+25+0+1+0.25, 2+12+30+0-2-1], [41, 4+16+36+1+4+4]], times 2/N with N = 2 sequences.
        var expected = tensor(new double[] { 36.25, 41, 41, 65 }).reshape(2, 2);
        Assert.Multiple(() =>
        {
            Assert.That(hessian.Sequences, Is.EqualTo(2), "counts sequences, not tokens");
            Assert.That(hessian.Matrix.allclose(expected, rtol: 1e-14, atol: 0), Is.True, hessian.Matrix.ToString(TorchSharp.TensorStringStyle.Julia));
        });
    }

    [Test]
    public void A_two_dimensional_input_is_one_sequence()
    {
        using var scope = NewDisposeScope();
        var x = randn(5, 3, ScalarType.Float64);
        using var flat = new Hessian(3, dtype: ScalarType.Float64);
        using var batched = new Hessian(3, dtype: ScalarType.Float64);
        flat.Add(x);
        batched.Add(x.unsqueeze(0));
        Assert.That(flat.Sequences, Is.EqualTo(1));
        Assert.That(flat.Matrix.Equals(batched.Matrix), Is.True);
    }

    [Test]
    public void An_input_of_the_wrong_width_is_refused()
    {
        using var hessian = new Hessian(4);
        using var x = zeros(1, 2, 3);
        Assert.That(() => hessian.Add(x), Throws.ArgumentException.With.Message.Contains("[batch, tokens, 4]"));
    }

    [Test]
    public void The_matrix_outlives_the_dispose_scope_it_was_made_in()
    {
        Hessian hessian;
        using (var scope = NewDisposeScope())
        {
            hessian = new Hessian(3);
            hessian.Add(ones(1, 2, 3));
        }
        using (hessian)
            Assert.That(hessian.Matrix.sum().item<float>(), Is.EqualTo(9 * 4f).Within(1e-4));   // each of 9 entries: 2/N · (2 tokens of 1·1), N = 1; sqrt(2)² is not 2 in float32
    }

    static Arbitrary<(ObsLayer Layer, int[] Cuts)> Splits() =>
        (from layer in ObsLayers.Layers(ObsLayers.Widths)
         from cuts in Gen.Choose(1, layer.Sequences).ArrayOf(layer.Sequences)
         select (layer, cuts)).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property Hessian_does_not_depend_on_how_sequences_are_split_into_batches() =>
        Prop.ForAll(Splits(), c =>
        {
            using var scope = NewDisposeScope();
            var x = c.Layer.Inputs();
            using var whole = new Hessian(c.Layer.Columns, dtype: ScalarType.Float64);
            whole.Add(x);
            using var pieces = new Hessian(c.Layer.Columns, dtype: ScalarType.Float64);
            var sizes = new List<int>();
            for (int start = 0, i = 0; start < c.Layer.Sequences; i++)
            {
                var size = Math.Min(c.Cuts[i], c.Layer.Sequences - start);
                pieces.Add(x.narrow(0, start, size));
                sizes.Add(size);
                start += size;
            }
            var close = pieces.Matrix.allclose(whole.Matrix, rtol: 1e-12, atol: 1e-12 * whole.Matrix.abs().max().item<double>());
            return close.Label($"batches {string.Join("+", sizes)}: max |Δ| {(pieces.Matrix - whole.Matrix).abs().max().item<double>():E2}")
                .And((pieces.Sequences == whole.Sequences).Label("sequence count"));
        });
}
