using Repro.Methods.Claims;
using System.CommandLine;
using System.Globalization;
using Repro.Core;
using Repro.Core.Claims;
using Repro.Core.Runs;
using Repro.Methods.Runs;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary><c>repro claims list | run | verdict | snapshot</c>: the claim suite over a result store (DESIGN "Claims and verdicts").</summary>
public static class ClaimsCommands
{
    public static string DefaultStore(string profile) => Path.Combine("out", "claims", profile);

    public static Command Create() => new("claims", "Encoded claims: list them, run their grids into a result store, compute verdicts, record snapshots.")
    {
        List(), Run(), VerdictCommand(), Snapshot(), Compare(), Accept(),
    };

    sealed class Common
    {
        public readonly Option<string> Profile = new("--profile") { Description = "tiny, fixture or paper", DefaultValueFactory = _ => "fixture" };
        public readonly Option<string?> Claim = new("--claim") { Description = "only this claim id (e.g. C1-ppl); repeat with commas" };
        public readonly Option<string?> Store = new("--store") { Description = "result store folder (default out/claims/<profile>)" };

        public IEnumerable<Option> All => [Profile, Claim, Store];

        public (IReadOnlyList<Claim> Claims, IReadOnlyList<GridRun> Plan, ResolvedProfile Profile, ResultStore Store) Resolve(ParseResult parse)
        {
            var expectations = RepoPaths.Expectations;
            var profile = ProfileCatalog.Get(expectations, parse.GetValue(Profile)!);
            var catalog = ClaimCatalog.Load(expectations);
            var claims = Select(catalog, parse.GetValue(Claim)).Where(c => c.Profiles.ContainsKey(profile.Name)).ToList();
            Repro.Core.Torch.TorchRuntime.EnsureLoaded();
            var resolved = profile.Resolve(RepoPaths.Root, out var missing)
                           ?? throw new BadInputException($"profile '{profile.Name}' cannot run here: {missing}");
            return (claims, ClaimGrid.Plan(catalog, resolved), resolved, new ResultStore(parse.GetValue(Store) ?? Path.Combine(RepoPaths.Root, DefaultStore(profile.Name))));
        }
    }

