using System.CommandLine;
using Repro.Core;

namespace Repro.Cli.Tests;

/// <summary>
/// The CLI's error contract: what the user gave and can fix is one line and exit 2 (an <see cref="InputException"/>);
/// anything else, an <see cref="ArgumentException"/> from a broken internal contract included, is a failure of Repro:
/// exit 1 with its stack trace, so the bug can be found.
/// </summary>
public sealed class ErrorContractTests
{
    static readonly string Samples = Path.Combine(RepoPaths.Fixtures, "samples");
    static readonly string Corpora = Path.Combine(RepoPaths.Fixtures, "corpora");
    static readonly string Tasks = Path.Combine(RepoPaths.Fixtures, "tasks", "belebele-style");

    /// <summary>A command tree with one command, <c>fail</c>, whose action throws what <paramref name="error"/> makes.</summary>
    static RootCommand Failing(Func<Exception> error)
    {
        var fail = new Command("fail");
        fail.SetAction(_ => InsideRepro(error));
        return new RootCommand("test") { fail };
    }

    // Not inlined, so the stack trace has a frame of a method that is not the action's lambda.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static int InsideRepro(Func<Exception> error) => throw error();

    [Test]
    public void An_argument_exception_from_inside_Repro_is_a_failure_with_its_stack_trace()
    {
        var outcome = Cli.RunWith(Failing(() => new ArgumentException("an internal invariant broke")), "fail");

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.Failure), outcome.Error);
        Assert.That(outcome.Error, Does.Contain("ArgumentException").And.Contain("an internal invariant broke"));
        Assert.That(outcome.Error, Does.Contain(nameof(InsideRepro)), "the stack trace names the method that threw");
    }

    [Test]
    public void An_argument_out_of_range_exception_is_a_failure_too()
    {
        var outcome = Cli.RunWith(Failing(() => new ArgumentOutOfRangeException("index", 7, "layer 7 does not exist")), "fail");

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.Failure), outcome.Error);
        Assert.That(outcome.Error, Does.Contain(nameof(InsideRepro)));
    }

    [Test]
    public void An_input_exception_is_bad_input_on_one_line_without_a_stack_trace()
    {
        var outcome = Cli.RunWith(Failing(() => new InputException("--thing 3 must be even")), "fail");

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(outcome.Error.TrimEnd().Split('\n'), Is.EqualTo(new[] { "error: --thing 3 must be even" }));
    }

    /// <summary>
    /// Bad inputs that reach Repro's own checks past the CLI's parsing (the calibration spec, the method registry, the device
    /// and dtype parsers, the quantizer, the training options, the task builder, the profile catalog): each names the problem.
    /// {MODEL} is a generated 100K model, {TMP} a fresh temporary folder.
    /// </summary>
    static readonly object[] BadInputs =
    [
        new object[] { new[] { "prune", "--method", "wanda", "--sparsity", "1.5" }, "--sparsity must be in [0, 1)" },
        new object[] { new[] { "prune", "--method", "wanda", "--nm", "5:4" }, "--nm '5:4' is not an N:M pattern" },
        new object[] { new[] { "prune", "--method", "wanda", "--calib-langs", "de,de" }, "calibration language 'de' is listed twice" },
        new object[] { new[] { "prune", "--method", "magic" }, "unknown pruning method 'magic'" },
        new object[] { new[] { "prune", "--method", "wanda", "--device", "tpu" }, "unknown device 'tpu'" },
        new object[] { new[] { "prune", "--method", "wanda", "--dtype", "int8" }, "unknown dtype 'int8'" },
        new object[] { new[] { "prune", "--method", "llm-pruner", "--layers", "3" }, "layer range '3' is not start:end" },
        new object[] { new[] { "prune", "--method", "llm-pruner", "--taylor", "hessian" }, "unknown Taylor importance 'hessian'" },
        new object[] { new[] { "quantize", "--method", "gptq", "--group-size", "7" }, "group size 7 does not divide" },
        new object[] { new[] { "eval", "ppl", "--model", "{MODEL}", "--data", "{SAMPLES}", "--langs", "de", "--seqlen", "100000", "--out", "{TMP}/ppl.json" },
                       "fewer than one window of 100000" },
        new object[] { new[] { "eval", "mc", "--model", "{TINY}", "--tasks", "{TASKS}", "--langs", "de", "--shots", "1000", "--out", "{TMP}/mc.json" },
                       "1000 few-shot examples need at least 1001 items" },
        new object[] { new[] { "fixtures", "generate", "--params", "3B", "--out", "{TMP}/gen" }, "unknown generated model size '3B'" },
        new object[] { new[] { "fixtures", "train", "--preset", "huge", "--data", "{CORPORA}", "--out", "{TMP}/train" }, "unknown training preset 'huge'" },
        new object[] { new[] { "fixtures", "train", "--preset", "tiny", "--lr", "-1", "--data", "{CORPORA}", "--out", "{TMP}/train" },
                       "peak learning rate must be positive" },
        new object[] { new[] { "claims", "verdict", "--profile", "huge" }, "unknown profile 'huge'" },
        new object[] { new[] { "fixtures", "generate", "--out", "" }, "--out is given an empty value" },
        new object[] { new[] { "fixtures", "generate", "--max-shard-mb", "-1", "--out", "{TMP}/gen" }, "--max-shard-mb must be 0 (one file) or positive, got -1" },
        new object[] { new[] { "bench", "forward", "--params", "100K", "--seqlen", "0" }, "--seqlen must be at least 1, got 0" },
        new object[] { new[] { "eval", "ppl", "--model", "{MODEL}", "--data", "{SAMPLES}", "--langs", "de", "--out", " " }, "--out is given an empty value" },
        new object[] { new[] { "prune", "--method", "wanda", "--calib-split", "" }, "--calib-split is given an empty value" },
    ];

    [TestCaseSource(nameof(BadInputs))]
    public void Bad_input_is_exit_2_with_one_line_naming_the_problem(string[] args, string expected)
    {
        using var temp = new TempFolder();
        var model = args.Contains("{MODEL}") || args[0] is "prune" or "quantize" ? Cli.Generated(temp) : null;
        var resolved = args.Select(a => a.Replace("{MODEL}", model).Replace("{TMP}", temp.Path).Replace("{SAMPLES}", Samples)
                                        .Replace("{CORPORA}", Corpora).Replace("{TASKS}", Tasks)
                                        .Replace("{TINY}", Path.Combine(RepoPaths.Fixtures, "models", "tiny"))).ToList();
        if (resolved[0] is "prune" or "quantize")
            resolved.AddRange(["--model", model!, "--calib-data", Corpora, "--nsamples", "2", "--seqlen", "16", "--out", temp.Sub("out"),
                               .. resolved.Contains("--calib-langs") ? Array.Empty<string>() : ["--calib-langs", "de"]]);

        var outcome = Cli.Run([.. resolved]);

        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput), outcome.Out + outcome.Error);
        var lines = outcome.Error.TrimEnd().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), outcome.Error);
        Assert.That(lines[0], Does.StartWith("error: ").And.Contain(expected));
        Assert.That(Directory.Exists(temp.Sub("out")), Is.False);
    }
}
