using Repro.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Training;

public sealed class TrainerTests
{
    static Dictionary<string, Tensor> Train(long seed, int steps = 4)
    {
        var options = MicroTraining.Options(steps, seed);
        using var trainer = new Trainer(MicroTraining.Config(options), MicroTraining.Streams("aa", "bb"), bosId: 256, options);
        trainer.Run();
        using var noGrad = no_grad();
        return trainer.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone().DetachFromDisposeScope());
    }

    static bool Identical(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b) =>
        a.Keys.SequenceEqual(b.Keys) && a.Keys.All(k => a[k].dtype == b[k].dtype && a[k].Equals(b[k]));

    [Test]
    public void Same_seed_gives_bit_identical_weights_and_another_seed_different_ones()
    {
        using var scope = NewDisposeScope();
        var first = Train(seed: 5);
        var second = Train(seed: 5);
        var other = Train(seed: 6);
        Assert.That(Identical(first, second), Is.True, "two runs with seed 5 differ");
        Assert.That(Identical(first, other), Is.False, "seeds 5 and 6 gave the same weights");
        foreach (var t in first.Values.Concat(second.Values).Concat(other.Values)) t.Dispose();
    }

    [Test]
    public void Every_parameter_moves_and_loss_is_logged_per_step()
    {
        var options = MicroTraining.Options(steps: 3);
        using var trainer = new Trainer(MicroTraining.Config(options), MicroTraining.Streams("aa"), 256, options);
        using var noGrad = no_grad();
        var before = trainer.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        trainer.Run();
        foreach (var (name, p) in trainer.Model.named_parameters())
            Assert.That(p.Equals(before[name]), Is.False, $"{name} did not move");
        Assert.That(trainer.Log.Select(e => e.Step), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(trainer.Log.Select(e => e.Tokens), Is.EqualTo(new long[] { 128, 256, 384 }));
        Assert.That(trainer.Log.Select(e => e.LearningRate), Is.EqualTo(Enumerable.Range(0, 3).Select(options.Schedule.At)));
    }

    [Test]
    public void Loss_falls_on_a_repetitive_corpus()
    {
        var options = MicroTraining.Options(steps: 50) with { PeakLearningRate = 1e-2, WarmupSteps = 5 };
        var streams = new[] { LanguageStream.From(new Repro.Core.Corpora.Corpus("rr",
            [.. Enumerable.Repeat("the cat sat on the mat. the dog sat on the log. ", 8)], "/synthetic/rr.jsonl"), new Repro.Core.Tokenizers.ByteTokenizer()) };
        using var trainer = new Trainer(MicroTraining.Config(options), streams, 256, options);
        trainer.Run();
        var first = trainer.Log[0].Loss;
        var last = trainer.RecentLoss(5);
        Assert.That(first, Is.EqualTo(Math.Log(259)).Within(0.3), "initial loss near ln(vocab): small random weights");
        Assert.That(last, Is.LessThan(0.4 * first), $"loss went from {first:F3} to {last:F3} in 50 steps");
    }

    [Test]
    public void Memory_stays_flat_across_steps()
    {
        var options = MicroTraining.Options(steps: 6);
        using var trainer = new Trainer(MicroTraining.Config(options), MicroTraining.Streams("aa", "bb"), 256, options);
        trainer.Step();
        trainer.Step();   // the first steps create gradients and optimizer buffers
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        trainer.Step();
        trainer.Step();
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(live));
    }

    [Test]
    public void Memory_stays_flat_across_validation_passes()
    {
        var options = MicroTraining.Options(steps: 8) with { ValidationEvery = 2 };
        var streams = MicroTraining.Streams("aa", "bb");
        var probe = ValidationProbe.Create(
            streams.Select(s => new Repro.Core.Corpora.Corpus(s.Language, MicroTraining.Documents(s.Language, 3), s.SourcePath)),
            new Repro.Core.Tokenizers.ByteTokenizer(), options.Seqlen, options.ValidationWindows);
        using var trainer = new Trainer(MicroTraining.Config(options), streams, 256, options);
        trainer.Step();
        trainer.Step();
        probe.Loss(trainer.Model);   // RoPE tables for the evaluation path are cached on first use
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        trainer.Run(probe);
        Assert.That(trainer.Log.Count(e => e.ValidationLoss is not null), Is.EqualTo(3));
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(live));
    }

    [Test]
    public void Weight_decay_applies_to_matrices_only()
    {
        // Adam's first update is lr·sign(g) per element (m̂/√v̂ = g/|g|); decoupled decay adds −lr·wd·w on top.
        // So |Δ + lr·wd·w| ≤ lr for a decayed matrix, and |Δ| ≤ lr for an undecayed norm weight (all ones,
        // where decay would show as a 1.5·lr or 0.5·lr step).
        var options = MicroTraining.Options(steps: 1) with { WeightDecay = 0.5 };
        using var trainer = new Trainer(MicroTraining.Config(options), MicroTraining.Streams("aa"), 256, options);
        var model = trainer.Model;
        Assert.That(model.parameters().All(p => p.requires_grad), Is.True, "training must turn autograd on");
        using var noGrad = no_grad();
        var norm = model.Layers[0].InputLayerNorm.Weight;
        var matrix = model.Layers[0].Mlp.UpProj.weight!;
        var normBefore = norm.detach().to(ScalarType.Float64);
        var matrixBefore = matrix.detach().to(ScalarType.Float64);
        trainer.Run();
        var rate = options.Schedule.At(0);
        var tolerance = rate * 1e-3;
        var normStep = norm.detach().to(ScalarType.Float64) - normBefore;
        var matrixStep = matrix.detach().to(ScalarType.Float64) - matrixBefore;
        Assert.That(normStep.abs().max().item<double>(), Is.LessThanOrEqualTo(rate + tolerance), "norm weights were decayed");
        Assert.That((matrixStep + rate * options.WeightDecay * matrixBefore).abs().max().item<double>(), Is.LessThanOrEqualTo(rate + tolerance),
                    "matrix step is not Adam's step plus decay");
        Assert.That(matrixStep.abs().max().item<double>(), Is.GreaterThan(rate + tolerance), "matrices were not decayed");
    }
}
