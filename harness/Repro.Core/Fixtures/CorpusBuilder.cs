using System.Text;

namespace Repro.Core.Fixtures;

/// <summary>A cleaned document of one language and split; <see cref="Key"/> is its language-independent name.</summary>
public sealed record BuiltDocument(string Key, string Text)
{
    public int Bytes => Encoding.UTF8.GetByteCount(Text);
}

/// <summary>A paragraph the cleaning left out, for the drop log.</summary>
public sealed record DroppedParagraph(string Language, string Key, DropReason Reason, string Text);

/// <summary>What cleaning did to one language: paragraphs by outcome, documents kept, too short, withheld.</summary>
public sealed class LanguageBuildStats
{
    public Dictionary<DropReason, int> Paragraphs { get; } = Enum.GetValues<DropReason>().ToDictionary(r => r, _ => 0);
    public int DocumentsIn { get; set; }
    public int DocumentsTooShort { get; set; }

    /// <summary>Documents assigned to train but left out because the language is kept out of training.</summary>
    public int DocumentsWithheld { get; set; }

    public long BytesWithheld { get; set; }
    public Dictionary<string, int> DocumentsPerSource { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, long> BytesPerSource { get; } = new(StringComparer.Ordinal);
}

/// <summary>The cleaned, split corpora of all languages, ready to write.</summary>
public sealed class BuiltCorpora
{
    public required IReadOnlyList<FixtureLanguage> Languages { get; init; }

    /// <summary>language code → split → documents in source order.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<BuiltDocument>>> Splits { get; init; }

    public required IReadOnlyDictionary<string, LanguageBuildStats> Stats { get; init; }

    /// <summary>Document key → split, for every document any source gave (before cleaning).</summary>
    public required IReadOnlyDictionary<string, string> SplitOfKey { get; init; }

    public required IReadOnlyList<DroppedParagraph> Dropped { get; init; }

    /// <summary>The split shares used per source.</summary>
    public required IReadOnlyDictionary<string, SplitFractions> Fractions { get; init; }

    public required int MinDocumentBytes { get; init; }
}

/// <summary>
/// Source documents → per-language, per-split corpora: cleans every paragraph (<see cref="ParagraphFilter"/>),
/// removes exact and near-exact duplicate paragraphs within a language (the first occurrence, in source order,
/// stays), joins a document's paragraphs with "\n", drops documents under <see cref="MinDocumentBytes"/>, and
/// puts each document in the split its key is assigned (<see cref="DocumentSplit"/>, per source, over the keys
/// of all languages, so cleaning never moves a document between splits).
/// </summary>
public sealed class CorpusBuilder
{
    /// <summary>
    /// Shortest document kept, in UTF-8 bytes. Calibration windows are cut from documents longer than seqlen
    /// tokens, and with the byte tokenizer of the fixture models a token is a byte.
    /// </summary>
    public int MinDocumentBytes { get; init; } = 500;

    /// <summary>Split shares per source name; a source not listed uses <see cref="DefaultFractions"/>.</summary>
    public IReadOnlyDictionary<string, SplitFractions> Fractions { get; init; } = new Dictionary<string, SplitFractions>();

    public SplitFractions DefaultFractions { get; init; } = new(0.1, 0.1, 0.1);

    /// <param name="documents">Every source document of every language, in the order files should list them.</param>
    /// <param name="englishParagraphs">Paragraphs of the English editions (normalised), the reference for
    ///   untranslated text.</param>
    public BuiltCorpora Build(IReadOnlyList<FixtureLanguage> languages, IReadOnlyList<SourceDocument> documents,
                              IReadOnlySet<string> englishParagraphs)
    {
        var splitOfKey = new Dictionary<string, string>(StringComparer.Ordinal);
        var used = new Dictionary<string, SplitFractions>(StringComparer.Ordinal);
        foreach (var source in documents.Select(d => d.Source).Distinct(StringComparer.Ordinal))
        {
            var fractions = used[source] = Fractions.GetValueOrDefault(source) ?? DefaultFractions;
            foreach (var (key, split) in DocumentSplit.Assign(documents.Where(d => d.Source == source).Select(d => d.Key), fractions))
                splitOfKey[key] = split;
        }

        var splits = new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<BuiltDocument>>>(StringComparer.Ordinal);
        var stats = new Dictionary<string, LanguageBuildStats>(StringComparer.Ordinal);
        var dropped = new List<DroppedParagraph>();
        foreach (var language in languages)
        {
            var filter = new ParagraphFilter(language, englishParagraphs);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var perSplit = DocumentSplit.Names.ToDictionary(s => s, _ => new List<BuiltDocument>(), StringComparer.Ordinal);
            var stat = stats[language.Code] = new LanguageBuildStats();
            foreach (var document in documents.Where(d => d.Language == language.Code))
            {
                stat.DocumentsIn++;
                var kept = new List<string>();
                foreach (var raw in document.Paragraphs)
                {
                    var paragraph = ParagraphFilter.Normalize(raw);
                    if (paragraph.Length == 0) continue;
                    var reason = filter.Check(paragraph);
                    if (reason == DropReason.Kept && !seen.Add(ParagraphFilter.NearDuplicateKey(paragraph))) reason = DropReason.Duplicate;
                    stat.Paragraphs[reason]++;
                    if (reason == DropReason.Kept) kept.Add(paragraph);
                    else dropped.Add(new DroppedParagraph(language.Code, document.Key, reason, paragraph));
                }
                var built = new BuiltDocument(document.Key, string.Join("\n", kept));
                if (built.Bytes < MinDocumentBytes)
                {
                    stat.DocumentsTooShort++;
                    continue;
                }
                var split = splitOfKey[document.Key];
                if (split == DocumentSplit.Train && !language.InTraining)
                {
                    stat.DocumentsWithheld++;
                    stat.BytesWithheld += built.Bytes;
                    continue;
                }
                perSplit[split].Add(built);
                stat.DocumentsPerSource[document.Source] = stat.DocumentsPerSource.GetValueOrDefault(document.Source) + 1;
                stat.BytesPerSource[document.Source] = stat.BytesPerSource.GetValueOrDefault(document.Source) + built.Bytes;
            }
            splits[language.Code] = perSplit
                .Where(p => p.Value.Count > 0)
                .ToDictionary(p => p.Key, p => (IReadOnlyList<BuiltDocument>)p.Value, StringComparer.Ordinal);
        }
        return new BuiltCorpora
        {
            Languages = languages, Splits = splits, Stats = stats, SplitOfKey = splitOfKey, Dropped = dropped, Fractions = used,
            MinDocumentBytes = MinDocumentBytes,
        };
    }
}
