using FsCheck;
using FsCheck.Fluent;
using Repro.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

[SingleTorchThread]
public sealed class GptqTests
{
    static Tensor Matrix(int rows, params double[] values) => tensor(values, ScalarType.Float64).reshape(rows, -1);

    [TestCase(-1, false)]
    [TestCase(4, false)]
    [TestCase(4, true)]
    public void With_a_diagonal_Hessian_GPTQ_is_round_to_nearest_exactly(int groupSize, bool staticGroups)
    {
        using var scope = NewDisposeScope();
        // U is diagonal: no column passes error to another, and dynamic groups read the untouched W.
        var layer = new ObsLayer(5, 16, 1, 1, Seed: 5, DeadColumn: null, ZeroRow: true);
        var w = layer.Weight(ScalarType.Float32);
        var h = diag(linspace(3, 1, 16, ScalarType.Float32));
        var gptq = new Gptq(3, groupSize, staticGroups: staticGroups, blockSize: 8);
        var result = gptq.Quantize(w, h, "diag");
        Assert.That(result.Weight.Equals(gptq.Quantizer.RoundToNearest(w, groupSize)), Is.True);
    }

    [Test]
    public void The_first_column_s_rounding_error_moves_the_second_before_it_is_rounded()
    {
        using var scope = NewDisposeScope();
        // 2 bits, asym, one grid per row: xmin = 0, xmax = 0.3 → scale 0.1, zero 0, levels 0, 0.1, 0.2, 0.3.
        // q₁ = 0.1 (0.13 rounds down), e = 0.03; OBS moves w₂ by e·Hd₁₂/Hd₂₂ = 0.03/2.02 before rounding it.
        // Loss = e²/U₁₁² / 2 + (w₂' − q₂)²/U₂₂² / 2 with U₁₁² = 2.02/det, U₂₂² = 1/2.02 (see SparseGptTests).
        var (w1, w2) = (0.13, 0.3);
        var scale = 0.3 / 3;
        var q1 = scale * Math.Round(w1 / scale, MidpointRounding.ToEven);
        var moved = w2 + (w1 - q1) * 1 / 2.02;
        var q2 = scale * Math.Clamp(Math.Round(moved / scale, MidpointRounding.ToEven), 0, 3);
        var det = 2.02 * 2.02 - 1;
        var loss = (w1 - q1) * (w1 - q1) * det / 2.02 / 2 + (moved - q2) * (moved - q2) * 2.02 / 2;

        var result = new Gptq(2, groupSize: -1).Quantize(Matrix(1, w1, w2), Matrix(2, 2, 1, 1, 2), "hand");
        Assert.Multiple(() =>
        {
            Assert.That(result.Weight.data<double>().ToArray(), Is.EqualTo(new[] { q1, q2 }).Within(1e-15));
            Assert.That(result.Loss, Is.EqualTo(loss).Within(1e-14));
            Assert.That(result.LevelsUsed, Is.EqualTo(2));
        });
    }

    [Test]
    public void Levels_used_counts_distinct_values_per_row_and_grid_on_the_grid_and_off_it()
    {
        using var scope = NewDisposeScope();
        // Two rows, two grids of two columns (scale 0.5, zero 1; maxq 3): codes {0,1 | 3,3} and {2,2 | 0,3}.
        var grid = new QuantizationGrid(tensor(new[] { 0.5, 0.5 }).reshape(2, 1), tensor(new[] { 1.0, 1.0 }).reshape(2, 1), 3);
        var gridOfColumn = new[] { 0, 0, 1, 1 };
        var onGrid = Matrix(2, -0.5, 0, 1, 1, 0.5, 0.5, -0.5, 1);
        Assert.That(Gptq.LevelsUsed(onGrid, [grid, grid], gridOfColumn), Is.EqualTo(2));
        // Values off the grid are counted by sorting: row 0 of grid 0 holds two distinct non-grid values.
        var offGrid = Matrix(2, 0.1, 0.2, 1, 1, 0.5, 0.5, 0.5, 0.5);
        Assert.That(Gptq.LevelsUsed(offGrid, [grid, grid], gridOfColumn), Is.EqualTo(2));
        var oneLevel = Matrix(2, 0.1, 0.1, 1, 1, 0.5, 0.5, 0.5, 0.5);
        Assert.That(Gptq.LevelsUsed(oneLevel, [grid, grid], gridOfColumn), Is.EqualTo(1));
    }

    [Test]
    public void An_indefinite_Hessian_is_retried_and_the_retries_reported()
    {
        using var scope = NewDisposeScope();
        var result = new Gptq(4, groupSize: -1).Quantize(Matrix(1, 1, 2), Matrix(2, 1, 1.5, 1.5, 1), "retry");
        Assert.That((result.DampRetries, result.PercDamp), Is.EqualTo((2, 1.0)));
        Assert.That(() => new Gptq(4, groupSize: -1).Quantize(Matrix(1, 1, 2), Matrix(2, 1, 3, 3, 1), "model.layers.2.self_attn.q_proj"),
            Throws.InstanceOf<SublayerCompressionException>().With.Message.StartsWith("model.layers.2.self_attn.q_proj: the dampened Hessian"));
    }

