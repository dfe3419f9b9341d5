using Repro.Core;
using System.Diagnostics;
using Repro.Core.Checkpoints;
using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Tasks;
using Repro.Core.Tokenizers;
using Repro.Core.Torch;
using Repro.Methods.Pipeline;
using Repro.Methods.Structured;
using static TorchSharp.torch;

namespace Repro.Methods.Runs;

/// <summary>Where a run is, for progress lines: a stage and, inside it, <see cref="Done"/> of <see cref="Total"/>.</summary>
public readonly record struct RunProgress(string Stage, int Done, int Total);

/// <summary>
/// Executes one <see cref="RunRequest"/>: draws the calibration set, runs the layer-by-layer pipeline into a work
/// folder of the store, evaluates the compressed model (perplexity, hidden states against the dense model, multiple
/// choice), deletes the work folder unless asked to keep it, and stores the <see cref="RunResult"/>. The same glue
/// serves tests, the claim runner and the CLI; nothing here prints.
/// </summary>
public static class RunExecutor
{
    /// <summary>The stored result of the request's spec when the store has it; otherwise runs it and stores it.</summary>
    /// <param name="reused">True when the result came from the store.</param>
    public static RunResult GetOrRun(RunRequest request, ResultStore store, out bool reused, bool keepModel = false,
                                     IProgress<RunProgress>? progress = null, ICalibrationSource? calibration = null)
    {
        var existing = store.TryGet(request.Spec);
        reused = existing is not null;
        return existing ?? Run(request, store, keepModel, progress, calibration);
    }

    public static RunResult Run(RunRequest request, ResultStore store, bool keepModel = false, IProgress<RunProgress>? progress = null,
                                ICalibrationSource? calibration = null)
    {
        var spec = request.Spec;
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        TorchRuntime.EnsureLoaded();
        var device = TorchRuntime.ParseDevice(request.Device);
        var dtype = ParseDType(request.DType);

        var modelDir = request.ModelDir;
        CompressionSummary? compression = null;
        var work = store.WorkFolder(spec);
        try
        {
            if (request.Method is { } choice)
            {
                var method = choice.Create();
                CalibrationTokens? tokens = null;
                IReadOnlyList<string> repeated = [];
                if (method.NeedsCalibration)
                {
                    progress?.Report(new RunProgress("calibration", 0, 1));
                    var c = request.Calibration!;
                    var source = calibration ?? new CorpusCalibrationSource();
                    tokens = source.Draw(new CalibrationRequest(request.CorpusDir, c.Languages, c.Split, c.NSamples, c.Seqlen, c.Seed,
                                                                TokenizerLoader.ForModel(request.ModelDir), request.ModelDir, c.AllowRepeatedText));
                    repeated = RepeatedTextLanguages(tokens);
                }
                if (method is IStructuredMethod structured)
                {
                    var job = new StructuredJob(request.ModelDir, work, tokens!) { Device = device, DType = dtype, Overwrite = true };
                    var report = structured.Run(job, progress is null ? null
                        : new Forward<StructuredProgress>(p => progress.Report(new RunProgress($"{method.Name} {p.Stage}", p.Done, p.Total))));
                    // Structured pruning removes parameters rather than zeroing them: its "sparsity" is the realised parameter reduction.
                    var reduction = report.Parameters;
                    compression = new CompressionSummary(reduction.Fraction, reduction.Before - reduction.After, reduction.Before, report.TotalSeconds, repeated);
                }
                else
                {
                    var job = new LayerwiseJob(request.ModelDir, work, (ICompressionMethod)method, tokens) { Device = device, DType = dtype, Overwrite = true };
                    var report = LayerwiseCompressor.Run(job, progress is null ? null
                        : new Forward<LayerProgress>(p => progress.Report(new RunProgress($"compress layer {Math.Min(p.Layer + 1, p.Layers)}/{p.Layers}", p.Layer, p.Layers))));
                    compression = new CompressionSummary(report.Sparsity.Fraction, report.Sparsity.Zeros, report.Sparsity.Elements, report.TotalSeconds, repeated);
                }
                modelDir = work;
            }

            var measurements = new List<Measurement>();
            foreach (var (evaluation, evaluationSpec) in request.Evaluations.Zip(spec.Evaluations))
                measurements.AddRange(Evaluate(request, evaluation, evaluationSpec, modelDir, device, dtype, progress));
            var result = new RunResult(spec, spec.Hash, measurements, compression, CodeVersion.Commit,
                                       RunMachine.Current(request.Device, request.DType), started, clock.Elapsed.TotalSeconds);
            store.Put(result);
            return result;
        }
        finally
        {
            if (!keepModel) store.RemoveWork(spec);
        }
    }

    static IEnumerable<Measurement> Evaluate(RunRequest request, EvaluationChoice evaluation, EvaluationSpec spec, string modelDir,
                                             Device device, ScalarType dtype, IProgress<RunProgress>? progress)
    {
        switch (evaluation.Kind)
        {
            case EvaluationSpec.Perplexity:
                return Perplexity(request, evaluation, modelDir, device, dtype, progress);
            case EvaluationSpec.Hidden:
                // The dense model compared with itself has nothing to measure.
                return request.Method is null ? [] : Hidden(request, evaluation, modelDir, device, dtype, progress);
            default:
                return MultipleChoice(request, evaluation, spec, modelDir, device, dtype, progress);
        }
    }

