using Repro.Core.Corpora;

namespace Repro.Core.Fixtures;

/// <summary>
/// The Debian Administrator's Handbook as Debian's <c>debian-handbook</c> package ships it: publican XHTML,
/// one folder per edition (<c>usr/share/doc/debian-handbook/html/{locale}/*.html</c>), every edition with the
/// same pages and the same section structure, translated from the same DocBook source. Untranslated
/// paragraphs of a partial translation are the English ones, and code listings are <c>pre</c> elements.
/// </summary>
public static class DebianHandbook
{
    public const string Source = "debian-handbook";

    /// <summary>Where the editions live inside the package's file tree.</summary>
    public const string HtmlFolder = "usr/share/doc/debian-handbook/html";

    /// <summary>Sections nested below this heading level belong to the document of their parent section.</summary>
    public const int DeepestDocumentHeading = 3;

    /// <summary>Pages that hold no prose of their own (the table of contents).</summary>
    static readonly HashSet<string> SkippedPages = ["index.html"];

    /// <summary>Classes of publican elements that are not running prose.</summary>
    static readonly HashSet<string> SkippedClasses =
    [
        "titlepage", "title", "toc", "screen", "programlisting", "example", "informalexample", "figure", "informalfigure",
        "mediaobject", "table", "informaltable", "footnotes", "footnote", "docnav", "calloutlist", "index", "revhistory",
        "legalnotice", "author", "authorgroup", "othercredit", "editor", "copyright", "synopsis", "cmdsynopsis",
        "literallayout", "address",
    ];

    static readonly HashSet<string> Containers = ["chapter", "section", "preface", "appendix", "article", "part", "colophon", "simplesect"];

    /// <summary>
    /// The documents of every page of one edition (<paramref name="editionFolder"/> = <c>.../html/de-DE</c>), pages
    /// in ordinal order of file name, documents in page order.
    /// </summary>
    public static List<SourceDocument> ReadEdition(string editionFolder, string language)
    {
        if (!Directory.Exists(editionFolder))
            throw new CorpusFormatException(editionFolder, "the handbook edition folder does not exist; is the package complete?");
        var documents = new List<SourceDocument>();
        foreach (var page in Directory.EnumerateFiles(editionFolder, "*.html").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(page);
            if (SkippedPages.Contains(name)) continue;
            documents.AddRange(ExtractPage(File.ReadAllText(page), name, language, page));
        }
        if (documents.Count == 0)
            throw new CorpusFormatException(editionFolder, "no handbook pages with sections found; is this a debian-handbook html folder?");
        return documents;
    }

    /// <summary>
    /// Documents of one page: every chapter or section down to heading level <see cref="DeepestDocumentHeading"/>
    /// is one document with its own paragraphs and those of its deeper subsections. Ids are <c>{page}#{anchor}</c>,
    /// the anchor publican writes into each title (the same in every edition), or the section's position.
    /// </summary>
    public static List<SourceDocument> ExtractPage(string html, string page, string language, string? pathForErrors = null)
    {
        var root = MarkupTree.Parse(html);
        var body = root.Descendants().FirstOrDefault(e => e.Name == "body")
            ?? throw new CorpusFormatException(pathForErrors ?? page, "no <body> element; is this an HTML page of the handbook?");
        var top = body.Descendants().FirstOrDefault(IsContainer);
        var documents = new List<SourceDocument>();
        if (top is null) return documents;
        var ordinal = 0;
        Visit(top);
        return documents;

        void Visit(MarkupElement container)
        {
            var id = AnchorOf(container) ?? $"{ordinal}";
            ordinal++;
            var paragraphs = MarkupBlocks.Extract(container, e => IsSkipped(e) || IsDocument(e));
            documents.Add(new SourceDocument(Source, $"{page}#{id}", language, paragraphs));
            foreach (var child in DocumentChildren(container)) Visit(child);
        }
    }

    /// <summary>Sections that start their own document, nearest first (not looking inside them).</summary>
    static IEnumerable<MarkupElement> DocumentChildren(MarkupElement element)
    {
        foreach (var child in element.Elements)
        {
            if (IsSkipped(child)) continue;
            if (IsDocument(child)) yield return child;
            else foreach (var nested in DocumentChildren(child)) yield return nested;
        }
    }

    static bool IsContainer(MarkupElement e) =>
        e.Name is "div" or "section" && Containers.Any(e.HasClass);

    static bool IsDocument(MarkupElement e) => IsContainer(e) && HeadingLevel(e) <= DeepestDocumentHeading;

    static bool IsSkipped(MarkupElement e) =>
        e.Attribute("class") is { } classes && classes.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(SkippedClasses.Contains);

    /// <summary>The level of the container's title heading (h1 = 1), looking through its titlepage only.</summary>
    static int HeadingLevel(MarkupElement container)
    {
        var titlepage = container.Elements.FirstOrDefault(e => e.HasClass("titlepage"));
        var heading = titlepage?.Descendants().FirstOrDefault(e => e.Name is ['h', >= '1' and <= '6']);
        return heading is null ? int.MaxValue : heading.Name[1] - '0';
    }

    static string? AnchorOf(MarkupElement container)
    {
        var titlepage = container.Elements.FirstOrDefault(e => e.HasClass("titlepage"));
        return titlepage?.Descendants().FirstOrDefault(e => e.Name == "a" && e.Attribute("id") is { Length: > 0 })?.Attribute("id");
    }
}