    [Test]
    public void Bad_settings_are_refused_with_a_reason()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new Gptq(1), Throws.InstanceOf<InputException>().With.Message.Contains("2..8"));
            Assert.That(() => new Gptq(16), Throws.InstanceOf<InputException>().With.Message.Contains("2..8"));
            Assert.That(() => new Gptq(4, groupSize: 0), Throws.InstanceOf<InputException>());
            Assert.That(() => new Gptq(4, groupSize: -2), Throws.InstanceOf<InputException>());
            Assert.That(() => new Gptq(4, groupSize: -1, staticGroups: true), Throws.InstanceOf<InputException>().With.Message.Contains("static groups need a group size"));
            Assert.That(() => new Gptq(4, blockSize: 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
        using var linear = nn.Linear(96, 4, hasBias: false);
        Assert.That(() => new Gptq(4, groupSize: 128).Begin("model.layers.0.mlp.down_proj", linear),
            Throws.InstanceOf<SublayerCompressionException>().With.Message.StartsWith("model.layers.0.mlp.down_proj: group size 128 does not divide in_features 96"));
        using var scope = NewDisposeScope();
        Assert.That(() => new Gptq(4, groupSize: -1).Quantize(Matrix(1, 1, double.PositiveInfinity), eye(2, dtype: ScalarType.Float64), "gate_proj"),
            Throws.InstanceOf<SublayerCompressionException>().With.Message.StartsWith("gate_proj: the weight has 1 NaN or infinite"));
    }

    [Test]
    public void Through_the_interface_weights_stay_dequantized_in_the_layer_dtype_and_no_mask_is_returned()
    {
        using var scope = NewDisposeScope();
        var layer = new ObsLayer(6, 32, 2, 20, Seed: 9, DeadColumn: 4, ZeroRow: true);
        using var linear = nn.Linear(32, 6, hasBias: false, dtype: ScalarType.Float16);
        using (no_grad()) linear.weight!.copy_(layer.Weight());
        var method = new Gptq(4, groupSize: 16);
        using var compressor = method.Begin("up_proj", linear);
        compressor.Observe(layer.Inputs(ScalarType.Float16));
        var result = compressor.Apply();
        Assert.Multiple(() =>
        {
            Assert.That(result.Mask, Is.Null);
            Assert.That(linear.weight!.dtype, Is.EqualTo(ScalarType.Float16));
            Assert.That(linear.weight![0].eq(0).all().item<bool>(), Is.True, "zero row");
            Assert.That(linear.weight![.., 4].eq(0).all().item<bool>(), Is.True, "dead input column");
            Assert.That(result.Diagnostics["levelsUsed"], Is.InRange(2, 16));
            Assert.That(result.Diagnostics["bits"], Is.EqualTo(4));
            Assert.That(result.Diagnostics["groupSize"], Is.EqualTo(16));
            Assert.That(result.Diagnostics["grids"], Is.EqualTo(2));
            Assert.That(result.Diagnostics["deadInputs"], Is.EqualTo(1));
            Assert.That(result.Diagnostics["dampRetries"], Is.Zero);
            Assert.That(method.HyperParameters.ToJsonString(), Is.EqualTo(
                """{"bits":4,"groupSize":16,"symmetric":false,"actOrder":false,"staticGroups":false,"blockSize":128,"percDamp":0.01,"maxDampRetries":2}"""));
        });
    }

    // ---- properties -------------------------------------------------------------------------

    public sealed record Settings(int Bits, int GroupSize, bool Symmetric, bool ActOrder, bool StaticGroups, int BlockSize)
    {
        public Gptq Method() => new(Bits, GroupSize, Symmetric, ActOrder, StaticGroups, BlockSize);
    }

    static Gen<Settings> SettingsFor(int columns) =>
        from bits in Gen.Choose(2, 8)
        from groupSize in Gen.Elements(-1, 4, columns)
        from sym in Gen.Elements(false, true)
        from act in Gen.Elements(false, true)
        from stat in Gen.Elements(false, true)
        from block in Gen.Elements(3, 4, 8, 128)
        select new Settings(bits, groupSize, sym, act, stat && groupSize != -1, block);

    static Arbitrary<(ObsLayer Layer, Settings Settings)> Cases() =>
        (from layer in ObsLayers.Layers(ObsLayers.Widths)
         from settings in SettingsFor(layer.Columns)
         select (layer, settings)).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property Every_value_sits_on_its_grid_with_a_code_in_zero_to_maxq() =>
        Prop.ForAll(Cases(), c =>
        {
            using var scope = NewDisposeScope();
            var result = c.Settings.Method().Quantize(c.Layer.Weight(ScalarType.Float32), c.Layer.Hessian(ScalarType.Float32), "grid");
            var maxq = (1 << c.Settings.Bits) - 1;
            var (scale, zero) = GridCodes.PerEntry(result);
            var codes = GridCodes.Of(result, result.Weight);
            var inRange = codes.ge(0).all().item<bool>() && codes.le(maxq).all().item<bool>();
            var onGrid = (scale * (codes - zero)).Equals(result.Weight);
            var symmetricZero = !c.Settings.Symmetric || zero.eq((maxq + 1) / 2.0).all().item<bool>();
            var zeroRow = !c.Layer.ZeroRow || result.Weight[0].eq(0).all().item<bool>();
            var deadColumn = c.Layer.DeadColumn is not { } dead || result.Weight[.., dead].eq(0).all().item<bool>();
            return inRange.Label("a code outside [0, maxq]")
                .And(onGrid.Label("a value is not scale·(k − zero) for its own grid"))
                .And((result.LevelsUsed <= maxq + 1).Label($"{result.LevelsUsed} levels in one row of one grid"))
                .And(symmetricZero.Label("symmetric zero ≠ (maxq+1)/2"))
                .And(zeroRow.Label("the all-zero row did not stay zero"))
                .And(deadColumn.Label("the dead input column is not zero"))
                .And(result.Weight.isfinite().all().item<bool>().Label("non-finite weight"));
        });

    [FsCheck.NUnit.Property(MaxTest = 60)]
    public Property Act_order_with_a_strictly_descending_Hessian_diagonal_changes_nothing() =>
        Prop.ForAll(Cases(), c =>
        {
            using var scope = NewDisposeScope();
            var layer = c.Layer with { DeadColumn = null };
            var h = layer.Hessian(ScalarType.Float32);
            var order = h.diagonal().sort(descending: true, stable: true).Indices;
            var sortedDiagonal = h.diagonal().index_select(0, order);
            var strictly = layer.Columns == 1 || sortedDiagonal.narrow(0, 1, layer.Columns - 1).lt(sortedDiagonal.narrow(0, 0, layer.Columns - 1)).all().item<bool>();
            var w = layer.Weight(ScalarType.Float32).index_select(1, order);
            h = h.index_select(0, order).index_select(1, order);
            var plain = c.Settings with { ActOrder = false };
            var withActOrder = c.Settings with { ActOrder = true };
            var same = plain.Method().Quantize(w, h, "a").Weight.Equals(withActOrder.Method().Quantize(w, h, "b").Weight);
            return same.When(strictly).Label("act-order changed the result although it is the identity permutation");
        });

    [FsCheck.NUnit.Property(MaxTest = 50)]
    public Property Identical_inputs_give_bit_identical_results() =>
        Prop.ForAll(Cases(), c =>
        {
            using var scope = NewDisposeScope();
            var first = c.Settings.Method().Quantize(c.Layer.Weight(ScalarType.Float32), c.Layer.Hessian(ScalarType.Float32), "a");
            var second = c.Settings.Method().Quantize(c.Layer.Weight(ScalarType.Float32), c.Layer.Hessian(ScalarType.Float32), "a");
            return (first.Weight.Equals(second.Weight) && first.Loss == second.Loss && first.GridOfColumn.SequenceEqual(second.GridOfColumn))
                .Label("results differ");
        });

    /// <summary>
    /// GPTQ's calibration error <c>‖(W − Q)X‖²</c> against round-to-nearest with the same bits and groups.
    /// Not a theorem either (greedy, one column at a time; with groups its grids also differ from RTN's):
    /// on tiny layers it lost in about 6% of draws (by up to 2.7×); on 4–16 × 16–64 layers with
    /// full-rank H it never lost in 200 seeds at 3 bits (largest ratio 0.92, median 0.5). Here: at most
    /// 1 loss in 40 seeded layers per setting, median ratio below 0.8. Float64.
    /// </summary>
    [TestCase(3, -1)]
    [TestCase(4, 16)]
    public void Calibration_error_is_typically_below_round_to_nearest(int bits, int groupSize)
    {
        var ratios = new List<double>();
        var losers = new List<string>();
        for (var seed = 0; seed < 40; seed++)
        {
            using var scope = NewDisposeScope();
            var layer = ObsLayers.Seeded(seed);
            var w = layer.Weight();
            var gptq = new Gptq(bits, groupSize, blockSize: 16);
            var ratio = layer.OutputError(w, gptq.Quantize(w, layer.Hessian(), "stat").Weight)
                        / layer.OutputError(w, gptq.Quantizer.RoundToNearest(w, groupSize));
            ratios.Add(ratio);
            if (ratio > 1) losers.Add($"{layer}: {ratio:F3}");
        }
        var median = ratios.Order().ElementAt(ratios.Count / 2);
        TestContext.Out.WriteLine($"GPTQ/RTN error ratio ({bits} bits, group {groupSize}): median {median:F3}, max {ratios.Max():F3}, above 1 in {losers.Count} of {ratios.Count}");
        Assert.That(losers, Has.Count.LessThanOrEqualTo(1), string.Join("\n", losers));
        Assert.That(median, Is.LessThan(0.8));
    }
}
