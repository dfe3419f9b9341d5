using Repro.Core;
using Repro.Core.Runs;
using Repro.Methods;
using Repro.Methods.Runs;

namespace Repro.Claims.Tests;

/// <summary>Small real runs on the tiny fixture model, for the store and executor tests.</summary>
static class TinyRuns
{
    public static string Model => Path.Combine(RepoPaths.Fixtures, "models", "tiny");
    public static string Corpora => Path.Combine(RepoPaths.Fixtures, "corpora");

    /// <summary>Wanda 0.5 on the tiny model calibrated on <paramref name="language"/> with <paramref name="seed"/>, perplexity on de and zh.</summary>
    public static RunRequest Wanda(string language = "de", int seed = 1, int windows = 2) =>
        new("tiny", Model, new MethodChoice("wanda", new MethodOptions(new Sparsity(0.5m))),
            new CalibrationChoice([language], 4, 64, seed),
            [new EvaluationChoice("ppl", ["de", "zh"], Seqlen: 64, Windows: windows)], Corpora);
}

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateDirectory(
        System.IO.Path.Combine(System.IO.Path.GetTempPath(), "repro-claims-tests", Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }   // a leftover temp folder is not a test failure
    }
}
