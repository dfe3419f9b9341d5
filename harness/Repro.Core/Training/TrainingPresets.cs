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
/// The fixture models. Step times and budgets are measured on the 2-core CPU host the test suite runs on;
/// see the commit that set them and training.json of each committed model for the figures.
/// </summary>
public static class TrainingPresets
{
    /// <summary>Loaded, pruned and evaluated many times by every <c>dotnet test</c>: small above all.</summary>
    public static TrainingPreset Tiny { get; } = new(
        "tiny", "every dotnet test: loaded, pruned and evaluated many times, so it must be very small",
        new GeneratedModelShapes.Shape("tiny", Hidden: 96, Layers: 3, Heads: 4, KvHeads: 2, Intermediate: 256,
                                       Vocab: ByteTokenizer.DefaultVocabSize, TiedEmbeddings: false),
        new TrainingOptions
        {
            Steps = 1500, BatchSize = 16, Seqlen = 256, PeakLearningRate = 3e-3, WarmupSteps = 100, ValidationEvery = 100,
        });

    /// <summary>The main job's model: as large as a training run of well under an hour on 2 cores allows.</summary>
    public static TrainingPreset Small { get; } = new(
        "small", "the main (fixture) job's model: 50 % pruning of its MLPs must still leave a language model",
        new GeneratedModelShapes.Shape("small", Hidden: 256, Layers: 4, Heads: 8, KvHeads: 4, Intermediate: 768,
                                       Vocab: ByteTokenizer.DefaultVocabSize, TiedEmbeddings: false),
        new TrainingOptions
        {
            Steps = 3000, BatchSize = 16, Seqlen = 512, PeakLearningRate = 2e-3, WarmupSteps = 200, ValidationEvery = 250,
        });

    public static IReadOnlyList<TrainingPreset> All { get; } = [Tiny, Small];

    public static TrainingPreset Get(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown training preset '{name}'; known presets: {string.Join(", ", All.Select(p => p.Name))}");
}
