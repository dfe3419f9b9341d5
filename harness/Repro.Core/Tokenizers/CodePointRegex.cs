using System.Globalization;
using System.Text.RegularExpressions;

namespace Repro.Core.Tokenizers;

/// <summary>
/// Runs a pre-tokenizer regex over code points, as Hugging Face's tokenizers (Oniguruma) and tiktoken do, although .NET
/// regexes see UTF-16 code units. A character outside the Basic Multilingual Plane is two surrogates to .NET, which
/// <c>\p{L}</c> and <c>\p{N}</c> do not match: the mathematical digit <c>𝟏</c> would not be a number and a space
/// before it would be joined to it. So each such character is replaced, for matching only, by one BMP character of
/// the same Unicode general category (a stand-in no pattern names: Yi, Vai, Cherokee and the like), the regex runs
/// on that string, and the matches are mapped back to the original text. Every category class (<c>\p{..}</c>,
/// <c>\d</c>, <c>\w</c>, <c>\s</c>) then sees the character's own category; a lone surrogate stays what it is.
/// </summary>
public static class CodePointRegex
{
    /// <summary>The matches of <paramref name="regex"/> in <paramref name="text"/> as (start, length) in UTF-16 units of the text.</summary>
    public static IEnumerable<(int Index, int Length)> Matches(Regex regex, string text)
    {
        if (!HasSurrogatePair(text))
        {
            for (var m = regex.Match(text); m.Success; m = m.NextMatch()) yield return (m.Index, m.Length);
            yield break;
        }
        var (mapped, starts) = StandIns(text);
        for (var m = regex.Match(mapped); m.Success; m = m.NextMatch())
        {
            var start = starts[m.Index];
            yield return (start, starts[m.Index + m.Length] - start);
        }
    }

    static bool HasSurrogatePair(string text)
    {
        for (var i = 0; i + 1 < text.Length; i++)
            if (char.IsHighSurrogate(text[i]) && char.IsLowSurrogate(text[i + 1])) return true;
        return false;
    }

    /// <summary>The text with each surrogate pair replaced by its stand-in, and the original offset of every mapped position (one past the end included).</summary>
    static (string Mapped, int[] Starts) StandIns(string text)
    {
        var mapped = new char[text.Length];
        var starts = new int[text.Length + 1];
        var n = 0;
        for (var i = 0; i < text.Length; n++)
        {
            starts[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                mapped[n] = StandIn(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1])));
                i += 2;
            }
            else mapped[n] = text[i++];
        }
        starts[n] = text.Length;
        return (new string(mapped, 0, n), starts);
    }

    /// <summary>A BMP character of <paramref name="category"/> that no pre-tokenizer pattern names literally.</summary>
    internal static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u13A0',          // Cherokee letter A
        UnicodeCategory.LowercaseLetter => '\uAB70',          // Cherokee small letter A
        UnicodeCategory.TitlecaseLetter => '\u1FBC',          // Greek capital alpha with prosgegrammeni
        UnicodeCategory.ModifierLetter => '\uA015',           // Yi syllable wu
        UnicodeCategory.OtherLetter => '\uA000',              // Yi syllable it
        UnicodeCategory.NonSpacingMark => '\uA806',           // Syloti Nagri sign hasanta
        UnicodeCategory.SpacingCombiningMark => '\uA823',     // Syloti Nagri vowel sign a
        UnicodeCategory.EnclosingMark => '\uA670',            // combining Cyrillic ten millions sign
        UnicodeCategory.DecimalDigitNumber => '\uA620',       // Vai digit zero
        UnicodeCategory.LetterNumber => '\u2182',             // Roman numeral ten thousand
        UnicodeCategory.OtherNumber => '\uA830',              // North Indic fraction one quarter
        UnicodeCategory.ConnectorPunctuation => '\u2040',     // character tie
        UnicodeCategory.DashPunctuation => '\u2E1A',          // hyphen with diaeresis
        UnicodeCategory.OpenPunctuation => '\u2E22',          // top left half bracket
        UnicodeCategory.ClosePunctuation => '\u2E23',         // top right half bracket
        UnicodeCategory.InitialQuotePunctuation => '\u2E0C',  // left raised omission bracket
        UnicodeCategory.FinalQuotePunctuation => '\u2E0D',    // right raised omission bracket
        UnicodeCategory.OtherPunctuation => '\uA4FE',         // Lisu punctuation comma
        UnicodeCategory.MathSymbol => '\u2A00',               // n-ary circled dot operator
        UnicodeCategory.CurrencySymbol => '\u20B0',           // German penny sign
        UnicodeCategory.ModifierSymbol => '\uA700',           // modifier letter Chinese tone yin ping
        UnicodeCategory.OtherSymbol => '\uA490',              // Yi radical qot
        UnicodeCategory.Format => '\u2064',                   // invisible plus
        UnicodeCategory.PrivateUse => '\uE000',
        UnicodeCategory.Control => '\u0080',                  // astral code points are never controls; kept total
        UnicodeCategory.SpaceSeparator => '\u2000',           // astral code points are never spaces; kept total
        _ => '\uFFFF',                                        // unassigned: a noncharacter, category OtherNotAssigned
    };
}
