using System.Diagnostics;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Tokenizers;
using TorchSharp;

namespace Repro.Core.Training;

/// <summary>
/// <c>repro fixtures train</c> end to end: read the corpus folder, train the preset, evaluate every language's
/// validation split, save the model folder with its training.json and loss log.
/// </summary>
public static class TrainingJob
{
    /// <summary>The quality bar of the fixture models (bits per byte ≤ 0.75 × unigram byte entropy), recorded in training.json.</summary>
    public const double DefaultMaxEntropyRatio = 0.75;

    /// <param name="dataFolder">Corpus folder, <c>DIR/{lang}/{train,validation}.jsonl.gz</c>; recorded as given.</param>
    /// <param name="onPhase">Told when a phase starts ("loading", "training", "saving", "evaluating"), for status lines.</param>
    public static TrainingRecord Run(TrainingPreset preset, string dataFolder, string outputFolder, torch.ScalarType savedDType,
                                     double maxEntropyRatio = DefaultMaxEntropyRatio, IProgress<TrainingProgress>? progress = null,
                                     Action<string>? onPhase = null, CancellationToken cancellationToken = default)
    {
        var options = preset.Options.Validated();
        var tokenizer = new ByteTokenizer();
        onPhase?.Invoke("loading");
        var data = TrainingData.Load(dataFolder, options.ExcludedLanguages, tokenizer);
        var curve = ValidationProbe.Create(data.TrainedLanguages.Select(l => data.Validation[l]), tokenizer, options.Seqlen, options.ValidationWindows);
        var final = ValidationProbe.Create(data.Validation.Values, tokenizer, options.Seqlen, options.FinalEvaluationWindows);
        var configJson = preset.ConfigJson(DTypeName(savedDType));

        using var trainer = new Trainer(configJson, data.Streams, tokenizer.BosId!.Value, options);
        onPhase?.Invoke("training");
        var wall = Stopwatch.StartNew();
        trainer.Run(curve, progress, cancellationToken);
        var wallSeconds = wall.Elapsed.TotalSeconds;

        // Evaluate the folder as saved (weights rounded to the saved dtype, read back by the normal loader),
        // so training.json reports what `repro eval ppl` measures on the committed model.
        onPhase?.Invoke("saving");
        TrainedModelFolder.Write(outputFolder, configJson, trainer.Model, savedDType, trainer.Log);
        onPhase?.Invoke("evaluating");
        var evalClock = Stopwatch.StartNew();
        IReadOnlyList<PerplexityResult> results;
        using (var saved = LoadedModel.Open(outputFolder, torch.CPU, torch.ScalarType.Float32))
            results = final.Evaluate(saved.Model);
        var trained = data.TrainedLanguages.ToHashSet(StringComparer.Ordinal);
        var qualities = results.Select((r, i) => LanguageQuality.From(r, final.Texts[i], trained.Contains(r.Language))).ToList();
        var evalSeconds = evalClock.Elapsed.TotalSeconds;

        var record = new TrainingRecord
        {
            Preset = preset.Name,
            CodeVersion = CodeVersion.Current,
            Seed = options.Seed,
            Shape = preset.Shape,
            Parameters = trainer.Config.ParameterCount(),
            Options = options,
            Data = dataFolder,
            TrainedLanguages = data.TrainedLanguages,
            ExcludedLanguages = data.ExcludedLanguages,
            LanguageShares = [.. data.Streams.Select((st, i) => new LanguageShare(st.Language, st.Count, trainer.LanguageShares[i],
                                                                                  trainer.LanguageShares[i] * trainer.TokensSeen / st.Count))],
            Corpora = data.Fingerprints,
            SavedDType = DTypeName(savedDType),
            TorchThreads = trainer.Threads,
            Steps = trainer.StepsDone,
            TokensSeen = trainer.TokensSeen,
            WallTimeSeconds = wallSeconds,
            TrainingSecondsPerStep = trainer.Elapsed.TotalSeconds / Math.Max(1, trainer.StepsDone),
            FinalEvaluationSeconds = evalSeconds,
            FinalTrainLoss = trainer.RecentLoss(20),
            FinalValidationLoss = ValidationProbe.PooledLoss(results.Where(r => trained.Contains(r.Language))),
            Evaluation = new TrainingEvaluation(options.Seqlen, options.FinalEvaluationWindows, final.Options.BosPolicy,
                                                $"the saved folder's {DTypeName(savedDType)} weights, computed in float32", qualities),
            MaxEntropyRatio = maxEntropyRatio,
        };
        TrainedModelFolder.WriteRecord(outputFolder, record);
        return record;
    }

    public static string DTypeName(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.BFloat16 => "bfloat16",
        torch.ScalarType.Float16 => "float16",
        torch.ScalarType.Float32 => "float32",
        _ => throw new ArgumentException($"models are saved as bfloat16, float16 or float32, not {dtype}"),
    };
}
