using System.Text;
using Repro.Core.Fixtures;

namespace Repro.Core.Tests.Fixtures;

/// <summary>
/// Small stand-ins for the two packages, written for the tests (no text from the real packages): publican-like
/// XHTML handbook pages in English and German and udhr-like declarations in English, German and Swahili, with
/// the package files the build checks (copyright, package.json). Sentences vary by a number, so no two
/// paragraphs are duplicates unless a test makes them so.
/// </summary>
static class HandMadeSources
{
    public const string HandbookPath = "hand-made/debian-handbook.deb";
    public const string UdhrPath = "hand-made/udhr.tgz";

    public static IReadOnlyList<FixtureLanguage> Languages { get; } = [FixtureLanguage.Get("de"), FixtureLanguage.Get("en"), FixtureLanguage.Get("sw")];

    public static string EnglishParagraph(int n) =>
        $"The service number {n} starts when the system boots, and it reads its settings from a file that the administrator can edit. " +
        $"This is why the package for service {n} ships with defaults that are safe for most of the machines in the network.";

    public static string GermanParagraph(int n) =>
        $"Der Dienst mit der Nummer {n} startet, wenn das System hochfährt, und er liest seine Einstellungen aus einer Datei, die der " +
        $"Verwalter bearbeiten kann. Deshalb wird das Paket für den Dienst {n} mit Vorgaben ausgeliefert, die für die meisten Rechner sicher sind.";

    /// <summary>A publican-style page: one top section (h2) with an intro and <paramref name="sections"/> h3 subsections.</summary>
    public static string Page(string anchor, IReadOnlyList<(string Anchor, IReadOnlyList<string> Paragraphs)> sections, IReadOnlyList<string> intro)
    {
        var html = new StringBuilder();
        html.Append("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"x.dtd\">");
        html.Append("<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>T</title></head><body>");
        html.Append("<ul class=\"docnav top\"><li class=\"previous\"><a href=\"p.html\"><strong>Prev</strong></a></li></ul>");
        html.Append($"<div class=\"section\"><div class=\"titlepage\"><div><div><h2 class=\"title\"><a id=\"{anchor}\"></a>1.1. Title</h2></div></div></div>");
        foreach (var p in intro) html.Append($"<div class=\"para\">\n\t\t\t{p}\n\t\t</div>");
        foreach (var (sub, paragraphs) in sections)
        {
            html.Append($"<div class=\"section\"><div class=\"titlepage\"><div><div><h3 class=\"title\"><a id=\"{sub}\"></a>1.1.1. Sub</h3></div></div></div>");
            foreach (var p in paragraphs) html.Append($"<div class=\"para\">{p}</div>");
            html.Append("<div class=\"informalexample\"><pre class=\"screen\"><code class=\"computeroutput\"># </code><strong class=\"userinput\"><code>apt install foo</code></strong></pre></div>");
            html.Append("</div>");
        }
        html.Append("</div><ul class=\"docnav\"><li class=\"next\"><a href=\"n.html\">Next</a></li></ul></body></html>");
        return html.ToString();
    }

    /// <summary>
    /// Handbook package contents: <paramref name="pages"/> pages of <paramref name="sectionsPerPage"/> sections, three
    /// paragraphs each, in en-US and de-DE; <paramref name="untranslated"/> German paragraph numbers are left in English.
    /// </summary>
    public static SortedDictionary<string, byte[]> Handbook(int pages = 4, int sectionsPerPage = 4, ISet<int>? untranslated = null,
                                                            string licence = "GPL-2.0+ or CC-BY-SA-3.0")
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [CorpusSources.HandbookCopyright] = Encoding.UTF8.GetBytes(
                $"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: someone\nLicense: {licence}\n"),
        };
        foreach (var (locale, paragraph) in new (string, Func<int, string>)[] { ("en-US", EnglishParagraph), ("de-DE", n => untranslated?.Contains(n) == true ? EnglishParagraph(n) : GermanParagraph(n)) })
        {
            var n = 0;
            for (var p = 0; p < pages; p++)
            {
                var sections = Enumerable.Range(0, sectionsPerPage)
                    .Select(s => ($"sect.page{p}.s{s}", (IReadOnlyList<string>)[paragraph(n++), paragraph(n++), paragraph(n++)]))
                    .ToList();
                files[$"{DebianHandbook.HtmlFolder}/{locale}/sect.page{p}.html"] = Encoding.UTF8.GetBytes(Page($"sect.page{p}", sections, ["Short intro."]));
            }
            files[$"{DebianHandbook.HtmlFolder}/{locale}/index.html"] = Encoding.UTF8.GetBytes("<html><body><div class=\"book\">toc</div></body></html>");
        }
        return files;
    }

    public static string UdhrArticle(string code, int n) => code switch
    {
        "eng" => $"Everyone has the right number {n} to take part in the life of the community, and to enjoy the protection of the law without any distinction of any kind whatsoever.",
        "deu_1996" => $"Jeder hat das Recht mit der Nummer {n}, am Leben der Gemeinschaft teilzunehmen und den Schutz des Gesetzes ohne jeden Unterschied zu genießen.",
        "heb" => $"לכל אדם יש את הזכות מספר {n} להשתתף בחיי הקהילה וליהנות מהגנת החוק בלי הבדל מכל סוג שהוא.",
        "swh" => $"Kila mtu ana haki ya namba {n} ya kushiriki katika maisha ya jamii, na kulindwa na sheria bila ubaguzi wo wote wa aina yo yote ile.",
        _ => throw new ArgumentException(code),
    };

    public static string Declaration(string code, int articles = 30)
    {
        var html = new StringBuilder($"<!doctype html>\n<html data-code=\"{code}\" lang=\"x\">\n  <head>\n    <title>{code}</title>\n  </head>\n  <body>\n    <h1>DECLARATION</h1>\n    <header>\n      <h2>PREAMBLE</h2>\n");
        for (var k = 0; k < 5; k++) html.Append($"      <p>{UdhrArticle(code, 100 + k)}</p>\n");
        html.Append("    </header>\n");
        for (var a = 1; a <= articles; a++)
        {
            html.Append($"    <article data-number=\"{a}\">\n      <h2>Article {a}</h2>\n");
            if (a % 5 == 0) html.Append($"      <ol>\n        <li>\n          <p>{UdhrArticle(code, a)}</p>\n        </li>\n        <li>\n          <p>{UdhrArticle(code, 1000 + a)}</p>\n        </li>\n      </ol>\n");
            else html.Append($"      <p>{UdhrArticle(code, a)}</p>\n      <p>{UdhrArticle(code, 2000 + a)}</p>\n");
            html.Append("    </article>\n");
        }
        html.Append("  </body>\n</html>\n");
        return html.ToString();
    }

    public static SortedDictionary<string, byte[]> Udhr(string licence = "MIT") => new(StringComparer.Ordinal)
    {
        [CorpusSources.UdhrPackageJson] = Encoding.UTF8.GetBytes($"{{\"name\": \"udhr\", \"version\": \"6.0.0\", \"license\": \"{licence}\"}}"),
        [$"{Repro.Core.Fixtures.Udhr.DeclarationFolder}/eng.html"] = Encoding.UTF8.GetBytes(Declaration("eng")),
        [$"{Repro.Core.Fixtures.Udhr.DeclarationFolder}/deu_1996.html"] = Encoding.UTF8.GetBytes(Declaration("deu_1996")),
        [$"{Repro.Core.Fixtures.Udhr.DeclarationFolder}/swh.html"] = Encoding.UTF8.GetBytes(Declaration("swh")),
    };
}
