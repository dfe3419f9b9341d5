using System.Text;
using System.Text.Json;

namespace Repro.Core.Corpora;

/// <summary>
/// Reads one corpus file into documents. Formats, chosen by extension:
/// <list type="bullet">
/// <item><c>.jsonl</c>, <c>.jsonl.gz</c>, <c>.json.gz</c>: one JSON object per line with a string <c>"text"</c>
///   (mC4/C4 style; <c>.json.gz</c> is how the C4 shards are named); other fields are ignored, blank lines skipped;</item>
/// <item><c>.txt</c>, <c>.txt.gz</c>: documents separated by one or more blank lines, lines of a document joined with "\n";</item>
/// <item><c>.parquet</c>: one document per row of the top-level <c>"text"</c> column (<see cref="ParquetCorpus"/>).</item>
/// </list>
/// Bytes must be valid UTF-8: a corpus is untrusted input, and a silently replaced character would change
/// both the text hash and the perplexity.
/// </summary>
public static class CorpusReader
{
    public static IReadOnlyList<string> Extensions { get; } = [".jsonl.gz", ".json.gz", ".jsonl", ".txt.gz", ".txt", ".parquet"];

    /// <summary>Whether <paramref name="path"/> has a corpus extension.</summary>
    public static bool IsCorpusFile(string path) => ExtensionOf(path) is not null;

    /// <summary>
    /// Reads <paramref name="path"/> whole. Without <paramref name="language"/>, the language is the file name without
    /// extension (<c>ar.jsonl.gz</c> → ar), or the folder name for a split file (<c>ar/validation.jsonl.gz</c> → ar).
    /// </summary>
    public static Corpus Read(string path, string? language = null) => Open(path, language).ReadAll();

    /// <summary>
    /// The documents of <paramref name="path"/> as a stream read from the file on each enumeration, one line (or, for
    /// Parquet, one row group) at a time. The format, the file's existence and the language are checked here; the bytes
    /// when the stream reads them, with the same errors as <see cref="Read"/>, a truncated gzip file's at the end.
    /// </summary>
    public static CorpusStream Open(string path, string? language = null)
    {
        var extension = ExtensionOf(path)
            ?? throw new CorpusFormatException(path, $"unknown corpus format; use one of {string.Join(", ", Extensions)}");
        if (!File.Exists(path)) throw new CorpusFormatException(path, "the corpus file does not exist");
        language ??= LanguageOf(path, extension);
        var documents = extension == ".parquet" ? ParquetCorpus.Documents(path) : Documents(path, extension.StartsWith(".txt", StringComparison.Ordinal));
        return new CorpusStream(language, documents, path);
    }

    static IEnumerable<string> Documents(string path, bool plainText)
    {
        using var stream = GzipFile.OpenMaybe(path);
        var lines = GzipChecked(Utf8Lines.Read(stream, path), path);
        foreach (var document in plainText ? ReadText(lines) : ReadJsonLines(lines, path)) yield return document;
    }

    /// <summary>The lines, with a damaged or cut gzip stream (found while reading, or at the end) an error naming the file.</summary>
    static IEnumerable<(int Number, string Text)> GzipChecked(IEnumerable<(int Number, string Text)> lines, string path)
    {
        using var e = lines.GetEnumerator();
        while (true)
        {
            bool more;
            try
            {
                more = e.MoveNext();
            }
            catch (InvalidDataException x)
            {
                throw new CorpusFormatException(path, $"truncated or corrupt gzip file ({x.Message}); download or export it again");
            }
            if (!more) yield break;
            yield return e.Current;
        }
    }

    static IEnumerable<string> ReadJsonLines(IEnumerable<(int Number, string Text)> lines, string path)
    {
        foreach (var (lineNumber, line) in lines)
            if (!string.IsNullOrWhiteSpace(line)) yield return JsonLineText(line, lineNumber, path);
    }

    static string JsonLineText(string line, int lineNumber, string path)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw new CorpusFormatException(path, $"line {lineNumber}: expected a JSON object with a \"text\" string, found a {json.RootElement.ValueKind}");
            if (!json.RootElement.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw new CorpusFormatException(path, $"line {lineNumber}: the object has no \"text\" string " +
                    $"(fields: {string.Join(", ", json.RootElement.EnumerateObject().Select(p => p.Name))}); each line must look like {{\"text\": \"...\"}}");
            return JsonStrings.TryGetString(text, out var bad)
                ?? throw new CorpusFormatException(path, $"line {lineNumber}: the \"text\" string is not valid Unicode text ({bad})");
        }
        catch (JsonException e)
        {
            throw new CorpusFormatException(path, $"line {lineNumber}: not valid JSON ({e.Message}); each line must be one JSON object like {{\"text\": \"...\"}}");
        }
    }

    static IEnumerable<string> ReadText(IEnumerable<(int Number, string Text)> lines)
    {
        var current = new StringBuilder();
        foreach (var (_, line) in lines)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                if (current.Length > 0) yield return current.ToString();
                current.Clear();
                continue;
            }
            if (current.Length > 0) current.Append('\n');
            current.Append(line);
        }
        if (current.Length > 0) yield return current.ToString();
    }

    internal static string? ExtensionOf(string path)
    {
        var name = Path.GetFileName(path);
        return Extensions.FirstOrDefault(e => name.Length > e.Length && name.EndsWith(e, StringComparison.OrdinalIgnoreCase));
    }

    static string LanguageOf(string path, string extension)
    {
        var stem = Path.GetFileName(path)[..^extension.Length];
        return CorpusDirectory.IsSplitName(stem) && Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path))) is { Length: > 0 } folder
            ? folder
            : stem;
    }
}
