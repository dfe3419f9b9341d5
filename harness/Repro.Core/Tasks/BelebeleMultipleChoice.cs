using Repro.Core.Evaluation;

namespace Repro.Core.Tasks;

/// <summary>How Belebele items become multiple-choice questions.</summary>
public enum BelebeleFormat
{
    /// <summary>
    /// lm-eval-harness's Belebele task (EVALUATION §2.2): the <see cref="BelebelePrompt"/> context, the letters A–D as
    /// choices (so acc = acc_norm), few-shot examples first-n from the same split without the item itself. What the
    /// papers ran; it needs a model that follows the format, so small models score near chance.
    /// </summary>
    Letters,

    /// <summary>
    /// Cloze: the passage is the context and each answer text is a continuation, compared by log-likelihood (acc) and
    /// by log-likelihood per character (acc_norm). Repro's form for the fixture task ("which sentence continues this
    /// passage"), where even a small language model scores above chance; no few-shot.
    /// </summary>
    Cloze,
}

/// <summary>Turns a Belebele split into <see cref="MultipleChoiceItem"/>s in a <see cref="BelebeleFormat"/>.</summary>
public static class BelebeleMultipleChoice
{
    /// <summary>The letters the harness scores, in answer order (the continuations are " A" .. " D").</summary>
    public static IReadOnlyList<string> Letters { get; } = [.. BelebelePrompt.Continuations.Select(c => c.Trim())];

    /// <summary>Between few-shot examples and before the question: the harness's <c>fewshot_delimiter</c>.</summary>
    public const string FewShotDelimiter = "\n\n";

    /// <summary>
    /// Items in file order, ids <c>{dialect}/{row}</c>. <paramref name="shots"/> examples (letters only) are the first
    /// ones of <paramref name="items"/> other than the item itself, each <c>prompt + " " + gold letter</c>.
    /// </summary>
    public static IReadOnlyList<MultipleChoiceItem> Build(IReadOnlyList<BelebeleItem> items, BelebeleFormat format, int shots = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shots);
        if (shots > 0 && format != BelebeleFormat.Letters)
            throw new InputException($"few-shot examples are defined for the letters format only, not {format}");
        if (shots > 0 && shots >= items.Count)
            throw new InputException($"{shots} few-shot examples need at least {shots + 1} items in the split, which has {items.Count}");
        return [.. items.Select((item, row) =>
        {
            var id = $"{item.Dialect}/{row}";
            if (format == BelebeleFormat.Cloze) return new MultipleChoiceItem(id, item.FloresPassage, item.Answers, item.GoldIndex);
            var examples = items.Where((_, other) => other != row).Take(shots)
                .Select(e => BelebelePrompt.Render(e) + " " + Letters[e.GoldIndex] + FewShotDelimiter);
            return new MultipleChoiceItem(id, string.Concat(examples) + BelebelePrompt.Render(item), Letters, item.GoldIndex);
        })];
    }
}
