using Repro.Core.Tasks;

namespace Repro.Core.Tests.Tasks;

public sealed class BelebeleMultipleChoiceTests
{
    static BelebeleItem Item(int n, string gold) =>
        new($"https://example.org/{n}", n, $"Passage {n}.", $" Question {n}? ", [$"a{n}", $"b{n}", $"c{n}", $"d{n}"], gold, "deu_Latn", "test");

    static readonly BelebeleItem[] Split = [Item(0, "2"), Item(1, "4"), Item(2, "1"), Item(3, "3")];

    [Test]
    public void Letters_zero_shot_is_the_harness_prompt_with_choices_a_to_d()
    {
        var items = BelebeleMultipleChoice.Build(Split, BelebeleFormat.Letters);
        Assert.That(items.Select(i => i.Context), Is.EqualTo(Split.Select(BelebelePrompt.Render)));
        Assert.That(items.Select(i => i.Gold), Is.EqualTo(new[] { 1, 3, 0, 2 }));
        Assert.That(items[0].Choices, Is.EqualTo(new[] { "A", "B", "C", "D" }));
        Assert.That(items.Select(i => i.Id), Is.EqualTo(new[] { "deu_Latn/0", "deu_Latn/1", "deu_Latn/2", "deu_Latn/3" }));
    }

    [Test]
    public void Few_shot_examples_are_the_first_items_other_than_the_item_each_with_its_gold_letter()
    {
        var items = BelebeleMultipleChoice.Build(Split, BelebeleFormat.Letters, shots: 2);
        string Shot(BelebeleItem e, string letter) => BelebelePrompt.Render(e) + " " + letter + "\n\n";
        Assert.That(items[0].Context, Is.EqualTo(Shot(Split[1], "D") + Shot(Split[2], "A") + BelebelePrompt.Render(Split[0])));
        Assert.That(items[3].Context, Is.EqualTo(Shot(Split[0], "B") + Shot(Split[1], "D") + BelebelePrompt.Render(Split[3])));
    }

    [Test]
    public void Cloze_puts_the_passage_as_context_and_the_answers_as_choices()
    {
        var item = BelebeleMultipleChoice.Build(Split, BelebeleFormat.Cloze)[1];
        Assert.That((item.Context, item.Gold), Is.EqualTo(("Passage 1.", 3)));
        Assert.That(item.Choices, Is.EqualTo(new[] { "a1", "b1", "c1", "d1" }));
    }

    [Test]
    public void Few_shot_needs_the_letters_format_and_enough_other_items()
    {
        Assert.That(() => BelebeleMultipleChoice.Build(Split, BelebeleFormat.Cloze, shots: 1), Throws.InstanceOf<InputException>().With.Message.Contains("letters"));
        Assert.That(() => BelebeleMultipleChoice.Build(Split, BelebeleFormat.Letters, shots: 4), Throws.InstanceOf<InputException>().With.Message.Contains("at least 5 items"));
    }
}
