using Repro.Core.Corpora;
using Repro.Core.Fixtures;

namespace Repro.Core.Tests.Fixtures;

public sealed class ExtractionTests
{
    [Test]
    public void A_handbook_page_gives_one_document_per_section_down_to_h3_with_deeper_sections_folded_in()
    {
        const string html = """
            <?xml version="1.0" encoding="UTF-8"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x.dtd">
            <html xmlns="http://www.w3.org/1999/xhtml"><head><title>6.2. Title</title></head><body>
            <ul class="docnav top"><li><a href="a.html"><strong>Prev</strong></a></li></ul>
            <div class="section"><div class="titlepage"><div><div><h2 class="title"><a id="sect.top"></a>6.2. The <code class="command">apt</code> tool</h2></div></div></div>
            <a id="id-1" class="indexterm"></a><div class="para">Intro with <code class="command">apt-get</code> inline<sup>[<a href="#f1" class="footnote">1</a>]</sup> and &amp; an entity.</div>
            <div class="section"><div class="titlepage"><div><div><h3 class="title"><a id="sect.sub"></a>6.2.1. Sub</h3></div></div></div>
            <div class="para">First paragraph of the subsection.</div>
            <div class="sidebar"><div class="titlepage"><div><div><p class="title"><strong>TIP</strong></p></div></div></div><div class="para">Sidebar prose.</div></div>
            <div class="informalexample"><pre class="screen"><code># apt update</code></pre></div>
            <div class="para">A list follows:<div class="itemizedlist"><ul><li class="listitem"><div class="para">item one</div></li></ul></div></div>
            <div class="section"><div class="titlepage"><div><div><h4 class="title"><a id="sect.deep"></a>6.2.1.1. Deep</h4></div></div></div>
            <div class="para">Deep paragraph.</div></div>
            </div></div>
            <div class="footnotes"><div class="para">The footnote.</div></div>
            </body></html>
            """;
        var documents = DebianHandbook.ExtractPage(html, "sect.top.html", "en");
        Assert.That(documents.Select(d => d.Key), Is.EqualTo(new[] { "debian-handbook:sect.top.html#sect.top", "debian-handbook:sect.top.html#sect.sub" }));
        Assert.That(documents[0].Paragraphs.Select(ParagraphFilter.Normalize), Is.EqualTo(new[] { "Intro with apt-get inline and & an entity." }));
        Assert.That(documents[1].Paragraphs.Select(ParagraphFilter.Normalize),
            Is.EqualTo(new[] { "First paragraph of the subsection.", "Sidebar prose.", "A list follows:", "item one", "Deep paragraph." }));
    }

    [Test]
    public void A_declaration_gives_the_preamble_and_article_groups_without_headings()
    {
        var documents = Udhr.Extract(HandMadeSources.Declaration("swh"), "sw", "swh.html");
        Assert.That(documents.Select(d => d.Id), Is.EqualTo(new[]
        {
            "preamble", "articles-01-03", "articles-04-09", "articles-10-12", "articles-13-15", "articles-16-18", "articles-19-21",
            "articles-22-24", "articles-25-27", "articles-28-30",
        }));
        Assert.That(documents[0].Paragraphs, Has.Count.EqualTo(5));
        Assert.That(documents[2].Paragraphs, Has.Count.EqualTo(12), "articles 4-9, two paragraphs each (article 5 as a list)");
        Assert.That(documents.SelectMany(d => d.Paragraphs).Any(p => p.Contains("Article")), Is.False, "headings are left out");
        Assert.That(ParagraphFilter.Normalize(documents[1].Paragraphs[0]), Is.EqualTo(HandMadeSources.UdhrArticle("swh", 1)));
    }

    [Test]
    public void A_declaration_without_articles_is_rejected_with_the_file_named()
    {
        var e = Assert.Throws<CorpusFormatException>(() => Udhr.Extract("<html><body><p>x</p></body></html>", "sw", "pkg.tgz:swh.html"));
        Assert.That(e!.Message, Does.StartWith("pkg.tgz:swh.html: no <article>"));
    }

    [Test]
    public void The_markup_parser_handles_void_elements_comments_and_unclosed_tags()
    {
        var root = MarkupTree.Parse("<div><!-- c --><p>a<br>b<img src=x>c</p><p>d &lt; e &#x41;<span>f</div>");
        Assert.That(MarkupBlocks.Extract(root), Is.EqualTo(new[] { "a bc", "d < e Af" }));
    }
}
