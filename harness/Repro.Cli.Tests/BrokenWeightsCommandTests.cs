using Repro.Core;
using Repro.Core.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Cli.Tests;

/// <summary>
/// Weights a model folder should not hold, through the real commands: NaN weights in the folder eval hidden compares
/// and integer-typed weights in the folder prune reads are bad input (exit 2, one line naming the folder and where),
/// not a stack trace.
/// </summary>
public sealed class BrokenWeightsCommandTests
{
    static readonly string Tiny = Path.Combine(RepoPaths.Fixtures, "models", "tiny");
    static readonly string Samples = Path.Combine(RepoPaths.Fixtures, "samples");
    static readonly string Corpora = Path.Combine(RepoPaths.Fixtures, "corpora");

    /// <summary>The tiny fixture model with one tensor replaced, written as a folder of its own with the tiny tokenizer beside it.</summary>
    static string TinyWith(TempFolder temp, string name, string tensor, Func<Tensor, Tensor> change)
    {
        var dir = temp.Sub(name);
        using (var scope = NewDisposeScope())
        using (var checkpoint = HfCheckpoint.Open(Tiny))
        {
            var weights = checkpoint.Names.ToDictionary(n => n, n => checkpoint.Load(n));
            Assert.That(weights, Does.ContainKey(tensor));
            weights[tensor] = change(weights[tensor]);
            HfCheckpointWriter.Write(dir, checkpoint.ConfigJson.DeepClone().AsObject(), weights);
        }
        foreach (var file in Directory.GetFiles(Tiny).Where(f => Path.GetFileName(f).StartsWith("tokenizer", StringComparison.Ordinal)
                                                                 || Path.GetFileName(f) == "special_tokens_map.json"))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)), overwrite: true);
        return dir;
    }

    static void AssertOneLine(Cli.Outcome outcome, params string[] parts)
    {
        Assert.That(outcome.ExitCode, Is.EqualTo(ExitCodes.BadInput), outcome.Out + outcome.Error);
        var lines = outcome.Error.TrimEnd().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), outcome.Error);
        foreach (var part in parts) Assert.That(lines[0], Does.Contain(part));
    }

    [Test]
    public void Eval_hidden_on_a_pruned_folder_with_nan_weights_exits_2_naming_the_folder_and_the_layer()
    {
        using var temp = new TempFolder();
        var broken = TinyWith(temp, "broken", "model.layers.1.mlp.down_proj.weight", w =>
        {
            var copy = w.clone();
            copy[0, 0] = tensor(float.NaN);
            return copy;
        });
        var output = temp.Sub("hidden.json");

        var outcome = Cli.Run("eval", "hidden", "--dense", Tiny, "--pruned", broken, "--data", Samples, "--langs", "de",
                              "--seqlen", "16", "--nsamples", "1", "--out", output);

        AssertOneLine(outcome, $"error: {broken}: the output of decoder layer 1 holds", "non-finite");
        Assert.That(File.Exists(output), Is.False);
    }

    [Test]
    public void Prune_on_a_model_with_integer_weights_exits_2_naming_the_tensor()
    {
        using var temp = new TempFolder();
        var ints = TinyWith(temp, "ints", "model.layers.2.self_attn.q_proj.weight", w => w.to(ScalarType.Int32));
        var output = temp.Sub("out");

        var outcome = Cli.Run("prune", "--model", ints, "--method", "wanda", "--sparsity", "0.5", "--calib-data", Corpora, "--calib-langs", "de",
                              "--nsamples", "2", "--seqlen", "16", "--out", output);

        AssertOneLine(outcome, ints, "'model.layers.2.self_attn.q_proj.weight' is stored as I32", "must be a float");
        Assert.That(Directory.Exists(output), Is.False);
        Assert.That(Directory.Exists(output + ".partial"), Is.False);
    }
}
