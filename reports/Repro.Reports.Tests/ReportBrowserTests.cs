using System.Globalization;
using System.Text.Json;
using OpenQA.Selenium.Chrome;
using Repro.Core;
using Repro.Core.Claims;
using Repro.Methods.Claims;

namespace Repro.Reports.Tests;

/// <summary>
/// The report as a reviewer's browser shows it: Chromium renders the file, and the DOM is compared with the
/// verdicts file it was rendered from (every verdict, every table cell of every measured and paper table).
/// </summary>
[NonParallelizable]
public sealed class ReportBrowserTests
{
    sealed record DomCell(string Kind, string Profile, string Model, string Method, string Row, string Column, string Value, string Text);

    sealed record DomVerdict(string Claim, string Profile, string Outcome, string Expected, string Paper);

    [Test]
    public void Chromium_shows_every_verdict_and_every_table_cell_of_the_verdicts_file()
    {
        var file = VerdictsFile.Load(SmallStore.VerdictsPath);
        var path = Path.Combine(Artifacts.Folder, "report.html");
        ReportFile.Write(path, HtmlReport.Render(ReportInputs.Load([SmallStore.Root], RepoPaths.Expectations, path, DateTimeOffset.UtcNow)));

        using var driver = Browser.Start();
        driver.Navigate().GoToUrl(new Uri(path).AbsoluteUri);
        var verdicts = Read<DomVerdict>(driver, """
            return JSON.stringify(Array.from(document.querySelectorAll('table.summary tbody tr')).map(r => ({
              claim: r.dataset.claim, profile: r.dataset.profile, outcome: r.dataset.outcome, expected: r.dataset.expected, paper: r.dataset.paper })));
            """);
        var cells = Read<DomCell>(driver, """
            return JSON.stringify(Array.from(document.querySelectorAll('table.heat')).flatMap(t =>
              Array.from(t.querySelectorAll('td[data-row]')).map(td => ({
                kind: t.dataset.kind, profile: t.dataset.profile, model: t.dataset.model, method: t.dataset.method,
                row: td.dataset.row, column: td.dataset.column, value: td.dataset.value, text: td.innerText }))));
            """);
        Browser.SaveFullPage(driver, Path.Combine(Artifacts.Folder, "report.png"));
        TestContext.AddTestAttachment(Path.Combine(Artifacts.Folder, "report.png"), "the report as Chromium renders it");
        TestContext.AddTestAttachment(path, "the report");

        Assert.That(verdicts.Select(v => (v.Claim, v.Profile, v.Outcome, v.Expected, v.Paper)),
                    Is.EquivalentTo(file.Verdicts.Select(v => (v.Claim, v.Profile, Word(v.Verdict.Outcome), Word(v.Expected), Word(v.Paper.Outcome)))),
                    "the summary's verdicts are the file's");
        var expected = file.Verdicts.SelectMany(v => v.Tables.SelectMany(t => t.Cells.Select(c => ("measured", v.Profile, t, c))))
            .Concat(file.Verdicts.SelectMany(v => v.PaperTables.SelectMany(t => t.Cells.Select(c => ("paper", v.Profile, t, c))))).ToList();
        Assert.That(expected, Is.Not.Empty, "the store's verdicts carry tables");
        var shown = cells.ToLookup(c => (c.Kind, c.Model, c.Method, c.Row, c.Column));
        var problems = new List<string>();
        foreach (var (kind, profile, table, cell) in expected)
        {
            var found = shown[(kind, table.Model, table.Method, cell.Row, $"{cell.Task} {cell.Language}")].ToList();
            if (found.Count == 0) { problems.Add($"{kind} {table.Name} {cell.Row} {cell.Task} {cell.Language}: not in the page"); continue; }
            foreach (var dom in found)
            {
                if (double.Parse(dom.Value, CultureInfo.InvariantCulture) != cell.Mean) problems.Add($"{kind} {table.Name} {cell.Row} {cell.Task} {cell.Language}: data-value {dom.Value} ≠ {cell.Mean:R}");
                if (!dom.Text.Contains(HtmlReport.Number(cell.Mean), StringComparison.Ordinal)) problems.Add($"{kind} {table.Name} {cell.Row} {cell.Task} {cell.Language}: shows '{dom.Text}', not {HtmlReport.Number(cell.Mean)}");
            }
        }
        Assert.That(problems, Is.Empty, string.Join("\n", problems.Take(20)));
        Assert.That(cells, Has.Count.EqualTo(expected.Count), "no table cell the verdicts file does not hold");
    }

