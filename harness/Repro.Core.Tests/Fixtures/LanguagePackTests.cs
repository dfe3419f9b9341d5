using System.IO.Compression;
using System.Text;
using Repro.Core.Corpora;
using Repro.Core.Fixtures;

namespace Repro.Core.Tests.Fixtures;

/// <summary>The Mozilla language pack reader on hand-written localisation files (no text from the real packs).</summary>
public sealed class LanguagePackTests
{
    static readonly Dictionary<string, string> Terms = new() { ["-brand-short-name"] = "Browser" };

    [Test]
    public void Fluent_messages_attributes_and_multi_line_values_become_strings_with_terms_filled_in()
    {
        const string ftl = """
            # A comment
            -brand-short-name = Browser
            plain = משפט ראשון של הממשק.
            with-term = יש להפעיל את { -brand-short-name } מחדש.
            multi =
                שורה אחת
                ושורה שנייה.
            button =
                .label = לחצן עם תווית
                .accesskey = ל
                .style = width: 3em
            literal = סוגר מסולסל { "{" } בטקסט
            tagged = לעזרה נוספת <a data-l10n-name="url">אתר התמיכה</a> &amp; עוד.
            """;
        Assert.That(MozillaLanguagePack.Strings("a/b.ftl", ftl, Terms), Is.EqualTo(new[]
        {
            "משפט ראשון של הממשק.", "יש להפעיל את Browser מחדש.", "שורה אחת ושורה שנייה.", "לחצן עם תווית",
            "סוגר מסולסל { בטקסט", "לעזרה נוספת אתר התמיכה & עוד.",
        }));
    }

    [Test]
    public void Fluent_strings_with_variables_selectors_message_references_or_unknown_terms_are_left_out()
    {
        const string ftl = """
            variable = { $name } שולטת בהגדרה זו.
            selector =
                { $count ->
                    [one] פריט אחד
                   *[other] { $count } פריטים
                }
            reference = { other-message }
            unknown-term = { -product-name } הוא דפדפן.
            kept = זה נשאר.
            """;
        Assert.That(MozillaLanguagePack.Strings("x.ftl", ftl, Terms), Is.EqualTo(new[] { "זה נשאר." }));
    }

    [Test]
    public void Properties_values_are_unescaped_and_those_with_placeholders_left_out()
    {
        const string properties = "# comment\n! also a comment\n" +
                                  "a = שורה\\nשנייה \\u05D0 100%% בטוח\n" +
                                  "b=%S אינו יודע\n" +
                                  "c = %1$S קבצים\n" +
                                  "d = #1 ימים\n" +
                                  "e = המשך \\\n    בשורה הבאה\n" +
                                  "f = <b>מודגש</b>\n";
        Assert.That(MozillaLanguagePack.Strings("x.properties", properties, Terms),
            Is.EqualTo(new[] { "שורה שנייה א 100% בטוח", "המשך בשורה הבאה", "מודגש" }));
    }

    [Test]
    public void Dtd_entities_are_read_in_either_quote_and_those_referring_to_other_entities_left_out()
    {
        const string dtd = """
            <!ENTITY first.label "ערך ראשון">
            <!ENTITY second.label 'ערך "שני"'>
            <!ENTITY brand.label "על &brandShortName;">
            <!ENTITY amp.label "א &amp; ב">
            """;
        Assert.That(MozillaLanguagePack.Strings("x.dtd", dtd, Terms), Is.EqualTo(new[] { "ערך ראשון", "ערך \"שני\"", "א & ב" }));
    }

    [Test]
    public void Directional_marks_are_removed()
    {
        Assert.That(MozillaLanguagePack.Strings("x.ftl", "m = \u200Fשם\u200E ו\u2067עוד\u2069", Terms), Is.EqualTo(new[] { "שם ועוד" }));
    }

    [Test]
    public void A_package_gives_one_document_per_file_and_pools_small_files_per_folder()
    {
        var files = Package(new()
        {
            ["localization/he/big.ftl"] = string.Join("\n", Enumerable.Range(0, 20).Select(i => $"m{i} = משפט ארוך מספיק מספר {i} בקובץ הגדול.")),
            ["localization/he/small-a.ftl"] = "a = משפט קצר א.",
            ["localization/he/small-b.properties"] = "b = משפט קצר ב.",
            ["chrome/he/c.dtd"] = "<!ENTITY c \"משפט ג.\">",
            ["manifest.json"] = "{}",
        });
        var documents = MozillaLanguagePack.Extract(files, "pack", "iw", "hand-made/pack.deb", poolBelowBytes: 500);
        Assert.That(documents.Select(d => d.Key), Is.EqualTo(new[] { "pack:chrome/he/*", "pack:localization/he/*", "pack:localization/he/big.ftl" }));
        Assert.That(documents[1].Paragraphs, Is.EqualTo(new[] { "משפט קצר א.", "משפט קצר ב." }));
        Assert.That(documents[2].Paragraphs, Has.Count.EqualTo(20));
        Assert.That(documents.All(d => d.Language == "iw"));
    }

    [Test]
    public void A_package_without_a_language_pack_or_with_a_broken_one_is_rejected_with_the_file_named()
    {
        var none = Assert.Throws<CorpusFormatException>(() =>
            MozillaLanguagePack.Extract(new Dictionary<string, byte[]>(), "pack", "iw", "hand-made/pack.deb", 500));
        Assert.That(none!.Message, Does.StartWith("hand-made/pack.deb").And.Contain("one language pack"));

        var broken = new Dictionary<string, byte[]> { ["usr/lib/app/langpack-he.xpi"] = "not a zip"u8.ToArray() };
        var e = Assert.Throws<CorpusFormatException>(() => MozillaLanguagePack.Extract(broken, "pack", "iw", "hand-made/pack.deb", 500));
        Assert.That(e!.Message, Does.StartWith("hand-made/pack.deb:usr/lib/app/langpack-he.xpi").And.Contain("zip"));
    }

    /// <summary>A Debian l10n package's contents: the language pack (a zip of <paramref name="xpiFiles"/>) and a copyright file.</summary>
    public static SortedDictionary<string, byte[]> Package(Dictionary<string, string> xpiFiles, string package = "pack", string licence = "MPL-2.0")
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (path, text) in xpiFiles)
            {
                using var entry = zip.CreateEntry(path).Open();
                entry.Write(Encoding.UTF8.GetBytes(text));
            }
        return new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["usr/lib/app/extensions/langpack-he@app.xpi"] = buffer.ToArray(),
            [$"usr/share/doc/{package}/copyright"] = Encoding.UTF8.GetBytes($"Format: x\n\nFiles: *\n  more/*\nCopyright: someone\nLicense: {licence}\n"),
        };
    }
}
