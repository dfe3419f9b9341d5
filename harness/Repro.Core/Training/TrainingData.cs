using Repro.Core.Corpora;
using Repro.Core.Tokenizers;

namespace Repro.Core.Training;

/// <summary>What training.json records about one corpus file: enough to tell whether a later corpus is the same text.</summary>
public sealed record CorpusFingerprint(string Language, string Split, string File, int Documents, long Utf8Bytes, string ContentSha256)
{
    public static CorpusFingerprint Of(Corpus corpus, string split) => new(
        corpus.Language, split, Path.GetFileName(corpus.SourcePath), corpus.Documents.Count,
        corpus.Documents.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d)), corpus.ContentSha256());
}

/// <summary>
/// The corpus folder a model trains on: the training split of every language except the excluded ones, as token
/// streams, and the validation split of every language (excluded ones included: they show what the model never saw).
/// </summary>
public sealed class TrainingData
{
    public const string TrainSplit = "train";
    public const string ValidationSplit = "validation";

    TrainingData(string folder, IReadOnlyList<LanguageStream> streams, IReadOnlyList<string> excluded,
                 IReadOnlyDictionary<string, Corpus> validation, IReadOnlyList<CorpusFingerprint> fingerprints)
    {
        Folder = folder;
        Streams = streams;
        ExcludedLanguages = excluded;
        Validation = validation;
        Fingerprints = fingerprints;
    }

    public string Folder { get; }
    public IReadOnlyList<LanguageStream> Streams { get; }
    public IReadOnlyList<string> TrainedLanguages => [.. Streams.Select(s => s.Language)];
    /// <summary>Languages of the folder left out of training (the excluded list may name languages the folder lacks).</summary>
    public IReadOnlyList<string> ExcludedLanguages { get; }
    /// <summary>Validation corpus of every language in the folder, trained or not, by language.</summary>
    public IReadOnlyDictionary<string, Corpus> Validation { get; }
    public IReadOnlyList<CorpusFingerprint> Fingerprints { get; }

    /// <summary>
    /// Reads <c>DIR/{lang}/train</c> and <c>DIR/{lang}/validation</c> for every language of <paramref name="folder"/>.
    /// A language whose train split is missing is an error (exclude it instead), as is a folder with no language left.
    /// </summary>
    public static TrainingData Load(string folder, IReadOnlyCollection<string> excludedLanguages, ITextTokenizer tokenizer)
    {
        var corpora = CorpusDirectory.Open(folder);
        if (corpora.Languages.Count == 0)
            throw new CorpusFormatException(folder, "the folder holds no corpus: expected DIR/{lang}/train.jsonl.gz and DIR/{lang}/validation.jsonl.gz");
        var excluded = new HashSet<string>(excludedLanguages, StringComparer.Ordinal);
        var trained = corpora.Languages.Where(l => !excluded.Contains(l)).ToList();
        if (trained.Count == 0)
            throw new CorpusFormatException(folder,
                $"every language of the folder ({string.Join(", ", corpora.Languages)}) is excluded from training; nothing is left to train on");

        var streams = new List<LanguageStream>();
        var fingerprints = new List<CorpusFingerprint>();
        var validation = new SortedDictionary<string, Corpus>(StringComparer.Ordinal);
        foreach (var language in corpora.Languages)
        {
            if (!excluded.Contains(language))
            {
                var train = Load(corpora, language, TrainSplit);
                if (train.Documents.All(d => d.Length == 0))
                    throw new CorpusFormatException(train.SourcePath, $"language '{language}' has no training text; exclude it or fill its train split");
                fingerprints.Add(CorpusFingerprint.Of(train, TrainSplit));
                streams.Add(LanguageStream.From(train, tokenizer));
            }
            var held = Load(corpora, language, ValidationSplit);
            fingerprints.Add(CorpusFingerprint.Of(held, ValidationSplit));
            validation[language] = held;
        }
        return new TrainingData(folder, streams, [.. corpora.Languages.Where(excluded.Contains)], validation, fingerprints);
    }

    static Corpus Load(CorpusDirectory corpora, string language, string split)
    {
        try
        {
            return corpora.Load(language, split);
        }
        catch (KeyNotFoundException e)
        {
            throw new CorpusFormatException(Path.Combine(corpora.Root, language), e.Message);
        }
    }

    /// <summary>True when a language's train and validation text come from the same file (an unsplit corpus): validation then measures memorisation.</summary>
    public IReadOnlyList<string> LanguagesValidatedOnTrainingText() =>
        [.. Streams.Where(s => Validation.TryGetValue(s.Language, out var v) && Path.GetFullPath(v.SourcePath) == Path.GetFullPath(s.SourcePath))
                   .Select(s => s.Language)];
}
