using System.Globalization;

namespace Repro.Core.Tasks;

/// <summary>
/// One multiple-choice item in Belebele's field layout (facebook/belebele, EVALUATION §2.2): a passage, a
/// question, four answers, and the correct one as the string "1".."4", as the dataset stores it.
/// </summary>
public sealed record BelebeleItem(
    string Link, int QuestionNumber, string FloresPassage, string Question, IReadOnlyList<string> Answers,
    string CorrectAnswerNum, string Dialect, string Ds)
{
    /// <summary>0-based index of the correct answer: <c>int(correct_answer_num) − 1</c>.</summary>
    public int GoldIndex => int.Parse(CorrectAnswerNum, NumberStyles.None, CultureInfo.InvariantCulture) - 1;
}
