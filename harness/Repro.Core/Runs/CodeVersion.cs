using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;

namespace Repro.Core.Runs;

/// <summary>The version of Repro that produced a result, recorded in every result file.</summary>
public static class CodeVersion
{
    /// <summary>The informational version, which the SDK suffixes with the git commit (<c>1.0.0+abc123…</c>) when built from a checkout.</summary>
    public static string Current { get; } =
        typeof(CodeVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>
    /// The code that computes a run's numbers: the engine and the methods, without their claim code (rules, verdicts,
    /// grids read results; they never change one), plus the package versions. Documentation, tests, the CLI, the fixture
    /// tooling (fixtures/Repro.Fixtures: building corpora, tasks and models, which no run calls) and expectations are left
    /// out, so committing a claim file, a rule or a snapshot does not invalidate finished runs.
    /// </summary>
    public static IReadOnlyList<string> ComputingSources { get; } = ["harness/Repro.Core", "methods/Repro.Methods", "Directory.Packages.props"];

    /// <summary>Paths under <see cref="ComputingSources"/> that compute nothing a run records.</summary>
    public static IReadOnlyList<string> NonComputing { get; } = ["harness/Repro.Core/Claims", "methods/Repro.Methods/Claims"];

    /// <summary>
    /// What goes into a run spec: a hash of the git blob ids of every file under <see cref="ComputingSources"/> at
    /// HEAD (equal across commits that do not touch them), and whether the working tree differs there (then the
    /// SHA-256 of that diff, so two uncommitted states never share results). Outside a checkout, or without git, the
    /// assembly's version.
    /// </summary>
    public static CodeVersionRecord Record => record.Value;

    /// <summary>The commit HEAD points at, for result files and reports (not hashed: see <see cref="Record"/>).</summary>
    public static string Commit => commit.Value;

    static readonly Lazy<string> commit = new(() => TryRoot() is { } root ? Git(root, "rev-parse HEAD")?.Trim() ?? Current : Current);

    static string Pathspecs => string.Join(' ', ComputingSources.Select(s => $"\"{s}\"").Concat(NonComputing.Select(s => $"\":(exclude){s}\"")));

    static readonly Lazy<CodeVersionRecord> record = new(() =>
    {
        if (TryRoot() is not { } root) return new CodeVersionRecord(Current, false, null);
        // ls-tree takes no exclusions, so the claim folders are dropped from its listing here.
        var listing = Git(root, "ls-tree -r HEAD -- " + string.Join(' ', ComputingSources.Select(s => $"\"{s}\"")));
        if (string.IsNullOrWhiteSpace(listing)) return new CodeVersionRecord(Current, false, null);
        var tree = string.Join('\n', listing.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !NonComputing.Any(n => line.Split('\t', 2)[^1].StartsWith(n + "/", StringComparison.Ordinal))));
        static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text.ReplaceLineEndings("\n"))))[..16];
        var version = "sources-" + Sha(tree);
        var diff = Git(root, "diff HEAD --no-ext-diff --binary -- " + Pathspecs) ?? "";
        return diff.Length == 0 ? new CodeVersionRecord(version, false, null) : new CodeVersionRecord(version, true, Sha(diff));
    });

    static string? TryRoot()
    {
        try
        {
            return Directory.Exists(Path.Combine(RepoPaths.Root, ".git")) || File.Exists(Path.Combine(RepoPaths.Root, ".git")) ? RepoPaths.Root : null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    static string? Git(string root, string arguments)
    {
        try
        {
            var start = new ProcessStartInfo("git", $"-C \"{root}\" {arguments}")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var process = Process.Start(start);
            if (process is null) return null;
            var output = process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;   // no git on this machine
        }
    }
}
