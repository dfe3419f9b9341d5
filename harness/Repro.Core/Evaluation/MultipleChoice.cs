using Repro.Core.Models;
using Repro.Core.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Evaluation;

/// <summary>One multiple-choice question as lm-eval-harness scores it: a context, the choice strings, the gold index.</summary>
/// <param name="Id">Where the item came from (e.g. "deu_Latn/17"), kept in the per-item results.</param>
public sealed record MultipleChoiceItem(string Id, string Context, IReadOnlyList<string> Choices, int Gold)
{
    public void Validate()
    {
        if (Choices.Count < 2) throw new InputException($"item {Id}: {Choices.Count} choice(s); a multiple-choice item needs at least 2");
        if (Gold < 0 || Gold >= Choices.Count) throw new InputException($"item {Id}: gold index {Gold} is outside 0..{Choices.Count - 1}");
    }
}

/// <summary>How items are turned into token sequences.</summary>
/// <param name="MaxLength">
/// Longest sequence the model is given (its <c>max_position_embeddings</c>); a longer context + continuation loses
/// tokens from the left, as the harness does, and the item counts as truncated.
/// </param>
/// <param name="PrefixBos">
/// Put the tokenizer's BOS before every context. Older lm-eval-harness versions encoded contexts without special tokens
/// for causal models (no BOS); later versions and chat templates give Llama-3 its BOS. The result records the choice.
/// With no BOS (or a tokenizer without one) an empty context is prefixed with the harness's prefix token (BOS, else EOS).
/// </param>
/// <param name="TargetDelimiter">Put between context and choice: the harness default, one space.</param>
public sealed record MultipleChoiceOptions(int MaxLength, bool PrefixBos = true, string TargetDelimiter = " ");

/// <summary>The log-likelihood of every choice of one item and what acc and acc_norm pick.</summary>
public sealed record MultipleChoiceScore(string Id, int Gold, double[] LogLikelihoods, int Predicted, int PredictedNorm, bool Truncated)
{
    public bool Correct => Predicted == Gold;
    public bool CorrectNorm => PredictedNorm == Gold;
}

/// <summary>Accuracy over a task's items (fractions in [0, 1]; the harness prints percent) and every item's scores.</summary>
/// <param name="AccuracyStdErr">Standard error of the mean accuracy, as the harness computes it (sample std, ddof 1, over √n).</param>
public sealed record MultipleChoiceResult(string Task, int Items, double Accuracy, double AccuracyStdErr, double AccuracyNorm,
                                          double AccuracyNormStdErr, int Truncated, IReadOnlyList<MultipleChoiceScore> Scores);

/// <summary>
/// Zero-or-few-shot multiple-choice scoring with lm-eval-harness's <c>loglikelihood</c> conventions (EVALUATION §2.1):
/// for each choice the continuation is <c>delimiter + choice</c>; trailing whitespace of the context moves into the
/// continuation; the continuation's tokens are those of <c>tokenize(context + continuation)</c> after the tokens of
/// <c>tokenize(context)</c>; its log-likelihood is the sum of their log-probabilities given everything before.
/// <c>acc</c> takes the arg-max log-likelihood, <c>acc_norm</c> the arg-max of log-likelihood divided by the choice's
/// length in Unicode code points; ties go to the first choice. Log-softmax runs in float32 at least, sums in double.
/// </summary>
public sealed class MultipleChoiceScorer
{
    readonly ILanguageModel model;
    readonly ITextTokenizer tokenizer;
    readonly MultipleChoiceOptions options;

    public MultipleChoiceScorer(ILanguageModel model, ITextTokenizer tokenizer, MultipleChoiceOptions options)
    {
        if (options.MaxLength < 2) throw new InputException($"max length {options.MaxLength}: a sequence needs at least 2 tokens");
        (this.model, this.tokenizer, this.options) = (model, tokenizer, options);
    }

    /// <summary>
    /// Scores every item: its choices as one batch, the tokens they share run once
    /// (<see cref="ILanguageModel.LogitsSharingPrefix"/>); progress reports items done.
    /// </summary>
    public MultipleChoiceResult Score(string task, IReadOnlyList<MultipleChoiceItem> items, IProgress<int>? progress = null,
                                      CancellationToken cancellationToken = default)
    {
        if (items.Count == 0) throw new InputException($"{task}: no items to score");
        foreach (var item in items) item.Validate();
        var scores = new List<MultipleChoiceScore>(items.Count);
        foreach (var item in items)
        {
            cancellationToken.ThrowIfCancellationRequested();
            scores.Add(ScoreItem(item));
            progress?.Report(scores.Count);
        }
        var (acc, accErr) = MeanAndStdErr(scores.Select(s => s.Correct ? 1.0 : 0.0));
        var (norm, normErr) = MeanAndStdErr(scores.Select(s => s.CorrectNorm ? 1.0 : 0.0));
        return new MultipleChoiceResult(task, scores.Count, acc, accErr, norm, normErr, scores.Count(s => s.Truncated), scores);
    }

