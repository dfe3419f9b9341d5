namespace Repro.Cli.Tests;

public sealed class BenchCommandTests
{
    [Test]
    public void Forward_benchmark_reports_a_ratio_of_the_matmul_probe()
    {
        var outcome = Cli.Run("bench", "forward", "--params", "100K", "--seqlen", "32", "--repeats", "1");
        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        Assert.That(outcome.Out, Does.Contain("forward / probe").And.Contain("GFLOP/s"));
    }

    [Test]
    public void Cuda_on_a_cpu_build_says_how_to_get_it()
    {
        var outcome = Cli.Run("bench", "forward", "--params", "100K", "--device", "cuda");
        if (TorchSharp.torch.cuda.is_available()) Assert.Ignore("CUDA is available on this host; the message under test is for hosts without it");
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("--device cpu"));
    }

    [Test]
    public void Unknown_model_size_lists_the_known_ones()
    {
        var outcome = Cli.Run("bench", "forward", "--params", "3B");
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("100K").And.Contain("1B"));
    }
}

public sealed class BenchEvalCommandTests
{
    static readonly string Tiny = Path.Combine(Repro.Core.RepoPaths.Fixtures, "models", "tiny");
    static readonly string Corpora = Path.Combine(Repro.Core.RepoPaths.Fixtures, "corpora");

    [Test]
    public void Bench_eval_prints_each_phases_peak_against_a_budget_built_from_the_models_shape()
    {
        using var temp = new TempFolder();
        var json = temp.Sub("bench.json");

        var outcome = Cli.Run("bench", "eval", "--model", Tiny, "--data", Corpora, "--langs", "de,zh", "--nsamples", "1", "--seqlen", "32", "--out", json);

        Assert.That(outcome.ExitCode, Is.EqualTo(0), outcome.Error);
        Assert.That(outcome.Out, Does.Contain("eval ppl budget").And.Contain("eval hidden budget").And.Contain("peak / budget").And.Contain("RssAnon"));
        using var checkpoint = Repro.Core.Checkpoints.HfCheckpoint.Open(Tiny);
        var config = Repro.Core.Models.ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
        var report = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(json))!;
        var model = report["model"]!;
        var layer = config.LayerTensors(0).Sum(t => t.ElementCount);
        Assert.That((long)model["parameters"]!, Is.EqualTo(config.ParameterCount()));
        Assert.That(((int)model["layers"]!, (int)model["hidden"]!, (int)model["intermediate"]!, (int)model["heads"]!, (int)model["vocab"]!),
                    Is.EqualTo((config.NumHiddenLayers, config.HiddenSize, config.IntermediateSize, config.NumAttentionHeads, config.VocabSize)));
        Assert.That((long)model["largestLayerParameters"]!, Is.EqualTo(layer));
        Assert.That((int)report["elementBytes"]!, Is.EqualTo(4), "float32 by default");

        var phases = report["phases"]!.AsArray();
        Assert.That(phases.Select(p => (string)p!["phase"]!), Is.EqualTo(new[] { "eval ppl", "eval hidden" }));
        foreach (var phase in phases)
        {
            var terms = phase!["budget"]!.AsArray().ToDictionary(t => (string)t!["name"]!, t => (long)t!["bytes"]!);
            Assert.That((long)phase["budgetBytes"]!, Is.EqualTo(terms.Values.Sum()).And.Positive);
            Assert.That(terms.Values, Has.All.Positive);
            if (!File.Exists("/proc/self/status")) continue;   // the peak is read from it; elsewhere it is null and said so
            var peak = (long)phase["peakBytes"]!;
            Assert.That((double)phase["ratio"]!, Is.EqualTo((double)peak / (long)phase["budgetBytes"]!), "ratio = peak / budget, as printed");
        }
        if (File.Exists("/proc/self/status"))
        {
            // eval ppl converts the bfloat16 checkpoint to float32 tensors of its own, alive for the whole phase; the heap
            // is trimmed before the phase starts, so those pages are new anonymous memory.
            Assert.That(new FileInfo(Path.Combine(Tiny, "model.safetensors")).Length, Is.LessThan(config.ParameterCount() * 4),
                        "the fixture is stored in fewer than 4 bytes per weight, so float32 weights are allocated, not mapped");
            Assert.That((long)phases[0]!["peakBytes"]!, Is.GreaterThanOrEqualTo(config.ParameterCount() * 4),
                        "eval ppl's peak holds at least the float32 weights");
        }
        var ppl = phases[0]!["budget"]!.AsArray().ToDictionary(t => (string)t!["name"]!, t => t!);
        Assert.That((long)ppl["weights"]!["bytes"]!, Is.EqualTo(config.ParameterCount() * 4));
        Assert.That((string)ppl["weights"]!["formula"]!, Does.Contain($"{config.ParameterCount()}·4"));
        var hidden = phases[1]!["budget"]!.AsArray().ToDictionary(t => (string)t!["name"]!, t => t!);
        Assert.That((long)hidden["two layers"]!["bytes"]!, Is.EqualTo(2 * layer * 4), "the model compared with itself: one layer of each");
        Assert.That((long)hidden["states"]!["bytes"]!, Is.EqualTo(2L * 2 * 32 * config.HiddenSize * 4), "both models' states of 2 languages × 1 window × 32 tokens");
        Assert.That((string)hidden["states"]!["formula"]!, Does.Contain($"2·2·32·{config.HiddenSize}·4"));
    }

    [Test]
    public void Bench_eval_refuses_a_missing_model_folder()
    {
        var outcome = Cli.Run("bench", "eval", "--model", "no/such/model", "--nsamples", "1");
        Assert.That(outcome.ExitCode, Is.EqualTo(2));
        Assert.That(outcome.Error, Does.Contain("no/such/model"));
    }
}
