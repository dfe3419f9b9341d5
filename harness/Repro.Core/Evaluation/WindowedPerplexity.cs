using System.Diagnostics;
using Repro.Core.Corpora;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Evaluation;

/// <summary>
/// Perplexity over non-overlapping windows, as wanda's <c>eval_ppl</c> (EVALUATION §1.1): tokenize the text once,
/// cut it into windows of <c>seqlen</c> tokens dropping the trailing partial one, score logits <c>0..T−2</c>
/// against tokens <c>1..T−1</c> of every window (the first token of a window is never scored), and take
/// <c>exp</c> of the mean NLL once at the end. Log-softmax runs in float32 at least (bf16/fp16 logits are
/// upcast; 128k–256k vocabularies lose too much otherwise), sums in double. Bits per byte divides the same
/// NLL sum by the UTF-8 bytes the scored tokens spell (§1.3).
/// </summary>
public sealed class WindowedPerplexity
{
    readonly ILanguageModel model;
    readonly ITextTokenizer tokenizer;
    readonly PerplexityOptions options;
    readonly long sliceElements;

    /// <param name="sliceElements">Float32 logits held at once while scoring (<see cref="DefaultSliceElements"/>).</param>
    public WindowedPerplexity(ILanguageModel model, ITextTokenizer tokenizer, PerplexityOptions options, long sliceElements = DefaultSliceElements)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sliceElements, 1);
        this.sliceElements = sliceElements;
        if (options.Seqlen < 2) throw new InputException($"seqlen {options.Seqlen}: a window needs at least 2 tokens to score one");
        if (options.BatchSize < 1) throw new InputException($"batch size {options.BatchSize} must be at least 1");
        if (options.NSamples is < 1) throw new InputException($"nsamples {options.NSamples} must be at least 1 (or null for all windows)");
        if (options.BosPolicy == BosPolicy.PerWindow && tokenizer.BosId is null)
            throw new InputException("BosPolicy.PerWindow needs a tokenizer that adds BOS, and this one adds none (e.g. Qwen); use BosPolicy.StreamOnly");
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
    }

    public PerplexityResult Evaluate(LanguageCorpusText text, IProgress<EvalProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Evaluate(text.Language, text.Text, progress, cancellationToken);

    /// <summary>Joins <paramref name="documents"/> with "\n\n" and evaluates the result.</summary>
    public PerplexityResult Evaluate(string language, IReadOnlyList<string> documents, IProgress<EvalProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Evaluate(language, string.Join(LanguageCorpusText.DocumentSeparator, documents), progress, cancellationToken);

    public PerplexityResult Evaluate(string language, string text, IProgress<EvalProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var tokens = tokenizer.Encode(text, addBos: options.BosPolicy == BosPolicy.StreamOnly);
        return Evaluate(language, tokens, Corpus.HashText(text), progress, cancellationToken);
    }

    /// <summary>Evaluates an already tokenized stream (with BOS at 0 for StreamOnly, without for PerWindow).</summary>
    public PerplexityResult Evaluate(string language, TokenizedText tokens, string textSha256,
                                     IProgress<EvalProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var perWindow = options.TextTokensPerWindow;
        var available = tokens.Count / perWindow;
        if (available == 0)
            throw new InputException($"{language}: the text has {tokens.Count} tokens, fewer than one window of {perWindow}; " +
                                        "give it more documents (LanguageCorpusText.Leading) or a shorter seqlen");
        var maxId = tokens.Ids.Max();
        if (maxId >= model.VocabSize)
            throw new InputException($"{language}: the tokenizer produced id {maxId} but the model's vocabulary has {model.VocabSize} entries; " +
                                        "the tokenizer does not belong to this model");
        var selected = SelectWindows(available, options.NSamples, options.Seed);

        var seqlen = options.Seqlen;
        var bos = options.BosPolicy == BosPolicy.PerWindow ? tokenizer.BosId : null;
        double sumNll = 0;
        long scoredTokens = 0, scoredBytes = 0;
        var nonFinite = 0;
        var clock = Stopwatch.StartNew();
        using var noGrad = torch.no_grad();
        for (var first = 0; first < selected.Length; first += options.BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = selected.AsSpan(first, Math.Min(options.BatchSize, selected.Length - first)).ToArray();
            var ids = new long[batch.Length * seqlen];
            for (var r = 0; r < batch.Length; r++)
            {
                var start = batch[r] * perWindow;
                var row = r * seqlen;
                var offset = 0;
                if (bos is { } b) ids[row + offset++] = b;
                for (var t = 0; t < perWindow; t++) ids[row + offset + t] = tokens.Ids[start + t];
                // Scored targets are window positions 1..seqlen-1; under PerWindow that is every text token of the window.
                var firstScored = bos is null ? start + 1 : start;
                scoredBytes += tokens.BytesOf(firstScored, seqlen - 1);
            }

            var (rowNll, rowFinite) = ScoreBatch(ids, batch.Length, seqlen);
            for (var r = 0; r < batch.Length; r++)
            {
                sumNll += rowNll[r];
                if (!rowFinite[r]) nonFinite++;
            }
            scoredTokens += (long)batch.Length * (seqlen - 1);
            progress?.Report(new EvalProgress(language, first + batch.Length, selected.Length,
                (first + batch.Length) * (double)seqlen / Math.Max(clock.Elapsed.TotalSeconds, 1e-9)));
        }

        var finite = nonFinite == 0;
        var perplexity = finite ? Math.Exp(sumNll / scoredTokens) : double.NaN;
        var bitsPerByte = finite ? sumNll / (Math.Log(2) * scoredBytes) : double.NaN;
        return new PerplexityResult(language, selected.Length, available, scoredTokens, sumNll, scoredBytes,
                                    perplexity, bitsPerByte, textSha256, seqlen, options.BosPolicy, nonFinite);
    }

    /// <summary>
    /// Window indices to evaluate, ascending: all of them; the first <paramref name="nsamples"/> without a seed;
    /// with a seed, <paramref name="nsamples"/> drawn uniformly without replacement by SplitMix64.
    /// </summary>
    public static int[] SelectWindows(int available, int? nsamples, int? seed)
    {
        if (nsamples is not { } n || n >= available) return [.. Enumerable.Range(0, available)];
        if (seed is not { } s) return [.. Enumerable.Range(0, n)];
        return new SplitMix64((ulong)(long)s).SampleWithoutReplacement(available, n);
    }

    /// <summary>Float32 logits held at once while scoring, at most (256 MB; one position of a batch when it alone is more).</summary>
    public const long DefaultSliceElements = 1L << 26;

    /// <summary>
    /// Σ NLL (nats, double) per row and whether that row's logits were all finite. The logits come in slices of
    /// positions (<see cref="ILanguageModel.LogitSlices"/>), at most the constructor's sliceElements floats each, so memory
    /// does not grow with seqlen × vocabulary; a batch that fits in one slice is scored exactly as a whole.
    /// </summary>
    (double[] Nll, bool[] Finite) ScoreBatch(long[] ids, int rows, int seqlen)
    {
        using var scope = torch.NewDisposeScope();
        var input = torch.tensor(ids, [rows, seqlen], dtype: ScalarType.Int64, device: model.Device);
        var positions = (int)Math.Clamp(sliceElements / ((long)rows * model.VocabSize), 1, seqlen);
        var sums = torch.zeros(rows, dtype: ScalarType.Float64, device: model.Device);
        var finite = torch.ones(rows, dtype: ScalarType.Bool, device: model.Device);
        long start = 0;
        foreach (var slice in model.LogitSlices(input, positions))
        {
            using var sliceScope = torch.NewDisposeScope();
            var logits = slice;
            var length = logits.shape[1];
            if (logits.ndim != 3 || logits.shape[0] != rows || start + length > seqlen)
                throw new InvalidOperationException(
                    $"the model returned a logit slice of shape [{string.Join(", ", logits.shape)}] at position {start} for input [{rows}, {seqlen}]; " +
                    $"expected [{rows}, ≤ {seqlen - start}, vocab]");
            if (logits.dtype is ScalarType.Float16 or ScalarType.BFloat16) logits = logits.to_type(ScalarType.Float32);
            finite.logical_and_(logits.isfinite().reshape(rows, -1).all(1));
            // Predictions at positions start.. (never the last position, T-1) score the tokens one position later.
            var predicted = Math.Min(length, seqlen - 1 - start);
            if (predicted > 0)
            {
                var predictions = logits.narrow(1, 0, predicted);
                var targets = input.narrow(1, start + 1, predicted).unsqueeze(-1);
                // -log_softmax(x)[y] = logsumexp(x) - x[y], without materialising a second [rows, T, vocab] tensor.
                var nll = predictions.logsumexp(-1) - predictions.gather(-1, targets).squeeze(-1);
                sums.add_(nll.to_type(ScalarType.Float64).sum(1));
            }
            start += length;
            slice.Dispose();
        }
        if (start != seqlen)
            throw new InvalidOperationException($"the model's logit slices cover {start} of {seqlen} positions for input [{rows}, {seqlen}]");
        return (sums.cpu().data<double>().ToArray(), finite.cpu().data<bool>().ToArray());
    }
}
