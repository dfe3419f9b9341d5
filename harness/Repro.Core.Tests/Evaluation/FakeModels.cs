using Repro.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Evaluation;

/// <summary>Every logit 0: each next token has probability 1/V, so perplexity is exactly V.</summary>
sealed class UniformModel(int vocabSize, ScalarType dtype = ScalarType.Float64) : ILanguageModel
{
    public int VocabSize => vocabSize;
    public Device Device => CPU;
    public Tensor Logits(Tensor inputIds) => zeros([inputIds.shape[0], inputIds.shape[1], vocabSize], dtype: dtype);
}

/// <summary>
/// Predicts <c>next(id)</c> with probability <paramref name="p"/> and spreads the rest evenly over the other
/// V − 1 tokens (float64 log-probabilities as logits), so every NLL is −ln p or −ln((1 − p)/(V − 1)).
/// </summary>
sealed class NextTokenModel(int vocabSize, double p, Func<int, int> next) : ILanguageModel
{
    readonly long[] table = [.. Enumerable.Range(0, vocabSize).Select(i => (long)next(i))];

    public int VocabSize => vocabSize;
    public Device Device => CPU;

    public Tensor Logits(Tensor inputIds)
    {
        var (b, t) = (inputIds.shape[0], inputIds.shape[1]);
        var logits = full([b, t, vocabSize], Math.Log((1 - p) / (vocabSize - 1)), dtype: ScalarType.Float64);
        var predicted = tensor(table).index_select(0, inputIds.flatten()).reshape(b, t, 1);
        return logits.scatter_(2, predicted, full([b, t, 1], Math.Log(p), dtype: ScalarType.Float64));
    }
}

/// <summary>Uniform logits, except NaN in every row whose input holds <paramref name="trigger"/>.</summary>
sealed class NaNModel(int vocabSize, int trigger) : ILanguageModel
{
    public int VocabSize => vocabSize;
    public Device Device => CPU;

    public Tensor Logits(Tensor inputIds)
    {
        var logits = zeros([inputIds.shape[0], inputIds.shape[1], vocabSize], dtype: ScalarType.Float32);
        var poisoned = inputIds.eq(trigger).any(1).reshape(-1, 1, 1);
        return logits.masked_fill(poisoned, float.NaN);
    }
}

/// <summary>Records every input row it is given, then defers to <paramref name="inner"/>.</summary>
sealed class RecordingModel(ILanguageModel inner) : ILanguageModel
{
    public List<long[]> Rows { get; } = [];
    public List<int> BatchSizes { get; } = [];
    public int VocabSize => inner.VocabSize;
    public Device Device => inner.Device;

    public Tensor Logits(Tensor inputIds)
    {
        var data = inputIds.data<long>().ToArray();
        var (b, t) = ((int)inputIds.shape[0], (int)inputIds.shape[1]);
        for (var r = 0; r < b; r++) Rows.Add(data[(r * t)..((r + 1) * t)]);
        BatchSizes.Add(b);
        return inner.Logits(inputIds);
    }
}

/// <summary>Reports synchronously (Progress&lt;T&gt; posts to a synchronization context).</summary>
sealed class ListProgress<T> : IProgress<T>
{
    public List<T> Reports { get; } = [];
    public void Report(T value) => Reports.Add(value);
}
