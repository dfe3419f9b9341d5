using Repro.Methods.Runs;
using System.CommandLine;
using System.Text.Json.Nodes;
using Repro.Cli.Commands;
using Repro.Core;
using Repro.Methods;
using Repro.Methods.Pipeline;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Cli.Tests;

public sealed class PruneCommandTests
{
    static readonly string Samples = Path.Combine(RepoPaths.Fixtures, "samples");
    static readonly string Corpora = Path.Combine(RepoPaths.Fixtures, "corpora");

    /// <summary>Uniform random byte ids: stands in for the corpus sampler, which is not part of these tests.</summary>
    sealed class RandomCalibrationSource : ICalibrationSource
    {
        public List<CalibrationRequest> Requests { get; } = [];

        public CalibrationTokens Draw(CalibrationRequest request)
        {
            Requests.Add(request);
            var rng = new Repro.Core.Corpora.SplitMix64((ulong)request.Seed);
            var ids = new long[request.NSamples, request.Seqlen];
            for (var i = 0; i < request.NSamples; i++)
                for (var t = 0; t < request.Seqlen; t++) ids[i, t] = rng.NextBelow(256);
            return new CalibrationTokens(ids, request.Seed, new { languages = request.Languages, split = request.Split });
        }
    }

    /// <summary>Test method: zeros every other weight of each row, so a run visibly prunes.</summary>
    sealed class EveryOtherMethod(Sparsity sparsity) : ICompressionMethod
    {
        public string Name => "every-other";
        public bool NeedsCalibration => true;
        public System.Text.Json.Nodes.JsonObject HyperParameters => new() { ["sparsity"] = sparsity.ToString() };

        public ISublayerCompressor Begin(string name, Linear sublayer) => new Compressor(name, sublayer);

        sealed class Compressor(string name, Linear sublayer) : ISublayerCompressor
        {
            public void Observe(Tensor input) { }

            public SublayerResult Apply()
            {
                var mask = (arange(sublayer.weight.shape[1]) % 2 == 0).expand(sublayer.weight.shape).contiguous();
                sublayer.weight.masked_fill_(mask, 0);
                return new SublayerResult(name, sublayer.weight.NumberOfElements, mask.sum().item<long>(), mask, new Dictionary<string, double>());
            }

            public void Dispose() { }
        }
    }

    static readonly IReadOnlyList<MethodRegistration> TestMethods =
    [
        .. MethodRegistry.Default,
        new("every-other", MethodKinds.Pruning, "test", o => new EveryOtherMethod(o.Sparsity)),
    ];

    /// <summary>Runs a command tree of prune/quantize wired to a test calibration source and the test methods.</summary>
    static Cli.Outcome RunWired(ICalibrationSource source, params string[] args)
    {
        var root = new RootCommand("test") { PruneCommands.Prune(TestMethods, source), PruneCommands.Quantize(TestMethods, source) };
        return Cli.RunWith(root, args);
    }

    [Test]
    public void Prune_then_eval_hidden_end_to_end()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        var source = new RandomCalibrationSource();
        var output = temp.Sub("pruned");

        var prune = RunWired(source, "prune", "--model", model, "--method", "every-other", "--calib-data", Samples, "--calib-langs", "de,en",
                             "--nsamples", "3", "--seqlen", "16", "--seed", "7", "--out", output);

