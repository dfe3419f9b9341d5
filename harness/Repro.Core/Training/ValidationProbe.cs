using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Tokenizers;

namespace Repro.Core.Training;

/// <summary>
/// The leading validation windows of each trained language, evaluated exactly as <c>eval ppl</c> evaluates
/// (<see cref="WindowedPerplexity"/>, BOS at the start of the stream), for the loss curve and the final loss.
/// </summary>
public sealed class ValidationProbe
{
    readonly IReadOnlyList<LanguageCorpusText> texts;
    readonly ITextTokenizer tokenizer;
    readonly PerplexityOptions options;

    ValidationProbe(IReadOnlyList<LanguageCorpusText> texts, ITextTokenizer tokenizer, PerplexityOptions options)
    {
        this.texts = texts;
        this.tokenizer = tokenizer;
        this.options = options;
    }

    public IReadOnlyList<LanguageCorpusText> Texts => texts;
    public PerplexityOptions Options => options;

    /// <summary>Cuts the texts once; a language whose validation text is shorter than one window is an error naming its file.</summary>
    public static ValidationProbe Create(IEnumerable<Corpus> corpora, ITextTokenizer tokenizer, int seqlen, int windows, int batchSize = 8)
    {
        var options = new PerplexityOptions(seqlen, NSamples: windows, BosPolicy: BosPolicy.StreamOnly, BatchSize: batchSize);
        var texts = corpora.Select(c => Cut(c, tokenizer, options, windows)).ToList();
        return new ValidationProbe(texts, tokenizer, options);
    }

    static LanguageCorpusText Cut(Corpus corpus, ITextTokenizer tokenizer, PerplexityOptions options, int windows)
    {
        var text = LanguageCorpusText.Leading(corpus, tokenizer, options, windows);
        return text.AvailableWindows >= 1 ? text
            : throw new CorpusFormatException(corpus.SourcePath,
                $"the validation text of '{corpus.Language}' has {text.Tokens} tokens, fewer than one window of {options.Seqlen}; " +
                "give it more documents or train with a shorter seqlen");
    }

    /// <summary>Per-language results on the probe's windows.</summary>
    public IReadOnlyList<PerplexityResult> Evaluate(ILanguageModel model)
    {
        var evaluator = new WindowedPerplexity(model, tokenizer, options);
        return [.. texts.Select(t => evaluator.Evaluate(t))];
    }

    /// <summary>Pooled mean negative log-likelihood (nats per scored token) over all languages of the probe.</summary>
    public double Loss(ILanguageModel model) => PooledLoss(Evaluate(model));

    public static double PooledLoss(IEnumerable<PerplexityResult> results)
    {
        double nll = 0;
        long count = 0;
        foreach (var r in results)
        {
            nll += r.SumNllNats;
            count += r.ScoredTokens;
        }
        return count == 0 ? double.NaN : nll / count;
    }
}
