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
    public static LanguageCorpusText Leading(Corpus corpus, ITextTokenizer tokenizer, PerplexityOptions options, int windows) =>
        Leading(corpus.AsStream(), tokenizer, options, windows);

    /// <summary>
    /// The same from a stream: only the leading documents the text needs are read, so a large split's text never sits
    /// in memory when a few windows are asked for. A split too short for the windows is read to its end (where a
    /// truncated gzip file is an error); one that holds them is not, and the text's hash says which text was used.
    /// </summary>
    public static LanguageCorpusText Leading(CorpusStream corpus, ITextTokenizer tokenizer, PerplexityOptions options, int windows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windows, 1);
        var needed = options.TokensNeeded(windows);
        var addBos = options.BosPolicy == BosPolicy.StreamOnly;
        var separatorTokens = tokenizer.Encode(DocumentSeparator, addBos: false).Count;
        using var documents = corpus.Documents.GetEnumerator();
        var docs = new List<string>();
        var exhausted = false;

        long shortBy = needed;
        while (true)
        {
            // Add documents until their separate counts cover what is missing, then measure the joined text.
            long added = 0;
            while (!exhausted && added < shortBy)
            {
                if (!documents.MoveNext())
                {
                    exhausted = true;
                    break;
                }
                var count = tokenizer.Encode(documents.Current, addBos: false).Count + (docs.Count > 0 ? separatorTokens : 0);
                docs.Add(documents.Current);
                added += count;
            }
            var text = string.Join(DocumentSeparator, docs);
            var tokens = tokenizer.Encode(text, addBos).Count;
            if (tokens >= needed || exhausted)
                return new LanguageCorpusText(corpus.Language, text, docs.Count, tokens, tokens / options.TextTokensPerWindow,
                                              corpus.SourcePath, Corpus.HashText(text));
            shortBy = Math.Max(1, needed - tokens);
        }
    }
}
