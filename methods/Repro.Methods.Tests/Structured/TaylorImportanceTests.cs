using Repro.Core.Models;
using Repro.Methods.Structured;
using Repro.Methods.Tests.Pipeline;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Methods.Tests.Structured;

/// <summary>The gradient pass and the Taylor scores of METHODS §8.</summary>
[SingleTorchThread]
public sealed class TaylorImportanceTests
{
    /// <summary>Token-mean NLL with labels = inputs, computed here from the logits alone.</summary>
    static double Loss(CausalLM model, long[,] ids)
    {
        using var scope = NewDisposeScope();
        var (n, t) = (ids.GetLength(0), ids.GetLength(1));
        var logits = model.Logits(tensor(ids.Cast<long>().ToArray(), [n, t])).to(ScalarType.Float64);
        var logProbabilities = nn.functional.log_softmax(logits, 2);
        double sum = 0;
        for (var i = 0; i < n; i++)
            for (var j = 0; j + 1 < t; j++) sum -= logProbabilities[i, j, ids[i, j + 1]].item<double>();
        return sum / (n * (t - 1));
    }

    static (TempFolder Folder, TinyCheckpoint Checkpoint, CausalLM Model) Tiny(ScalarType dtype = ScalarType.Float32)
    {
        var folder = new TempFolder();
        var checkpoint = new TinyCheckpoint(folder.Sub("in"), layers: 2);
        using var source = Repro.Core.Checkpoints.HfCheckpoint.Open(checkpoint.Dir);
        return (folder, checkpoint, CausalLM.Load(checkpoint.Config, source, CPU, dtype));
    }

    [Test]
    public void The_gradient_is_that_of_the_token_mean_nll_by_central_differences()
    {
        var (folder, checkpoint, model) = Tiny();
        using var _ = folder;
        using var __ = checkpoint;
        using var ___ = model;
        var ids = TinyCheckpoint.Ids(3, 9);
        var rows = Enumerable.Range(0, 3).ToList();
        var gradients = TaylorImportance.Gradients(model, ids, rows, [1], TaylorVariant.ParamFirst, microBatch: 2);
        foreach (var (name, linear) in model.Layers[1].Linears().Where(l => l.Name is "self_attn.q_proj" or "self_attn.v_proj" or "mlp.down_proj"))
        {
            var g = gradients[linear].Gradient.to(ScalarType.Float64);
            // The five entries with the largest gradient: their differences stand well above float32 noise.
            var flat = g.abs().flatten();
            var top = flat.topk(5).indexes.data<long>().ToArray();
            foreach (var index in top)
            {
                var (row, col) = (index / g.shape[1], index % g.shape[1]);
                const double h = 1e-2;
                var w = linear.weight!;
                var original = w[row, col].item<float>();
                double At(double value)
                {
                    using (no_grad()) w[row, col] = tensor((float)value);
                    return Loss(model, ids);
                }
                var difference = (At(original + h) - At(original - h)) / (2 * h);
                using (no_grad()) w[row, col] = tensor(original);
                var analytic = g[row, col].item<double>();
                Assert.That(analytic, Is.EqualTo(difference).Within(0.03 * Math.Abs(difference) + 1e-5),
                            $"{name}[{row}, {col}]: autograd {analytic}, central difference {difference}");
            }
        }
        foreach (var grad in gradients.Values) grad.Dispose();
    }

    [Test]
    public void Gradients_accumulated_over_micro_batches_equal_one_full_batch()
    {
        var (folder, checkpoint, model) = Tiny();
        using var _ = folder;
        using var __ = checkpoint;
        using var ___ = model;
        var ids = TinyCheckpoint.Ids(6, 10, seed: 9);
        var rows = Enumerable.Range(0, 6).ToList();
        var full = TaylorImportance.Gradients(model, ids, rows, [0, 1], TaylorVariant.ParamFirst, microBatch: 6);
        var pieces = TaylorImportance.Gradients(model, ids, rows, [0, 1], TaylorVariant.ParamFirst, microBatch: 4);
        var single = TaylorImportance.Gradients(model, ids, rows, [0, 1], TaylorVariant.ParamFirst, microBatch: 1);
        foreach (var (linear, g) in full)
        {
            var scale = g.Gradient.abs().max().to(ScalarType.Float64).item<double>();
            Assert.That((pieces[linear].Gradient - g.Gradient).abs().max().to(ScalarType.Float64).item<double>(), Is.LessThan(1e-5 * scale));
            Assert.That((single[linear].Gradient - g.Gradient).abs().max().to(ScalarType.Float64).item<double>(), Is.LessThan(1e-5 * scale));
        }
        Assert.That(model.parameters().Any(p => p.requires_grad), Is.False, "the gradient pass must leave the model frozen");
    }

