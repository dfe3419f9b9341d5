namespace Repro.Core.Corpora;

/// <summary>
/// A folder of per-language corpora. Two layouts, which may be mixed across languages:
/// <code>
/// DIR/{lang}/{split}.jsonl.gz    split files: train, calibration, validation, test, ... (any name)
/// DIR/{lang}.jsonl.gz            one unsplit file per language
/// </code>
/// Any extension of <see cref="CorpusReader.Extensions"/> may stand for <c>.jsonl.gz</c>. An unsplit file has no
/// splits: every split of that language reads it, which suits a folder that holds one split only (a
/// <c>validation/</c> folder of fixtures) and is wrong when calibration and evaluation text must differ —
/// use the split layout there. Names starting with '.' are ignored.
/// </summary>
public sealed class CorpusDirectory
{
    /// <summary>Split names the reader recognises when it infers a language from a path.</summary>
    public static IReadOnlyList<string> KnownSplits { get; } = ["train", "calibration", "validation", "valid", "dev", "test"];

    readonly Dictionary<string, Dictionary<string, string>> splitFiles;   // lang → split → file
    readonly Dictionary<string, string> unsplitFiles;                     // lang → file

    CorpusDirectory(string root, Dictionary<string, Dictionary<string, string>> splitFiles, Dictionary<string, string> unsplitFiles)
    {
        Root = root;
        this.splitFiles = splitFiles;
        this.unsplitFiles = unsplitFiles;
    }

    public string Root { get; }

    /// <summary>Language codes with a corpus, sorted ordinally.</summary>
    public IReadOnlyList<string> Languages =>
        [.. splitFiles.Keys.Concat(unsplitFiles.Keys).Distinct().Order(StringComparer.Ordinal)];

    internal static bool IsSplitName(string name) => KnownSplits.Contains(name, StringComparer.OrdinalIgnoreCase);

    public static CorpusDirectory Open(string directory)
    {
        if (!Directory.Exists(directory))
            throw new CorpusFormatException(directory, "the corpus folder does not exist; check the path");
        var splitFiles = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        var unsplitFiles = new Dictionary<string, string>(StringComparer.Ordinal);

        foreach (var file in Directory.EnumerateFiles(directory).Where(Visible))
        {
            if (CorpusReader.ExtensionOf(file) is not { } extension) continue;
            var language = Path.GetFileName(file)[..^extension.Length];
            if (!unsplitFiles.TryAdd(language, file))
                throw Ambiguous(directory, $"language '{language}'", unsplitFiles[language], file);
        }
        foreach (var folder in Directory.EnumerateDirectories(directory).Where(Visible))
        {
            var language = Path.GetFileName(folder);
            var splits = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(folder).Where(Visible))
            {
                if (CorpusReader.ExtensionOf(file) is not { } extension) continue;
                var split = Path.GetFileName(file)[..^extension.Length];
                if (!splits.TryAdd(split, file))
                    throw Ambiguous(directory, $"language '{language}', split '{split}'", splits[split], file);
            }
            if (splits.Count == 0) continue;
            if (unsplitFiles.TryGetValue(language, out var flat))
                throw new CorpusFormatException(directory,
                    $"language '{language}' has both an unsplit file ({Path.GetFileName(flat)}) and a folder of splits; keep one of them");
            splitFiles[language] = splits;
        }
        return new CorpusDirectory(directory, splitFiles, unsplitFiles);
    }

    /// <summary>Split names available for <paramref name="language"/>; empty for an unsplit file.</summary>
    public IReadOnlyList<string> Splits(string language)
    {
        Check(language);
        return splitFiles.TryGetValue(language, out var splits) ? [.. splits.Keys.Order(StringComparer.Ordinal)] : [];
    }

    /// <summary>The file that <see cref="Load"/> and <see cref="Stream"/> read.</summary>
    public string PathOf(string language, string split)
    {
        Check(language);
        if (unsplitFiles.TryGetValue(language, out var flat)) return flat;
        var splits = splitFiles[language];
        return splits.TryGetValue(split, out var file)
            ? file
            : throw new CorpusFormatException(Path.Combine(Root, language),
                $"no '{split}' split for language '{language}'; available: {string.Join(", ", splits.Keys.Order(StringComparer.Ordinal))}");
    }

    /// <summary>Every document of the split in memory.</summary>
    public Corpus Load(string language, string split) => CorpusReader.Read(PathOf(language, split), language);

    /// <summary>The split as a stream of documents read from its file (<see cref="CorpusReader.Open"/>); the language and split are checked now.</summary>
    public CorpusStream Stream(string language, string split) => CorpusReader.Open(PathOf(language, split), language);

    void Check(string language)
    {
        if (!splitFiles.ContainsKey(language) && !unsplitFiles.ContainsKey(language))
            throw new CorpusFormatException(Root,
                $"no corpus for language '{language}'; available: {(Languages.Count == 0 ? "none (the folder holds no corpus files)" : string.Join(", ", Languages))}");
    }

    static bool Visible(string path) => !Path.GetFileName(path).StartsWith('.');

    static CorpusFormatException Ambiguous(string directory, string what, string a, string b) =>
        new(directory, $"{what} has two files, {Path.GetFileName(a)} and {Path.GetFileName(b)}; keep one of them");
}
