using Repro.Core.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Evaluation;

/// <summary>
/// The exact text one language is evaluated on: the leading documents of a corpus (Repro's default is the
/// validation split, EVALUATION §1.2) joined with <see cref="DocumentSeparator"/>, as few as give the windows
/// asked for. Taking leading documents rather than a sample keeps the text identical across every row of a
/// matrix and across runs, and its hash proves it.
/// </summary>
/// <param name="Documents">How many leading documents the text joins.</param>
/// <param name="Tokens">Tokens of the text under the policy it was cut for (BOS included under StreamOnly).</param>
/// <param name="AvailableWindows">Windows the text holds; fewer than asked when the corpus ran out.</param>
public sealed record LanguageCorpusText(string Language, string Text, int Documents, int Tokens, int AvailableWindows,
                                        string SourcePath, string TextSha256)
{
    /// <summary>wanda and LLM-Pruner join WikiText-2 with "\n\n"; Repro joins mC4 documents the same way.</summary>
    public const string DocumentSeparator = "\n\n";

    /// <summary>
    /// The fewest leading documents of <paramref name="corpus"/> whose joined text gives at least
    /// <paramref name="windows"/> windows under <paramref name="options"/>; all documents if the corpus is smaller.
    /// Counts come from tokenizing the joined text itself, because BPE can merge across a document boundary.
    /// </summary>
    public static LanguageCorpusText Leading(Corpus corpus, ITextTokenizer tokenizer, PerplexityOptions options, int windows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windows, 1);
        var needed = options.TokensNeeded(windows);
        var addBos = options.BosPolicy == BosPolicy.StreamOnly;
        var separatorTokens = tokenizer.Encode(DocumentSeparator, addBos: false).Count;
        var docs = corpus.Documents;

        var taken = 0;
        long shortBy = needed;
        while (true)
        {
            // Add documents until their separate counts cover what is missing, then measure the joined text.
            long added = 0;
            while (taken < docs.Count && added < shortBy)
            {
                var count = tokenizer.Encode(docs[taken], addBos: false).Count + (taken > 0 ? separatorTokens : 0);
                added += count;
                taken++;
            }
            var text = string.Join(DocumentSeparator, docs.Take(taken));
            var tokens = tokenizer.Encode(text, addBos).Count;
            if (tokens >= needed || taken == docs.Count)
                return new LanguageCorpusText(corpus.Language, text, taken, tokens, tokens / options.TextTokensPerWindow,
                                              corpus.SourcePath, Corpus.HashText(text));
            shortBy = Math.Max(1, needed - tokens);
        }
    }
}
