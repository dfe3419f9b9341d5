using System.Text;

namespace Repro.Core.Fixtures;

/// <summary>
/// Turns an element into the text blocks a reader sees as paragraphs: text runs up to each block-level
/// boundary (a div, p, li, heading, ...). Inline markup (code, em, a, acronym) stays part of the sentence, so
/// "the <c>apt-get</c> command" reads as one paragraph; elements the caller skips (code listings, tables,
/// titles, navigation) contribute nothing and still end the paragraph they interrupt.
/// </summary>
public static class MarkupBlocks
{
    static readonly HashSet<string> BlockElements =
    [
        "address", "article", "aside", "blockquote", "body", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    ];

    /// <summary>Elements whose content is never prose: listings, scripts, images, footnote markers.</summary>
    static readonly HashSet<string> AlwaysSkipped = ["pre", "script", "style", "head", "title", "img", "sup", "table", "svg", "math"];

    /// <summary>
    /// Text blocks below <paramref name="root"/> in document order, untrimmed, empty ones left out.
    /// <paramref name="skip"/> prunes whole subtrees (checked for every element, <paramref name="root"/> excluded).
    /// </summary>
    public static List<string> Extract(MarkupElement root, Func<MarkupElement, bool>? skip = null)
    {
        var blocks = new List<string>();
        var current = new StringBuilder();
        Walk(root);
        Flush();
        return blocks;

        void Walk(MarkupElement element)
        {
            foreach (var child in element.Children)
            {
                switch (child)
                {
                    case MarkupText text:
                        current.Append(text.Text);
                        break;
                    case MarkupElement e when e.Name == "br":
                        current.Append(' ');
                        break;
                    case MarkupElement e when AlwaysSkipped.Contains(e.Name) || (skip?.Invoke(e) ?? false):
                        if (BlockElements.Contains(e.Name) || e.Name == "pre") Flush();
                        break;
                    case MarkupElement e when BlockElements.Contains(e.Name):
                        Flush();
                        Walk(e);
                        Flush();
                        break;
                    case MarkupElement e:
                        Walk(e);
                        break;
                }
            }
        }

        void Flush()
        {
            if (current.Length == 0) return;
            var text = current.ToString();
            current.Clear();
            if (!string.IsNullOrWhiteSpace(text)) blocks.Add(text);
        }
    }
}
