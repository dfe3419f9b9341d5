using System.CommandLine;
using Repro.Core;
using Repro.Core.Runs;
using Repro.Reports;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary><c>repro report</c>: the reviewers' HTML report from one or more result stores' verdicts and result files.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var stores = new Option<string[]>("--store") { Description = "result store holding verdicts.json (repeat for several profiles)", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string?>("--out") { Description = "HTML file to write (default <first store>/report.html)" };
        var command = new Command("report", "Render the claims' verdicts, tables (measured beside the paper's), seeds, fingerprints and run metadata as one self-contained HTML file.") { stores, output };
        command.SetAction(parse =>
        {
            var roots = parse.GetValue(stores)!;
            foreach (var root in roots.Where(r => !Directory.Exists(r)))
                throw new BadInputException($"{root}: result store not found");
            var path = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine(roots[0], "report.html"));
            if (Directory.Exists(path)) throw new BadInputException($"{path}: is a folder; give --out a file name such as report.html");
            var input = ReportInputs.Load(roots, RepoPaths.Expectations, path, DateTimeOffset.UtcNow);
            var html = HtmlReport.Render(input);
            ReportFile.Write(path, html);
            AnsiConsole.MarkupLine($"Report written to [bold]{Terminal.Text(path)}[/]: {input.Profiles.Sum(p => p.Verdicts.Verdicts.Count)} verdicts, " +
                                   $"{input.Profiles.Sum(p => p.Runs.Count)} result files, profiles {Terminal.Text(string.Join(", ", input.Profiles.Select(p => p.Verdicts.Profile)))}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
