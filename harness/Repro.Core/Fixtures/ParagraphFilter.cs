using System.Text;
using System.Text.RegularExpressions;

namespace Repro.Core.Fixtures;

/// <summary>Why a paragraph was left out of a corpus (or <see cref="Kept"/>).</summary>
public enum DropReason { Kept, TooShort, Code, WrongScript, UntranslatedEnglish, Duplicate }

/// <summary>
/// The per-paragraph rules that turn a source's text into corpus text for one language. A paragraph is kept
/// only if, after whitespace normalisation, it is long enough, is not a command line, listing or path, is
/// written mostly in the language's script, and is not English left untranslated in a partial translation
/// (the debian-handbook editions fall back to the English paragraph wherever a translator has not reached).
/// Duplicates are the caller's business (<see cref="NearDuplicateKey"/>), because they span documents.
/// </summary>
public sealed partial class ParagraphFilter(FixtureLanguage language, IReadOnlySet<string> englishParagraphs)
{
    /// <summary>Share of letter units (<see cref="ScriptClass.Units"/>) that must be in the language's script(s).</summary>
    public const double MinScriptShareLatin = 0.9;

    /// <summary>Lower for non-Latin scripts: their sentences name commands and files in Latin letters.</summary>
    public const double MinScriptShareOther = 0.5;

    /// <summary>
    /// A Latin-script paragraph whose words are at least this share English function words, and more so than
    /// the language's own function words, is untranslated English. English prose runs at 25–40 % on the list;
    /// a translated paragraph quoting an English name stays well under 10 %.
    /// </summary>
    public const double EnglishStopwordShare = 0.12;

    /// <summary>Share of non-space characters that are code punctuation above which a paragraph is code.</summary>
    public const double MaxCodeSymbolShare = 0.1;

    /// <summary>Share of characters in code-like tokens (paths, options, assignments) above which a paragraph is code.</summary>
    public const double MaxCodeTokenShare = 0.5;

    static readonly HashSet<string> English = [.. FixtureLanguage.EnglishStopwords];
    readonly HashSet<string> own = [.. language.Stopwords];

    public FixtureLanguage Language => language;

    /// <summary>Whether <paramref name="paragraph"/> (already <see cref="Normalize"/>d) stays.</summary>
    public DropReason Check(string paragraph)
    {
        if (ScriptClass.Letters(paragraph) < language.MinLetters) return DropReason.TooShort;
        if (LooksLikeCode(paragraph)) return DropReason.Code;
        if (language.Code != "en" && englishParagraphs.Contains(paragraph)) return DropReason.UntranslatedEnglish;
        var units = ScriptClass.Units(paragraph);
        var total = units.Values.Sum();
        var expected = language.Scripts.Sum(s => units.GetValueOrDefault(s));
        var minShare = language.IsLatin ? MinScriptShareLatin : MinScriptShareOther;
        if (total == 0 || expected < minShare * total) return DropReason.WrongScript;
        if (language.IsLatin && language.Code != "en" && IsEnglish(paragraph)) return DropReason.UntranslatedEnglish;
        return DropReason.Kept;
    }

    bool IsEnglish(string paragraph)
    {
        var words = Words(paragraph);
        if (words.Count == 0) return false;
        var english = words.Count(English.Contains);
        var native = words.Count(own.Contains);
        return english >= EnglishStopwordShare * words.Count && english > native;
    }

    static List<string> Words(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsLetter(rune))
            {
                word.Append(Rune.ToLowerInvariant(rune).ToString());
                continue;
            }
            if (word.Length > 0) words.Add(word.ToString());
            word.Clear();
        }
        if (word.Length > 0) words.Add(word.ToString());
        return words;
    }

    /// <summary>
    /// Command lines (a shell prompt in front), and text made mostly of code punctuation or of code-like tokens:
    /// paths, options, assignments, file names. Prose that names a file or two keeps well below both shares.
    /// </summary>
    public static bool LooksLikeCode(string paragraph)
    {
        if (Prompt().IsMatch(paragraph)) return true;
        var nonSpace = 0;
        var symbols = 0;
        foreach (var c in paragraph)
        {
            if (char.IsWhiteSpace(c)) continue;
            nonSpace++;
            if ("{}[]<>=;|\\$#_/~*`".Contains(c)) symbols++;
        }
        if (nonSpace == 0 || symbols > MaxCodeSymbolShare * nonSpace) return true;
        var tokens = paragraph.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var codeChars = tokens.Where(IsCodeToken).Sum(t => t.Length);
        return codeChars > MaxCodeTokenShare * tokens.Sum(t => t.Length);
    }

    static bool IsCodeToken(string token)
    {
        var t = token.TrimEnd('.', ',', ';', ':', ')', '»', '"', '”', '’', '。', '，', '、').TrimStart('(', '«', '"', '“', '‘');
        if (t.Length == 0) return false;
        // Chinese has no spaces: a "token" there is a whole clause around an inline name, never code.
        if (t.EnumerateRunes().Any(r => Rune.IsLetter(r) && ScriptClass.Of(r) is not (Script.Latin or Script.Other))) return false;
        return t.IndexOfAny(['/', '\\', '{', '}', '<', '>', '=', '|', '$', '_', '@']) >= 0
               || t.Contains("::", StringComparison.Ordinal)
               || (t.Length > 1 && t[0] == '-' && char.IsAsciiLetter(t[^1]))
               || FileName().IsMatch(t);
    }

    /// <summary>Collapses every run of whitespace (no-break and ideographic spaces included) to one space, drops
    /// soft hyphens and zero-width spaces, and trims.</summary>
    public static string Normalize(string text)
    {
        var result = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text)
        {
            if (c is '\u00AD' or '\u200B' or '\uFEFF') continue;
            if (char.IsWhiteSpace(c))
            {
                space = true;
                continue;
            }
            if (space && result.Length > 0) result.Append(' ');
            space = false;
            result.Append(c);
        }
        return result.ToString();
    }

    /// <summary>
    /// The key under which near-exact duplicates coincide: letters and digits only, lower-cased. Paragraphs that
    /// differ only in punctuation, spacing or case ("Note:" vs "Note") are the same paragraph.
    /// </summary>
    public static string NearDuplicateKey(string paragraph)
    {
        var key = new StringBuilder(paragraph.Length);
        foreach (var rune in paragraph.EnumerateRunes())
            if (Rune.IsLetterOrDigit(rune)) key.Append(Rune.ToLowerInvariant(rune).ToString());
        return key.ToString();
    }

    [GeneratedRegex(@"^(\$ |# |#!|% |[A-Za-z]:\\|[\w.-]+@[\w.-]+[:~$#])")]
    private static partial Regex Prompt();

    [GeneratedRegex(@"^[\w.+-]*\w\.(conf|list|d|sh|py|pl|cfg|txt|log|html?|deb|dsc|gz|xz|bz2|tar|service|pem|key|crt|ini|so|c|h|ko|img|iso|db|xml|json|yaml|yml)$")]
    private static partial Regex FileName();
}
