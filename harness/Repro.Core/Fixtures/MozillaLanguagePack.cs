using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Repro.Core.Corpora;

namespace Repro.Core.Fixtures;

/// <summary>
/// Text from a Mozilla language pack as Debian ships it (<c>firefox-esr-l10n-he</c>, <c>thunderbird-l10n-he</c>): a
/// .deb holding one <c>.xpi</c> (a zip) of localisation files. It is where Repro's Hebrew comes from beyond the UDHR:
/// the translated user interface, help texts, error pages and dialogs, many of them full sentences in modern
/// Hebrew, written by Mozilla's Hebrew localisers (MPL-2.0).
///
/// <para>Three formats are read: Fluent (<c>.ftl</c>: messages, their attributes, multi-line values),
/// <c>.properties</c> and <c>.dtd</c> entities. A string becomes a paragraph only when it is plain text once
/// resolved: references to Fluent terms with a plain value (<c>{ -brand-short-name }</c> → "Firefox") and string
/// literals are replaced, markup tags are removed and entities decoded; a string with a variable (<c>{ $name }</c>,
/// <c>%S</c>, <c>%1$S</c>, <c>#1</c>), a select expression, a message reference or an unresolved entity is left out
/// rather than printed with a hole. Keyboard shortcuts and styles (<c>.accesskey</c>, <c>.key</c>, <c>.style</c>)
/// are not text. Directional marks are removed.</para>
///
/// <para>A document is one localisation file, named by its path in the .xpi; the files of one folder whose strings
/// add up to fewer than <c>poolBelowBytes</c> are pooled into one document (<c>{folder}/*</c>), since the corpus
/// builder drops short documents and calibration windows need long ones. The strings are not parallel to other
/// languages' documents (only the Hebrew packs are read), so the split only has to keep each file in one place.</para>
/// </summary>
public static partial class MozillaLanguagePack
{
    public const string FirefoxSource = "firefox-esr-l10n-he";
    public const string ThunderbirdSource = "thunderbird-l10n-he";

    /// <summary>The language pack inside a Debian l10n package: its one <c>*.xpi</c>.</summary>
    public static bool IsLanguagePack(string path) =>
        path.StartsWith("usr/lib/", StringComparison.Ordinal) && path.EndsWith(".xpi", StringComparison.Ordinal);

