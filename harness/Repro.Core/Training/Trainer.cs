using System.Diagnostics;
using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Core.Training;

/// <summary>One optimizer step as the loss log records it.</summary>
/// <param name="Step">1-based: the number of updates done after this one.</param>
/// <param name="Loss">Mean next-token cross-entropy of the step's batch, in nats per token, before the update.</param>
/// <param name="GradientNorm">Global L2 norm of the gradients before clipping.</param>
/// <param name="Tokens">Target tokens seen so far, this step included.</param>
/// <param name="ValidationLoss">Pooled nats per token on the validation windows, after this step's update; null when not measured.</param>
public sealed record TrainingLogEntry(int Step, double LearningRate, double Loss, double GradientNorm, long Tokens,
                                      double ElapsedSeconds, double? ValidationLoss);

/// <summary>Progress for progress bars; <see cref="Loss"/> is the mean of the last few steps, the raw one being noisy.</summary>
public readonly record struct TrainingProgress(int Step, int Steps, double Loss, double LearningRate, double TokensPerSecond,
                                               TimeSpan Elapsed, double? ValidationLoss);

/// <summary>
/// Trains a Llama-family model from random weights on token streams: AdamW with decoupled weight decay on
/// matrices only, linear warm-up then cosine decay, global gradient-norm clipping, float32 on the CPU.
/// </summary>
/// <remarks>
/// Determinism: the weights come from <see cref="CausalLM.RandomWeights"/> (a torch generator seeded with
/// <see cref="TrainingOptions.Seed"/>), the batches from <see cref="TrainingBatchSampler"/> (SplitMix64, same seed),
/// and nothing else is random (no dropout). libtorch's CPU kernels are deterministic for a fixed thread count,
/// so the same options, data and <c>torch.get_num_threads()</c> give bit-identical weights; a different thread
/// count may change reduction order and hence the last bits.
/// Every step runs in its own dispose scope, so memory stays flat over thousands of steps.
/// </remarks>
public sealed class Trainer : IDisposable
{
    readonly TrainingOptions options;
    readonly TrainingBatchSampler sampler;
    readonly LearningRateSchedule schedule;
    readonly CausalLM model;
    readonly List<Parameter> parameters;
    readonly AdamW optimizer;
    readonly List<TrainingLogEntry> log = [];
    readonly Stopwatch clock = new();
    long tokens;

