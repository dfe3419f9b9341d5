namespace Repro.Core.Tasks;

/// <summary>
/// lm-eval-harness's Belebele prompt (EVALUATION §2.2, <c>_default_template_yaml</c>): the context is
/// <c>P: {passage}\nQ: {question stripped}\nA: ..\nB: ..\nC: ..\nD: ..\nAnswer</c> followed by a full-width colon
/// U+FF1A, as in the harness version the papers ran (not ASCII ':'), and the choices are the letters, each
/// scored as the continuation " A" .. " D" (the default target delimiter is one space). Pure, so the exact
/// bytes can be pinned by a test; scoring with a model lives elsewhere.
/// </summary>
public static class BelebelePrompt
{
    /// <summary>U+FF1A FULLWIDTH COLON, which the stored harness template puts after "Answer".</summary>
    public const string AnswerColon = "\uFF1A";

    /// <summary>The four continuations scored per item, in answer order.</summary>
    public static IReadOnlyList<string> Continuations { get; } = [" A", " B", " C", " D"];

    public static string Render(BelebeleItem item) =>
        $"P: {item.FloresPassage}\nQ: {item.Question.Trim()}\nA: {item.Answers[0]}\nB: {item.Answers[1]}\n" +
        $"C: {item.Answers[2]}\nD: {item.Answers[3]}\nAnswer{AnswerColon}";
}
