using Repro.Methods.Claims;
using Repro.Core;
using Repro.Core.Claims;
using Repro.Methods.Runs;

namespace Repro.Claims.Tests;

public sealed class ProfileTests
{
    [Test]
    public void Profile_evaluations_read_with_the_defaults_of_their_unnamed_fields()
    {
        var profile = ProfileCatalog.Get(RepoPaths.Expectations, "tiny");
        var resolved = profile.Resolve(RepoPaths.Root, out var missing)!;
        Assert.That(missing, Is.Null);
        var evaluations = ClaimGrid.Evaluations(resolved);
        Assert.That(evaluations.Select(e => e.Split), Is.All.EqualTo("validation"));
        Assert.That(evaluations.Select(e => e.Bos), Is.All.EqualTo("stream"));
        Assert.That(evaluations.Select(e => e.Languages), Is.All.EqualTo(profile.Languages));
    }
}

public sealed class GridSpecTests
{
    [Test]
    public void Every_run_of_a_tiny_grid_has_a_spec()
    {
        var profile = ProfileCatalog.Get(RepoPaths.Expectations, "tiny").Resolve(RepoPaths.Root, out _)!;
        var claim = ClaimCatalog.Load(RepoPaths.Expectations).First(c => c.Id == "C1-ppl");
        foreach (var run in ClaimGrid.Of(claim, ClaimGrid.Plan(ClaimCatalog.Load(RepoPaths.Expectations), profile), profile))
        {
            TestContext.Out.WriteLine($"{run.Request.Device} {run.Request.DType} {run.Request.Evaluations.Count} {run.Request.ModelDir} {run.Request.CorpusDir} {run.Request.TaskRoot}");
            foreach (var e in run.Request.Evaluations) TestContext.Out.WriteLine(e.ToString());
            Assert.That(run.Request.Spec.Hash, Has.Length.EqualTo(64));
        }
    }
}