    public Trainer(JsonObject configJson, IReadOnlyList<LanguageStream> streams, int bosId, TrainingOptions options)
    {
        TorchRuntime.EnsureLoaded();
        this.options = options.Validated();
        ConfigJson = (JsonObject)configJson.DeepClone();
        Config = ModelConfig.FromJson(ConfigJson, "(training config.json)");
        if (bosId < 0 || bosId >= Config.VocabSize)
            throw new ArgumentException($"BOS id {bosId} is outside the model's vocabulary of {Config.VocabSize}");
        foreach (var s in streams)
            if (s.Tokens.Any(t => t < 0 || t >= Config.VocabSize))
                throw new InputException($"{s.SourcePath}: language '{s.Language}' has a token id outside the model's vocabulary of {Config.VocabSize}; the tokenizer does not fit the model");
        sampler = new TrainingBatchSampler(streams, options.Seqlen, bosId, options.DocumentStartShare, options.LanguageExponent, unchecked((ulong)options.Seed));
        schedule = options.Schedule;

        var weights = CausalLM.RandomWeights(Config, options.Seed);
        try
        {
            model = CausalLM.Load(Config, new InMemoryTensorSource(weights), CPU, ScalarType.Float32);
        }
        finally
        {
            foreach (var w in weights.Values) w.Dispose();
        }
        try
        {
            // Loaded weights are frozen (the runtime serves inference); training turns autograd on.
            parameters = [.. model.parameters()];
            foreach (var p in parameters) p.requires_grad_(true);
            var decayed = parameters.Where(p => p.dim() >= 2).ToList();
            var undecayed = parameters.Where(p => p.dim() < 2).ToList();
            optimizer = optim.AdamW(
            [
                new AdamW.ParamGroup(decayed, schedule.At(0), options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay),
                new AdamW.ParamGroup(undecayed, schedule.At(0), options.Beta1, options.Beta2, options.Epsilon, 0),
            ], schedule.At(0), options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        Threads = get_num_threads();
    }

    public CausalLM Model => model;
    public ModelConfig Config { get; }
    public JsonObject ConfigJson { get; }
    public TrainingOptions Options => options;
    public IReadOnlyList<string> Languages => sampler.Languages;
    /// <summary>Share of training windows per language, in <see cref="Languages"/> order.</summary>
    public IReadOnlyList<double> LanguageShares => sampler.Shares;
    public IReadOnlyList<TrainingLogEntry> Log => log;
    public int StepsDone => log.Count;
    public long TokensSeen => tokens;
    public TimeSpan Elapsed => clock.Elapsed;
    /// <summary>torch's intra-op thread count when the trainer was made; part of what fixes the result bit for bit.</summary>
    public int Threads { get; }

    /// <summary>One optimizer step on a fresh batch; throws when the loss is no longer finite (lower the learning rate).</summary>
    public TrainingLogEntry Step()
    {
        if (StepsDone >= options.Steps) throw new InvalidOperationException($"all {options.Steps} steps are done");
        clock.Start();
        try
        {
            using var scope = NewDisposeScope();
            using var grad = enable_grad();   // a caller's no_grad must not silently turn training off
            var index = StepsDone;
            var batch = sampler.Next(options.BatchSize);
            var ids = tensor(batch.Ids, [batch.Rows, batch.Columns], ScalarType.Int64);
            var input = ids.narrow(1, 0, options.Seqlen);
            var target = ids.narrow(1, 1, options.Seqlen);
            var logits = model.call(input);
            var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), target.reshape(-1));
            optimizer.zero_grad();
            loss.backward();
            var norm = nn.utils.clip_grad_norm_(parameters, options.GradientClipNorm);
            var rate = schedule.At(index);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = rate;
            optimizer.step();

            var value = loss.item<float>();
            if (!float.IsFinite(value) || !double.IsFinite(norm))
                throw new InvalidOperationException(
                    $"training diverged at step {index + 1}: loss {value}, gradient norm {norm} at learning rate {rate:G3}; " +
                    "lower the peak learning rate or raise the warm-up");
            tokens += (long)batch.Rows * options.Seqlen;
            var entry = new TrainingLogEntry(index + 1, rate, value, norm, tokens, clock.Elapsed.TotalSeconds, null);
            log.Add(entry);
            return entry;
        }
        finally
        {
            clock.Stop();
        }
    }

    /// <summary>
    /// Runs the remaining steps, measuring <paramref name="validation"/> every <see cref="TrainingOptions.ValidationEvery"/>
    /// steps and after the last (time spent validating is not counted in tokens per second, but is in the wall time).
    /// </summary>
    public void Run(ValidationProbe? validation = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        double? lastValidation = null;
        var wall = Stopwatch.StartNew();
        var trainSecondsBefore = clock.Elapsed.TotalSeconds;
        var tokensBefore = tokens;
        while (StepsDone < options.Steps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entry = Step();
            var last = StepsDone == options.Steps;
            if (validation is not null && (last || (options.ValidationEvery > 0 && entry.Step % options.ValidationEvery == 0)))
            {
                lastValidation = validation.Loss(model);
                log[^1] = entry with { ValidationLoss = lastValidation };
            }
            var trainSeconds = clock.Elapsed.TotalSeconds - trainSecondsBefore;
            progress?.Report(new TrainingProgress(entry.Step, options.Steps, RecentLoss(20), entry.LearningRate,
                (tokens - tokensBefore) / Math.Max(trainSeconds, 1e-9), wall.Elapsed, lastValidation));
        }
    }

    /// <summary>Mean loss of the last <paramref name="steps"/> steps (fewer at the start): the batch loss alone is noisy.</summary>
    public double RecentLoss(int steps)
    {
        if (log.Count == 0) return double.NaN;
        var n = Math.Min(steps, log.Count);
        return log.Skip(log.Count - n).Average(e => e.Loss);
    }

    public void Dispose()
    {
        optimizer.Dispose();
        model.Dispose();
    }
}
