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