        Assert.That(prune.ExitCode, Is.EqualTo(0), prune.Error);
        Assert.That(prune.Out, Does.Contain("50.00%"));
        Assert.That(source.Requests.Single(), Has.Property("NSamples").EqualTo(3).And.Property("Seqlen").EqualTo(16).And.Property("Seed").EqualTo(7)
                                                   .And.Property("Split").EqualTo("calibration"));
        Assert.That(source.Requests.Single().Languages, Is.EqualTo(new[] { "de", "en" }));
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(output, PruneReport.FileName)))!;
        Assert.That((string)report["method"]!, Is.EqualTo("every-other"));
        Assert.That((int)report["seed"]!, Is.EqualTo(7));
        Assert.That((string)report["calibration"]!["provenance"]!["languages"]![1]!, Is.EqualTo("en"));
        Assert.That(MaskFile.Read(output), Has.Count.EqualTo(14));

        var results = temp.Sub("hidden.json");
        var hidden = Cli.Run("eval", "hidden", "--dense", model, "--pruned", output, "--data", Samples, "--langs", "de,zh",
                             "--seqlen", "32", "--nsamples", "2", "--out", results);

        Assert.That(hidden.ExitCode, Is.EqualTo(0), hidden.Error);
        Assert.That(hidden.Out, Does.Contain("SNR (dB)"));
        var rows = JsonNode.Parse(File.ReadAllText(results))!["results"]!.AsArray();
        Assert.That(rows.Select(r => (string)r!["language"]!), Is.EqualTo(new[] { "de", "zh" }));
        foreach (var row in rows)
        {
            Assert.That((int)row!["windows"]!, Is.EqualTo(2));
            Assert.That((int)row["identicalLayers"]!, Is.Zero);
            Assert.That(double.IsFinite((double)row["meanSnrDb"]!), Is.True);
            Assert.That(row["layers"]!.AsArray(), Has.Count.EqualTo(2));
        }
    }

    [Test]
    public void Identity_output_compared_with_its_input_has_every_layer_identical()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        var output = temp.Sub("same");
        var prune = RunWired(new RandomCalibrationSource(), "prune", "--model", model, "--method", "identity", "--calib-data", Samples,
                             "--calib-langs", "de", "--nsamples", "2", "--seqlen", "8", "--out", output);
        Assert.That(prune.ExitCode, Is.EqualTo(0), prune.Error);

        var hidden = Cli.Run("eval", "hidden", "--dense", model, "--pruned", output, "--data", Samples, "--langs", "en",
                             "--seqlen", "16", "--nsamples", "1", "--out", temp.Sub("h.json"));

        Assert.That(hidden.ExitCode, Is.EqualTo(0), hidden.Error);
        Assert.That(hidden.Out, Does.Contain("identical").And.Contain("2/2"));
    }

    [TestCase("wanda")]
    [TestCase("sparsegpt")]
    public void Prune_calibrates_from_the_corpus_calibration_split_and_records_the_draws(string method)
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        var output = temp.Sub("out");

        var outcome = Cli.Run("prune", "--model", model, "--method", method, "--sparsity", "0.5", "--calib-data", Corpora,
                              "--calib-langs", "de,zh", "--nsamples", "3", "--seqlen", "64", "--out", output);

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "prune.json")))!;
        var provenance = report["calibration"]!["provenance"]!;
        Assert.That((string)provenance["split"]!, Is.EqualTo("calibration"));
        Assert.That(provenance["samples"]!.AsArray().Select(x => (string)x!["language"]!), Is.EqualTo(new[] { "de", "de", "zh" }));
        Assert.That((double)report["sparsity"]!["fraction"]!, Is.EqualTo(0.5).Within(0.01));
    }

    [Test]
    public void A_calibration_corpus_without_documents_longer_than_seqlen_is_bad_input()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        var outcome = Cli.Run("prune", "--model", model, "--method", "wanda", "--calib-data", Samples, "--calib-langs", "de",
                              "--calib-split", "validation", "--nsamples", "2", "--seqlen", "4096", "--out", temp.Sub("out"));
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain("de").And.Contain("4096"));
        Assert.That(Directory.Exists(temp.Sub("out")), Is.False);
    }

    [Test]
    public void A_calibration_corpus_too_short_for_nsamples_times_seqlen_is_bad_input_unless_repeated_text_is_allowed()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        // Swahili's calibration split holds about 3 000 byte tokens: 8 × 512 = 4 096 would repeat text.
        string[] args = ["prune", "--model", model, "--method", "wanda", "--calib-data", Corpora, "--calib-langs", "sw",
                         "--nsamples", "8", "--seqlen", "512", "--out", temp.Sub("out")];

        var refused = Cli.Run(args);
        Assert.That(refused.ExitCode, Is.EqualTo(2), refused.Error);
        Assert.That(refused.Error, Does.Contain("sw").And.Contain("calibration.jsonl.gz").And.Contain("8 samples × 512 tokens = 4096 tokens")
                                       .And.Contain("--allow-repeated-text"));
        Assert.That(Directory.Exists(temp.Sub("out")), Is.False);

        var allowed = Cli.Run([.. args, "--allow-repeated-text"]);
        Assert.That(allowed.ExitCode, Is.EqualTo(0), allowed.Error);
        Assert.That(allowed.Out, Does.Contain("repeat text"));
        var provenance = JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Sub("out"), "prune.json")))!["calibration"]!["provenance"]!;
        Assert.That((bool)provenance["allowRepeatedText"]!, Is.True);
        var sw = provenance["languages"]![0]!;
        Assert.That(((bool)sw["repeatsText"]!, (long)sw["textTokens"]! < 4096), Is.EqualTo((true, true)));
    }

    static readonly object[] BadPruneArguments =
    [
        new object[] { new[] { "--method", "nope" }, "known: magnitude, wanda, sparsegpt, llm-pruner, lang-prune, identity, every-other" },
        new object[] { new[] { "--sparsity", "1.5" }, "[0, 1)" },
        new object[] { new[] { "--sparsity", "-0.1" }, "[0, 1)" },
        new object[] { new[] { "--sparsity", "half" }, "not a number" },
        new object[] { new[] { "--nm", "5:4" }, "N:M" },
        new object[] { new[] { "--nm", "2-4" }, "N:M" },
        new object[] { new[] { "--nm", "2:4", "--sparsity", "0.6" }, "agree" },
        new object[] { new[] { "--nsamples", "0" }, "--nsamples" },
        new object[] { new[] { "--seqlen", "0" }, "--seqlen" },
        new object[] { new[] { "--model", "MISSING" }, "model folder not found" },
        new object[] { new[] { "--calib-data", "MISSING" }, "calibration corpus folder not found" },
    ];

    [TestCaseSource(nameof(BadPruneArguments))]
    public void Bad_prune_input_is_exit_code_2_with_a_message(string[] change, string expected)
    {
        using var temp = new TempFolder();
        var model = Directory.CreateDirectory(temp.Sub("model")).FullName;   // never opened: every case fails before
        var args = new Dictionary<string, string>
        {
            ["--model"] = model, ["--method"] = "every-other", ["--calib-data"] = Samples, ["--calib-langs"] = "de",
            ["--nsamples"] = "2", ["--seqlen"] = "8", ["--out"] = temp.Sub("out"),
        };
        for (var i = 0; i < change.Length; i += 2) args[change[i]] = change[i + 1].Replace("MISSING", temp.Sub("missing"));

        var outcome = RunWired(new RandomCalibrationSource(), ["prune", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);

        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain(expected));
        Assert.That(Directory.Exists(temp.Sub("out")), Is.False);
    }

    [Test]
    public void An_existing_output_folder_is_bad_input_unless_overwrite_is_given()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);
        var output = Directory.CreateDirectory(temp.Sub("out")).FullName;
        string[] args = ["prune", "--model", model, "--method", "every-other", "--calib-data", Samples, "--calib-langs", "de",
                         "--nsamples", "2", "--seqlen", "8", "--out", output];

        var refused = RunWired(new RandomCalibrationSource(), args);
        var replaced = RunWired(new RandomCalibrationSource(), [.. args, "--overwrite"]);

        Assert.That(refused.ExitCode, Is.EqualTo(2));
        Assert.That(refused.Error, Does.Contain("--overwrite"));
        Assert.That(replaced.ExitCode, Is.EqualTo(0), replaced.Error);
    }

    [TestCase("--method", "wanda", "unknown quantization method 'wanda'; known: gptq, identity")]
    [TestCase("--bits", "0", "--bits")]
    [TestCase("--bits", "9", "--bits must be between 2 and 8")]
    [TestCase("--group-size", "0", "--group-size")]
    public void Bad_quantize_input_is_exit_code_2_with_a_message(string option, string value, string expected)
    {
        using var temp = new TempFolder();
        var model = Directory.CreateDirectory(temp.Sub("model")).FullName;
        var args = new Dictionary<string, string>
        {
            ["--model"] = model, ["--method"] = "identity", ["--calib-data"] = Samples, ["--calib-langs"] = "de", ["--out"] = temp.Sub("out"),
            [option] = value,
        };

        var outcome = RunWired(new RandomCalibrationSource(), ["quantize", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);

        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain(expected));
    }

    /// <summary>A copy of <paramref name="model"/> with one NaN in layer 0's q_proj weight, tokenizer files included.</summary>
    static string WithNan(TempFolder temp, string model)
    {
        var broken = temp.Sub("nan-model");
        Directory.CreateDirectory(broken);
        foreach (var file in Directory.EnumerateFiles(model).Where(f => !f.EndsWith(".safetensors")))
            File.Copy(file, Path.Combine(broken, Path.GetFileName(file)));
        using var scope = NewDisposeScope();
        using var checkpoint = Repro.Core.Checkpoints.HfCheckpoint.Open(model);
        var tensors = checkpoint.Names.ToDictionary(n => n, n => checkpoint.Load(n));
        tensors["model.layers.0.self_attn.q_proj.weight"][0, 0] = tensor(float.NaN);
        File.Delete(Path.Combine(broken, "config.json"));
        Repro.Core.Checkpoints.HfCheckpointWriter.Write(broken, checkpoint.ConfigJson, tensors);
        return broken;
    }

    [TestCase("prune", "sparsegpt")]
    [TestCase("prune", "wanda")]
    [TestCase("quantize", "gptq")]
    public void Nan_weights_are_bad_input_under_every_method_without_a_stack_trace(string command, string method)
    {
        using var temp = new TempFolder();
        var model = WithNan(temp, Cli.Generated(temp));

        string[] grid = command == "quantize" ? ["--group-size", "32"] : [];
        var outcome = Cli.Run([command, "--model", model, "--method", method, "--calib-data", Corpora, "--calib-langs", "de",
                               "--nsamples", "2", "--seqlen", "32", "--out", temp.Sub("out"), .. grid]);

        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain("q_proj").And.Contain("NaN").And.Not.Contain(" at Repro."));
        Assert.That(Directory.Exists(temp.Sub("out")), Is.False);
    }

    [Test]
    public void A_gptq_group_size_that_does_not_divide_a_width_is_bad_input_without_a_stack_trace()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);

        var outcome = Cli.Run("quantize", "--model", model, "--method", "gptq", "--bits", "4", "--group-size", "7", "--calib-data", Corpora,
                              "--calib-langs", "de", "--nsamples", "2", "--seqlen", "32", "--out", temp.Sub("out"));

        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.Error);
        Assert.That(outcome.Error, Does.Contain("group size 7 does not divide").And.Not.Contain(" at Repro."));
        Assert.That(Directory.Exists(temp.Sub("out")), Is.False);
    }

    [Test]
    public void Eval_hidden_with_a_missing_model_folder_is_bad_input()
    {
        using var temp = new TempFolder();
        var model = Cli.Generated(temp);

        var outcome = Cli.Run("eval", "hidden", "--dense", model, "--pruned", temp.Sub("missing"), "--data", Samples, "--langs", "de");

        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain(temp.Sub("missing")));
    }

    [Test]
    public void Bench_prune_reports_the_ratio_to_the_forward_passes_and_peak_memory()
    {
        using var temp = new TempFolder();

        var outcome = Cli.Run("bench", "prune", "--params", "100K", "--nsamples", "2", "--seqlen", "16", "--methods", "identity,wanda,sparsegpt", "--work", temp.Sub("work"));

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        Assert.That(outcome.Out, Does.Contain("one dense forward pass").And.Contain("identity").And.Contain("sparsegpt").And.Contain("outside matrix multiplies").And.Contain("peak RssAnon"));
    }

    [Test]
    public void Bench_prune_with_an_unknown_method_lists_the_known_ones()
    {
        var outcome = Cli.Run("bench", "prune", "--params", "100K", "--methods", "identity,nope");

        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("known: magnitude, wanda, sparsegpt, gptq, llm-pruner, lang-prune, identity"));
    }
}

