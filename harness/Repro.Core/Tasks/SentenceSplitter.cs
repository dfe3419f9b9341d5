using System.Text;

namespace Repro.Core.Tasks;

/// <summary>
/// Splits prose into sentences with punctuation rules, good enough to cut passages and candidate answers from
/// clean documentation and legal text (not a general segmenter). A sentence ends at '.', '!', '?', '؟' or '…'
/// followed by a space and then something that may start a sentence (not a lower-case letter), unless the
/// word before the full stop is an abbreviation-like token (one or two letters, or with an inner full stop:
/// "z. B.", "e.g.", "Art."); Chinese and Japanese full-width '。', '！', '？' end a sentence wherever they stand.
/// Paragraph breaks ('\n') always end a sentence.
/// </summary>
public static class SentenceSplitter
{
    static readonly HashSet<string> Abbreviations =
        ["etc", "bzw", "usw", "vgl", "ggf", "evtl", "inkl", "Nr", "Art", "Abs", "Dr", "Prof", "ca", "vs", "cf", "Sr", "Sra", "pp", "tzn", "apod", "atd", "dll", "dsb", "sbb", "т", "д", "др", "см", "ст"];

    public static List<string> Split(string text)
    {
        var sentences = new List<string>();
        foreach (var paragraph in text.Split('\n'))
        {
            var start = 0;
            for (var i = 0; i < paragraph.Length; i++)
            {
                var c = paragraph[i];
                var end = -1;
                if (c is '。' or '！' or '？')
                {
                    end = i + 1;
                    while (end < paragraph.Length && paragraph[end] is '”' or '」' or '』' or '）') end++;
                }
                else if (c is '.' or '!' or '?' or '؟' or '…' && i + 2 < paragraph.Length)
                {
                    var j = i + 1;
                    while (j < paragraph.Length && paragraph[j] is '"' or '”' or '’' or ')' or '»' or '\'') j++;
                    if (j + 1 < paragraph.Length && paragraph[j] == ' ' && MayStartSentence(paragraph[j + 1])
                        && !(c == '.' && IsAbbreviation(paragraph, start, i)))
                        end = j;
                }
                if (end < 0) continue;
                Add(paragraph[start..end]);
                start = end;
                i = end - 1;
            }
            Add(paragraph[start..]);
        }
        return sentences;

        void Add(string sentence)
        {
            var trimmed = sentence.Trim();
            if (trimmed.Length > 0) sentences.Add(trimmed);
        }
    }

    static bool MayStartSentence(char c) => !char.IsLower(c);

    /// <summary>Whether the word ending just before the '.' at <paramref name="dot"/> looks like an abbreviation.</summary>
    static bool IsAbbreviation(string text, int sentenceStart, int dot)
    {
        var wordStart = dot;
        while (wordStart > sentenceStart && !char.IsWhiteSpace(text[wordStart - 1]) && text[wordStart - 1] != '(') wordStart--;
        var word = text[wordStart..dot];
        if (word.Length == 0) return false;
        if (word.Contains('.')) return true;                              // e.g, i.e, z.B
        var letters = word.EnumerateRunes().Count(Rune.IsLetter);
        if (letters == word.EnumerateRunes().Count() && letters <= 2 && char.IsUpper(word[0])) return true;   // initials: "J. Smith", "z. B."
        if (letters == 1) return true;
        return Abbreviations.Contains(word);
    }
}
