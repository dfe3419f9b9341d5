using System.CommandLine;
using Repro.Cli.Commands;

namespace Repro.Cli;

/// <summary>The `repro` command tree; tests invoke it in-process through <see cref="CliRunner"/>.</summary>
public static class ReproCommand
{
    public static RootCommand Create() => new("Repro: verify published claims about pruning and quantizing multilingual LLMs.")
    {
        PruneCommands.Prune(),
        PruneCommands.Quantize(),
        EvalCommands.Create(),
        ClaimsCommands.Create(),
        RunsCommands.Create(),
        ReportCommand.Create(),
        BenchCommands.Create(),
        FixturesCommands.Create(),
    };
}
