using System.Buffers;

namespace Repro.Core.Tokenizers;

/// <summary>
/// Finds added tokens (<c>&lt;|begin_of_text|&gt;</c>, <c>&lt;|eos|&gt;</c>) inside a text, leftmost and longest first,
/// as Hugging Face tokenizers do before any normalization or pre-tokenization: a document that happens to
/// contain such a string is tokenized to the special id, exactly as the model saw it in training tools.
/// The lstrip/rstrip/single_word flags of added tokens are not applied.
/// </summary>
sealed class AddedTokenMatcher
{
    readonly Dictionary<char, (string Content, int Id)[]> byFirstChar;
    readonly SearchValues<char> firstChars;

    public AddedTokenMatcher(IEnumerable<KeyValuePair<string, int>> tokens)
    {
        byFirstChar = tokens.Where(t => t.Key.Length > 0)
            .GroupBy(t => t.Key[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Key.Length).Select(t => (t.Key, t.Value)).ToArray());
        firstChars = SearchValues.Create([.. byFirstChar.Keys]);
    }

    /// <summary>Segments of <paramref name="text"/> in order: plain text (Id null) or an added token.</summary>
    public IEnumerable<(int Start, int Length, int? Id)> Split(string text)
    {
        var plainStart = 0;
        var i = 0;
        while (i < text.Length)
        {
            var next = byFirstChar.Count == 0 ? -1 : text.AsSpan(i).IndexOfAny(firstChars);
            if (next < 0) break;
            i += next;
            var match = Match(text, i);
            if (match is not { } m) { i++; continue; }
            if (i > plainStart) yield return (plainStart, i - plainStart, null);
            yield return (i, m.Length, m.Id);
            i += m.Length;
            plainStart = i;
        }
        if (plainStart < text.Length) yield return (plainStart, text.Length - plainStart, null);
    }

    (int Length, int Id)? Match(string text, int at)
    {
        foreach (var (content, id) in byFirstChar[text[at]])
            if (text.AsSpan(at).StartsWith(content, StringComparison.Ordinal))
                return (content.Length, id);
        return null;
    }
}
