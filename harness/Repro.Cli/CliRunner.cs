using System.CommandLine;
using System.CommandLine.Parsing;
using Repro.Core;
using Repro.Core.Torch;
using Spectre.Console;

namespace Repro.Cli;

/// <summary>Exit codes the CLI promises: 0 ok, 2 bad input (the user can fix it), 1 anything else.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int BadInput = 2;
}

/// <summary>An input the user gave that cannot be used; printed without a stack trace, exit code 2.</summary>
public sealed class BadInputException(string message) : InputException(message);

public static class CliRunner
{
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        // Spectre caches the console it first wrote to; bind it to the current streams on every run.
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"error: {Terminal.Inert(error.Message)}");
            Console.Error.WriteLine("Run with --help for usage.");
            return ExitCodes.BadInput;
        }
        if (EmptyValue(parsed) is { } empty)
        {
            // .NET's file APIs throw ArgumentException on "", which is a bug's exception here; an empty value is the user's.
            Console.Error.WriteLine($"error: {empty} is given an empty value; give a non-empty one or leave the option out");
            return ExitCodes.BadInput;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsBadInput(e))
        {
            Console.Error.WriteLine($"error: {Terminal.Inert(e.Message)}");
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (DiskFull(e) is { } full)
        {
            // Every result and model folder is written to a temporary name and renamed when complete, so what failed
            // left nothing that looks finished.
            Console.Error.WriteLine($"error: no space left on the device: {Terminal.Inert(full.Message)}; free space or write elsewhere. " +
                                    "Nothing half-written was left under a final name");
            return ExitCodes.Failure;
        }
        catch (TorchUnavailableException e)
        {
            Console.Error.WriteLine($"error: {Terminal.Inert(e.Message)}");
            return ExitCodes.Failure;
        }
        catch (Exception e)
        {
            WriteFailure(e);
            return ExitCodes.Failure;
        }
    }

    /// <summary>
    /// The exception and its stack trace on standard error. Spectre prints messages as they are, and a message can carry
    /// data (a tensor name, a token's text); when one in the chain holds a character that steers a terminal, the trace is
    /// rendered without colour and every line made inert.
    /// </summary>
    static void WriteFailure(Exception e)
    {
        if (!Chain(e).Any(x => Terminal.Inert(x.Message) != x.Message))
        {
            AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) })
                .WriteException(e, ExceptionFormats.ShortenPaths);
            return;
        }
        var plain = new StringWriter();
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(plain), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors })
            .WriteException(e, ExceptionFormats.ShortenPaths);
        foreach (var line in plain.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n')) Console.Error.WriteLine(Terminal.Inert(line));
    }

    static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException) yield return x;
        if (e is AggregateException aggregate)
            foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain)) yield return inner;
    }

    /// <summary>The first option (or argument) of the parsed command line given an empty or blank value, or null.</summary>
    static string? EmptyValue(ParseResult parsed)
    {
        for (var command = parsed.CommandResult; command is not null; command = command.Parent as CommandResult)
            foreach (var child in command.Children)
                if (child is OptionResult { Implicit: false } option && option.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value)))
                    return option.Option.Name;
                else if (child is ArgumentResult argument && argument.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value)))
                    return argument.Argument.Name;
        return null;
    }

    /// <summary>The IOException of a full disk (ENOSPC, or ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL), among inner exceptions too.</summary>
    static IOException? DiskFull(Exception e) =>
        Chain(e).OfType<IOException>().FirstOrDefault(io => io.HResult is 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027)
                                                             || io.Message.Contains("No space left on device", StringComparison.Ordinal));

    /// <summary>
    /// Input errors: Repro's own <see cref="InputException"/>s, and the few .NET exceptions that here only come from what
    /// the user gave (a missing file or folder, an unparsable or corrupt file). An <see cref="ArgumentException"/> is a
    /// broken contract between Repro's own parts, a bug: it keeps its stack trace and exits 1.
    /// </summary>
    static bool IsBadInput(Exception e) => e is InputException
        or FileNotFoundException or DirectoryNotFoundException or FormatException or InvalidDataException;
}
