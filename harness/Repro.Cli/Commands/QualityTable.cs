using Repro.Fixtures.Training;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary>The per-language quality table of a trained model, as <c>fixtures train</c> and <c>fixtures snapshot</c> print it.</summary>
static class QualityTable
{
    /// <summary>One row per language; the ratio is green or red against <paramref name="maxRatio"/> where <paramref name="heldToBar"/> says the bar applies.</summary>
    public static Table Create(IEnumerable<LanguageQuality> languages, double maxRatio, Func<LanguageQuality, bool> heldToBar)
    {
        var table = new Table().AddColumns("lang", "trained", "windows", "bits/byte", "unigram entropy", "ratio", "perplexity");
        foreach (var l in languages)
        {
            var held = heldToBar(l);
            var ratio = $"{l.EntropyRatio:F3}";
            if (held) ratio = l.EntropyRatio <= maxRatio ? $"[green]{ratio}[/]" : $"[red]{ratio}[/]";
            var trained = !l.Trained ? "[yellow]no[/]" : held ? "yes" : "[yellow]too little text[/]";
            table.AddRow(Terminal.Text(l.Language), trained, l.Windows.ToString(), $"{l.BitsPerByte:F4}", $"{l.UnigramEntropyBits:F4}", ratio, $"{l.Perplexity:F3}");
        }
        return table;
    }
}
