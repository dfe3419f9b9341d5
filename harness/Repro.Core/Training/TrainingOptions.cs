using System.Text.Json.Serialization;

namespace Repro.Core.Training;

/// <summary>
/// Hyper-parameters of one training run. Every field is recorded in training.json, so a model folder says how
/// it was made; the same options, data and torch thread count give bit-identical weights on the CPU.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Seeds the initial weights (<see cref="Models.CausalLM.RandomWeights"/>) and the batch sampler.</summary>
    public long Seed { get; init; }
    public required int Steps { get; init; }
    /// <summary>Windows per optimizer step.</summary>
    public required int BatchSize { get; init; }
    /// <summary>Input tokens per window (a window holds one more token for the last target).</summary>
    public required int Seqlen { get; init; }

    public required double PeakLearningRate { get; init; }
    /// <summary>Where the cosine decay ends, as a fraction of the peak (0.1, as Llama).</summary>
    public double FinalLearningRateFraction { get; init; } = 0.1;
    public required int WarmupSteps { get; init; }

    /// <summary>Decoupled (AdamW) weight decay, on matrices only (projections, embeddings, lm_head); norm weights and biases get none.</summary>
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Global L2 norm the gradients are clipped to (clip_grad_norm_).</summary>
    public double GradientClipNorm { get; init; } = 1.0;

    /// <summary>Share of windows that start with BOS at a document start (see <see cref="TrainingBatchSampler"/>).</summary>
    public double DocumentStartShare { get; init; } = 0.125;

    /// <summary>α of the language shares ∝ (training tokens)^α (see <see cref="TrainingBatchSampler"/>): 0 equal, 1 by size; 0.3 as XLM-R and mT5.</summary>
    public double LanguageExponent { get; init; } = 0.3;

    /// <summary>Languages of the corpus folder left out of training (evaluated all the same). Swahili by default: the papers' unseen outlier.</summary>
    public IReadOnlyList<string> ExcludedLanguages { get; init; } = ["sw"];

    /// <summary>Validation loss for the loss curve every this many steps (and after the last); 0: only after the last.</summary>
    public int ValidationEvery { get; init; }
    /// <summary>Leading validation windows per trained language for the loss curve.</summary>
    public int ValidationWindows { get; init; } = 4;
    /// <summary>Leading validation windows per language for the final bits-per-byte table (fewer when the split is smaller).</summary>
    public int FinalEvaluationWindows { get; init; } = 64;

    [JsonIgnore]
    public LearningRateSchedule Schedule => new(PeakLearningRate, PeakLearningRate * FinalLearningRateFraction, WarmupSteps, Steps);

    public TrainingOptions Validated()
    {
        void Require(bool ok, string problem)
        {
            if (!ok) throw new InputException($"training options: {problem}");
        }
        Require(Steps >= 1, $"steps must be at least 1, got {Steps}");
        Require(BatchSize >= 1, $"batch size must be at least 1, got {BatchSize}");
        Require(Seqlen >= 2, $"seqlen must be at least 2, got {Seqlen}");
        Require(FinalLearningRateFraction is >= 0 and <= 1, $"final learning-rate fraction must be in [0, 1], got {FinalLearningRateFraction}");
        Require(WeightDecay >= 0, $"weight decay must not be negative, got {WeightDecay}");
        Require(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, $"betas must be in [0, 1), got {Beta1} and {Beta2}");
        Require(LanguageExponent is >= 0 and <= 1, $"language-share exponent must be in [0, 1], got {LanguageExponent}");
        Require(Epsilon > 0, $"epsilon must be positive, got {Epsilon}");
        Require(GradientClipNorm > 0, $"gradient clip norm must be positive, got {GradientClipNorm}");
        Require(ValidationEvery >= 0, $"validation interval must not be negative, got {ValidationEvery}");
        Require(ValidationWindows >= 1 && FinalEvaluationWindows >= 1, "validation and final evaluation need at least one window each");
        Schedule.Validated();
        return this;
    }
}
