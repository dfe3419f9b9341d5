using System.Text;

namespace Repro.Core.Fixtures;

/// <summary>The writing systems of Repro's corpus languages; everything else is <see cref="Other"/>.</summary>
public enum Script { Other, Latin, Cyrillic, Arabic, Hebrew, Han }

public static class ScriptClass
{
    /// <summary>
    /// The script of a letter, by Unicode block (the blocks the ten corpus languages write in; a finer
    /// Script property lookup is not available in globalization-invariant mode and is not needed here).
    /// </summary>
    public static Script Of(Rune rune) => rune.Value switch
    {
        >= 'A' and <= 'Z' or >= 'a' and <= 'z' => Script.Latin,
        >= 0x00C0 and <= 0x024F => Script.Latin,            // Latin-1 letters, Extended-A/B
        >= 0x1E00 and <= 0x1EFF => Script.Latin,            // Latin Extended Additional
        >= 0x0400 and <= 0x052F => Script.Cyrillic,
        >= 0x0590 and <= 0x05FF or >= 0xFB1D and <= 0xFB4F => Script.Hebrew,
        >= 0x0600 and <= 0x06FF or >= 0x0750 and <= 0x077F or >= 0x08A0 and <= 0x08FF
            or >= 0xFB50 and <= 0xFDFF or >= 0xFE70 and <= 0xFEFF => Script.Arabic,
        >= 0x3400 and <= 0x4DBF or >= 0x4E00 and <= 0x9FFF or >= 0xF900 and <= 0xFAFF
            or >= 0x20000 and <= 0x2FA1F => Script.Han,
        _ => Script.Other,
    };

    /// <summary>
    /// Letter "units" of a text by script: every Han character counts one (a Chinese character is roughly a
    /// word), every maximal run of letters of another script counts one (a word). Counting words rather than
    /// letters keeps the English command names inside a Chinese or Russian sentence ("使用 apt-get 命令") from
    /// outweighing the sentence around them.
    /// </summary>
    public static Dictionary<Script, int> Units(string text)
    {
        var units = new Dictionary<Script, int>();
        Script? run = null;
        foreach (var rune in text.EnumerateRunes())
        {
            if (!Rune.IsLetter(rune) && Rune.GetUnicodeCategory(rune) is not (System.Globalization.UnicodeCategory.NonSpacingMark
                    or System.Globalization.UnicodeCategory.SpacingCombiningMark))
            {
                run = null;
                continue;
            }
            if (!Rune.IsLetter(rune)) continue;          // a combining mark continues its word
            var script = Of(rune);
            if (script == Script.Han || script != run)
            {
                units[script] = units.GetValueOrDefault(script) + 1;
                run = script == Script.Han ? null : script;
            }
        }
        return units;
    }

    /// <summary>Number of letters (runes) in <paramref name="text"/>.</summary>
    public static int Letters(string text) => text.EnumerateRunes().Count(Rune.IsLetter);
}
