using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Repro.Core.Claims;
using Repro.Core.Runs;
using Repro.Methods.Claims;

namespace Repro.Reports;

/// <summary>
/// Renders a <see cref="ReportInput"/> as one self-contained HTML file: inline CSS, no script, no network. Every
/// string that comes from data (claim text, model names, languages, dataset and task strings, notes) goes through
/// <see cref="H"/>; only the markup written here is raw. Marks that matter (diagonal, best per column, the cells a
/// verdict rests on) are text as well as colour, so the tables read in grey, for colour-blind readers and with CSS off.
/// </summary>
public static class HtmlReport
{
    public static string Render(ReportInput input)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(H(input.Title)).Append("</title>\n<style>").Append(Css).Append("</style>\n</head>\n<body>\n");
        html.Append("<header><h1>").Append(H(input.Title)).Append("</h1>\n<p>Generated ")
            .Append(H(input.GeneratedUtc.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)))
            .Append(" from ").Append(input.Profiles.Count).Append(input.Profiles.Count == 1 ? " result store" : " result stores").Append(".</p>\n");
        Contents(html, input);
        html.Append("</header>\n<main>\n");
        Summary(html, input);
        Legend(html);
        foreach (var claim in ClaimsShown(input)) ClaimSection(html, input, claim);
        foreach (var section in input.Profiles) RunsSection(html, section);
        foreach (var section in input.Profiles) FingerprintSection(html, section);
        html.Append("</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>HTML-escapes text from data, for element content and for quoted attribute values alike.</summary>
    public static string H(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>An id fragment safe in HTML and URLs for any text: letters and digits kept, anything else by its hash.</summary>
    public static string Id(params string[] parts)
    {
        var text = string.Join("|", parts);
        var slug = new string([.. text.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '-')]);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..8];
        return $"{(slug.Length > 40 ? slug[..40] : slug)}-{hash}";
    }

    public static string FingerprintId(EvaluationFingerprint fingerprint) => "fp-" + CanonicalJson.Sha256(fingerprint)[..12];

    /// <summary>How a number is printed: enough digits to tell cells of one table apart, as the papers print theirs.</summary>
    public static string Number(double value)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsInfinity(value)) return value > 0 ? "∞" : "−∞";
        var magnitude = Math.Abs(value);
        var format = magnitude >= 1000 ? "F0" : magnitude >= 100 ? "F1" : magnitude >= 0.01 || magnitude == 0 ? "F2" : "G3";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }

    static string Word(Outcome outcome) => outcome.ToString().ToLowerInvariant();

    static IEnumerable<Claim> ClaimsShown(ReportInput input)
    {
        var ids = input.Profiles.SelectMany(p => p.Verdicts.Verdicts).Select(v => v.Claim).ToHashSet();
        return input.Claims.Where(c => ids.Contains(c.Id));
    }

    static void Contents(StringBuilder html, ReportInput input)
    {
        html.Append("<nav aria-label=\"contents\"><ul>\n<li><a href=\"#summary\">Verdicts</a></li>\n");
        foreach (var claim in ClaimsShown(input))
            html.Append("<li><a href=\"#").Append(Id("claim", claim.Id)).Append("\">").Append(H(claim.Id)).Append("</a></li>\n");
        foreach (var section in input.Profiles)
            html.Append("<li><a href=\"#").Append(Id("runs", section.Verdicts.Profile)).Append("\">Runs at ").Append(H(section.Verdicts.Profile)).Append("</a></li>\n");
        html.Append("</ul></nav>\n");
    }

    static void Summary(StringBuilder html, ReportInput input)
    {
        html.Append("<section id=\"summary\"><h2>Verdicts</h2>\n");
        foreach (var section in input.Profiles)
        {
            var v = section.Verdicts;
            html.Append("<p class=\"meta\">Profile <strong>").Append(H(v.Profile)).Append("</strong>: computed ")
                .Append(H(v.ComputedUtc.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture))).Append(" at commit <code>").Append(H(v.Commit))
                .Append("</code>, code version <code>").Append(H(v.Code.Version)).Append("</code>").Append(v.Code.Dirty ? " (uncommitted changes, diff " + H(v.Code.DiffSha256) + ")" : "")
                .Append(", store <a href=\"").Append(H(Link(section.StoreLink))).Append("\"><code>").Append(H(v.Store)).Append("</code></a>.</p>\n");
        }
        html.Append("<table class=\"summary\">\n<caption>Each claim's verdict per profile, computed by its rule from the store; the expected verdict is the one its claim file records for that profile; the paper's is the same rule on the paper's transcribed tables.</caption>\n")
            .Append("<thead><tr><th scope=\"col\">claim</th><th scope=\"col\">profile</th><th scope=\"col\">measured</th><th scope=\"col\">expected</th><th scope=\"col\">paper's tables</th><th scope=\"col\">reason</th></tr></thead>\n<tbody>\n");
        foreach (var claim in ClaimsShown(input))
            foreach (var section in input.Profiles)
            {
                var v = section.Verdicts.Verdicts.FirstOrDefault(x => x.Claim == claim.Id);
                if (v is null) continue;
                html.Append("<tr data-claim=\"").Append(H(v.Claim)).Append("\" data-profile=\"").Append(H(v.Profile)).Append("\" data-outcome=\"").Append(Word(v.Verdict.Outcome))
                    .Append("\" data-expected=\"").Append(Word(v.Expected)).Append("\" data-paper=\"").Append(Word(v.Paper.Outcome)).Append("\">")
                    .Append("<th scope=\"row\"><a href=\"#").Append(Id("claim", claim.Id)).Append("\">").Append(H(v.Claim)).Append("</a></th>")
                    .Append("<td>").Append(H(v.Profile)).Append("</td><td>").Append(Badge(v.Verdict.Outcome, v.AsExpected)).Append("</td><td>").Append(Badge(v.Expected, null))
                    .Append("</td><td>").Append(Badge(v.Paper.Outcome, null)).Append("</td><td>").Append(H(v.Verdict.Reason)).Append("</td></tr>\n");
            }
        html.Append("</tbody></table>\n</section>\n");
    }

    /// <summary>An outcome as a word with a symbol (✓ holds, ✗ fails, ? inconclusive); "≠ expected" when it is not the expected one.</summary>
    static string Badge(Outcome outcome, bool? asExpected)
    {
        var symbol = outcome switch { Outcome.Holds => "✓", Outcome.Fails => "✗", _ => "?" };
        var unexpected = asExpected == false ? " <span class=\"unexpected\">≠ expected</span>" : "";
        return $"<span class=\"badge {Word(outcome)}\">{symbol} {Word(outcome)}</span>{unexpected}";
    }

    static void Legend(StringBuilder html)
    {
        html.Append("<section id=\"legend\"><h2>How to read the tables</h2>\n<p>Rows are calibration sets, columns evaluation columns (metric or task, and language). ")
            .Append("Each column is shaded on its own, as the papers shade theirs: the darker the cell, the better its value within that column ")
            .Append("(lower perplexity and pruning error, higher SNR and accuracy). The scale is one hue whose lightness alone carries the order, so it reads in grey.</p>\n")
            .Append("<p class=\"scale\" aria-hidden=\"true\">worse ");
        for (var i = 0; i <= 10; i++)
        {
            var (bg, fg) = Shade(i / 10.0);
            html.Append("<span style=\"background:").Append(bg).Append(";color:").Append(fg).Append("\">&#160;").Append(i).Append("&#160;</span>");
        }
        html.Append(" better</p>\n<ul>\n<li><span class=\"mark\">◆</span> diagonal: calibrated on the language it is evaluated in.</li>\n")
            .Append("<li><span class=\"mark\">▲</span> best value of the column.</li>\n")
            .Append("<li><mark>marked</mark> a cell the verdict rests on; its role is in its tooltip and in the evidence list.</li>\n")
            .Append("<li>± the seed standard deviation of a cell (hover a cell for its seeds; the seed table below each block lists them with their result files).</li>\n")
            .Append("<li>Struck-through columns were not read by the rule (the reason is in the column's tooltip and under the table).</li>\n</ul>\n</section>\n");
    }

    static void ClaimSection(StringBuilder html, ReportInput input, Claim claim)
    {
        html.Append("<section class=\"claim\" id=\"").Append(Id("claim", claim.Id)).Append("\">\n<h2>").Append(H(claim.Id)).Append(": ").Append(H(claim.Statement)).Append("</h2>\n<dl>")
            .Append("<dt>Source</dt><dd>").Append(H(claim.Source.Paper)).Append(", ").Append(H(claim.Source.Where)).Append(" (<code>").Append(H(claim.Source.File)).Append("</code>)</dd>")
            .Append("<dt>Rule</dt><dd><code>").Append(H(claim.Rule)).Append("</code>: ").Append(H(claim.RuleInWords)).Append("</dd>")
            .Append("<dt>Unseen language</dt><dd>").Append(H(claim.UnseenLanguage)).Append("</dd></dl>\n");
        ClaimVerdict? paperShown = null;
        foreach (var section in input.Profiles)
        {
            var v = section.Verdicts.Verdicts.FirstOrDefault(x => x.Claim == claim.Id);
            if (v is null) continue;
            paperShown ??= v;
            html.Append("<div class=\"profile\" data-profile=\"").Append(H(v.Profile)).Append("\">\n<h3>Profile ").Append(H(v.Profile)).Append(": ")
                .Append(Badge(v.Verdict.Outcome, v.AsExpected)).Append("</h3>\n");
            VerdictText(html, v.Verdict, "Measured");
            html.Append("<p><strong>Expected ").Append(Word(v.Expected)).Append(" here:</strong> ").Append(H(v.Why)).Append("</p>\n");
            if (v.Tables.Count == 0) html.Append("<p class=\"meta\">No measured table: ").Append(H(v.Verdict.Reason)).Append("</p>\n");
            foreach (var table in v.Tables)
            {
                var paper = v.PaperTables.Where(p => p.Method == table.Method).ToList();
                html.Append("<div class=\"side\">\n");
                Heatmap(html, table, v.Verdict, $"{v.Profile}: {table.Name} (measured)", "measured", v.Profile);
                foreach (var p in paper) Heatmap(html, p, v.Paper, $"paper: {p.Name}", "paper", v.Profile);
                html.Append("</div>\n");
                SeedTable(html, table, section.StoreLink);
            }
        }
        if (paperShown is not null)
        {
            html.Append("<div class=\"paper\">\n<h3>The paper's own tables: ").Append(Badge(paperShown.Paper.Outcome, null)).Append("</h3>\n");
            VerdictText(html, paperShown.Paper, "On the paper's tables");
            var shownBeside = paperShown.Tables.Select(t => t.Method).ToHashSet();
            foreach (var p in paperShown.PaperTables.Where(p => !shownBeside.Contains(p.Method)))
                Heatmap(html, p, paperShown.Paper, $"paper: {p.Name}", "paper", "paper");
            html.Append("</div>\n");
        }
        html.Append("</section>\n");
    }

    static void VerdictText(StringBuilder html, Verdict verdict, string label)
    {
        html.Append("<p class=\"verdict\" data-outcome=\"").Append(Word(verdict.Outcome)).Append("\"><strong>").Append(H(label)).Append(":</strong> ")
            .Append(Word(verdict.Outcome)).Append(": ").Append(H(verdict.Reason)).Append("</p>\n");
        if (verdict.Figures.Count > 0)
        {
            html.Append("<p class=\"figures\">");
            html.AppendJoin(", ", verdict.Figures.OrderBy(f => f.Key, StringComparer.Ordinal)
                .Select(f => $"{H(f.Key)} = {H(f.Value.ToString("G4", CultureInfo.InvariantCulture))}"));
            html.Append("</p>\n");
        }
        if (verdict.Notes.Count > 0)
        {
            html.Append("<ul class=\"notes\">");
            foreach (var note in verdict.Notes) html.Append("<li>").Append(H(note)).Append("</li>");
            html.Append("</ul>\n");
        }
    }

    /// <summary>
    /// One calibration × evaluation table, each column shaded by its own range in its better direction, the diagonal
    /// and the best of each column marked, and the cells the verdict cites marked with their role.
    /// </summary>
    static void Heatmap(StringBuilder html, TableView table, Verdict verdict, string caption, string kind, string profile)
    {
        var evidence = verdict.Evidence.Where(e => e.Block == table.Name).GroupBy(e => (e.Row, e.Column))
            .ToDictionary(g => g.Key, g => string.Join(", ", g.Select(e => e.Role).Distinct()));
        html.Append("<figure class=\"heatmap\"><table class=\"heat\" data-kind=\"").Append(kind).Append("\" data-profile=\"").Append(H(profile))
            .Append("\" data-model=\"").Append(H(table.Model)).Append("\" data-method=\"").Append(H(table.Method)).Append("\">\n<caption>").Append(H(caption)).Append("</caption>\n")
            .Append("<thead><tr><th scope=\"col\">calibration</th>");
        foreach (var column in table.Columns)
        {
            var arrow = column.HigherIsBetter ? "↑" : "↓";
            var classes = column.Used ? "" : " class=\"dropped\"";
            var title = column.Used ? $"{column.Name}, {(column.HigherIsBetter ? "higher" : "lower")} is better" : $"{column.Name}: not read by the rule: {column.Dropped}";
            html.Append("<th scope=\"col\"").Append(classes).Append(" title=\"").Append(H(title)).Append("\">");
            var label = $"{H(column.Task)}<br>{H(column.Language)} {arrow}";
            if (column.Fingerprint is { } fp) html.Append("<a href=\"#").Append(FingerprintId(fp)).Append(Id("", profile)).Append("\">").Append(label).Append("</a>");
            else html.Append(label);
            if (!column.Used) html.Append("<br><small>(dropped)</small>");
            html.Append("</th>");
        }
        html.Append("</tr></thead>\n<tbody>\n");
        var ranges = table.Columns.ToDictionary(c => c.Name, c =>
        {
            var values = table.Rows.Select(r => table.Cell(r, c)?.Mean).OfType<double>().Where(double.IsFinite).ToList();
            return values.Count == 0 ? (0.0, 0.0) : (values.Min(), values.Max());
        });
        foreach (var row in table.Rows)
        {
            html.Append("<tr><th scope=\"row\">").Append(H(row)).Append("</th>");
            foreach (var column in table.Columns)
            {
                var cell = table.Cell(row, column);
                if (cell is null) { html.Append("<td class=\"empty\">–</td>"); continue; }
                var (min, max) = ranges[column.Name];
                var t = max > min && double.IsFinite(cell.Mean) ? (cell.Mean - min) / (max - min) : 1;
                if (!column.HigherIsBetter) t = 1 - t;
                var (bg, fg) = Shade(t);
                var diagonal = row == column.DiagonalRow;
                var best = double.IsFinite(cell.Mean) && max >= min && cell.Mean == (column.HigherIsBetter ? max : min);
                var role = evidence.GetValueOrDefault((row, column.Name));
                var tip = new StringBuilder($"calibration {row}, {column.Name}: {Number(cell.Mean)}");
                if (cell.Values.Count > 1) tip.Append($"; seeds {string.Join(", ", cell.Values.Select(Number))}");
                if (cell.Std is { } s) tip.Append($"; std {Number(s)}");
                if (diagonal) tip.Append("; diagonal");
                if (best) tip.Append("; best of the column");
                if (role is not null) tip.Append($"; evidence: {role}");
                if (cell.Sources.Count > 0) tip.Append($"; from {string.Join(", ", cell.Sources)}");
                html.Append("<td style=\"background:").Append(bg).Append(";color:").Append(fg).Append('"')
                    .Append(" data-row=\"").Append(H(row)).Append("\" data-column=\"").Append(H(column.Name)).Append("\" data-value=\"")
                    .Append(cell.Mean.ToString("R", CultureInfo.InvariantCulture)).Append('"');
                var classes = new List<string>();
                if (diagonal) classes.Add("diag");
                if (best) classes.Add("best");
                if (role is not null) classes.Add("evidence");
                if (!column.Used) classes.Add("dropped");
                if (classes.Count > 0) html.Append(" class=\"").Append(string.Join(' ', classes)).Append('"');
                html.Append(" title=\"").Append(H(tip.ToString())).Append("\">");
                var text = H(Number(cell.Mean)) + (cell.Std is { } sd && cell.Values.Count > 1 ? $"<small> ±{H(Number(sd))}</small>" : "");
                if (diagonal) text = "<span class=\"mark\">◆</span>" + text;
                if (best) text += "<span class=\"mark\">▲</span>";
                html.Append(role is null ? text : $"<mark>{text}</mark>").Append("</td>");
            }
            html.Append("</tr>\n");
        }
        if (table.Columns.Any(c => c.Dense is not null))
        {
            html.Append("<tr class=\"dense\"><th scope=\"row\">dense</th>");
            foreach (var column in table.Columns)
                html.Append("<td>").Append(column.Dense is { } d ? H(Number(d)) + (column.DenseStd is { } ds ? $"<small> ±{H(Number(ds))}</small>" : "") : "–").Append("</td>");
            html.Append("</tr>\n");
        }
        html.Append("</tbody></table>\n");
        var dropped = table.Columns.Where(c => !c.Used && c.Dropped is not null).ToList();
        var cited = verdict.Evidence.Where(e => e.Block == table.Name).ToList();
        if (dropped.Count > 0 || cited.Count > 0)
        {
            html.Append("<figcaption><ul>");
            foreach (var c in dropped) html.Append("<li>").Append(H(c.Name)).Append(" dropped: ").Append(H(c.Dropped)).Append("</li>");
            foreach (var e in cited.Take(40))
                html.Append("<li>evidence: calibration ").Append(H(e.Row)).Append(", ").Append(H(e.Column)).Append(" = ").Append(H(Number(e.Value))).Append(" (").Append(H(e.Role)).Append(")</li>");
            if (cited.Count > 40) html.Append("<li>… and ").Append(cited.Count - 40).Append(" more evidence cells</li>");
            html.Append("</ul></figcaption>");
        }
        html.Append("</figure>\n");
    }

    /// <summary>Every cell's seeds and the result files they came from, as a table (the spread a tooltip shows, for print and for CSS off).</summary>
    static void SeedTable(StringBuilder html, TableView table, string storeLink)
    {
        html.Append("<details class=\"seeds\"><summary>Seeds and result files: ").Append(H(table.Name)).Append("</summary>\n<table>\n<thead><tr><th scope=\"col\">calibration</th><th scope=\"col\">column</th>")
            .Append("<th scope=\"col\">mean</th><th scope=\"col\">std</th><th scope=\"col\">seed values</th><th scope=\"col\">result files</th></tr></thead>\n<tbody>\n");
        foreach (var cell in table.Cells)
        {
            html.Append("<tr><td>").Append(H(cell.Row)).Append("</td><td>").Append(H($"{cell.Task} {cell.Language}")).Append("</td><td>").Append(H(Number(cell.Mean)))
                .Append("</td><td>").Append(cell.Std is { } s ? H(Number(s)) : "–").Append("</td><td>").Append(H(string.Join(", ", cell.Values.Select(Number))))
                .Append("</td><td>");
            html.AppendJoin(" ", cell.Sources.Select(f => $"<a href=\"{H(Link(storeLink, f))}\">{H(f)}</a>"));
            html.Append("</td></tr>\n");
        }
        html.Append("</tbody></table></details>\n");
    }

    static void RunsSection(StringBuilder html, ProfileSection section)
    {
        var profile = section.Verdicts.Profile;
        html.Append("<section class=\"runs\" id=\"").Append(Id("runs", profile)).Append("\"><h2>Runs at ").Append(H(profile)).Append("</h2>\n");
        var total = section.Runs.Sum(r => r.Result.Seconds);
        html.Append("<p class=\"meta\">").Append(section.Runs.Count).Append(" result files, ").Append(H(Duration(total))).Append(" of run time in all. ")
            .Append("Machines: ").Append(H(string.Join("; ", section.Runs.Select(r => $"{r.Result.Machine.Host} ({r.Result.Machine.Cores} cores, {r.Result.Machine.Os}, {r.Result.Machine.Runtime})").Distinct())))
            .Append(".</p>\n<table>\n<thead><tr><th scope=\"col\">result file</th><th scope=\"col\">model</th><th scope=\"col\">method</th><th scope=\"col\">calibration</th>")
            .Append("<th scope=\"col\">seed</th><th scope=\"col\">device</th><th scope=\"col\">dtype</th><th scope=\"col\">sparsity</th><th scope=\"col\">compress</th><th scope=\"col\">run</th>")
            .Append("<th scope=\"col\">started</th><th scope=\"col\">commit</th><th scope=\"col\">code</th></tr></thead>\n<tbody>\n");
        foreach (var run in section.Runs)
        {
            var r = run.Result;
            var calibration = r.Spec.Calibration is { } c ? string.Join("+", c.Languages) : "–";
            html.Append("<tr><td><a href=\"").Append(H(Link(section.StoreLink, run.File))).Append("\">").Append(H(run.File)).Append("</a></td><td>").Append(H(r.Spec.Model.Name))
                .Append("</td><td>").Append(H(r.Spec.Method.Label)).Append("</td><td>").Append(H(calibration)).Append("</td><td>")
                .Append(r.Spec.Calibration is { } cs ? cs.Seed.ToString(CultureInfo.InvariantCulture) : "–").Append("</td><td>").Append(H(r.Machine.Device)).Append("</td><td>")
                .Append(H(r.Machine.DType)).Append("</td><td>").Append(r.Compression is { } z ? H(z.Sparsity.ToString("P1", CultureInfo.InvariantCulture)) : "–").Append("</td><td>")
                .Append(r.Compression is { } zc ? H(Duration(zc.Seconds)) : "–").Append("</td><td>").Append(H(Duration(r.Seconds))).Append("</td><td>")
                .Append(H(r.StartedUtc.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))).Append("</td><td><code>").Append(H(r.Commit.Length > 12 ? r.Commit[..12] : r.Commit))
                .Append("</code></td><td><code>").Append(H(r.Spec.Code.Version)).Append(r.Spec.Code.Dirty ? "+dirty" : "").Append("</code></td></tr>\n");
        }
        html.Append("</tbody></table>\n</section>\n");
    }

    static void FingerprintSection(StringBuilder html, ProfileSection section)
    {
        var profile = section.Verdicts.Profile;
        var fingerprints = section.Verdicts.Verdicts.SelectMany(v => v.Tables).SelectMany(t => t.Columns).Select(c => c.Fingerprint).OfType<EvaluationFingerprint>()
            .DistinctBy(FingerprintId).ToList();
        html.Append("<section class=\"fingerprints\" id=\"").Append(Id("fingerprints", profile)).Append("\"><h2>Evaluation fingerprints at ").Append(H(profile)).Append("</h2>\n")
            .Append("<p>What every number of a column was measured under; numbers whose fingerprints differ are never put in one column. Column headers link here.</p>\n<dl>\n");
        foreach (var fp in fingerprints)
        {
            html.Append("<dt id=\"").Append(FingerprintId(fp)).Append(Id("", profile)).Append("\"><code>").Append(FingerprintId(fp)).Append("</code></dt><dd>");
            var fields = new List<string> { $"kind {fp.Kind}" };
            if (fp.Split is not null) fields.Add($"split {fp.Split}");
            if (fp.Seqlen is not null) fields.Add($"seqlen {fp.Seqlen}");
            if (fp.Windows is not null) fields.Add($"windows {fp.Windows}");
            fields.Add($"BOS {fp.Bos}");
            if (fp.Task is not null) fields.Add($"task {fp.Task}");
            if (fp.Format is not null) fields.Add($"format {fp.Format}");
            if (fp.Shots is not null) fields.Add($"shots {fp.Shots}");
            if (fp.Reference is not null) fields.Add($"reference {fp.Reference}");
            if (fp.DType is not null) fields.Add($"dtype {fp.DType}");
            fields.Add($"text SHA-256 {fp.TextSha256}");
            html.Append(H(string.Join("; ", fields))).Append("</dd>\n");
        }
        html.Append("</dl>\n</section>\n");
    }

    static string Duration(double seconds) =>
        seconds >= 3600 ? $"{seconds / 3600:F1} h" : seconds >= 60 ? $"{seconds / 60:F1} min" : $"{seconds:F1} s";

    /// <summary>A relative link from the report to a file of the store, with forward slashes and each segment escaped.</summary>
    static string Link(string storeLink, string? file = null)
    {
        var parts = storeLink.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (file is not null) parts.Add(file);
        parts.RemoveAll(p => p == ".");
        return parts.Count == 0 ? "./" : string.Join('/', parts.Select(p => p == ".." ? p : Uri.EscapeDataString(p)));
    }

    /// <summary>
    /// A sequential single-hue scale (light to dark blue), t = 1 the best: lightness falls monotonically, so the order
    /// survives greyscale printing and every colour-vision deficiency; text turns white where the cell is dark.
    /// </summary>
    public static (string Background, string Foreground) Shade(double t)
    {
        t = double.IsFinite(t) ? Math.Clamp(t, 0, 1) : 0;
        // endpoints from a light to a dark blue, interpolated in sRGB: luminance is monotone along this segment
        (double R, double G, double B) light = (247, 251, 255), dark = (8, 48, 107);
        var r = (int)Math.Round(light.R + (dark.R - light.R) * t);
        var g = (int)Math.Round(light.G + (dark.G - light.G) * t);
        var b = (int)Math.Round(light.B + (dark.B - light.B) * t);
        // black or white text, whichever contrasts more with the cell (WCAG relative luminance); at worst about 4.6:1
        static double Linear(int c) => c / 255.0 <= 0.04045 ? c / 255.0 / 12.92 : Math.Pow((c / 255.0 + 0.055) / 1.055, 2.4);
        var luminance = 0.2126 * Linear(r) + 0.7152 * Linear(g) + 0.0722 * Linear(b);
        var onBlack = (luminance + 0.05) / 0.05;
        var onWhite = 1.05 / (luminance + 0.05);
        return ($"#{r:x2}{g:x2}{b:x2}", onWhite > onBlack ? "#ffffff" : "#000000");
    }

    const string Css = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:0 1.5em;color:#111;background:#fff}
