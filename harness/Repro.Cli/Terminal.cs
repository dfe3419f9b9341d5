using System.Globalization;
using System.Text;
using Spectre.Console;

namespace Repro.Cli;

/// <summary>
/// Text from data (model names, language codes, config values, task fields, paths) on its way to the terminal:
/// control characters, ANSI/OSC escape sequences and bidirectional overrides are shown as <c>\u001b</c>-style
/// escapes instead of acting on the terminal, and Spectre's markup brackets are escaped so a name like
/// <c>de[x]</c> prints as itself instead of breaking the table renderer.
/// </summary>
public static class Terminal
{
    public static string Text(string? text) => Markup.Escape(Inert(text ?? ""));

    /// <summary>The text with every character that could steer a terminal written as a visible escape.</summary>
    public static string Inert(string text)
    {
        if (!text.Any(Steers)) return text;
        var builder = new StringBuilder(text.Length + 16);
        foreach (var ch in text)
            builder.Append(Steers(ch) ? "\\u" + ((int)ch).ToString("x4", CultureInfo.InvariantCulture) : ch.ToString());
        return builder.ToString();
    }

    /// <summary>C0 and C1 controls (ESC, BEL, CR, ... but not a plain space), line and paragraph separators, bidi embeddings, overrides and isolates.</summary>
    static bool Steers(char ch) =>
        char.IsControl(ch) || ch is '\u2028' or '\u2029' || (ch >= '\u202a' && ch <= '\u202e') || (ch >= '\u2066' && ch <= '\u2069');
}