    [Test]
    public void Markup_in_data_strings_is_shown_as_text_and_never_runs()
    {
        const string script = "<script>document.title='injected';window.injected=1</script>";
        const string image = "<img src=x onerror=\"document.title='injected';window.injected=1\">";
        var path = Path.Combine(Artifacts.Folder, "report-injected.html");
        var input = ReportInputs.Load([SmallStore.Root], RepoPaths.Expectations, path, DateTimeOffset.UtcNow);
        ReportFile.Write(path, HtmlReport.Render(Hostile.Inject(input, script, image)));

        using var driver = Browser.Start();
        driver.Navigate().GoToUrl(new Uri(path).AbsoluteUri);
        var title = driver.Title;
        var injected = driver.ExecuteScript("return typeof window.injected");
        var scripts = driver.ExecuteScript("return document.querySelectorAll('script, img, iframe, object, embed').length");
        var text = (string?)driver.ExecuteScript("return document.body.innerText") ?? "";
        Assert.Multiple(() =>
        {
            Assert.That(title, Is.Not.EqualTo("injected"));
            Assert.That(injected, Is.EqualTo("undefined"), "no injected code ran");
            Assert.That(Convert.ToInt64(scripts, CultureInfo.InvariantCulture), Is.Zero, "no element came from data");
            Assert.That(text, Does.Contain(script), "the script text is shown as text");
            Assert.That(text, Does.Contain(image), "the image markup is shown as text");
        });
    }

    [Test]
    public void In_print_the_navigation_goes_and_without_css_the_marks_stay_in_the_text()
    {
        var path = Path.Combine(Artifacts.Folder, "report-print.html");
        ReportFile.Write(path, HtmlReport.Render(ReportInputs.Load([SmallStore.Root], RepoPaths.Expectations, path, DateTimeOffset.UtcNow)));
        using var driver = Browser.Start();
        driver.Navigate().GoToUrl(new Uri(path).AbsoluteUri);
        Assert.That(driver.ExecuteScript("return getComputedStyle(document.querySelector('nav')).display"), Is.Not.EqualTo("none"), "on screen the contents show");
        driver.ExecuteCdpCommand("Emulation.setEmulatedMedia", new Dictionary<string, object?> { ["media"] = "print" });
        Assert.Multiple(() =>
        {
            Assert.That(driver.ExecuteScript("return getComputedStyle(document.querySelector('nav')).display"), Is.EqualTo("none"), "print drops the navigation");
            Assert.That(driver.ExecuteScript("return getComputedStyle(document.querySelector('section.claim')).breakBefore"), Is.EqualTo("page"), "each claim on a new page");
        });
        driver.ExecuteCdpCommand("Emulation.setEmulatedMedia", new Dictionary<string, object?> { ["media"] = "screen" });
        driver.ExecuteScript("document.querySelectorAll('style').forEach(s => s.remove()); document.querySelectorAll('[style]').forEach(e => e.removeAttribute('style'))");
        var marks = (string?)driver.ExecuteScript("""
            const text = sel => Array.from(document.querySelectorAll(sel)).map(e => e.innerText);
            return JSON.stringify({ diag: text('td.diag'), best: text('td.best'), evidence: document.querySelectorAll('td.evidence mark').length,
                                    cited: document.querySelectorAll('td.evidence').length, headers: document.querySelectorAll('table.heat thead th').length });
            """) ?? "{}";
        var parsed = JsonDocument.Parse(marks).RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(parsed.GetProperty("diag").EnumerateArray().Select(e => e.GetString()), Is.Not.Empty.And.All.Contains("◆"), "diagonal cells say so in text");
            Assert.That(parsed.GetProperty("best").EnumerateArray().Select(e => e.GetString()), Is.Not.Empty.And.All.Contains("▲"), "best cells say so in text");
            Assert.That(parsed.GetProperty("evidence").GetInt32(), Is.EqualTo(parsed.GetProperty("cited").GetInt32()).And.GreaterThan(0), "evidence cells are <mark>ed");
        });
    }

    static List<T> Read<T>(ChromeDriver driver, string script) =>
        JsonSerializer.Deserialize<List<T>>((string?)driver.ExecuteScript(script) ?? "[]", new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    static string Word(Outcome outcome) => outcome.ToString().ToLowerInvariant();
}