    /// <summary>The localisation files (.ftl, .properties, .dtd) of a language pack, path → text, ordinal order.</summary>
    public static SortedDictionary<string, string> ReadXpi(byte[] xpi, string pathForErrors)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var zip = new ZipArchive(new MemoryStream(xpi), ZipArchiveMode.Read);
            foreach (var entry in zip.Entries)
            {
                if (!IsLocalisationFile(entry.FullName)) continue;
                using var stream = entry.Open();
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                files[entry.FullName] = SourcePackages.Utf8(copy.ToArray(), $"{pathForErrors}:{entry.FullName}");
            }
        }
        catch (InvalidDataException e)
        {
            throw new CorpusFormatException(pathForErrors, $"the language pack is not a readable zip archive ({e.Message})");
        }
        if (files.Count == 0)
            throw new CorpusFormatException(pathForErrors, "no .ftl, .properties or .dtd files in the language pack; is this a Mozilla language pack?");
        return files;
    }

    static bool IsLocalisationFile(string path) =>
        path.EndsWith(".ftl", StringComparison.Ordinal) || path.EndsWith(".properties", StringComparison.Ordinal)
        || path.EndsWith(".dtd", StringComparison.Ordinal);

    /// <summary>
    /// Documents of one package's language pack. <paramref name="packageFiles"/> are the .deb's files as
    /// <see cref="SourcePackages.ReadDeb"/> returns them (only the .xpi is used).
    /// </summary>
    public static List<SourceDocument> Extract(IReadOnlyDictionary<string, byte[]> packageFiles, string source, string language,
                                               string archive, int poolBelowBytes)
    {
        var packs = packageFiles.Where(f => IsLanguagePack(f.Key)).ToList();
        if (packs.Count != 1)
            throw new CorpusFormatException(archive, $"expected one language pack (usr/lib/**/*.xpi), found {packs.Count}; is this a Mozilla l10n package?");
        var files = ReadXpi(packs[0].Value, $"{archive}:{packs[0].Key}");
        var terms = Terms(files.Where(f => f.Key.EndsWith(".ftl", StringComparison.Ordinal)).Select(f => f.Value));

        var documents = new List<SourceDocument>();
        var pools = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (path, text) in files)
        {
            var strings = Strings(path, text, terms);
            if (strings.Count == 0) continue;
            if (strings.Sum(s => Encoding.UTF8.GetByteCount(s)) >= poolBelowBytes)
                documents.Add(new SourceDocument(source, path, language, strings));
            else
            {
                var folder = path.Contains('/') ? path[..path.LastIndexOf('/')] : "";
                if (!pools.TryGetValue(folder, out var pooled)) pools[folder] = pooled = [];
                pooled.AddRange(strings);
            }
        }
        documents.AddRange(pools.Select(p => new SourceDocument(source, $"{p.Key}/*", language, p.Value)));
        documents.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return documents;
    }

    /// <summary>The plain-text strings of one localisation file, in file order (see the class summary for what is left out).</summary>
    public static List<string> Strings(string path, string text, IReadOnlyDictionary<string, string> terms)
    {
        IEnumerable<string?> raw = Path.GetExtension(path) switch
        {
            ".ftl" => FluentValues(text).Select(v => ResolveFluent(v, terms)),
            ".properties" => PropertiesValues(text).Select(PlainProperty),
            ".dtd" => DtdValues(text).Select(PlainMarkup),
            _ => [],
        };
        return [.. raw.OfType<string>().Select(Tidy).Where(s => s.Length > 0)];
    }

    /// <summary>Fluent terms with a plain value (<c>-brand-short-name = Firefox</c>), from every .ftl file of the pack.</summary>
    public static Dictionary<string, string> Terms(IEnumerable<string> fluentFiles)
    {
        var terms = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var text in fluentFiles)
            foreach (var entry in FluentEntries(text))
                if (entry.Id.StartsWith('-') && entry.Attribute is null && !entry.Value.Contains('{') && entry.Value.Length > 0)
                    terms.TryAdd(entry.Id, entry.Value);
        return terms;
    }

    sealed record FluentEntry(string Id, string? Attribute, string Value);

    static readonly HashSet<string> NotText = new(StringComparer.Ordinal) { "accesskey", "key", "commandkey", "style", "width", "height" };

    /// <summary>Message values and text attributes of a Fluent file (terms are definitions, not text).</summary>
    static IEnumerable<string> FluentValues(string text) =>
        FluentEntries(text).Where(e => !e.Id.StartsWith('-') && (e.Attribute is null || !NotText.Contains(e.Attribute))).Select(e => e.Value);

    /// <summary>
    /// Fluent entries: <c>id = value</c> at the start of a line, indented <c>.attribute = value</c> lines, and
    /// indented continuation lines joined to the value before them with a space. Comments and blank lines end a value.
    /// </summary>
    static List<FluentEntry> FluentEntries(string text)
    {
        var entries = new List<FluentEntry>();
        string? id = null, attribute = null;
        StringBuilder? value = null;
        void Flush()
        {
            if (id is not null && value is not null) entries.Add(new FluentEntry(id, attribute, value.ToString().Trim()));
            value = null;
            attribute = null;
        }
        foreach (var line in text.Split('\n'))
        {
            var l = line.TrimEnd('\r');
            if (l.Length == 0 || l.StartsWith('#'))
            {
                Flush();
                if (l.Length > 0) id = null;
                continue;
            }
            if (FluentMessage().Match(l) is { Success: true } m)
            {
                Flush();
                id = m.Groups[1].Value;
                value = new StringBuilder(m.Groups[2].Value);
            }
            else if (id is not null && FluentAttribute().Match(l) is { Success: true } a)
            {
                Flush();
                attribute = a.Groups[1].Value;
                value = new StringBuilder(a.Groups[2].Value);
            }
            else if (value is not null && char.IsWhiteSpace(l[0]))
            {
                if (value.Length > 0) value.Append(' ');
                value.Append(l.Trim());
            }
        }
        Flush();
        return entries;
    }

    /// <summary>A Fluent value with its placeables resolved, or null when one cannot be (a variable, a select expression, a message reference).</summary>
    static string? ResolveFluent(string value, IReadOnlyDictionary<string, string> terms)
    {
        if (value.Contains("->", StringComparison.Ordinal)) return null;
        // String literals first (they may hold braces), kept aside as private-use characters until the end.
        var withLiterals = FluentLiteral().Replace(value, m => m.Groups[1].Value.Replace('{', LiteralOpen).Replace('}', LiteralClose));
        var unresolved = false;
        var resolved = FluentPlaceable().Replace(withLiterals, m =>
        {
            var inner = m.Groups[1].Value.Trim();
            var name = inner.Split('(', '.')[0].Trim();
            if (name.StartsWith('-') && terms.TryGetValue(name, out var term)) return term;
            unresolved = true;
            return "";
        });
        return unresolved || resolved.Contains('{') || resolved.Contains('}')
            ? null
            : PlainMarkup(resolved.Replace(LiteralOpen, '{').Replace(LiteralClose, '}'));
    }

    /// <summary>
    /// <c>key = value</c> lines of a .properties file, continuation lines (a trailing backslash) joined, escapes
    /// (<c>\n</c>, <c>\t</c>, <c>\uXXXX</c>, <c>\\</c>) decoded.
    /// </summary>
    static IEnumerable<string> PropertiesValues(string text)
    {
        var logical = new StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            var l = line.TrimEnd('\r');
            if (logical.Length == 0 && (l.TrimStart().StartsWith('#') || l.TrimStart().StartsWith('!'))) continue;
            var trailing = l.Length - l.TrimEnd('\\').Length;
            if (trailing % 2 == 1)
            {
                logical.Append(logical.Length == 0 ? l[..^1] : l[..^1].TrimStart());
                continue;
            }
            logical.Append(logical.Length == 0 ? l : l.TrimStart());
            var full = logical.ToString();
            logical.Clear();
            var equals = full.IndexOf('=');
            if (equals <= 0 || full[..equals].Trim().Length == 0) continue;
            yield return Unescape(full[(equals + 1)..].Trim());
        }
    }

    static string Unescape(string value)
    {
        var s = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\' || i + 1 == value.Length) { s.Append(value[i]); continue; }
            var c = value[++i];
            if (c == 'u' && i + 4 < value.Length
                && int.TryParse(value.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
            {
                s.Append((char)code);
                i += 4;
            }
            else s.Append(c switch { 'n' => ' ', 't' => ' ', 'r' => ' ', _ => c });
        }
        return s.ToString();
    }

    /// <summary>A .properties value as text, or null when it has a placeholder (<c>%S</c>, <c>%1$S</c>, <c>%d</c>, <c>#1</c>, <c>$NAME$</c>).</summary>
    static string? PlainProperty(string value) =>
        PropertiesPlaceholder().IsMatch(value) ? null : PlainMarkup(value.Replace("%%", "%", StringComparison.Ordinal));

    /// <summary>Entity values of a .dtd file (<c>&lt;!ENTITY name "value"&gt;</c>, either quote).</summary>
    static IEnumerable<string> DtdValues(string text) =>
        DtdEntity().Matches(text).Select(m => m.Groups[2].Success ? m.Groups[2].Value : m.Groups[3].Value);

    /// <summary>Text with markup tags removed and entities decoded, or null when it refers to another entity (<c>&amp;brandShortName;</c>).</summary>
    static string? PlainMarkup(string value)
    {
        var untagged = MarkupTag().Replace(value, "");
        foreach (Match entity in EntityReference().Matches(untagged))
            if (entity.Groups[1].Value is not ("amp" or "lt" or "gt" or "quot" or "apos" or "nbsp") && !entity.Groups[1].Value.StartsWith('#'))
                return null;
        return WebUtility.HtmlDecode(untagged);
    }

    /// <summary>Directional marks and embeddings out, whitespace runs to one space.</summary>
    static string Tidy(string value) => Whitespace().Replace(BidiControl().Replace(value, ""), " ").Trim();

    [GeneratedRegex(@"^(-?[A-Za-z][A-Za-z0-9_-]*)\s*=\s?(.*)$")]
    private static partial Regex FluentMessage();

    [GeneratedRegex(@"^\s+\.([A-Za-z][A-Za-z0-9_-]*)\s*=\s?(.*)$")]
    private static partial Regex FluentAttribute();

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex FluentPlaceable();

    const char LiteralOpen = '\uE000', LiteralClose = '\uE001';

    [GeneratedRegex(@"\{\s*""([^""\\]*)""\s*\}")]
    private static partial Regex FluentLiteral();

    [GeneratedRegex(@"%(\d+\$)?l?[SsdufxX]|#\d|\$[A-Z_]+\$|%[A-Za-z_]+%")]
    private static partial Regex PropertiesPlaceholder();

    [GeneratedRegex(@"<!ENTITY\s+([\w.-]+)\s+(?:""([^""]*)""|'([^']*)')\s*>")]
    private static partial Regex DtdEntity();

    [GeneratedRegex(@"</?[A-Za-z][^<>]*>")]
    private static partial Regex MarkupTag();

    [GeneratedRegex(@"&([A-Za-z][\w.-]*|#\d+|#x[0-9A-Fa-f]+);")]
    private static partial Regex EntityReference();

    [GeneratedRegex("[\u200E\u200F\u061C\u202A-\u202E\u2066-\u2069]")]
    private static partial Regex BidiControl();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
