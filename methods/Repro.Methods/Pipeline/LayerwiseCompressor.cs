using Repro.Core;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Methods.Pipeline;

/// <summary>One run of the pipeline: a model folder in, a compressed model folder out.</summary>
/// <param name="ModelDir">A Hugging Face model folder; read memory-mapped and never modified.</param>
/// <param name="OutputDir">The folder to create; written as <c>&lt;OutputDir&gt;.partial</c> and renamed when complete.</param>
/// <param name="Calibration">Required when <see cref="ICompressionMethod.NeedsCalibration"/>; otherwise only recorded (may be null).</param>
public sealed record LayerwiseJob(string ModelDir, string OutputDir, ICompressionMethod Method, CalibrationTokens? Calibration)
{
    public Device Device { get; init; } = CPU;

    /// <summary>Compute dtype of the layer weights and the activations. Output tensors keep the dtype they were stored in.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;

    /// <summary>gptq's <c>--true-sequential</c> (METHODS §2): calibrate and compress the groups of <see cref="LayerwiseCompressor.TrueSequentialGroups"/> one after another.</summary>
    public bool TrueSequential { get; init; }

    /// <summary>Replace an existing output folder (only at the very end, when the new one is complete).</summary>
    public bool Overwrite { get; init; }
}

public enum PipelineStage { Copying, Embedding, Loading, Calibrating, Applying, Recomputing, Writing, LayerDone, Finishing }

/// <summary>Where a run is: layer <see cref="Layer"/> (0-based) of <see cref="Layers"/>, for progress bars.</summary>
public readonly record struct LayerProgress(int Layer, int Layers, PipelineStage Stage, int SamplesDone, int SamplesTotal, TimeSpan Elapsed);

/// <summary>
/// The layer-by-layer pipeline of METHODS §2 over a memory-mapped checkpoint: embeds the calibration batch, then
/// for each decoder layer materialises only that layer, collects its seven linear sublayers' inputs through forward
/// pre-hooks on the dense layer (batch 1, one dispose scope per sample), lets the method rewrite each sublayer,
/// re-runs the compressed layer to produce the next layer's inputs, and writes the finished layer to its own shard
/// before the next one is loaded.
/// </summary>
/// <remarks>
/// Memory: one decoder layer in the compute dtype, the activation buffer <c>[nsamples, seqlen, hidden]</c> of
/// the layer's inputs, the method's statistics for the sublayers being compressed, and one layer's masks; the
/// buffer for the layer's outputs is allocated once its sublayers are compressed and replaces the inputs after.
/// The embedding table is never loaded whole (<see cref="EmbeddingRows"/>); unchanged tensors (embedding, final
/// norm, lm_head) are copied to the output one shard at a time before any activation exists.
/// <para>
/// Output layout: <c>model-00001-of-N.safetensors</c> holds the embedding, <c>model-(l+2)-of-N</c> decoder layer l,
/// <c>model-N-of-N</c> the final norm and lm_head (N = layers + 2), with <c>model.safetensors.index.json</c>,
/// config.json (the input's, byte for byte), tokenizer files, <c>masks/</c> (see <see cref="MaskFile"/>) and
/// <c>prune.json</c> (<see cref="PruneReport"/>). Every tensor keeps the dtype it was stored in.
/// </para>
/// <para>
/// A method with <see cref="ICompressionMethod.NeedsCalibration"/> false gets no calibration pass, and since no
/// later layer needs inputs either, nothing is embedded or recomputed at all. The outputs of the last layer are
/// not recomputed for the same reason: nothing reads them.
/// </para>
/// </remarks>
public static class LayerwiseCompressor
{
    public const string EmbeddingName = "model.embed_tokens.weight";

    /// <summary>gptq's <c>llama.py --true-sequential</c> order: [k, v, q] → [o] → [up, gate] → [down].</summary>
    public static IReadOnlyList<IReadOnlyList<string>> TrueSequentialGroups { get; } =
    [
        ["self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj"],
        ["self_attn.o_proj"],
        ["mlp.up_proj", "mlp.gate_proj"],
        ["mlp.down_proj"],
    ];

    static readonly JsonSerializerOptions IndexJson = new() { WriteIndented = true };

    public static PruneReport Run(LayerwiseJob job, IProgress<LayerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job.Method);
        if (job.Method.NeedsCalibration && job.Calibration is null)
            throw new ArgumentException($"method '{job.Method.Name}' needs calibration tokens, and the job has none");
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();

