namespace Repro.Core.Tasks;

/// <summary>
/// The FLORES-200 dialect codes Belebele names its files by (<c>arb_Arab.jsonl</c>), for the language codes of Repro's
/// claims and corpora: Kurz et al.'s seven (ar de en es ru sw zh) and Lang-Prune's nine (ar cs de en es id iw ru zh).
/// </summary>
public static class BelebeleDialects
{
    public static IReadOnlyList<(string Language, string Dialect)> All { get; } =
    [
        ("ar", "arb_Arab"), ("cs", "ces_Latn"), ("de", "deu_Latn"), ("en", "eng_Latn"), ("es", "spa_Latn"),
        ("id", "ind_Latn"), ("iw", "heb_Hebr"), ("ru", "rus_Cyrl"), ("sw", "swh_Latn"), ("zh", "zho_Hans"),
    ];

    /// <summary>The dialect of a language code (ar → arb_Arab), or null for a code Repro does not know.</summary>
    public static string? Of(string language) => All.FirstOrDefault(d => d.Language == language).Dialect;
}