    static IReadOnlyList<Claim> Select(IReadOnlyList<Claim> claims, string? ids)
    {
        if (ids is null) return claims;
        var wanted = ids.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var id in wanted.Where(id => claims.All(c => !string.Equals(c.Id, id, StringComparison.OrdinalIgnoreCase))))
            throw new BadInputException($"unknown claim '{id}'; known: {string.Join(", ", claims.Select(c => c.Id))}");
        return [.. claims.Where(c => wanted.Contains(c.Id, StringComparer.OrdinalIgnoreCase))];
    }

    static Command List()
    {
        var command = new Command("list", "List the claims: id, source, rule, and the expected verdict per profile.");
        command.SetAction(_ =>
        {
            var claims = ClaimCatalog.Load(RepoPaths.Expectations);
            var table = new Table().AddColumns("claim", "rule", "tiny", "fixture", "paper", "source");
            foreach (var claim in claims)
                table.AddRow(Terminal.Text(claim.Id), Terminal.Text(claim.Rule), Expected(claim, "tiny"), Expected(claim, "fixture"), Expected(claim, "paper"),
                             Terminal.Text(claim.Source.Where));
            AnsiConsole.Write(table);
            foreach (var claim in claims) AnsiConsole.MarkupLine($"[bold]{Terminal.Text(claim.Id)}[/] {Terminal.Text(claim.Statement)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    static string Expected(Claim claim, string profile) => claim.Profiles.TryGetValue(profile, out var g) ? Word(g.Expected) : "–";

    static Command Run()
    {
        var common = new Common();
        var shard = new Option<string>("--shard") { Description = "run slice i of n of the grid (1-based), e.g. 2/4; shards' stores merge by copying files", DefaultValueFactory = _ => "1/1" };
        var keep = new Option<bool>("--keep-models") { Description = "keep each pruned model folder under <store>/.work (default: deleted once evaluated)" };
        var command = new Command("run", "Run the claims' grids at a profile into the result store (finished runs are reused), then print the verdicts.") { shard, keep };
        foreach (var option in common.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var (claims, plan, profile, store) = common.Resolve(parse);
            Shard slice;
            try { slice = Shard.Parse(parse.GetValue(shard)!); }
            catch (FormatException e) { throw new BadInputException($"--shard: {e.Message}"); }
            RunGrid(claims, plan, profile, store, slice, parse.GetValue(keep));
            if (slice.Count > 1)
            {
                AnsiConsole.MarkupLine($"Shard {slice} done; merge the shards' stores into one folder and run `repro claims verdict` there.");
                return ExitCodes.Ok;
            }
            return PrintVerdicts(claims, plan, profile, store);
        });
        return command;
    }

    internal static void RunGrid(IReadOnlyList<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store, Shard shard, bool keepModels)
    {
        var total = ClaimGrid.Of(claims, plan, profile).Count;
        AnsiConsole.MarkupLine($"Profile [bold]{Terminal.Text(profile.Profile.Name)}[/]: {claims.Count} claims, {total} runs" +
                               (shard.Count > 1 ? $", shard {shard}" : "") + $", store {Terminal.Text(store.Root)}");
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var overall = ctx.AddTask("runs");
                var current = ctx.AddTask("starting");
                ClaimRunner.Run(claims, plan, profile, store, shard, keepModels, new SynchronousProgress<GridProgress>(p =>
                {
                    overall.MaxValue = Math.Max(1, p.Total);
                    overall.Value = p.Done;
                    var eta = p.Remaining is { } r ? $", about {r.TotalMinutes:F0} min left" : "";
                    overall.Description = Terminal.Text($"runs {p.Done}/{p.Total} ({p.Reused} reused{eta})");
                    current.Description = Terminal.Text(p.Current.Length == 0 ? "done" : $"{p.Current}: {p.Stage}");
                }));
                overall.StopTask();
                current.StopTask();
            });
    }

    static Command VerdictCommand()
    {
        var common = new Common();
        var command = new Command("verdict", "Compute every claim's verdict at a profile from the result store, beside the paper's; writes <store>/verdicts.json. Exit 0 when every verdict is the expected one.");
        foreach (var option in common.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var (claims, plan, profile, store) = common.Resolve(parse);
            return PrintVerdicts(claims, plan, profile, store);
        });
        return command;
    }

    static int PrintVerdicts(IReadOnlyList<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store)
    {
        var file = VerdictsFile.Compute(claims, plan, profile, store, RepoPaths.Root, RepoPaths.Expectations);
        var verdicts = file.Verdicts;
        var table = new Table { Title = new TableTitle($"Claims at profile {Terminal.Text(profile.Profile.Name)} (store {Terminal.Text(store.Root)})") }
            .AddColumns("claim", "measured", "expected", "paper's tables", "why");
        foreach (var v in verdicts)
            table.AddRow(Terminal.Text(v.Claim), Colour(v.Verdict.Outcome, v.AsExpected), Word(v.Expected), Word(v.Paper.Outcome),
                         Terminal.Text(v.Verdict.Reason));
        AnsiConsole.Write(table);
        foreach (var v in verdicts)
        {
            AnsiConsole.MarkupLine($"[bold]{Terminal.Text(v.Claim)}[/] {Terminal.Text(v.Statement)}");
            AnsiConsole.MarkupLine($"  measured: {Terminal.Text(v.Verdict.ToString())}");
            foreach (var note in v.Verdict.Notes.Take(8)) AnsiConsole.MarkupLine($"    {Terminal.Text(note)}");
            AnsiConsole.MarkupLine($"  paper:    {Terminal.Text(v.Paper.ToString())}");
            AnsiConsole.MarkupLine($"  expected {Word(v.Expected)} here: {Terminal.Text(v.Why)}");
        }
        var path = file.Write();
        var unexpected = verdicts.Count(v => !v.AsExpected);
        AnsiConsole.MarkupLine($"Verdicts written to [bold]{Terminal.Text(path)}[/]; " +
                               (unexpected == 0 ? "[green]every verdict is the expected one[/]" : $"[red]{unexpected} verdicts differ from the expected ones[/]"));
        return unexpected == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    static Command Snapshot()
    {
        var common = new Common();
        var command = new Command("snapshot", "Run the profile's grid where needed, then record its measured cells, dense figures and verdicts as the accepted snapshot (expectations/snapshots/claims/<profile>.json); review its diff.");
        foreach (var option in common.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var (claims, plan, profile, store) = common.Resolve(parse);
            if (parse.GetValue(common.Claim) is not null) throw new BadInputException("a snapshot covers every claim of the profile; drop --claim");
            RunGrid(claims, plan, profile, store, Shard.Whole, keepModels: false);
            return Record(claims, plan, profile, store);
        });
        return command;
    }

    static Command Accept()
    {
        var common = new Common();
        var command = new Command("accept", "Record what the store measured as the profile's accepted snapshot, the one `claims compare` and the nightly job check against (runs nothing; the store must hold the whole grid). Review the diff it prints and commit it.");
        foreach (var option in common.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var (claims, plan, profile, store) = common.Resolve(parse);
            if (parse.GetValue(common.Claim) is not null) throw new BadInputException("a snapshot covers every claim of the profile; drop --claim");
            RequireComplete(claims, plan, profile, store);
            return Record(claims, plan, profile, store);
        });
        return command;
    }

    static Command Compare()
    {
        var common = new Common();
        var against = new Option<string?>("--against") { Description = "accepted snapshot to compare with (default expectations/snapshots/claims/<profile>.json)" };
        var command = new Command("compare", "Compare what the store measured with the accepted snapshot: exit 1 with a diff (claim, cell, old, new, tolerance) when a verdict flips or a figure leaves its tolerance; writes <store>/compare.txt.") { against };
        foreach (var option in common.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var (claims, plan, profile, store) = common.Resolve(parse);
            if (parse.GetValue(common.Claim) is not null) throw new BadInputException("a comparison covers every claim of the profile; drop --claim");
            var path = parse.GetValue(against) ?? Path.Combine(RepoPaths.Root, AcceptedSnapshot(profile));
            if (!File.Exists(path))
                throw new BadInputException($"{path}: no accepted snapshot; `repro claims accept --profile {profile.Profile.Name} --store {store.Root}` records one");
            var accepted = ClaimSnapshot.Load(path);
            RequireComplete(claims, plan, profile, store);
            var differences = accepted.Differences(Measure(claims, plan, profile, store));
            var lines = differences.Select(d => $"{d} [claims: {string.Join(", ", ClaimsReading(claims, profile, d))}]").ToList();
            File.WriteAllLines(Path.Combine(store.Root, "compare.txt"),
                               [$"# {store.Root} against {path}: {differences.Count} differences", .. lines]);
            if (differences.Count == 0)
            {
                AnsiConsole.MarkupLine($"[green]No difference[/] from {Terminal.Text(path)}: every verdict and every figure within its tolerance.");
                return ExitCodes.Ok;
            }
            var table = new Table { Title = new TableTitle($"{differences.Count} differences from {Terminal.Text(path)}") }
                .AddColumns("claims", "what", "accepted", "now", "tolerance");
            foreach (var d in differences)
                table.AddRow(Terminal.Text(string.Join(", ", ClaimsReading(claims, profile, d))), Terminal.Text(d.What), Terminal.Text(d.Old ?? "–"),
                             Terminal.Text(d.New ?? "–"), Terminal.Text(d.Tolerance ?? (d.Kind == SnapshotDifference.VerdictFlip ? "flip" : "–")));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"[red]{differences.Count} differences[/] (also in {Terminal.Text(Path.Combine(store.Root, "compare.txt"))}); " +
                                   $"if they are intended, `repro claims accept --profile {Terminal.Text(profile.Profile.Name)} --store {Terminal.Text(store.Root)}` records them.");
            return ExitCodes.Failure;
        });
        return command;
    }

    /// <summary>Where a profile's accepted snapshot lives: the dense gate's snapshot where the profile has one.</summary>
    public static string AcceptedSnapshot(ResolvedProfile profile) =>
        profile.Profile.Dense.Snapshot ?? Path.Combine("expectations", "snapshots", "claims", profile.Profile.Name + ".json");

    static void RequireComplete(IReadOnlyList<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store)
    {
        var runs = ClaimGrid.Of(claims, plan, profile);
        var missing = runs.Where(r => store.TryGet(r.Request.Spec) is null).ToList();
        if (missing.Count > 0)
            throw new BadInputException($"{store.Root}: holds {runs.Count - missing.Count} of the profile's {runs.Count} runs for this code version (missing e.g. {missing[0].Request.Spec}); " +
                                        $"run `repro claims run --profile {profile.Profile.Name}` or merge the shards' stores first");
    }

    static ClaimSnapshot Measure(IReadOnlyList<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store) =>
        ClaimSnapshots.Measure(claims, plan, profile, store, RepoPaths.Root, RepoPaths.Expectations);

    static int Record(IReadOnlyList<Claim> claims, IReadOnlyList<GridRun> plan, ResolvedProfile profile, ResultStore store)
    {
        var path = Path.Combine(RepoPaths.Root, AcceptedSnapshot(profile));
        var snapshot = Measure(claims, plan, profile, store);
        IReadOnlyList<string> differences = File.Exists(path) ? [.. ClaimSnapshot.Load(path).Differences(snapshot).Select(d => d.ToString())] : ["(new snapshot)"];
        ResultFiles.WriteJson(path, snapshot);
        AnsiConsole.MarkupLine($"Snapshot written to [bold]{Terminal.Text(path)}[/]: {snapshot.Cells.Count} cells, {snapshot.Dense.Count} dense figures; " +
                               $"{differences.Count} changes against the previous one:");
        foreach (var line in differences.Take(40)) AnsiConsole.MarkupLine($"  {Terminal.Text(line)}");
        return ExitCodes.Ok;
    }

    /// <summary>The claims whose tables read a differing cell (or the claim whose verdict flipped).</summary>
    static IEnumerable<string> ClaimsReading(IReadOnlyList<Claim> claims, ResolvedProfile profile, SnapshotDifference d)
    {
        if (d.Claim is not null) return [d.Claim];
        if (d.Cell is not { } cell) return ["dense gate"];
        return claims.Where(c => c.Profiles.TryGetValue(profile.Profile.Name, out var g) && g.Methods.Any(m => m.Block == cell.Block) &&
                                 g.Metrics.Any(m => m == cell.Task || (m.StartsWith("acc", StringComparison.Ordinal) && cell.Task is not ("ppl" or "bpb" or "snr" or "pe"))))
            .Select(c => c.Id);
    }

    static string Word(Outcome outcome) => outcome.ToString().ToLowerInvariant();

    static string Colour(Outcome outcome, bool expected) => expected ? $"[green]{Word(outcome)}[/]" : $"[red]{Word(outcome)}[/]";
}
