using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Repro.Methods.Pipeline;

/// <summary>
/// What one run of the layer-by-layer pipeline did, written as <c>prune.json</c> (camelCase) into the output folder:
/// method and hyper-parameters, calibration, the input model it read, achieved sparsity per sublayer, timings,
/// diagnostics, and the code version. Everything needed to tell two pruned folders apart.
/// </summary>
public sealed record PruneReport
{
    public const string FileName = "prune.json";
    public const string CurrentFormat = "repro-prune/1";

    public string Format { get; init; } = CurrentFormat;
    public required string Method { get; init; }
    public required JsonObject HyperParameters { get; init; }
    /// <summary>Null for methods that need no calibration (the pipeline then reads no tokens).</summary>
    public required CalibrationRecord? Calibration { get; init; }
    /// <summary>The calibration sampler's seed (null when there was none).</summary>
    public required int? Seed { get; init; }
    public required InputModelRecord InputModel { get; init; }
    public required string Device { get; init; }
    /// <summary>Compute dtype: weights and activations during calibration. Output tensors keep their stored dtypes.</summary>
    [JsonPropertyName("dtype")] public required string DType { get; init; }
    /// <summary>
    /// Null when every written weight is exact (a mask-only method applies its mask to the stored tensor; a compute dtype
    /// such as float32 holds fp16 and bf16 values); else how the compute dtype rounded the weights the method wrote.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? WeightsCast { get; init; }
    public required bool TrueSequential { get; init; }
    /// <summary>Over the seven linear sublayers of every decoder layer (embeddings, norms and lm_head are never touched).</summary>
    public required SparsityRecord Sparsity { get; init; }
    public required IReadOnlyList<LayerRecord> Layers { get; init; }
    /// <summary>Where the masks are (relative to the folder) and their format; null when the method produced none (quantizers).</summary>
    public required MasksRecord? Masks { get; init; }
    public required string CodeVersion { get; init; }
    public required DateTimeOffset StartedUtc { get; init; }
    public required double TotalSeconds { get; init; }
}

/// <param name="IdsSha256">See <see cref="CalibrationTokens.Sha256"/>.</param>
/// <param name="Provenance">Whatever the sampler passed (languages, shares, corpus hashes), as JSON.</param>
public sealed record CalibrationRecord([property: JsonPropertyName("nsamples")] int NSamples, int Seqlen, string IdsSha256, object? Provenance);

/// <param name="ConfigSha256">SHA-256 of the input's config.json bytes.</param>
/// <param name="StoredDTypes">Safetensors dtypes of the input's tensors, e.g. ["BF16"]; output tensors keep them.</param>
/// <param name="IgnoredTensors">Tensors of the input the architecture does not use (e.g. old <c>rotary_emb.inv_freq</c> buffers); not copied.</param>
public sealed record InputModelRecord(string Path, string ConfigSha256, string ModelType, int Layers, long Parameters,
                                      IReadOnlyList<string> StoredDTypes, IReadOnlyList<string> IgnoredTensors);

public sealed record SparsityRecord(long Elements, long Zeros)
{
    public double Fraction => Elements == 0 ? 0 : (double)Zeros / Elements;
}

/// <param name="Seconds">Wall-clock seconds per stage of this layer.</param>
public sealed record LayerRecord(int Index, LayerTimings Seconds, IReadOnlyList<SublayerRecord> Sublayers);

/// <param name="Load">Materialising the layer from the checkpoint.</param>
/// <param name="Calibration">Forward passes of the calibration batch with hooks, including <paramref name="Observe"/>.</param>
/// <param name="Observe">Inside the hooks: the method's statistics.</param>
/// <param name="Apply">The methods' rules (masks, weight updates) and the pipeline's checks of them.</param>
/// <param name="Recompute">Forward passes of the compressed layer that produce the next layer's inputs.</param>
/// <param name="Write">Converting and writing the layer's tensors and masks.</param>
public sealed record LayerTimings(double Load, double Calibration, double Observe, double Apply, double Recompute, double Write)
{
    public double Total => Load + Calibration + Apply + Recompute + Write;
}

/// <param name="Name">Full name, e.g. <c>model.layers.0.self_attn.q_proj</c>.</param>
/// <param name="Zeros">Zeros of the weight as written (stored dtype), counted by the pipeline.</param>
/// <param name="MethodZeros">Zeros the method reported in its <see cref="SublayerResult"/>.</param>
/// <param name="Masked">Weights the method's mask marks as pruned; null without a mask.</param>
public sealed record SublayerRecord(string Name, long Elements, long Zeros, long MethodZeros, long? Masked,
                                    IReadOnlyDictionary<string, double> Diagnostics)
{
    public double Sparsity => Elements == 0 ? 0 : (double)Zeros / Elements;
}

public sealed record MasksRecord(string Folder, string Format, IReadOnlyList<string> Files);
