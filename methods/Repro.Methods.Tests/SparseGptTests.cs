using FsCheck;
using FsCheck.Fluent;
using Repro.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

[SingleTorchThread]
public sealed class SparseGptTests
{
    static Tensor Matrix(int rows, params double[] values) => tensor(values, ScalarType.Float64).reshape(rows, -1);

    [Test]
    public void Pruning_the_first_of_two_columns_moves_its_error_onto_the_second_as_OBS_says()
    {
        using var scope = NewDisposeScope();
        // H = [[2, 1], [1, 2]], damped by λ = 0.01 · mean(diag) = 0.02 → Hd = [[2.02, 1], [1, 2.02]], det = 2.02² − 1.
        // U (H⁻¹ = UᵀU) has U₁₁² = (Hd⁻¹)₁₁ = 2.02/det and U₂₂² = 1/Hd₂₂ = 1/2.02, so the scores w²/U_ii² are
        // column 1: w²·det/2.02 (0.0152, 0.0610), column 2: w²·2.02 (2.02, 8.08). s = 0.25 of 4 weights:
        // thr = sorted[floor(4·0.25) = 1] = 0.0610 and "score ≤ thr" prunes both column-1 weights.
        // OBS: zeroing w₁ moves w₂ by −w₁·(Hd⁻¹)₁₂/(Hd⁻¹)₁₁ = +w₁·Hd₁₂/Hd₂₂ = w₁/2.02.
        var w = Matrix(2, 0.1, 1, 0.2, -2);
        var h = Matrix(2, 2, 1, 1, 2);
        var result = new SparseGpt(new Sparsity(0.25m)).Prune(w, h, "hand");
        var det = 2.02 * 2.02 - 1;
        var expected = Matrix(2, 0, 1 + 0.1 / 2.02, 0, -2 + 0.2 / 2.02);
        Assert.Multiple(() =>
        {
            Assert.That(result.Mask.Equals(tensor(new[] { true, false, true, false }).reshape(2, 2)), Is.True, "mask");
            Assert.That(result.Weight.allclose(expected, rtol: 0, atol: 1e-14), Is.True, result.Weight.ToString(TorchSharp.TensorStringStyle.Julia));
            Assert.That(result.Loss, Is.EqualTo((0.01 + 0.04) * det / 2.02 / 2).Within(1e-14), "Σ (w − q)²/U₁₁² / 2");
            Assert.That(result.DampRetries, Is.Zero);
        });
    }

    [Test]
    public void With_a_diagonal_Hessian_each_block_prunes_its_smallest_floor_n_s_plus_one_weights_and_keeps_the_rest_exactly()
    {
        using var scope = NewDisposeScope();
        // U is diagonal, so no weight absorbs another's error and scores are w²/U_ii² ∝ w² (equal diagonal).
        var w = Matrix(1, 8, -1, 3, 2, -7, 5, 4, 6);
        var h = eye(8, dtype: ScalarType.Float64);
        var oneBlock = new SparseGpt(new Sparsity(0.5m), blockSize: 8).Prune(w, h, "diag");
        var twoBlocks = new SparseGpt(new Sparsity(0.5m), blockSize: 4).Prune(w, h, "diag");
        Assert.Multiple(() =>
        {
            // w = [8, −1, 3, 2, −7, 5, 4, 6]. One block: floor(8·0.5) + 1 = 5 smallest |w| go (1, 2, 3, 4, 5).
            Assert.That(oneBlock.Weight.Equals(Matrix(1, 8, 0, 0, 0, -7, 0, 0, 6)), Is.True, oneBlock.Weight.ToString(TorchSharp.TensorStringStyle.Julia));
            // Blocks [8, −1, 3, 2] and [−7, 5, 4, 6]: floor(4·0.5) + 1 = 3 go from each, so 6 can no longer stay.
            Assert.That(twoBlocks.Weight.Equals(Matrix(1, 8, 0, 0, 0, -7, 0, 0, 0)), Is.True, twoBlocks.Weight.ToString(TorchSharp.TensorStringStyle.Julia));
        });
    }

    [Test]
    public void Two_four_on_a_diagonal_Hessian_prunes_the_two_smallest_of_every_four_ties_to_the_lower_column()
    {
        using var scope = NewDisposeScope();
        var w = Matrix(2, 4, 1, 3, 2, 0.5, -6, 7, 1,
                          1, 1, 1, 1, -2, 2, -2, 2);
        var result = new SparseGpt(new Sparsity(0.5m), new NmPattern(2, 4), blockSize: 8).Prune(w, eye(8, dtype: ScalarType.Float64), "nm");
        var expected = Matrix(2, 4, 0, 3, 0, 0, -6, 7, 0,
                                 0, 0, 1, 1, 0, 0, -2, 2);
        Assert.That(result.Weight.Equals(expected), Is.True, result.Weight.ToString(TorchSharp.TensorStringStyle.Julia));
    }