/// <summary><c>repro prune --method llm-pruner|lang-prune</c>: a smaller model that every eval command reads.</summary>
public sealed class StructuredPruneCommandTests
{
    static readonly string Corpora = Path.Combine(RepoPaths.Fixtures, "corpora");
    static readonly string Tiny = Path.Combine(RepoPaths.Fixtures, "models", "tiny");

    [TestCase("llm-pruner", "de")]
    [TestCase("lang-prune", "de,en,zh")]
    public void Prune_writes_a_smaller_model_that_eval_ppl_hidden_and_mc_read(string method, string languages)
    {
        using var temp = new TempFolder();
        var output = temp.Sub("pruned");
        var prune = Cli.Run("prune", "--model", Tiny, "--method", method, "--sparsity", "0.5", "--calib-data", Corpora, "--calib-langs", languages,
                            "--nsamples", "6", "--seqlen", "32", "--layers", "1:3", "--out", output);
        Assert.That(prune.ExitCode, Is.EqualTo(0), prune.Error);
        Assert.That(prune.Out, Does.Contain("removed").And.Contain("dense (outside --layers)"));
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(output, PruneReport.FileName)))!;
        Assert.That((string)report["format"]!, Does.StartWith("repro-prune/"));
        Assert.That((string)report["hyperParameters"]!["layers"]!, Is.EqualTo("1:3"));
        Assert.That((double)report["parameters"]!["fraction"]!, Is.GreaterThan(0).And.LessThan(0.5));
        Assert.That(report["calibrationGroups"]!.AsObject().Select(p => p.Key), Is.EqualTo(method == "lang-prune" ? languages.Split(',') : new[] { "all" }));

        var ppl = Cli.Run("eval", "ppl", "--model", output, "--data", Corpora, "--langs", "de", "--seqlen", "64", "--nsamples", "2", "--out", temp.Sub("ppl.json"));
        Assert.That(ppl.ExitCode, Is.EqualTo(0), ppl.Error);
        var hidden = Cli.Run("eval", "hidden", "--dense", Tiny, "--pruned", output, "--data", Corpora, "--langs", "de",
                             "--seqlen", "32", "--nsamples", "1", "--out", temp.Sub("hidden.json"));
        Assert.That(hidden.ExitCode, Is.EqualTo(0), hidden.Error);
        Assert.That(hidden.Out, Does.Contain("1/4"), "layer 0 is outside the range and identical; the others differ");
        var mc = Cli.Run("eval", "mc", "--model", output, "--tasks", Path.Combine(RepoPaths.Fixtures, "tasks", "word-order"), "--langs", "de",
                         "--limit", "4", "--out", temp.Sub("mc.json"));
        Assert.That(mc.ExitCode, Is.EqualTo(0), mc.Error);
    }

    [TestCase("--aggregate", "max", "wanda", "of llm-pruner and lang-prune, not of wanda")]
    [TestCase("--aggregate", "max", "llm-pruner", "option of lang-prune, not llm-pruner")]
    [TestCase("--aggregate", "median", "lang-prune", "unknown aggregation 'median'")]
    [TestCase("--taylor", "hessian", "llm-pruner", "unknown Taylor importance 'hessian'")]
    [TestCase("--group-reduction", "2", "llm-pruner", "unknown group reduction '2'")]
    [TestCase("--layers", "3", "llm-pruner", "layer range '3' is not start:end")]
    [TestCase("--layers", "4:-2", "llm-pruner", "prunes no layer")]
    [TestCase("--micro-batch", "0", "llm-pruner", "--micro-batch must be at least 1")]
    public void Bad_structured_options_exit_2_naming_the_problem(string option, string value, string method, string message)
    {
        using var temp = new TempFolder();
        var run = Cli.Run("prune", "--model", Tiny, "--method", method, "--calib-data", Corpora, "--calib-langs", "de",
                          "--nsamples", "2", "--seqlen", "16", option, value, "--out", temp.Sub("out"));
        Assert.That(run.ExitCode, Is.EqualTo(2), run.Out + run.Error);
        Assert.That(run.Error, Does.Contain(message));
        Assert.That(Directory.Exists(temp.Sub("out")), Is.False);
    }
}
