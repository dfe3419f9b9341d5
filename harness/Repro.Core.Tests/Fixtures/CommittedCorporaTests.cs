using Repro.Core.Calibration;
using Repro.Core.Corpora;
using Repro.Core.Fixtures;
using Repro.Core.Tasks;
using Repro.Core.Tokenizers;

namespace Repro.Core.Tests.Fixtures;

/// <summary>The corpora and task files committed under fixtures/, as <c>repro fixtures build-corpora</c> wrote them.</summary>
public sealed class CommittedCorporaTests
{
    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Repro.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Repro.sln above {TestContext.CurrentContext.TestDirectory}");
    }

    static string CorporaDir => Path.Combine(RepoRoot(), "fixtures", "corpora");
    static string TasksDir => Path.Combine(RepoRoot(), "fixtures", "tasks", "belebele-style");

    static readonly Lazy<Dictionary<(string Language, string Split), Corpus>> Loaded = new(() =>
    {
        var folder = CorpusDirectory.Open(CorporaDir);
        return (from language in folder.Languages from split in folder.Splits(language) select (language, split))
            .ToDictionary(k => k, k => folder.Load(k.language, k.split));
    });

    [Test]
    public void Every_language_and_split_loads_and_matches_the_manifest()
    {
        var manifest = CorpusFixtureWriter.ReadManifest(Path.Combine(CorporaDir, CorpusFixtureWriter.ManifestName));
        Assert.That(CorpusDirectory.Open(CorporaDir).Languages, Is.EqualTo(FixtureLanguage.All.Select(l => l.Code).Order(StringComparer.Ordinal)));
        Assert.That(manifest.Select(e => (e.Language, e.Split)), Is.EquivalentTo(Loaded.Value.Keys));
        foreach (var e in manifest)
        {
            var corpus = Loaded.Value[(e.Language, e.Split)];
            Assert.That(SourcePackages.Sha256OfFile(Path.Combine(CorporaDir, e.Path)), Is.EqualTo(e.Sha256), e.Path);
            Assert.That(corpus.ContentSha256(), Is.EqualTo(e.ContentSha256), e.Path);
            Assert.That(corpus.Documents, Has.Count.EqualTo(e.Documents).And.Count.GreaterThan(0), e.Path);
            Assert.That(corpus.Documents.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d)), Is.EqualTo(e.TextBytes), e.Path);
        }
    }

    [Test]
    public void Every_language_has_calibration_validation_and_test_and_only_Swahili_lacks_train()
    {
        foreach (var language in FixtureLanguage.All)
        {
            var splits = Loaded.Value.Keys.Where(k => k.Language == language.Code).Select(k => k.Split).ToList();
            Assert.That(splits, Is.SupersetOf(new[] { "calibration", "validation", "test" }), language.Code);
            Assert.That(splits.Contains("train"), Is.EqualTo(language.InTraining), language.Code);
        }
    }

    [Test]
    public void No_document_is_in_two_splits_of_a_language_and_no_train_document_equals_a_held_out_one()
    {
        var heldOut = Loaded.Value.Where(kv => kv.Key.Split != "train").SelectMany(kv => kv.Value.Documents).ToHashSet(StringComparer.Ordinal);
        var train = Loaded.Value.Where(kv => kv.Key.Split == "train").SelectMany(kv => kv.Value.Documents).ToList();
        Assert.That(train.Where(heldOut.Contains), Is.Empty, "a train document equals a calibration/validation/test document");
        foreach (var language in Loaded.Value.Keys.Select(k => k.Language).Distinct())
        {
            var seen = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, corpus) in Loaded.Value.Where(kv => kv.Key.Language == language))
                foreach (var document in corpus.Documents)
                    Assert.That(seen.TryAdd(document, key.Split), Is.True, $"{language}: a document is in {key.Split} and {seen.GetValueOrDefault(document)}");
        }
        var paragraphsHeldOut = heldOut.SelectMany(d => d.Split('\n')).ToHashSet(StringComparer.Ordinal);
        Assert.That(train.SelectMany(d => d.Split('\n')).Count(paragraphsHeldOut.Contains), Is.Zero, "a train paragraph reappears in a held-out split");
    }

    [Test]
    public void Every_task_file_reads_with_the_Belebele_reader_and_matches_its_manifest()
    {
        var files = Directory.GetFiles(TasksDir, "*.jsonl.gz").Order(StringComparer.Ordinal).ToList();
        Assert.That(files.Select(Path.GetFileName), Is.EquivalentTo(FixtureLanguage.All.Select(BelebeleStyleTask.FileName)));
        var manifest = File.ReadAllText(Path.Combine(TasksDir, "manifest.json"));
        var test = Loaded.Value.Where(kv => kv.Key.Split == "test").ToDictionary(kv => kv.Key.Language, kv => string.Join("\n", kv.Value.Documents));
        foreach (var file in files)
        {
            var items = BelebeleReader.Read(file);
            var language = FixtureLanguage.All.Single(l => BelebeleStyleTask.FileName(l) == Path.GetFileName(file));
            Assert.That(manifest, Does.Contain(SourcePackages.Sha256OfFile(file)), file);
            Assert.That(items, Has.Count.GreaterThanOrEqualTo(10), file);
            Assert.That(items, Has.All.Matches<BelebeleItem>(i => i.Dialect == language.Dialect && i.Question == language.Question), file);
            Assert.That(items.Select(i => i.Answers[i.GoldIndex]), Has.All.Matches<string>(a => test[language.Code].Contains(a)),
                $"{file}: every correct answer is a sentence of the test split");
        }
    }

    [Test]
    public void Lang_Prune_mix_of_128_windows_of_256_tokens_needs_no_repeated_text_and_Kurz_mix_repeats_only_Swahili()
    {
        var folder = CorpusDirectory.Open(CorporaDir);
        var langPrune = CalibrationSampler.Sample(new CalibrationSpec(["ar", "cs", "de", "en", "es", "id", "iw", "ru", "zh"], 128, 256, 0), folder, new ByteTokenizer());
        Assert.That(langPrune.Languages.Select(l => Path.GetFileName(l.CorpusFile)), Has.All.EqualTo("calibration.jsonl.gz"));
        Assert.That(langPrune.Languages.Sum(l => l.Count), Is.EqualTo(128));
        Assert.That(langPrune.Languages.Where(l => l.RepeatsText), Is.Empty);

        // Swahili's calibration split is a part of the UDHR, about 3 000 byte tokens: too short for 18 × 256.
        var kurz = new CalibrationSpec(["ar", "de", "en", "es", "ru", "sw", "zh"], 128, 256, 0);
        var e = Assert.Throws<CalibrationException>(() => CalibrationSampler.Sample(kurz, folder, new ByteTokenizer()));
        Assert.That(e!.Message, Does.Contain("'sw' is too short"));
        var allowed = CalibrationSampler.Sample(kurz, folder, new ByteTokenizer(), allowRepeatedText: true);
        Assert.That(allowed.Languages.Where(l => l.RepeatsText).Select(l => l.Language), Is.EqualTo(new[] { "sw" }));
    }
}
