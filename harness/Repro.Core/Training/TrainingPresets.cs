using System.Text.Json.Nodes;
using Repro.Core.Models;
using Repro.Core.Tokenizers;

namespace Repro.Core.Training;

/// <summary>A model shape and the options to train it with: what <c>repro fixtures train --preset</c> names.</summary>
public sealed record TrainingPreset(string Name, string Purpose, GeneratedModelShapes.Shape Shape, TrainingOptions Options)
{
    /// <summary>
    /// The config.json of the trained model: a Llama config for the shape with the byte tokenizer's ids,
    /// <c>max_position_embeddings</c> = the training seqlen (the context the model has seen; RoPE does not
    /// extrapolate far beyond it), and RoPE base 10 000, the usual choice for short contexts.
    /// </summary>
    public JsonObject ConfigJson(string torchDtype = "bfloat16")
    {
        var json = GeneratedModelShapes.LlamaConfig(Shape, Options.Seqlen);
        json["rope_theta"] = 10000.0;
        json["pad_token_id"] = 258;
        json["torch_dtype"] = torchDtype;
        return json;
    }
}

/// <summary>
/// The fixture models, sized from step times measured on the 2-core CPU host (Intel Xeon, 2 torch threads,
/// TorchSharp 0.107 / libtorch 2.10, float32) with <c>repro fixtures train --steps 14..40</c> on an otherwise
/// idle machine (25th-percentile step; under contention from other processes steps take 2–8× longer):
/// <code>
/// shape (hidden/layers/heads/kv/MLP)  params   batch×seqlen  ms/step  tokens/s
/// 96/3/4/2/256                        0.355M   16×256          150    27 000
/// 128/3/4/2/352                       0.620M   16×256          190    21 500
/// 128/4/4/2/352  (tiny)               0.805M   16×256          250    16 400
/// 256/4/8/4/768                       3.28M    16×512         1300     6 300
/// 256/4/8/4/1024                      4.07M    16×512         1750     4 700
/// 256/5/8/4/896                       4.56M    16×512         2140     3 800
/// 256/6/8/4/768                       4.86M    16×512         2390     3 400
/// 256/6/8/4/1024 (small)              6.03M    16×512         2660     3 100
/// </code>
/// </summary>
public static class TrainingPresets
{
    /// <summary>
    /// Loaded, pruned and evaluated many times by every <c>dotnet test</c>: small above all, but with four layers
    /// so layer-wise methods have layers to tell apart. 1000 steps ≈ 4 min; a 300-step pilot of a 0.36M shape
    /// already met the quality bar in every trained language.
    /// </summary>
    public static TrainingPreset Tiny { get; } = new(
        "tiny", "every dotnet test: loaded, pruned and evaluated many times, so it must be very small",
        new GeneratedModelShapes.Shape("tiny", Hidden: 128, Layers: 4, Heads: 4, KvHeads: 2, Intermediate: 352,
                                       Vocab: ByteTokenizer.DefaultVocabSize, TiedEmbeddings: false),
        new TrainingOptions
        {
            Steps = 1000, BatchSize = 16, Seqlen = 256, PeakLearningRate = 3e-3, WarmupSteps = 100, ValidationEvery = 100,
        });

    /// <summary>
    /// The main job's model: the largest measured shape whose training stays near 40 minutes on an idle 2-core host
    /// (850 steps × 2.7 s ≈ 38 min, plus ~3 min of validation and final evaluation), 7M tokens ≈ 1.8 passes over the
    /// 3.9 MB of training text. MLP 4× hidden, so 50 % MLP sparsity leaves 512 channels per layer; GQA 8 query / 4 KV heads.
    /// </summary>
    public static TrainingPreset Small { get; } = new(
        "small", "the main (fixture) job's model: 50 % pruning of its MLPs must still leave a language model",
        new GeneratedModelShapes.Shape("small", Hidden: 256, Layers: 6, Heads: 8, KvHeads: 4, Intermediate: 1024,
                                       Vocab: ByteTokenizer.DefaultVocabSize, TiedEmbeddings: false),
        new TrainingOptions
        {
            Steps = 850, BatchSize = 16, Seqlen = 512, PeakLearningRate = 2e-3, WarmupSteps = 80, ValidationEvery = 100,
        });

    public static IReadOnlyList<TrainingPreset> All { get; } = [Tiny, Small];

    public static TrainingPreset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new InputException($"unknown training preset '{name}'; known presets: {string.Join(", ", All.Select(p => p.Name))}");
}
