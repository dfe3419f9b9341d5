using System.CommandLine;
using Repro.Cli;
using Repro.Cli.Commands;

var root = new RootCommand("Repro: verify published claims about pruning and quantizing multilingual LLMs.")
{
    EvalCommands.Create(),
    BenchCommands.Create(),
    FixturesCommands.Create(),
};
return await CliRunner.RunAsync(root, args);
