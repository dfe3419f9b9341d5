using System.Diagnostics;
using Repro.Core.Runs;
using Repro.Methods.Runs;
namespace Repro.Claims.Tests;
public sealed class TimingProbe
{
    [Test, Explicit("timing probe")]
    public void Probe()
    {
        using var folder = new TempFolder();
        var store = new ResultStore(folder.Path);
        for (var i = 0; i < 3; i++)
        {
            var sw = Stopwatch.StartNew();
            var req = TinyRuns.Wanda(seed: 10 + i);
            var h = req.Spec.Hash;
            var spec = sw.Elapsed.TotalSeconds;
            var r = RunExecutor.Run(req, store);
            TestContext.Out.WriteLine($"spec {spec:F2}s run {sw.Elapsed.TotalSeconds:F2}s result.Seconds {r.Seconds:F2} compress {r.Compression!.Seconds:F2}");
        }
    }
}
