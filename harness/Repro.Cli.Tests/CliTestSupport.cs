using Repro.Cli;

namespace Repro.Cli.Tests;

/// <summary>Runs the repro command tree in-process and captures what it prints.</summary>
static class Cli
{
    public sealed record Outcome(int ExitCode, string Out, string Error);

    public static Outcome Run(params string[] args) => RunWith(ReproCommand.Create(), args);

    /// <summary>A random-weight 100K-parameter Llama-family folder, <c>temp/model</c>, made by <c>fixtures generate</c>.</summary>
    public static string Generated(TempFolder temp)
    {
        var model = temp.Sub("model");
        var generate = Run("fixtures", "generate", "--params", "100K", "--out", model);
        Assert.That(generate.ExitCode, Is.EqualTo(0), generate.Error);
        return model;
    }

    /// <summary>Runs <paramref name="root"/>, e.g. commands wired to test methods or a test calibration source.</summary>
    public static Outcome RunWith(System.CommandLine.RootCommand root, params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var outWriter = new StringWriter();
        using var errWriter = new StringWriter();
        Console.SetOut(outWriter);
        Console.SetError(errWriter);
        try
        {
            var code = CliRunner.RunAsync(root, args).GetAwaiter().GetResult();
            return new Outcome(code, outWriter.ToString(), errWriter.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateDirectory(
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), "repro-cli-tests", Guid.NewGuid().ToString("N"))).FullName;

    public string Sub(string relative) => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }   // a leftover temp folder is not a test failure
    }
}
