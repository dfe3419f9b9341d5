using Repro.Cli;

return await CliRunner.RunAsync(ReproCommand.Create(), args);
