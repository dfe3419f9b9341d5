using Repro.Core.Evaluation;
using Repro.Core.Models;

namespace Repro.Core.Training;

/// <summary>
/// Validation quality of a trained model in one language: bits per byte against the unigram byte entropy of
/// the same text. A ratio well below 1 means the model uses context; the trained languages must reach
/// <see cref="TrainingRecord.MaxEntropyRatio"/>, while an excluded language (never seen) is expected to lag.
/// </summary>
public sealed record LanguageQuality(string Language, bool Trained, int Windows, long ScoredBytes, double Perplexity,
                                     double BitsPerByte, double UnigramEntropyBits, string TextSha256)
{
    public double EntropyRatio => BitsPerByte / UnigramEntropyBits;

    public static LanguageQuality From(PerplexityResult result, LanguageCorpusText text, bool trained) => new(
        result.Language, trained, result.Windows, result.ScoredBytes, result.Perplexity, result.BitsPerByte,
        ByteEntropy.Unigram(text.Text), result.TextSha256);
}

/// <summary>How much of the training one language got.</summary>
/// <param name="Epochs">Expected passes over the language's training text: share × tokens seen ÷ its tokens.</param>
public sealed record LanguageShare(string Language, long TrainingTokens, double Share, double Epochs);

/// <summary>
/// The final per-language table: the leading validation windows of every language, evaluated as <c>eval ppl</c> does,
/// on the saved folder read back by the normal loader (<see cref="Weights"/> says how).
/// </summary>
public sealed record TrainingEvaluation(int Seqlen, int WindowsPerLanguage, BosPolicy BosPolicy, string Weights,
                                        IReadOnlyList<LanguageQuality> Languages);

/// <summary>training.json: how a fixture model was made, from which text, and how good it came out.</summary>
public sealed record TrainingRecord
{
    public const string CurrentFormat = "repro-training/1";

    public string Format { get; init; } = CurrentFormat;
    public required string Preset { get; init; }
    public required string CodeVersion { get; init; }
    public required long Seed { get; init; }
    public required GeneratedModelShapes.Shape Shape { get; init; }
    public required long Parameters { get; init; }
    public required TrainingOptions Options { get; init; }

    /// <summary>The corpus folder as it was given on the command line (relative paths keep machine paths out of committed files).</summary>
    public required string Data { get; init; }
    public required IReadOnlyList<string> TrainedLanguages { get; init; }
    /// <summary>Languages of the folder left out of training (a subset of <see cref="TrainingOptions.ExcludedLanguages"/>).</summary>
    public required IReadOnlyList<string> ExcludedLanguages { get; init; }
    /// <summary>Per trained language: training tokens, share of windows (∝ tokens^<see cref="TrainingOptions.LanguageExponent"/>) and passes over its text.</summary>
    public required IReadOnlyList<LanguageShare> LanguageShares { get; init; }
    public required IReadOnlyList<CorpusFingerprint> Corpora { get; init; }

    public string Device { get; init; } = "cpu";
    public string TrainingDType { get; init; } = "float32";
    public required string SavedDType { get; init; }
    public required int TorchThreads { get; init; }

    public required int Steps { get; init; }
    public required long TokensSeen { get; init; }
    /// <summary>Training, periodic validation included, in seconds of wall time.</summary>
    public required double WallTimeSeconds { get; init; }
    public required double TrainingSecondsPerStep { get; init; }
    public required double FinalEvaluationSeconds { get; init; }
    /// <summary>Mean batch loss (nats per token) of the last 20 steps.</summary>
    public required double FinalTrainLoss { get; init; }
    /// <summary>Pooled nats per token of the final evaluation over the trained languages.</summary>
    public required double FinalValidationLoss { get; init; }

    public required TrainingEvaluation Evaluation { get; init; }
    /// <summary>The bar every trained language must clear: bits per byte ≤ this × its unigram byte entropy.</summary>
    public required double MaxEntropyRatio { get; init; }

    public bool MeetsQualityBar => FailingLanguages.Count == 0;
    public IReadOnlyList<string> FailingLanguages =>
        [.. Evaluation.Languages.Where(l => l.Trained && !(l.EntropyRatio <= MaxEntropyRatio)).Select(l => l.Language)];
}
