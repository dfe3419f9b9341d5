using Repro.Core.Corpora;

namespace Repro.Core.Tests.Corpora;

public sealed class CorpusDirectoryTests
{
    static TempFolder Layout()
    {
        var dir = new TempFolder();
        dir.File("ar/validation.jsonl", "{\"text\": \"ar validation\"}\n");
        dir.File("ar/train.jsonl", "{\"text\": \"ar train\"}\n");
        dir.File("ar/README.md", "not a corpus");
        dir.File("de.txt", "de unsplit\n");
        dir.File("notes/readme.md", "a folder without corpus files is no language");
        dir.File(".cache/x.jsonl", "{\"text\": \"hidden\"}\n");
        return dir;
    }

    [Test]
    public void Languages_lists_split_folders_and_unsplit_files()
    {
        using var dir = Layout();
        var corpora = CorpusDirectory.Open(dir.Path);
        Assert.That(corpora.Languages, Is.EqualTo(new[] { "ar", "de" }));
        Assert.That(corpora.Splits("ar"), Is.EqualTo(new[] { "train", "validation" }));
        Assert.That(corpora.Splits("de"), Is.Empty);
    }

    [Test]
    public void Load_reads_the_split_file_of_a_language()
    {
        using var dir = Layout();
        var corpus = CorpusDirectory.Open(dir.Path).Load("ar", "validation");
        Assert.That(corpus.Documents, Is.EqualTo(new[] { "ar validation" }));
        Assert.That(corpus.Language, Is.EqualTo("ar"));
        Assert.That(corpus.SourcePath, Does.EndWith(Path.Combine("ar", "validation.jsonl")));
    }

    [Test]
    public void An_unsplit_file_serves_every_split()
    {
        using var dir = Layout();
        var corpora = CorpusDirectory.Open(dir.Path);
        Assert.That(corpora.Load("de", "validation").Documents, Is.EqualTo(new[] { "de unsplit" }));
        Assert.That(corpora.Load("de", "train").SourcePath, Does.EndWith("de.txt"));
    }

    [Test]
    public void An_unknown_language_fails_listing_the_available_ones()
    {
        using var dir = Layout();
        var e = Assert.Throws<CorpusFormatException>(() => CorpusDirectory.Open(dir.Path).Load("sw", "validation"))!;
        Assert.That(e.Message, Does.Contain("'sw'").And.Contain("available: ar, de").And.Contain(dir.Path));
    }

    [Test]
    public void A_missing_split_fails_listing_the_available_splits()
    {
        using var dir = Layout();
        var e = Assert.Throws<CorpusFormatException>(() => CorpusDirectory.Open(dir.Path).Load("ar", "test"))!;
        Assert.That(e.Message, Does.Contain("'test'").And.Contain("train, validation"));
    }

    [Test]
    public void Two_files_for_one_language_are_ambiguous()
    {
        using var dir = new TempFolder();
        dir.File("en.jsonl", "{\"text\": \"a\"}\n");
        dir.File("en.txt", "a\n");
        var e = Assert.Throws<CorpusFormatException>(() => CorpusDirectory.Open(dir.Path))!;
        Assert.That(e.Message, Does.Contain("en.jsonl").And.Contain("en.txt"));
    }

    [Test]
    public void A_language_both_split_and_unsplit_is_ambiguous()
    {
        using var dir = new TempFolder();
        dir.File("en.jsonl", "{\"text\": \"a\"}\n");
        dir.File("en/validation.jsonl", "{\"text\": \"a\"}\n");
        Assert.That(() => CorpusDirectory.Open(dir.Path), Throws.TypeOf<CorpusFormatException>().With.Message.Contain("'en'"));
    }

    [Test]
    public void A_missing_folder_says_so()
    {
        Assert.That(() => CorpusDirectory.Open("/nonexistent/corpora"),
            Throws.TypeOf<CorpusFormatException>().With.Message.Contain("does not exist"));
    }
}