    [Test]
    public void Sparsity_zero_leaves_the_weight_bit_identical_even_with_a_dead_input()
    {
        using var scope = NewDisposeScope();
        var layer = new ObsLayer(4, 8, 2, 6, Seed: 7, DeadColumn: 3, ZeroRow: false);
        var w = layer.Weight(ScalarType.Float32);
        var result = new SparseGpt(new Sparsity(0m)).Prune(w, layer.Hessian(ScalarType.Float32), "s0");
        Assert.That(result.Weight.Equals(w), Is.True);
        Assert.That(result.Mask.any().item<bool>(), Is.False);
    }

    [Test]
    public void A_dead_input_column_is_zeroed_and_nothing_becomes_NaN()
    {
        using var scope = NewDisposeScope();
        var layer = new ObsLayer(4, 8, 2, 12, Seed: 11, DeadColumn: 5, ZeroRow: false);
        var result = new SparseGpt(new Sparsity(0.25m)).Prune(layer.Weight(ScalarType.Float32), layer.Hessian(ScalarType.Float32), "dead");
        Assert.Multiple(() =>
        {
            Assert.That(result.Weight.isfinite().all().item<bool>(), Is.True);
            Assert.That(result.Weight[.., 5].eq(0).all().item<bool>(), Is.True);
            Assert.That(result.Mask[.., 5].all().item<bool>(), Is.True, "dead columns count as pruned");
            Assert.That(result.DeadInputs, Is.EqualTo(1));
        });
    }

    [TestCase(1.05, 1, 0.1)]
    [TestCase(1.5, 2, 1.0)]
    public void An_indefinite_Hessian_is_retried_with_ten_times_the_dampening(double offDiagonal, int retries, double percDamp)
    {
        using var scope = NewDisposeScope();
        // Eigenvalues 1 ± offDiagonal; mean(diag) = 1, so percdamp p adds p to both: PD once p > offDiagonal − 1.
        var result = new SparseGpt(new Sparsity(0.5m)).Prune(Matrix(1, 1, 2), Matrix(2, 1, offDiagonal, offDiagonal, 1), "retry");
        Assert.That((result.DampRetries, result.PercDamp), Is.EqualTo((retries, percDamp)));
    }

    [Test]
    public void A_Hessian_still_indefinite_after_two_retries_fails_naming_the_sublayer()
    {
        using var scope = NewDisposeScope();
        Assert.That(() => new SparseGpt(new Sparsity(0.5m)).Prune(Matrix(1, 1, 2), Matrix(2, 1, 3, 3, 1), "model.layers.0.mlp.up_proj"),
            Throws.InstanceOf<SublayerCompressionException>()
                .With.Message.StartsWith("model.layers.0.mlp.up_proj: ").And.Message.Contains("not positive definite even with percdamp 0.01, 0.1, 1"));
    }

    [Test]
    public void NaN_weights_and_infinite_inputs_fail_naming_the_sublayer()
    {
        using var scope = NewDisposeScope();
        var method = new SparseGpt(new Sparsity(0.5m));
        var h = eye(2, dtype: ScalarType.Float64);
        Assert.That(() => method.Prune(Matrix(1, double.NaN, 1), h, "q_proj"),
            Throws.InstanceOf<SublayerCompressionException>().With.Message.StartsWith("q_proj: the weight has 1 NaN or infinite"));
        using var linear = nn.Linear(2, 1, hasBias: false);
        using var compressor = method.Begin("k_proj", linear);
        compressor.Observe(tensor(new[] { float.PositiveInfinity, 1f }).reshape(1, 1, 2));
        Assert.That(() => compressor.Apply(), Throws.InstanceOf<SublayerCompressionException>().With.Message.StartsWith("k_proj: the Hessian of the calibration inputs"));
    }

