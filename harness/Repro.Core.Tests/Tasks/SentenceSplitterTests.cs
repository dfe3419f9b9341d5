using Repro.Core.Tasks;

namespace Repro.Core.Tests.Tasks;

public sealed class SentenceSplitterTests
{
    [Test]
    public void Sentences_end_at_terminal_punctuation_before_a_capital_and_at_line_breaks()
    {
        Assert.That(SentenceSplitter.Split("Das ist z. B. ein Satz. Er endet hier! Und dann? Noch einer\nNeue Zeile."),
            Is.EqualTo(new[] { "Das ist z. B. ein Satz.", "Er endet hier!", "Und dann?", "Noch einer", "Neue Zeile." }));
    }

    [Test]
    public void File_names_versions_and_lower_case_continuations_do_not_end_a_sentence()
    {
        Assert.That(SentenceSplitter.Split("Edit sources.list for Debian 11.2 now. See e.g. the manual, etc. and more."),
            Is.EqualTo(new[] { "Edit sources.list for Debian 11.2 now.", "See e.g. the manual, etc. and more." }));
    }

    [Test]
    public void Chinese_full_stops_end_sentences_without_a_space()
    {
        Assert.That(SentenceSplitter.Split("这是第一句。这是第二句！第三句？"), Is.EqualTo(new[] { "这是第一句。", "这是第二句！", "第三句？" }));
    }

    [Test]
    public void Arabic_question_marks_end_sentences()
    {
        Assert.That(SentenceSplitter.Split("ما هذا؟ هذا كتاب."), Is.EqualTo(new[] { "ما هذا؟", "هذا كتاب." }));
    }
}
