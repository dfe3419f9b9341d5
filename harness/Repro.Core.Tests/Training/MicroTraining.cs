using System.Text.Json.Nodes;
using Repro.Core.Corpora;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using Repro.Core.Training;

namespace Repro.Core.Tests.Training;

/// <summary>A micro Llama (hidden 32, 2 layers, GQA) and synthetic languages: training steps in milliseconds.</summary>
static class MicroTraining
{
    public static readonly GeneratedModelShapes.Shape Shape =
        new("micro", Hidden: 32, Layers: 2, Heads: 4, KvHeads: 2, Intermediate: 64, Vocab: ByteTokenizer.DefaultVocabSize, TiedEmbeddings: false);

    public static TrainingOptions Options(int steps = 4, long seed = 1) => new()
    {
        Seed = seed, Steps = steps, BatchSize = 4, Seqlen = 32, PeakLearningRate = 1e-2, WarmupSteps = Math.Min(2, steps),
        ValidationWindows = 2, FinalEvaluationWindows = 2,
    };

    public static TrainingPreset Preset(TrainingOptions options) => new("micro", "tests", Shape, options);

    public static JsonObject Config(TrainingOptions options) => Preset(options).ConfigJson();

    /// <summary>Pseudo-languages with distinct letters and word lengths, deterministic, a few KB each.</summary>
    public static IReadOnlyList<string> Documents(string language, int documents = 12)
    {
        var letters = language switch { "aa" => "abcdefg", "bb" => "hijklmn", "cc" => "opqrstu", _ => "vwxyz" };
        var random = new SplitMix64(letters[0]);   // string.GetHashCode changes between processes
        return [.. Enumerable.Range(0, documents).Select(_ => string.Join(" ", Enumerable.Range(0, 60).Select(_ =>
            new string([.. Enumerable.Range(0, 2 + (int)random.NextBelow(5)).Select(_ => letters[(int)random.NextBelow(letters.Length)])]))))];
    }

    public static IReadOnlyList<LanguageStream> Streams(params string[] languages) =>
        [.. languages.Select(l => LanguageStream.From(new Corpus(l, Documents(l), $"/synthetic/{l}.jsonl"), new ByteTokenizer()))];
}