        using var checkpoint = HfCheckpoint.Open(job.ModelDir);
        var config = ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
        CheckTensors(checkpoint, config);
        if (job.Method.NeedsCalibration) CheckIds(job.Calibration!, config);
        using var output = OutputFolder.Begin(job.OutputDir, job.ModelDir, job.Overwrite);
        try
        {
            var run = new Execution(job, checkpoint, config, output, progress, cancellationToken, clock);
            var report = run.Execute(started);
            output.Commit();
            return report;
        }
        catch
        {
            output.Abandon();
            throw;
        }
    }

    /// <summary>Every tensor the architecture needs, with the shape config.json implies, before anything is written.</summary>
    static void CheckTensors(HfCheckpoint checkpoint, ModelConfig config)
    {
        checkpoint.Require(config.ExpectedTensorNames(), config.ModelType);
        foreach (var spec in config.ExpectedTensors())
        {
            var info = checkpoint.Describe(spec.Name);
            if (!info.Shape.SequenceEqual(spec.Shape))
                throw new CheckpointFormatException(info.File,
                    $"tensor '{spec.Name}' has shape [{string.Join(", ", info.Shape)}] but config.json implies [{string.Join(", ", spec.Shape)}]; " +
                    "the checkpoint and its config.json disagree");
        }
    }

    /// <summary>Before any output exists: ids from another tokenizer would index past the embedding table.</summary>
    static void CheckIds(CalibrationTokens calibration, ModelConfig config)
    {
        foreach (var id in calibration.Ids)
            if (id < 0 || id >= config.VocabSize)
                throw new InputException($"calibration token id {id} is outside the model's vocabulary of {config.VocabSize}; the ids come from another tokenizer");
    }

    /// <summary>The state of one run; lives for one call of <see cref="Run"/>.</summary>
    sealed class Execution(LayerwiseJob job, HfCheckpoint checkpoint, ModelConfig config, OutputFolder output,
                     IProgress<LayerProgress>? progress, CancellationToken cancellationToken, Stopwatch clock)
    {
        readonly int layers = config.NumHiddenLayers;
        readonly int shardCount = config.NumHiddenLayers + 2;
        readonly SortedDictionary<string, string> weightMap = new(StringComparer.Ordinal);
        readonly List<string> maskFiles = [];
        long totalBytes;
        int samples;

        ICompressionMethod Method => job.Method;

        public PruneReport Execute(DateTimeOffset started)
        {
            // Unchanged tensors first, each shard on its own, before any activation buffer exists.
            Report(0, PipelineStage.Copying);
            WriteUnchangedShard(1, [EmbeddingName]);
            WriteUnchangedShard(shardCount, config.TieWordEmbeddings ? ["model.norm.weight"] : ["model.norm.weight", "lm_head.weight"]);

            using var noGrad = no_grad();
            using var rope = new RotaryEmbedding(config);
            Tensor? inps = null;
            var records = new List<LayerRecord>();
            try
            {
                if (Method.NeedsCalibration)
                {
                    var calibration = job.Calibration!;
                    samples = calibration.NSamples;
                    Report(0, PipelineStage.Embedding);
                    inps = EmbeddingRows.Lookup(checkpoint, EmbeddingName, calibration.Ids, job.Device, job.DType).DetachFromDisposeScope();
                }
                for (var l = 0; l < layers; l++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var needOutputs = Method.NeedsCalibration && l < layers - 1;
                    var (record, outs) = CompressLayer(l, rope, inps, needOutputs);
                    records.Add(record);
                    if (outs is not null)
                    {
                        inps!.Dispose();
                        inps = outs;
                    }
                    NativeHeap.Trim();   // the layer and its statistics are freed: keep resident memory at what is live
                    Report(l, PipelineStage.LayerDone);
                }
            }
            finally
            {
                inps?.Dispose();
            }

            Report(layers - 1, PipelineStage.Finishing);
            File.Copy(checkpoint.ConfigPath, output.PathOf(HfCheckpoint.ConfigFileName));
            HfCheckpointWriter.CopyAuxiliaryFiles(job.ModelDir, output.Partial);
            WriteIndex();

            var sublayers = records.SelectMany(r => r.Sublayers).ToList();
            var report = new PruneReport
            {
                Method = Method.Name,
                HyperParameters = (JsonObject)Method.HyperParameters.DeepClone(),
                // Tokens a method never looked at are not part of what produced the folder.
                Calibration = Method.NeedsCalibration && job.Calibration is { } c ? new CalibrationRecord(c.NSamples, c.Seqlen, c.Sha256(), c.Provenance) : null,
                Seed = Method.NeedsCalibration ? job.Calibration?.Seed : null,
                InputModel = new InputModelRecord(
                    Path.GetFullPath(job.ModelDir), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(checkpoint.ConfigPath))),
                    config.ModelType, layers, config.ParameterCount(),
                    config.ExpectedTensorNames().Select(n => checkpoint.Describe(n).DType).Distinct().Order(StringComparer.Ordinal).ToList(),
                    checkpoint.Names.Except(config.ExpectedTensorNames()).Order(StringComparer.Ordinal).ToList()),
                Device = job.Device.ToString(),
                DType = job.DType.ToString(),
                WeightsCast = WeightsCast(config.ExpectedTensorNames().Select(n => checkpoint.Describe(n).DType).Distinct().Order(StringComparer.Ordinal)),
                TrueSequential = job.TrueSequential && Method.NeedsCalibration,
                Sparsity = new SparsityRecord(sublayers.Sum(s => s.Elements), sublayers.Sum(s => s.Zeros)),
                Layers = records,
                Masks = maskFiles.Count == 0 ? null : new MasksRecord(MaskFile.FolderName, MaskFile.FormatName, maskFiles),
                CodeVersion = CodeVersion.Current,
                StartedUtc = started,
                TotalSeconds = clock.Elapsed.TotalSeconds,
            };
            ResultFiles.WriteJson(output.PathOf(PruneReport.FileName), report);
            return report;
        }

        /// <summary>
        /// Compresses one layer; with <paramref name="needOutputs"/>, also returns its outputs on the calibration
        /// samples (the next layer's inputs), computed with the compressed weights. That buffer is allocated only
        /// after the solves, so it never sits beside a Hessian being factored.
        /// </summary>
        (LayerRecord Record, Tensor? Outputs) CompressLayer(int index, RotaryEmbedding rope, Tensor? inps, bool needOutputs)
        {
            var prefix = ModelConfig.LayerPrefix(index);
            var watch = Stopwatch.StartNew();
            Report(index, PipelineStage.Loading);
            using var layerScope = NewDisposeScope();
            using var layer = DecoderLayer.Create(config, index, rope);
            layer.LoadWeights(checkpoint, job.Device, job.DType);
            var load = Lap(watch);

            var linears = layer.Linears().ToDictionary(l => l.Name, l => l.Module);
            IReadOnlyList<IReadOnlyList<string>> groups = Method.NeedsCalibration && job.TrueSequential
                ? TrueSequentialGroups
                : [layer.Linears().Select(l => l.Name).ToList()];
            var results = new Dictionary<string, (SublayerResult Result, Tensor? Mask)>();
            double calibration = 0, apply = 0;
            var observe = new Stopwatch();
            Tensor? outs = null;
            try
            {
                foreach (var group in groups)
                {
                    var compressors = new List<(string Name, Linear Module, ISublayerCompressor Compressor)>();
                    try
                    {
                        foreach (var name in group)
                            compressors.Add((name, linears[name], Method.Begin(prefix + name, linears[name])));
                        if (Method.NeedsCalibration)
                        {
                            Report(index, PipelineStage.Calibrating);
                            watch.Restart();
                            Calibrate(index, layer, compressors, inps!, observe);
                            calibration += Lap(watch);
                        }
                        Report(index, PipelineStage.Applying);
                        watch.Restart();
                        foreach (var (name, module, compressor) in compressors)
                        {
                            results[name] = ApplyOne(prefix + name, module, compressor);
                            compressor.Dispose();   // its statistics are spent: free them before the next sublayer's solve
                            NativeHeap.Trim();
                        }
                        apply += Lap(watch);
                    }
                    finally
                    {
                        foreach (var c in compressors) c.Compressor.Dispose();
                    }
                }

                double recompute = 0;
                if (needOutputs)
                {
                    outs = empty_like(inps!).DetachFromDisposeScope();
                    Report(index, PipelineStage.Recomputing);
                    watch.Restart();
                    for (var i = 0; i < samples; i++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        using var scope = NewDisposeScope();
                        outs.narrow(0, i, 1).copy_(layer.call(inps!.narrow(0, i, 1)));
                        Report(index, PipelineStage.Recomputing, i + 1);
                    }
                    recompute = Lap(watch);
                }

                Report(index, PipelineStage.Writing);
                watch.Restart();
                var zeros = WriteLayer(index, layer, results);
                WriteMasks(index, layer, results);
                var write = Lap(watch);

                var sublayers = layer.Linears().Select(l =>
                {
                    var (result, mask) = results[l.Name];
                    long? masked = mask is null ? null : TensorCounts.Count(mask);
                    return new SublayerRecord(prefix + l.Name, l.Module.weight.NumberOfElements, zeros[l.Name], result.Zeros, masked, result.Diagnostics);
                }).ToList();
                var timings = new LayerTimings(load, calibration, observe.Elapsed.TotalSeconds, apply, recompute, write);
                return (new LayerRecord(index, timings, sublayers), outs);
            }
            catch
            {
                outs?.Dispose();
                throw;
            }
            finally
            {
                foreach (var (_, mask) in results.Values) mask?.Dispose();
            }
        }

        /// <summary>
        /// The dense (or partly compressed, under true-sequential) layer on every sample, hooks on the group's sublayers.
        /// Each pass stops as soon as every hooked sublayer has seen its input: what the layer would compute after that
        /// (down_proj's product for a whole layer; attention and the MLP for the [k, v, q] group) nobody reads.
        /// </summary>
        void Calibrate(int index, DecoderLayer layer, List<(string Name, Linear Module, ISublayerCompressor Compressor)> compressors,
                       Tensor inps, Stopwatch observe)
        {
            var observed = 0;
            // Hooks fire only through call(); a sublayer run through forward() would never be calibrated.
            var hooks = compressors.Select(c => c.Module.register_forward_pre_hook((_, x) =>
            {
                observe.Start();
                try
                {
                    c.Compressor.Observe(x);
                }
                finally
                {
                    observe.Stop();
                }
                if (++observed == compressors.Count) throw new InputsCollected();
                return x;
            })).ToList();
            try
            {
                for (var i = 0; i < samples; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    observed = 0;
                    try
                    {
                        layer.call(inps.narrow(0, i, 1));
                    }
                    catch (InputsCollected)
                    {
                    }
                    if (observed != compressors.Count)
                        throw new InvalidOperationException(
                            $"layer {index}: {observed} of {compressors.Count} hooked sublayers saw a calibration input; every sublayer must be run through call()");
                    Report(index, PipelineStage.Calibrating, i + 1);
                }
            }
            finally
            {
                foreach (var h in hooks) h.remove();
            }
        }

        /// <summary>Ends a calibration pass early, from the hook of the last sublayer whose input was still missing.</summary>
        sealed class InputsCollected : Exception;

        /// <summary>Runs the method's rule and checks what it says against what it did: a mask must match the weight and mark only zeros.</summary>
        (SublayerResult, Tensor?) ApplyOne(string name, Linear module, ISublayerCompressor compressor)
        {
            using var scope = NewDisposeScope();
            var result = compressor.Apply();
            if (result.Mask is not { } mask) return (result, null);
            mask.DetachFromDisposeScope();
            try
            {
                var weight = module.weight;
                if (mask.dtype != ScalarType.Bool || !mask.shape.SequenceEqual(weight.shape))
                    throw new InvalidOperationException(
                        $"method '{Method.Name}' returned a {mask.dtype} mask [{string.Join(", ", mask.shape)}] for {name}, whose weight is [{string.Join(", ", weight.shape)}]; " +
                        "a mask must be bool with the weight's shape");
                var kept = TensorCounts.Count(weight.ne(0).logical_and_(mask.to(weight.device)));
                if (kept > 0)
                    throw new InvalidOperationException(
                        $"method '{Method.Name}' marks {kept} weights of {name} as pruned but left them non-zero; its mask and its weights disagree");
                return (result, mask);
            }
            catch
            {
                mask.Dispose();
                throw;
            }
        }

        /// <summary>
        /// Null when the written weights are exact: a mask-only method, or a compute dtype that holds every stored value
        /// (F16 or BF16 in F32). Otherwise the sentence prune.json carries: kept weights were rounded through it.
        /// </summary>
        string? WeightsCast(IEnumerable<string> storedDTypes)
        {
            if (Method.MasksOnly) return null;
            var lossy = storedDTypes.Where(d => !SafetensorsDType.Holds(job.DType, SafetensorsDType.ToScalarType(d))).ToList();
            return lossy.Count == 0 ? null
                : $"weights stored as {string.Join(", ", lossy)} were computed in {job.DType} and written back, so every weight " +
                  $"{Method.Name} kept was rounded through {job.DType}";
        }

        /// <summary>
        /// Writes the layer's shard in the stored dtypes; returns the zeros of each linear weight as written. A mask-only
        /// method's weights are the stored tensor with its mask applied (bit-identical kept weights); others are the
        /// compute-dtype weights cast back.
        /// </summary>
        Dictionary<string, long> WriteLayer(int index, DecoderLayer layer, Dictionary<string, (SublayerResult Result, Tensor? Mask)> results)
        {
            using var scope = NewDisposeScope();
            var prefix = ModelConfig.LayerPrefix(index);
            var weights = layer.Linears().ToDictionary(l => prefix + l.Name + ".weight", l => (Short: l.Name, Weight: l.Module.weight));
            var zeros = new Dictionary<string, long>();
            var tensors = new List<KeyValuePair<string, Tensor>>();
            foreach (var spec in config.LayerTensors(index))
            {
                var info = checkpoint.Describe(spec.Name);
                Tensor tensor;
                if (weights.TryGetValue(spec.Name, out var linear))
                {
                    if (Method.MasksOnly)
                    {
                        tensor = checkpoint.Load(spec.Name);
                        if (results[linear.Short].Mask is { } mask) tensor.masked_fill_(mask.cpu(), 0);
                    }
                    // detach() first: a to() that changes nothing may hand back the parameter itself.
                    else tensor = linear.Weight.detach().to(SafetensorsDType.ToScalarType(info.DType), CPU);
                    zeros[linear.Short] = TensorCounts.Zeros(tensor);
                }
                else tensor = checkpoint.Load(spec.Name);   // norms and biases are never touched: copy the stored values
                tensors.Add(KeyValuePair.Create(spec.Name, tensor));
            }
            WriteShard(index + 2, tensors);
            return zeros;
        }

        void WriteMasks(int index, DecoderLayer layer, Dictionary<string, (SublayerResult Result, Tensor? Mask)> results)
        {
            var prefix = ModelConfig.LayerPrefix(index);
            var masks = layer.Linears().Where(l => results[l.Name].Mask is not null)
                             .Select(l => (prefix + l.Name + ".weight", results[l.Name].Mask!)).ToList();
            if (masks.Count == 0) return;
            Directory.CreateDirectory(output.PathOf(MaskFile.FolderName));
            var relative = Path.Combine(MaskFile.FolderName, MaskFile.LayerFileName(index));
            MaskFile.Write(output.PathOf(relative), masks);
            maskFiles.Add(relative.Replace(Path.DirectorySeparatorChar, '/'));
        }

        void WriteUnchangedShard(int shard, IReadOnlyList<string> names)
        {
            using var scope = NewDisposeScope();
            WriteShard(shard, names.Select(n => KeyValuePair.Create(n, checkpoint.Load(n))).ToList());
        }

        void WriteShard(int shard, IReadOnlyList<KeyValuePair<string, Tensor>> tensors)
        {
            var name = $"model-{shard:D5}-of-{shardCount:D5}.safetensors";
            SafetensorsWriter.Write(output.PathOf(name), tensors);
            foreach (var (tensorName, tensor) in tensors)
            {
                weightMap[tensorName] = name;
                totalBytes += tensor.NumberOfElements * tensor.ElementSize;
            }
        }

        void WriteIndex()
        {
            var index = new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = totalBytes },
                ["weight_map"] = new JsonObject(weightMap.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
            };
            File.WriteAllText(output.PathOf(HfCheckpoint.IndexFileName), index.ToJsonString(IndexJson) + "\n");
        }

        void Report(int layer, PipelineStage stage, int done = 0) =>
            progress?.Report(new LayerProgress(layer, layers, stage, done, samples, clock.Elapsed));

        static double Lap(Stopwatch watch)
        {
            var seconds = watch.Elapsed.TotalSeconds;
            watch.Restart();
            return seconds;
        }
    }
}