    [Test]
    public void Second_order_variants_take_the_same_mean_gradient_from_per_sample_passes()
    {
        var (folder, checkpoint, model) = Tiny();
        using var _ = folder;
        using var __ = checkpoint;
        using var ___ = model;
        var ids = TinyCheckpoint.Ids(4, 8, seed: 3);
        var rows = Enumerable.Range(0, 4).ToList();
        var first = TaylorImportance.Gradients(model, ids, rows, [1], TaylorVariant.ParamFirst, microBatch: 4);
        var second = TaylorImportance.Gradients(model, ids, rows, [1], TaylorVariant.ParamSecond, microBatch: 4);
        foreach (var (linear, g) in first)
        {
            var scale = g.Gradient.abs().max().to(ScalarType.Float64).item<double>();
            Assert.That((second[linear].Gradient - g.Gradient).abs().max().to(ScalarType.Float64).item<double>(), Is.LessThan(1e-5 * scale));
            // Jensen: the mean of squares is at least the square of the mean, everywhere.
            Assert.That((second[linear].Squared!.to(ScalarType.Float64) - g.Gradient.to(ScalarType.Float64).square()).min().item<double>(), Is.GreaterThanOrEqualTo(-1e-12 * scale * scale));
        }
    }

    [TestCase(TaylorVariant.ParamFirst)]
    [TestCase(TaylorVariant.Vectorize)]
    [TestCase(TaylorVariant.ParamSecond)]
    [TestCase(TaylorVariant.ParamMix)]
    public void A_unit_whose_weights_are_zero_scores_zero(TaylorVariant variant)
    {
        var (folder, checkpoint, model) = Tiny();
        using var _ = folder;
        using var __ = checkpoint;
        using var ___ = model;
        var layer = model.Layers[1];
        var s = LayerStructures.Of(model.Config, 1);
        using (no_grad())
        {
            var attn = layer.SelfAttention;
            attn.KProj.weight!.narrow(0, 0, s.HeadDim).zero_();
            attn.VProj.weight!.narrow(0, 0, s.HeadDim).zero_();
            attn.QProj.weight!.narrow(0, 0, s.QueriesPerUnit * s.HeadDim).zero_();
            attn.OProj.weight!.narrow(1, 0, s.QueriesPerUnit * s.HeadDim).zero_();
            layer.Mlp.GateProj.weight!.narrow(0, 3, 1).zero_();
            layer.Mlp.UpProj.weight!.narrow(0, 3, 1).zero_();
            layer.Mlp.DownProj.weight!.narrow(1, 3, 1).zero_();
        }
        var ids = TinyCheckpoint.Ids(2, 8);
        var gradients = TaylorImportance.Gradients(model, ids, [0, 1], [1], variant, microBatch: 2);
        var scores = TaylorImportance.Score(layer, gradients, variant, GroupReduction.Sum);
        Assert.That(scores.Units[0], Is.EqualTo(0));
        Assert.That(scores.Channels[3], Is.EqualTo(0));
        Assert.That(scores.Units[1], Is.GreaterThan(0));
    }

    [Test]
    public void The_score_of_a_unit_is_the_sum_of_abs_w_times_g_over_its_members_rows_and_columns()
    {
        var (folder, checkpoint, model) = Tiny();
        using var _ = folder;
        using var __ = checkpoint;
        using var ___ = model;
        var layer = model.Layers[0];
        var s = LayerStructures.Of(model.Config, 0);
        var gradients = TaylorImportance.Gradients(model, TinyCheckpoint.Ids(2, 8), [0, 1], [0], TaylorVariant.ParamFirst, microBatch: 2);
        var scores = TaylorImportance.Score(layer, gradients, TaylorVariant.ParamFirst, GroupReduction.Sum);
        double Part(Linear l, int dim, long[] index)
        {
            var wg = (l.weight!.detach().to(ScalarType.Float64) * gradients[l].Gradient).abs();
            return wg.index_select(dim, tensor(index)).sum().item<double>();
        }
        for (var k = 0; k < s.Units; k++)
        {
            var q = s.QueryRows([k]);
            var kv = s.KeyValueRows([k]);
            var want = Part(layer.SelfAttention.QProj, 0, q) + Part(layer.SelfAttention.KProj, 0, kv)
                       + Part(layer.SelfAttention.VProj, 0, kv) + Part(layer.SelfAttention.OProj, 1, q);
            Assert.That(scores.Units[k], Is.EqualTo(want).Within(1e-9 * want), $"unit {k}");
        }
        for (var c = 0; c < s.Channels; c += 7)
        {
            var want = Part(layer.Mlp.GateProj, 0, [c]) + Part(layer.Mlp.UpProj, 0, [c]) + Part(layer.Mlp.DownProj, 1, [c]);
            Assert.That(scores.Channels[c], Is.EqualTo(want).Within(1e-9 * want), $"channel {c}");
        }
    }
}
