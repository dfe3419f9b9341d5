using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Tokenizers;

namespace Repro.Core.Training;

/// <summary>
/// One language's training text as one token stream: its documents in file order joined with
/// <see cref="LanguageCorpusText.DocumentSeparator"/>, without BOS, exactly the text the evaluation reads
/// (which adds BOS in front of the stream only). <see cref="DocumentStarts"/> marks where each document begins.
/// </summary>
public sealed class LanguageStream
{
    LanguageStream(string language, int[] tokens, int[] documentStarts, string sourcePath)
    {
        Language = language;
        Tokens = tokens;
        DocumentStarts = documentStarts;
        SourcePath = sourcePath;
    }

    public string Language { get; }
    public IReadOnlyList<int> Tokens { get; }
    /// <summary>Token offsets of document starts, ascending; the first is 0.</summary>
    public IReadOnlyList<int> DocumentStarts { get; }
    public string SourcePath { get; }
    public int Count => Tokens.Count;

    /// <summary>
    /// Tokenizes document by document (the separator between them), so document starts are exact;
    /// for the byte tokenizer this is the same stream as tokenizing the joined text.
    /// </summary>
    public static LanguageStream From(Corpus corpus, ITextTokenizer tokenizer)
    {
        var separator = tokenizer.Encode(LanguageCorpusText.DocumentSeparator, addBos: false).Ids;
        var tokens = new List<int>();
        var starts = new List<int>();
        foreach (var document in corpus.Documents)
        {
            if (document.Length == 0) continue;
            if (tokens.Count > 0) tokens.AddRange(separator);
            starts.Add(tokens.Count);
            tokens.AddRange(tokenizer.Encode(document, addBos: false).Ids);
        }
        return new LanguageStream(corpus.Language, [.. tokens], [.. starts], corpus.SourcePath);
    }
}
