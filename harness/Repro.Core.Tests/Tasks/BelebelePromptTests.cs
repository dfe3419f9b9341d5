using Repro.Core.Tasks;

namespace Repro.Core.Tests.Tasks;

public sealed class BelebelePromptTests
{
    [Test]
    public void The_prompt_is_the_harness_template_with_a_full_width_colon_and_letter_choices()
    {
        var item = new BelebeleItem("l", 1, "Passage text.", "  Which one?\n", ["one", "two", "three", "four"], "3", "eng_Latn", "ds");
        Assert.That(BelebelePrompt.Render(item),
            Is.EqualTo("P: Passage text.\nQ: Which one?\nA: one\nB: two\nC: three\nD: four\nAnswer\uFF1A"));
        Assert.That(BelebelePrompt.AnswerColon, Is.EqualTo("："));
        Assert.That(BelebelePrompt.Continuations, Is.EqualTo(new[] { " A", " B", " C", " D" }));
        Assert.That(BelebelePrompt.Continuations[item.GoldIndex], Is.EqualTo(" C"));
    }
}