    [Test]
    public void Bad_settings_are_refused_with_a_reason()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new SparseGpt(new Sparsity(0.3m), new NmPattern(2, 4)), Throws.InstanceOf<InputException>().With.Message.Contains("2:4 prunes 0.5"));
            Assert.That(() => new SparseGpt(new Sparsity(0.5m), new NmPattern(2, 4), blockSize: 6), Throws.InstanceOf<InputException>().With.Message.Contains("multiple of M = 4"));
            Assert.That(() => new SparseGpt(new Sparsity(0.5m), blockSize: 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new SparseGpt(new Sparsity(0.5m), percDamp: 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => NmPattern.Parse("5:4"), Throws.InstanceOf<InputException>(), "N > M");
        });
        using var linear = nn.Linear(6, 2, hasBias: false);
        Assert.That(() => new SparseGpt(new Sparsity(0.5m), new NmPattern(2, 4)).Begin("model.layers.1.self_attn.o_proj", linear),
            Throws.InstanceOf<SublayerCompressionException>().With.Message.StartsWith("model.layers.1.self_attn.o_proj: in_features 6 is not a multiple of M = 4"));
    }

    [Test]
    public void Applying_without_calibration_inputs_fails_instead_of_zeroing_the_layer()
    {
        using var linear = nn.Linear(4, 2, hasBias: false);
        using var compressor = new SparseGpt(new Sparsity(0.5m)).Begin("v_proj", linear);
        Assert.That(() => compressor.Apply(), Throws.InstanceOf<InvalidOperationException>().With.Message.Contains("no calibration inputs"), "a bug of the caller, not bad input");
    }

    [Test]
    public void Through_the_interface_a_bfloat16_layer_is_pruned_in_float32_and_keeps_its_dtype()
    {
        using var scope = NewDisposeScope();
        var layer = new ObsLayer(8, 16, 2, 10, Seed: 3, DeadColumn: null, ZeroRow: false);
        using var linear = nn.Linear(16, 8, hasBias: false, dtype: ScalarType.BFloat16);
        using (no_grad()) linear.weight!.copy_(layer.Weight());
        var method = new SparseGpt(new Sparsity(0.5m), blockSize: 8);
        using var compressor = method.Begin("down_proj", linear);
        var x = layer.Inputs(ScalarType.BFloat16);
        for (var s = 0; s < layer.Sequences; s++) compressor.Observe(x.narrow(0, s, 1));
        var result = compressor.Apply();
        using var mask = result.Mask!;
        Assert.Multiple(() =>
        {
            Assert.That(linear.weight!.dtype, Is.EqualTo(ScalarType.BFloat16));
            Assert.That(mask.dtype, Is.EqualTo(ScalarType.Bool));
            Assert.That(linear.weight!.masked_select(mask).eq(0).all().item<bool>(), Is.True);
            Assert.That(result.Zeros, Is.GreaterThanOrEqualTo(mask.sum().item<long>()));
            Assert.That(result.AchievedSparsity, Is.GreaterThan(0.5), "two blocks of 64 weights, at least 33 pruned in each");
            Assert.That(result.Diagnostics.Keys, Is.SupersetOf(new[] { "loss", "dampRetries", "achievedSparsity", "deadInputs" }));
            Assert.That(result.Diagnostics["calibrationSequences"], Is.EqualTo(2));
            Assert.That(method.HyperParameters.ToJsonString(), Is.EqualTo("""{"sparsity":0.5,"nm":null,"blockSize":8,"percDamp":0.01,"maxDampRetries":2}"""));
        });
    }

    // ---- properties -------------------------------------------------------------------------

    static Arbitrary<(ObsLayer Layer, decimal S, int Block)> Unstructured() =>
        (from layer in ObsLayers.Layers(ObsLayers.Widths)
         from percent in Gen.Choose(1, 95)
         from block in Gen.Elements(3, 4, 8, 128)
         select (layer, percent / 100m, block)).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property Pruned_weights_are_exactly_zero_and_every_block_prunes_more_than_s_of_its_weights() =>
        Prop.ForAll(Unstructured(), c =>
        {
            using var scope = NewDisposeScope();
            var w = c.Layer.Weight(ScalarType.Float32);
            var result = new SparseGpt(new Sparsity(c.S), blockSize: c.Block).Prune(w, c.Layer.Hessian(ScalarType.Float32), "p");
            var zeroWherePruned = result.Weight.masked_select(result.Mask).eq(0).all().item<bool>();
            var blocks = new List<string>();
            var enough = true;
            for (var i1 = 0; i1 < c.Layer.Columns; i1 += c.Block)
            {
                var block = result.Mask.narrow(1, i1, Math.Min(c.Block, c.Layer.Columns - i1));
                var pruned = block.sum().item<long>();
                var least = new Sparsity(c.S).PruneCount(block.numel()) + 1;
                enough &= pruned >= least && pruned > (double)c.S * block.numel();
                blocks.Add($"{pruned}≥{least}");
            }
            return zeroWherePruned.Label("a pruned weight is not exactly 0")
                .And(enough.Label($"pruned per block: {string.Join(", ", blocks)}"))
                .And(result.Weight.isfinite().all().item<bool>().Label("non-finite weight"));
        });

    static Arbitrary<(ObsLayer Layer, NmPattern Nm, int Block)> SemiStructured() =>
        (from nm in Gen.Elements(new NmPattern(1, 4), new NmPattern(2, 4), new NmPattern(3, 4), new NmPattern(4, 8))
         from layer in ObsLayers.Layers(ObsLayers.Widths.Where(w => w % nm.M == 0).ToArray())
         from blocks in Gen.Choose(1, 4)
         select (layer, nm, nm.M * blocks)).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property N_M_prunes_exactly_N_of_every_aligned_M_in_every_row() =>
        Prop.ForAll(SemiStructured(), c =>
        {
            using var scope = NewDisposeScope();
            var w = c.Layer.Weight(ScalarType.Float32);
            var method = new SparseGpt(new Sparsity((decimal)c.Nm.N / c.Nm.M), c.Nm, c.Block);
            var result = method.Prune(w, c.Layer.Hessian(ScalarType.Float32), "nm");
            var perGroup = result.Mask.reshape(c.Layer.Rows, -1, c.Nm.M).sum(2);
            // A dead input column is zeroed and marked pruned on top of the rule's N; otherwise exactly N.
            var countsOk = c.Layer.DeadColumn is null
                ? perGroup.eq(c.Nm.N).all().item<bool>()
                : perGroup.ge(c.Nm.N).all().item<bool>() && perGroup.le(c.Nm.N + 1).all().item<bool>();
            return countsOk.Label($"pruned per group: {perGroup.ToString(TorchSharp.TensorStringStyle.Julia)}")
                .And(result.Weight.masked_select(result.Mask).eq(0).all().item<bool>().Label("a pruned weight is not exactly 0"));
        });

    [FsCheck.NUnit.Property(MaxTest = 50)]
    public Property Sparsity_zero_leaves_any_weight_bit_identical() =>
        Prop.ForAll(ObsLayers.Any(), layer =>
        {
            using var scope = NewDisposeScope();
            var w = layer.Weight(ScalarType.Float32);
            return new SparseGpt(new Sparsity(0m)).Prune(w, layer.Hessian(ScalarType.Float32), "s0").Weight.Equals(w);
        });

    [FsCheck.NUnit.Property(MaxTest = 50)]
    public Property Identical_inputs_give_bit_identical_results() =>
        Prop.ForAll(Unstructured(), c =>
        {
            using var scope = NewDisposeScope();
            var method = new SparseGpt(new Sparsity(c.S), blockSize: c.Block);
            var first = method.Prune(c.Layer.Weight(ScalarType.Float32), c.Layer.Hessian(ScalarType.Float32), "a");
            var second = method.Prune(c.Layer.Weight(ScalarType.Float32), c.Layer.Hessian(ScalarType.Float32), "a");
            return (first.Weight.Equals(second.Weight) && first.Mask.Equals(second.Mask) && first.Loss == second.Loss).Label("results differ");
        });

    /// <summary>
    /// SparseGPT's calibration error <c>‖(W − Ŵ)X‖²</c> against plain masking with SparseGPT's own final mask.
    /// Not a theorem: the sweep compensates a pruned weight only with columns to its right, and part of
    /// that compensation lands on weights pruned later, so it can lose — on tiny layers (1 row, 4 columns,
    /// few tokens) it did in about 5% of draws, by up to 1.7×. On layers of 4–16 rows, 16–64 columns and
    /// full-rank H it never lost in 200 seeds (largest ratio 0.955, median 0.6–0.67), so here: at most 1
    /// loss in 60 seeded layers and a median ratio below 0.8. Float64, so rounding cannot decide it.
    /// </summary>
    [Test]
    public void Calibration_error_is_typically_below_that_of_masking_with_the_same_mask()
    {
        var ratios = new List<double>();
        var losers = new List<string>();
        for (var seed = 0; seed < 60; seed++)
        {
            using var scope = NewDisposeScope();
            var layer = ObsLayers.Seeded(seed);
            var w = layer.Weight();
            var result = new SparseGpt(new Sparsity(0.5m), blockSize: 16).Prune(w, layer.Hessian(), "stat");
            var ratio = layer.OutputError(w, result.Weight) / layer.OutputError(w, w.masked_fill(result.Mask, 0));
            ratios.Add(ratio);
            if (ratio > 1) losers.Add($"{layer}: {ratio:F3}");
        }
        var median = ratios.Order().ElementAt(ratios.Count / 2);
        TestContext.Out.WriteLine($"SparseGPT/masking error ratio: median {median:F3}, max {ratios.Max():F3}, above 1 in {losers.Count} of {ratios.Count}");
        Assert.That(losers, Has.Count.LessThanOrEqualTo(1), string.Join("\n", losers));
        Assert.That(median, Is.LessThan(0.8));
    }
}
