using System.Globalization;
using System.Text.Json.Nodes;
using Repro.Core;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

/// <summary>
/// The runtime's dense logits, family by family, against an independent decoder: tools/reference/family_logits.py writes a
/// small random model of every family the runtime runs (Golden/families/&lt;family&gt;: an HF folder, float32) and the logits its
/// own decoder, written from Hugging Face's modeling code for that family, gives on fixed input ids.
/// </summary>
/// <remarks>
/// Each model switches on what sets its family apart: Llama's q/k/v/o and MLP biases and llama3 RoPE scaling, Mistral's
/// sliding window (shorter than the input) and a head_dim other than hidden / heads, Qwen2's q/k/v biases, linear RoPE
/// scaling and tied embeddings, Qwen3's per-head RMSNorm of q and k, Cohere's bias-free LayerNorm, parallel attention and
/// MLP, interleaved RoPE, per-head q/k LayerNorm and logit scale. The tolerance is the decoder's own noise floor
/// (noise-floor.json: the same decoder under other OpenBLAS kernels) times expectations/goldens/whole-model.json's factor.
/// </remarks>
[SingleTorchThread]
public sealed class FamilyLogitsGoldenTests
{
    static readonly string Folder = GoldenCase.Folder("families");

    static IEnumerable<string> FamilyFolders() =>
        Directory.EnumerateDirectories(Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    static IEnumerable<TestCaseData> Families() => FamilyFolders().Select(f => new TestCaseData(f).SetArgDisplayNames(f));

    [Test]
    public void Every_family_the_runtime_runs_has_a_golden_and_a_noise_floor()
    {
        var runtime = Enum.GetValues<ModelFamily>().Select(f => f.ToString().ToLowerInvariant()).Order(StringComparer.Ordinal).ToList();
        Assert.That(FamilyFolders().ToList(), Is.EqualTo(runtime), "tools/reference/family_logits.py writes one folder per ModelFamily");
        var runs = NoiseFloorRuns();
        Assert.That(runs, Is.Not.Empty, "Golden/families/noise-floor.json has no runs");
        foreach (var family in FamilyFolders())
            Assert.That(runs.All(r => r.Value!["families"]![family] is not null), $"{family} is missing from a noise-floor run");
    }

    [TestCaseSource(nameof(Families))]
    public void Dense_logits_match_the_reference_decoder(string family)
    {
        var folder = Path.Combine(Folder, family);
        using var golden = SafetensorsFile.Open(Path.Combine(folder, "logits.safetensors"));
        using var loaded = LoadedModel.Open(folder, CPU, ScalarType.Float32);
        Assert.That(loaded.Config.ModelType, Is.EqualTo(family), $"{folder}/config.json");
        using var scope = NewDisposeScope();
        var expected = golden.Load("logits");
        var logits = loaded.Model.Logits(golden.Load("input_ids"));
        Assert.That(logits.shape, Is.EqualTo(expected.shape), $"{family}: logits shape");
        var rel = ((logits - expected).norm() / expected.norm()).to(ScalarType.Float64).item<double>();
        var floor = NoiseFloorRuns().Max(r => r.Value!["families"]![family]!["rel"]!.GetValue<double>());
        var allowed = AllowedLogitsRel(floor);
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{family}: logits rel {rel:E2}, reference noise floor {floor:E2}, allowed {allowed:E2}"));
        Assert.That(rel, Is.LessThanOrEqualTo(allowed),
                    $"{family}: the runtime's logits differ from the reference decoder's by {rel:E2} relative (noise floor {floor:E2})");
    }

    static JsonObject NoiseFloorRuns() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Folder, "noise-floor.json")))!.AsObject();

    /// <summary>expectations/goldens/whole-model.json: the factor on the floor, at least the float32 minimum for logits.</summary>
    static double AllowedLogitsRel(double floor)
    {
        var o = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Expectations, "goldens", "whole-model.json")))!.AsObject();
        return Math.Max(o["floorFactor"]!.GetValue<double>() * floor, o["minimumLogitsRel"]!.GetValue<double>());
    }
}
