using Repro.Core;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Methods.Pipeline;
using static TorchSharp.torch;

namespace Repro.Methods.Structured;

/// <summary>A method that prunes the whole model at once and writes a smaller one (structured pruning).</summary>
public interface IStructuredMethod : IMethod
{
    StructuredReport Run(StructuredJob job, IProgress<StructuredProgress>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>One structured-pruning run: a model folder in, a smaller model folder out.</summary>
public sealed record StructuredJob(string ModelDir, string OutputDir, CalibrationTokens Calibration)
{
    public Device Device { get; init; } = CPU;
    /// <summary>Compute dtype of the gradient pass. Written tensors keep their stored dtype.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public bool Overwrite { get; init; }
}

/// <summary>Where a structured run is: <see cref="Stage"/> and, inside it, <see cref="Done"/> of <see cref="Total"/>.</summary>
public readonly record struct StructuredProgress(string Stage, int Done, int Total);

/// <summary>
/// LLM-Pruner (METHODS §8) and Lang-Prune (§9) on Llama-family decoders: Taylor importance of every attention unit and
/// MLP channel of the layers in range from calibration-loss gradients through the whole model, the lowest
/// <c>channels − int(channels·(1 − s))</c> channels of each root group removed (local, per layer), and the smaller model
/// written as a Hugging Face folder whose config.json carries the per-layer widths.
/// </summary>
/// <remarks>
/// LLM-Pruner takes one gradient over all calibration windows (mixed-data when they span several languages).
/// Lang-Prune takes one per calibration language (the windows of that language), min–max normalises each language's
/// scores over all units and channels of the pruned layers jointly, <c>Ĩ = (I − min)/(max − min + ε)</c>, and merges
/// them by max, mean or min before the same selection. Both use the batch-gradient estimator (|·| of the mean
/// gradient), so only the aggregation differs between them. No recovery training follows.
/// </remarks>
public sealed class StructuredPruner(string name, Sparsity sparsity, StructuredOptions options, bool perLanguage) : IStructuredMethod
{
    public const string LlmPrunerName = "llm-pruner";
    public const string LangPruneName = "lang-prune";

    public static StructuredPruner LlmPruner(Sparsity sparsity, StructuredOptions? options = null) =>
        new(LlmPrunerName, sparsity, options ?? new StructuredOptions(), perLanguage: false);

    public static StructuredPruner LangPrune(Sparsity sparsity, StructuredOptions? options = null) =>
        new(LangPruneName, sparsity, options ?? new StructuredOptions(), perLanguage: true);

    public string Name => name;
    public bool NeedsCalibration => true;
    public StructuredOptions Options => options;
    public Sparsity Sparsity => sparsity;

    public JsonObject HyperParameters
    {
        get
        {
            var json = new JsonObject
            {
                ["sparsity"] = sparsity.Fraction,
                ["importance"] = "taylor",
                ["taylor"] = StructuredOptions.Name(options.Importance),
                ["groupReduction"] = options.Reduction.ToString().ToLowerInvariant(),
                ["layers"] = options.Range.ToString(),
                ["ratio"] = "local per root group: channels - int(channels * (1 - sparsity))",
                ["microBatch"] = options.MicroBatch,
            };
            if (perLanguage)
            {
                json["aggregate"] = options.Merge.ToString().ToLowerInvariant();
                json["epsilon"] = options.Epsilon;
                json["normalisation"] = "min-max per language over every unit and channel of the pruned layers";
            }
            return json;
        }
    }

    public StructuredReport Run(StructuredJob job, IProgress<StructuredProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var ratio = (double)sparsity.Fraction;
        using var checkpoint = HfCheckpoint.Open(job.ModelDir);
        var config = ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
        checkpoint.Require(config.ExpectedTensorNames(), config.ModelType);
        var (first, end) = options.Range.Resolve(config.NumHiddenLayers);
        var layers = Enumerable.Range(first, end - first).ToList();
        var calibration = job.Calibration;
        foreach (var id in calibration.Ids)
            if (id < 0 || id >= config.VocabSize)
                throw new InputException($"calibration token id {id} is outside the model's vocabulary of {config.VocabSize}; the ids come from another tokenizer");
        var groups = RowGroups(calibration);
        // Every layer's removal counts are known before any gradient: a ratio that would empty a layer fails now.
        foreach (var l in layers)
        {
            var s = LayerStructures.Of(config, l);
            LayerPlan.Lowest(s, new double[s.Units], new double[s.Channels], s.UnitsToRemove(ratio), s.ChannelsToRemove(ratio));
        }

        using var output = OutputFolder.Begin(job.OutputDir, job.ModelDir, job.Overwrite);
        try
        {
            var timings = new Dictionary<string, double>();
            var memory = PeakMemory.Start();
            Dictionary<string, IReadOnlyList<LayerImportance>> importance;
            var gradientClock = Stopwatch.StartNew();
            using (var model = CausalLM.Load(config, checkpoint, job.Device, job.DType))
            {
                importance = groups.ToDictionary(g => g.Key, g =>
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var stage = g.Key == AllRows ? "gradients" : $"gradients {g.Key}";
                    var gradients = TaylorImportance.Gradients(model, calibration.Ids, g.Value, layers, options.Importance, options.MicroBatch,
                                                               (done, total) => progress?.Report(new StructuredProgress(stage, done, total)));
                    try
                    {
                        return (IReadOnlyList<LayerImportance>)[.. layers.Select(l => TaylorImportance.Score(model.Layers[l], gradients, options.Importance, options.Reduction))];
                    }
                    finally
                    {
                        foreach (var grad in gradients.Values) grad.Dispose();
                    }
                });
            }
            timings["gradients"] = gradientClock.Elapsed.TotalSeconds;
            var peak = memory.Stop();

            var languages = importance.Where(p => p.Key != AllRows).ToDictionary(p => p.Key, p => p.Value);
            var merged = perLanguage ? Merge([.. languages.Values], options.Merge, options.Epsilon) : importance[AllRows];
            var plans = merged.ToDictionary(m => m.Layer, m =>
            {
                var s = LayerStructures.Of(config, m.Layer);
                return LayerPlan.Lowest(s, m.Units, m.Channels, s.UnitsToRemove(ratio), s.ChannelsToRemove(ratio));
            });
            var pruned = config.WithLayerWidths([.. Enumerable.Range(0, config.NumHiddenLayers)
                .Select(l => plans.TryGetValue(l, out var plan) ? plan.Widths : config.Widths(l))]);

            progress?.Report(new StructuredProgress("writing", 0, 1));
            var writeClock = Stopwatch.StartNew();
            using (var source = new PrunedCheckpoint(checkpoint, pruned, plans))
                HfCheckpointWriter.Write(output.Partial, PrunedConfigJson(checkpoint.ConfigJson, config, pruned), source,
                                         new CheckpointWriteOptions { MaxShardBytes = 5_000_000_000 });
            HfCheckpointWriter.CopyAuxiliaryFiles(job.ModelDir, output.Partial);
            timings["write"] = writeClock.Elapsed.TotalSeconds;

            var report = new StructuredReport
            {
                Method = name,
                HyperParameters = HyperParameters,
                Calibration = new CalibrationRecord(calibration.NSamples, calibration.Seqlen, calibration.Sha256(), calibration.Provenance),
                Seed = calibration.Seed,
                CalibrationGroups = groups.ToDictionary(g => g.Key, g => g.Value.Count),
                Recall = languages.Count >= 2 ? Recall(languages, plans, options.Epsilon, RecallTopShare) : null,
                InputModel = new StructuredInput(Path.GetFullPath(job.ModelDir), ConfigSha256(checkpoint.ConfigPath), config.ModelType,
                                                 config.NumHiddenLayers, config.ParameterCount()),
                Device = job.Device.ToString(),
                DType = job.DType.ToString().ToLowerInvariant(),
                Parameters = new ParameterReduction(config.ParameterCount(), pruned.ParameterCount()),
                Layers = [.. Enumerable.Range(0, config.NumHiddenLayers).Select(l => plans.TryGetValue(l, out var plan)
                    ? StructuredLayer.Of(plan, config.Widths(l), merged.Single(m => m.Layer == l), languages.Count > 0 ? languages.ToDictionary(p => p.Key, p => p.Value.Single(x => x.Layer == l)) : null)
                    : StructuredLayer.Dense(l, config.Widths(l)))],
                PeakMemoryBytes = peak,
                Seconds = timings,
                CodeVersion = CodeVersion.Commit,
                StartedUtc = started,
                TotalSeconds = clock.Elapsed.TotalSeconds,
            };
            report.Write(output.PathOf(PruneReport.FileName));
            output.Commit();
            return report;
        }
        catch
        {
            output.Abandon();
            throw;
        }
    }

    const string AllRows = "all";

    /// <summary>Lang-Prune's Top-p of language-specific MLP channels (METHODS §9: p = 30 %).</summary>
    public const double RecallTopShare = 0.3;

    /// <summary>
    /// Which calibration rows each importance is taken on: all of them (LLM-Pruner), and per language when the windows
    /// span several (Lang-Prune's importances; for LLM-Pruner only to measure the recall of language-specific channels).
    /// </summary>
    Dictionary<string, IReadOnlyList<int>> RowGroups(CalibrationTokens calibration)
    {
        var groups = new Dictionary<string, IReadOnlyList<int>>();
        if (!perLanguage) groups[AllRows] = [.. Enumerable.Range(0, calibration.NSamples)];
        var languages = calibration.RowLanguages;
        if (languages is null)
            return perLanguage ? throw new ArgumentException($"{name} needs the language of every calibration window; these calibration tokens carry none") : groups;
        var byLanguage = languages.Select((l, i) => (l, i)).GroupBy(x => x.l, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (perLanguage || byLanguage.Count >= 2)
            foreach (var g in byLanguage) groups[g.Key] = [.. g.Select(x => x.i)];
        return groups;
    }

    /// <summary>
    /// Lang-Prune §3.2's recall per language: the specificity of every MLP channel of the pruned layers,
    /// <c>S_ℓ = Ĩ_ℓ − mean_{ℓ'≠ℓ} Ĩ_ℓ'</c> on the unpruned model's normalised importances, its top
    /// <c>max(1, ⌊p·N⌋)</c> channels (ties to the lower layer, then channel), and the share of them the pruned model keeps.
    /// </summary>
    public static IReadOnlyDictionary<string, double> Recall(IReadOnlyDictionary<string, IReadOnlyList<LayerImportance>> languages,
                                                              IReadOnlyDictionary<int, LayerPlan> plans, double epsilon, double topShare)
    {
        var names = languages.Keys.Order(StringComparer.Ordinal).ToList();
        var normalised = names.ToDictionary(n => n, n => Normalise(languages[n], epsilon));
        var channels = normalised[names[0]].SelectMany(l => Enumerable.Range(0, l.Channels.Length).Select(c => (l.Layer, Channel: c))).ToList();
        var kept = plans.Values.SelectMany(p => p.KeptChannels.Select(c => (p.Structures.Layer, c))).ToHashSet();
        var top = Math.Max(1, (int)Math.Floor(topShare * channels.Count));
        var recall = new Dictionary<string, double>();
        foreach (var language in names)
        {
            var others = names.Where(n => n != language).ToList();
            var specificity = channels.Select((c, i) =>
            {
                var layer = normalised[language].Single(l => l.Layer == c.Layer);
                var own = layer.Channels[c.Channel];
                var rest = others.Average(o => normalised[o].Single(l => l.Layer == c.Layer).Channels[c.Channel]);
                return (c, S: own - rest);
            }).OrderByDescending(x => x.S).ThenBy(x => x.c.Layer).ThenBy(x => x.c.Channel).Take(top).ToList();
            recall[language] = (double)specificity.Count(x => kept.Contains((x.c.Layer, x.c.Channel))) / top;
        }
        return recall;
    }

    /// <summary>One language's scores min–max normalised over every unit and channel of every pruned layer: <c>(I − min)/(max − min + ε)</c>.</summary>
    static List<LayerImportance> Normalise(IReadOnlyList<LayerImportance> language, double epsilon)
    {
        var all = language.SelectMany(l => l.Units.Concat(l.Channels)).ToList();
        var (min, max) = (all.Min(), all.Max());
        var scale = max - min + epsilon;
        return [.. language.Select(l => new LayerImportance(l.Layer, [.. l.Units.Select(x => (x - min) / scale)], [.. l.Channels.Select(x => (x - min) / scale)]))];
    }

    /// <summary>
    /// Lang-Prune's steps 2–3: each language's scores min–max normalised over every unit and channel of every pruned
    /// layer, <c>(I − min)/(max − min + ε)</c> (in [0, 1)), then merged elementwise by max, mean or min.
    /// </summary>
    public static IReadOnlyList<LayerImportance> Merge(IReadOnlyList<IReadOnlyList<LayerImportance>> perLanguage, LanguageMerge merge, double epsilon)
    {
        if (perLanguage.Count == 0) throw new ArgumentException("no language importance to merge");
        var normalised = perLanguage.Select(language => Normalise(language, epsilon)).ToList();
        double Combine(IEnumerable<double> values) => merge switch
        {
            LanguageMerge.Max => values.Max(),
            LanguageMerge.Min => values.Min(),
            _ => values.Average(),
        };
        return [.. normalised[0].Select((layer, i) => new LayerImportance(layer.Layer,
            [.. Enumerable.Range(0, layer.Units.Length).Select(u => Combine(normalised.Select(n => n[i].Units[u])))],
            [.. Enumerable.Range(0, layer.Channels.Length).Select(c => Combine(normalised.Select(n => n[i].Channels[c])))]))];
    }

    /// <summary>
    /// The input's config.json with the new widths: the global fields when every layer has the same (an ordinary HF
    /// config), otherwise the per-layer lists beside the input's global fields. <c>head_dim</c> is written explicitly,
    /// since HF would otherwise derive it from hidden_size over the (changed) head count.
    /// </summary>
    static JsonObject PrunedConfigJson(JsonObject input, ModelConfig original, ModelConfig pruned)
    {
        var json = (JsonObject)input.DeepClone();
        json["num_attention_heads"] = pruned.NumAttentionHeads;
        json["num_key_value_heads"] = pruned.NumKeyValueHeads;
        json["intermediate_size"] = pruned.IntermediateSize;
        json["head_dim"] = original.HeadDim;
        var written = pruned.ToJson();
        foreach (var field in new[] { ModelConfig.LayerHeadsField, ModelConfig.LayerKeyValueHeadsField, ModelConfig.LayerIntermediateField })
        {
            json.Remove(field);
            if (written[field] is { } list) json[field] = list.DeepClone();
        }
        return json;
    }

    static string ConfigSha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{name} {sparsity.Fraction}");
}