h1{font-size:1.6em}h2{font-size:1.3em;border-bottom:1px solid #999;margin-top:2em}h3{font-size:1.1em}
nav ul{display:flex;flex-wrap:wrap;gap:.4em 1em;list-style:none;padding:0}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #bbb;padding:.2em .45em;text-align:right;vertical-align:top}
th{background:#eee;font-weight:600}th[scope=row]{text-align:left}table.summary td,table.summary th{text-align:left}
caption{text-align:left;font-weight:600;padding:.3em 0}
.badge{font-weight:700;padding:0 .3em;border:1px solid currentColor;border-radius:3px;white-space:nowrap}
.badge.holds{color:#0b5d1e}.badge.fails{color:#8b0000}.badge.inconclusive{color:#5a4a00}
.unexpected{font-weight:700;color:#8b0000}
.side{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}figure{margin:.5em 0;max-width:100%;overflow-x:auto}
td.diag{outline:2px dashed #444;outline-offset:-3px}td.best{font-weight:700}
td.evidence mark{background:transparent;color:inherit;border-bottom:3px double currentColor}
td.evidence{box-shadow:inset 0 0 0 3px #e69f00}
th.dropped,td.dropped{text-decoration:line-through;opacity:.65}
.mark{font-size:.8em;padding:0 .15em}
tr.dense td{background:#f4f4f4;font-style:italic}
.scale span{display:inline-block;min-width:1.6em;text-align:center}
.meta{color:#444}.notes{color:#333}details{margin:.3em 0 1em}
figcaption ul{margin:.2em 0;padding-left:1.2em;font-size:.9em}
@media print{body{max-width:none;font-size:10pt}nav,.scale{display:none}details>summary{list-style:none}
 section.claim{break-before:page}table{break-inside:avoid}td,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 details:not([open])>*:not(summary){display:block}a{color:inherit;text-decoration:none}}
""";
}