    static List<Measurement> Perplexity(RunRequest request, EvaluationChoice e, string modelDir, Device device, ScalarType dtype, IProgress<RunProgress>? progress)
    {
        var corpora = CorpusDirectory.Open(request.CorpusDir);
        var bos = e.Bos == "window" ? BosPolicy.PerWindow : BosPolicy.StreamOnly;
        var options = new PerplexityOptions(e.Seqlen, e.Windows, null, bos);
        using var loaded = LoadedModel.Open(modelDir, device, dtype);
        var evaluator = new WindowedPerplexity(loaded.Model, loaded.Tokenizer, options);
        var measurements = new List<Measurement>();
        foreach (var (language, i) in e.Languages.Select((l, i) => (l, i)))
        {
            progress?.Report(new RunProgress($"perplexity {language}", i, e.Languages.Count));
            var text = LanguageCorpusText.Leading(corpora.Stream(language, e.Split), loaded.Tokenizer, options, e.Windows ?? int.MaxValue);
            var r = evaluator.Evaluate(text);
            var fingerprint = new EvaluationFingerprint(EvaluationSpec.Perplexity, e.Split, e.Seqlen, r.Windows, e.Bos, r.TextSha256, DType: request.DType);
            measurements.Add(new Measurement("ppl", language, r.Perplexity, false, null, fingerprint));
            measurements.Add(new Measurement("bpb", language, r.BitsPerByte, false, null, fingerprint));
        }
        return measurements;
    }

    static List<Measurement> Hidden(RunRequest request, EvaluationChoice e, string prunedDir, Device device, ScalarType dtype, IProgress<RunProgress>? progress)
    {
        var corpora = CorpusDirectory.Open(request.CorpusDir);
        var tokenizer = TokenizerLoader.ForModel(request.ModelDir);
        ModelConfig config;
        using (var checkpoint = HfCheckpoint.Open(request.ModelDir)) config = ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
        var excluded = HiddenStateMetricsEvaluator.SpecialTokenIds(tokenizer, config);
        var options = new PerplexityOptions(e.Seqlen, e.Windows);
        var texts = e.Languages.Select(language => LanguageCorpusText.Leading(corpora.Stream(language, e.Split), tokenizer, options, e.Windows ?? int.MaxValue)).ToList();
        var sets = texts.Select(text => HiddenStateMetricsEvaluator.Windows(text, tokenizer, e.Seqlen, e.Windows, null)).ToList();
        // All languages through each layer at once: each layer of both models is read once, not once per language.
        var layerProgress = progress is null ? null : new Forward<HiddenStateProgress>(p =>
        {
            if (p.Set == 0 && p.SamplesDone == 1) progress.Report(new RunProgress($"hidden states layer {p.Layer + 1}/{p.Layers}", p.Layer, p.Layers));
        });
        var results = HiddenStateMetricsEvaluator.Compare(request.ModelDir, prunedDir, sets, excluded, device, dtype, layerProgress);
        var measurements = new List<Measurement>();
        for (var i = 0; i < e.Languages.Count; i++)
        {
            var (language, text, ids, r) = (e.Languages[i], texts[i], sets[i], results[i]);
            var fingerprint = new EvaluationFingerprint(EvaluationSpec.Hidden, e.Split, e.Seqlen, ids.GetLength(0), "stream", text.TextSha256,
                                                        Reference: request.Spec.Model.ConfigSha256, DType: request.DType);
            measurements.Add(new Measurement("snr", language, r.MeanSnrDb, true, null, fingerprint));
            measurements.Add(new Measurement("pe", language, r.MeanPruningError, false, null, fingerprint));
        }
        return measurements;
    }

    static List<Measurement> MultipleChoice(RunRequest request, EvaluationChoice e, EvaluationSpec spec, string modelDir, Device device, ScalarType dtype,
                                            IProgress<RunProgress>? progress)
    {
        var format = e.Format == "letters" ? BelebeleFormat.Letters : BelebeleFormat.Cloze;
        var folder = e.TaskFolder(request);
        using var loaded = LoadedModel.Open(modelDir, device, dtype);
        var scorer = new MultipleChoiceScorer(loaded.Model, loaded.Tokenizer, new MultipleChoiceOptions(loaded.Config.MaxPositionEmbeddings, e.Bos != "none"));
        var measurements = new List<Measurement>();
        foreach (var (language, i) in e.Languages.Select((l, i) => (l, i)))
        {
            progress?.Report(new RunProgress($"{e.Task} {language}", i, e.Languages.Count));
            var items = BelebeleMultipleChoice.Build(BelebeleReader.Read(TaskFiles.Find(folder, language)), format, e.Shots);
            if (e.Limit is { } n) items = [.. items.Take(n)];
            var r = scorer.Score(language, items);
            var fingerprint = new EvaluationFingerprint(EvaluationSpec.MultipleChoice, null, null, r.Items, e.Bos, spec.Texts[i].Sha256,
                                                        e.Task, e.Format, e.Shots, DType: request.DType);
            measurements.Add(new Measurement("acc", language, 100 * r.Accuracy, true, 100 * r.AccuracyStdErr, fingerprint));
            measurements.Add(new Measurement("acc_norm", language, 100 * r.AccuracyNorm, true, 100 * r.AccuracyNormStdErr, fingerprint));
        }
        return measurements;
    }

    /// <summary>Languages the sampler had to repeat text for (it records them in the provenance it returns).</summary>
    static IReadOnlyList<string> RepeatedTextLanguages(CalibrationTokens tokens)
    {
        var json = System.Text.Json.JsonSerializer.SerializeToNode(tokens.Provenance, ResultFiles.Options);
        return json?["languages"] is System.Text.Json.Nodes.JsonArray languages
            ? [.. languages.Where(l => (bool?)l?["repeatsText"] == true).Select(l => (string)l!["language"]!)]
            : [];
    }

    public static ScalarType ParseDType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "float32" or "f32" or "fp32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "f16" or "fp16" or "half" => ScalarType.Float16,
        _ => throw new InputException($"unknown dtype '{text}': use float32, bfloat16 or float16"),
    };

    sealed class Forward<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
