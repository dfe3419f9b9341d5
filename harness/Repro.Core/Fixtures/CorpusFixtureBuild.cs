namespace Repro.Core.Fixtures;

/// <summary>
/// The whole corpus build after fetching: package contents → documents → cleaned splits → files. The settings
/// here are the ones <c>fixtures/corpora</c> was built with; tests run the same steps on hand-made packages.
/// </summary>
public static class CorpusFixtureBuild
{
    /// <summary>The handbook has hundreds of sections: 10 % each for test, validation, calibration.</summary>
    public static SplitFractions HandbookFractions { get; } = new(Calibration: 0.1, Validation: 0.1, Test: 0.1);

    /// <summary>
    /// The UDHR gives eleven documents per language, and is all the text Swahili and Hebrew have: a quarter each,
    /// so those languages have held-out text in every split.
    /// </summary>
    public static SplitFractions UdhrFractions { get; } = new(Calibration: 0.25, Validation: 0.25, Test: 0.25);

    public static CorpusBuilder Builder { get; } = new()
    {
        MinDocumentBytes = 500,
        Fractions = new Dictionary<string, SplitFractions>
        {
            [DebianHandbook.Source] = HandbookFractions,
            [Udhr.Source] = UdhrFractions,
            [MozillaLanguagePack.FirefoxSource] = HandbookFractions,
            [MozillaLanguagePack.ThunderbirdSource] = HandbookFractions,
        },
    };

    /// <summary>
    /// Reads the packages (already fetched: <paramref name="languagePackDebs"/> holds the .deb of every language
    /// pack the languages read), builds, and returns the corpora and the source records.
    /// </summary>
    public static (BuiltCorpora Corpora, List<SourceFile> Sources) Build(IReadOnlyList<FixtureLanguage> languages, string handbookDeb, string udhrTgz,
                                                                       IReadOnlyDictionary<SourcePackage, string> languagePackDebs)
    {
        var handbook = SourcePackages.ReadDeb(handbookDeb, CorpusSources.HandbookWanted(languages));
        var udhr = SourcePackages.ReadTgz(udhrTgz, CorpusSources.UdhrWanted(languages));
        var packs = LanguagePacks(languages)
            .Select(p => new LanguagePackContents(p, languagePackDebs[p], SourcePackages.ReadDeb(languagePackDebs[p], CorpusSources.LanguagePackWanted(p))))
            .ToList();
        return Build(languages, handbook, handbookDeb, udhr, udhrTgz, packs);
    }

    /// <summary>The language packs the languages read, each once, in the order the languages name them.</summary>
    public static List<SourcePackage> LanguagePacks(IReadOnlyList<FixtureLanguage> languages) => [.. languages.SelectMany(l => l.Packs).Distinct()];

    /// <summary>The build from package contents (path → bytes), as tests give them.</summary>
    public static (BuiltCorpora Corpora, List<SourceFile> Sources) Build(
        IReadOnlyList<FixtureLanguage> languages, IReadOnlyDictionary<string, byte[]> handbook, string handbookPath,
        IReadOnlyDictionary<string, byte[]> udhr, string udhrPath, IReadOnlyList<LanguagePackContents>? packs = null)
    {
        // Each package must still state the licence Repro recorded before any text is read from it.
        static SourceFile Checked(SourcePackage package, string path, string statedLicence)
        {
            CorpusSources.CheckLicence(package, statedLicence, path);
            return new SourceFile(package, path, Sha256(path), statedLicence);
        }
        List<SourceFile> sources =
        [
            Checked(SourcePackage.DebianHandbook, handbookPath, CorpusSources.DebianLicence(SourcePackage.DebianHandbook, handbook, handbookPath)),
            Checked(SourcePackage.Udhr, udhrPath, CorpusSources.UdhrLicence(udhr, udhrPath)),
            .. (packs ?? []).Select(p => Checked(p.Package, p.Path, CorpusSources.DebianLicence(p.Package, p.Files, p.Path))),
        ];
        var (documents, english) = CorpusSources.Read(languages, handbook, handbookPath, udhr, udhrPath, packs, Builder.MinDocumentBytes);
        var corpora = Builder.Build(languages, documents, english);
        return (corpora, sources);
    }

    static string Sha256(string path) => File.Exists(path) ? SourcePackages.Sha256OfFile(path) : "(not a file)";
}
