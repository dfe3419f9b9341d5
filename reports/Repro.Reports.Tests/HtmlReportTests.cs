using FsCheck;
using FsCheck.Fluent;
using Repro.Core;
using Repro.Core.Runs;
using Repro.Methods.Claims;

namespace Repro.Reports.Tests;

public sealed class HtmlReportTests
{
    [Test]
    public void Markup_from_data_reaches_the_file_only_escaped()
    {
        var path = Path.Combine(Artifacts.Folder, "report-escaped.html");
        var input = ReportInputs.Load([SmallStore.Root], RepoPaths.Expectations, path, DateTimeOffset.UtcNow);
        var html = HtmlReport.Render(Hostile.Inject(input, "<script>alert(1)</script>", "\"><img src=x onerror=alert(2)>"));
        Assert.Multiple(() =>
        {
            Assert.That(html, Does.Not.Contain("<script"), "no script element");
            Assert.That(html, Does.Not.Contain("<img"), "no element from data");
            Assert.That(html, Does.Not.Contain("\"><img"), "no attribute broken out of");
            Assert.That(html, Does.Contain("&lt;script&gt;alert(1)&lt;/script&gt;"));
        });
    }

    [Test]
    public void The_report_is_self_contained()
    {
        var path = Path.Combine(Artifacts.Folder, "report-offline.html");
        var html = HtmlReport.Render(ReportInputs.Load([SmallStore.Root], RepoPaths.Expectations, path, DateTimeOffset.UtcNow));
        Assert.Multiple(() =>
        {
            Assert.That(html, Does.Not.Contain("http://").And.Not.Contain("https://").And.Not.Contain("src=\"//"), "nothing is fetched from a network");
            Assert.That(html, Does.Not.Contain("<link").And.Not.Contain("@import"), "styles are inline");
            Assert.That(html, Does.Contain("@media print"), "a print layout");
        });
    }

    [Test]
    public void Every_verdict_links_its_cells_to_result_files_of_the_store()
    {
        var file = VerdictsFile.Load(SmallStore.VerdictsPath);
        var cited = file.Verdicts.SelectMany(v => v.Tables).SelectMany(t => t.Cells).SelectMany(c => c.Sources).Distinct().ToList();
        Assert.That(cited, Is.Not.Empty);
        Assert.That(cited.Where(f => !File.Exists(Path.Combine(SmallStore.Root, f))), Is.Empty, "every cited file is in the store");
        var html = HtmlReport.Render(ReportInputs.Load([SmallStore.Root], RepoPaths.Expectations, Path.Combine(SmallStore.Root, "report.html"), DateTimeOffset.UtcNow));
        Assert.That(cited.Where(f => !html.Contains($"href=\"{Uri.EscapeDataString(f)}\"", StringComparison.Ordinal)), Is.Empty, "every cited file is linked");
    }

    [Test]
    public void A_cited_result_file_missing_from_the_store_is_an_error_naming_it()
    {
        var copy = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "repro-report-tests", Guid.NewGuid().ToString("N"))).FullName;
        try
        {
            _ = SmallStore.Verdicts;
            foreach (var f in Directory.EnumerateFiles(SmallStore.Root, "*.json"))
                File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
            var victim = VerdictsFile.Load(Path.Combine(copy, VerdictsFile.FileName)).Verdicts.SelectMany(x => x.Tables).SelectMany(t => t.Cells).SelectMany(c => c.Sources).First();
            File.Delete(Path.Combine(copy, victim));
            var error = Assert.Throws<ResultFileException>(() => ReportInputs.Load([copy], RepoPaths.Expectations, Path.Combine(copy, "r.html"), DateTimeOffset.UtcNow));
            Assert.That(error!.Message, Does.Contain(victim).And.Contain("missing"));
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [Test]
    public void A_store_without_verdicts_is_an_error_saying_what_writes_them()
    {
        var empty = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "repro-report-tests", Guid.NewGuid().ToString("N"))).FullName;
        var error = Assert.Throws<ResultFileException>(() => ReportInputs.Load([empty], RepoPaths.Expectations, Path.Combine(empty, "r.html"), DateTimeOffset.UtcNow));
        Assert.That(error!.Message, Does.Contain("verdicts.json").And.Contain("repro claims verdict"));
        Directory.Delete(empty);
    }

    /// <summary>WCAG relative luminance of a #rrggbb colour.</summary>
    static double Luminance(string hex)
    {
        double Channel(int i)
        {
            var c = Convert.ToInt32(hex.Substring(1 + 2 * i, 2), 16) / 255.0;
            return c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        }
        return 0.2126 * Channel(0) + 0.7152 * Channel(1) + 0.0722 * Channel(2);
    }

    static double Contrast(string a, string b)
    {
        var (la, lb) = (Luminance(a), Luminance(b));
        return (Math.Max(la, lb) + 0.05) / (Math.Min(la, lb) + 0.05);
    }

    [Test]
    public void The_colour_scale_darkens_monotonically_so_its_order_survives_greyscale()
    {
        var unit = Gen.Choose(0, 10_000).Select(i => i / 10_000.0);
        Prop.ForAll(Gen.Two(unit).ToArbitrary(), pair =>
        {
            var (x, y) = pair.Item1 <= pair.Item2 ? pair : (pair.Item2, pair.Item1);
            return Luminance(HtmlReport.Shade(x).Background) >= Luminance(HtmlReport.Shade(y).Background);
        }).QuickCheckThrowOnFailure();
    }

    [Test]
    public void Cell_text_is_readable_on_every_shade()
    {
        var worst = Enumerable.Range(0, 101).Select(i => HtmlReport.Shade(i / 100.0)).Min(s => Contrast(s.Background, s.Foreground));
        Assert.That(worst, Is.GreaterThanOrEqualTo(4.5), "WCAG AA contrast for normal text");
    }

    [Test]
    public void Ten_steps_of_the_scale_are_told_apart_in_grey()
    {
        var greys = Enumerable.Range(0, 11).Select(i => Luminance(HtmlReport.Shade(i / 10.0).Background)).ToList();
        var smallest = greys.Zip(greys.Skip(1), (p, q) => p - q).Min();
        Assert.That(smallest, Is.GreaterThan(0.01), "every step darker than the last by a visible amount");
    }

    [Test]
    public void Anchors_are_safe_for_any_text()
    {
        var id = HtmlReport.Id("claim", "C1\"><script>");
        Assert.That(id, Does.Match("^[A-Za-z0-9-]+$"));
        Assert.That(HtmlReport.Id("a b"), Is.Not.EqualTo(HtmlReport.Id("a-b")), "different texts, different ids");
    }
}