    /// <summary>
    /// The harness's <c>_encode_pair</c>: context ids, and the continuation ids cut from the encoding of the whole string.
    /// Public so that tests and reports can show exactly which tokens were scored.
    /// </summary>
    public (int[] Context, int[] Continuation) Encode(string context, string continuation)
    {
        var trimmed = context.TrimEnd();
        if (trimmed.Length < context.Length)
        {
            continuation = context[trimmed.Length..] + continuation;
            context = trimmed;
        }
        var whole = tokenizer.Encode(context + continuation, addBos: false).Ids;
        // Cut by count, as the harness does, even where a BPE merge across the boundary makes the whole string's first
        // tokens differ from the context's own: the context keeps its own tokens, the continuation is the rest.
        var contextIds = tokenizer.Encode(context, addBos: false).Ids.ToArray();
        var continuationIds = whole.Skip(contextIds.Length).ToArray();
        if (continuationIds.Length == 0)
            throw new InputException($"the continuation \"{continuation}\" adds no token after the context; nothing can be scored");
        int? prefix = options.PrefixBos ? tokenizer.BosId : null;
        if (prefix is null && contextIds.Length == 0) prefix = tokenizer.BosId ?? tokenizer.EosId
            ?? throw new InputException("an empty context needs a prefix token, and the tokenizer declares neither BOS nor EOS");
        return (prefix is { } p ? [p, .. contextIds] : contextIds, continuationIds);
    }

    MultipleChoiceScore ScoreItem(MultipleChoiceItem item)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var sequences = item.Choices.Select(choice => Encode(item.Context, options.TargetDelimiter + choice)).ToList();
        // As the harness: (context + continuation)[-(max+1):][:-1] is the input; its last |continuation| logits score it.
        var inputs = new List<int[]>();
        var truncated = false;
        foreach (var (context, continuation) in sequences)
        {
            int[] full = [.. context, .. continuation];
            if (full.Length > options.MaxLength + 1)
            {
                truncated = true;
                full = full[^(options.MaxLength + 1)..];
            }
            inputs.Add(full[..^1]);
        }
        var maxId = inputs.SelectMany(i => i).Append(0).Max();
        if (maxId >= model.VocabSize)
            throw new InputException($"item {item.Id}: the tokenizer produced id {maxId} but the model's vocabulary has {model.VocabSize} entries");
        // A continuation longer than the window keeps only its last tokens (the item is marked truncated); input
        // positions start..end−1 predict it.
        var continuations = sequences.Select((s, r) => s.Continuation[^Math.Min(s.Continuation.Length, inputs[r].Length)..]).ToList();
        var starts = inputs.Select((input, r) => input.Length - continuations[r].Length).ToArray();

        // The choices share the context (and often the continuation's first tokens): the model runs that prefix once
        // and each choice's remainder attends to it. Every row keeps at least one token of its own.
        var prefixLength = Math.Min(CommonPrefixLength(inputs), inputs.Min(i => i.Length) - 1);
        var sharedFrom = Math.Min(prefixLength, starts.Min());
        var suffixLength = inputs.Max(i => i.Length) - prefixLength;
        var ids = new long[inputs.Count, suffixLength];
        for (var r = 0; r < inputs.Count; r++)
            for (var t = prefixLength; t < inputs[r].Length; t++) ids[r, t - prefixLength] = inputs[r][t];   // right padding with id 0: causal, never read back
        var suffixes = tensor(ids, device: model.Device);
        var (shared, rows) = prefixLength > 0
            ? model.LogitsSharingPrefix([.. inputs[0][..prefixLength].Select(i => (long)i)], suffixes, sharedFrom)
            : (null, model.Logits(suffixes));

        var logLikelihoods = new double[inputs.Count];
        for (var r = 0; r < inputs.Count; r++)
        {
            var parts = new List<Tensor>(2);
            if (shared is not null && starts[r] < prefixLength) parts.Add(shared.narrow(0, starts[r] - sharedFrom, prefixLength - starts[r]));
            var own = Math.Max(starts[r], prefixLength);
            if (own < inputs[r].Length) parts.Add(rows[r].narrow(0, own - prefixLength, inputs[r].Length - own));
            var positions = cat(parts, 0);
            var dtype = positions.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
            var targets = tensor(continuations[r].Select(c => (long)c).ToArray(), device: positions.device).unsqueeze(1);
            logLikelihoods[r] = positions.to(dtype).log_softmax(-1).gather(1, targets).to(ScalarType.Float64).sum().item<double>();
        }
        if (logLikelihoods.Any(double.IsNaN))
            throw new InvalidDataException($"item {item.Id}: the model's logits hold NaN; check the model (dtype overflow, or a corrupt checkpoint)");
        var lengths = item.Choices.Select(c => (double)Math.Max(1, c.EnumerateRunes().Count())).ToArray();
        var predicted = ArgMax(logLikelihoods);
        var predictedNorm = ArgMax(logLikelihoods.Select((l, k) => l / lengths[k]).ToArray());
        return new MultipleChoiceScore(item.Id, item.Gold, logLikelihoods, predicted, predictedNorm, truncated);
    }

    static int CommonPrefixLength(IReadOnlyList<int[]> rows)
    {
        var length = 0;
        while (rows.All(r => length < r.Length && r[length] == rows[0][length])) length++;
        return length;
    }

    /// <summary>First index of the largest value (numpy's argmax, which the harness uses).</summary>
    static int ArgMax(IReadOnlyList<double> values)
    {
        var best = 0;
        for (var k = 1; k < values.Count; k++)
            if (values[k] > values[best]) best = k;
        return best;
    }

    static (double Mean, double StdErr) MeanAndStdErr(IEnumerable<double> values)
    {
        var list = values.ToList();
        var mean = list.Average();
        if (list.Count < 2) return (mean, double.NaN);
        var variance = list.Sum(v => (v - mean) * (v - mean)) / (list.Count - 1);
        return (mean, Math.Sqrt(variance / list.Count));
    }
}
