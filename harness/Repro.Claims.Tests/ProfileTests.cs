using Repro.Methods;
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
        Assert.That(evaluations.Where(e => e.Kind != "mc").Select(e => e.Bos), Is.All.EqualTo("stream"), "the BOS policy a perplexity file leaves unnamed");
        Assert.That(evaluations.Select(e => e.Languages), Is.All.EqualTo(profile.Languages));
    }
}

public sealed class GridSpecTests
{
    [Test]
    public void Every_run_of_a_tiny_grid_has_a_spec_and_reads_only_what_its_claims_need()
    {
        var profile = ProfileCatalog.Get(RepoPaths.Expectations, "tiny").Resolve(RepoPaths.Root, out _)!;
        var claim = ClaimCatalog.Load(RepoPaths.Expectations).First(c => c.Id == "C1-ppl");
        foreach (var run in ClaimGrid.Of(claim, ClaimGrid.Plan(ClaimCatalog.Load(RepoPaths.Expectations), profile), profile))
        {
            Assert.That(run.Request.Spec.Hash, Has.Length.EqualTo(64));
            if (!run.IsDense) Assert.That(run.Request.Evaluations.Select(e => e.Kind), Does.Contain("ppl"), $"{run.Request.Spec}: C1-ppl reads perplexity");
        }
        var plan = ClaimGrid.Plan(ClaimCatalog.Load(RepoPaths.Expectations), profile);
        Assert.That(plan.Where(r => r.MethodKey.StartsWith("gptq", StringComparison.Ordinal)).SelectMany(r => r.Request.Evaluations.Select(e => e.Kind)),
                    Is.All.EqualTo("mc"), "no claim reads perplexity or hidden states of the GPTQ runs");
    }

    [Test]
    public void A_group_size_that_does_not_divide_a_projection_width_is_refused_before_the_first_run()
    {
        var profile = ProfileCatalog.Get(RepoPaths.Expectations, "tiny").Resolve(RepoPaths.Root, out _)!;
        var plan = ClaimGrid.Plan(ClaimCatalog.Load(RepoPaths.Expectations), profile);
        var gptq = plan.First(r => r.Request.Method is { Kind: MethodKinds.Quantization });
        Assert.That(() => ClaimRunner.CheckGroupSizes(plan), Throws.Nothing, "the committed grids fit the tiny model");

        // tiny: hidden 128, intermediate 352; a group of 64 divides the first, not the second.
        var method = gptq.Request.Method! with { Options = gptq.Request.Method!.Options with { GroupSize = 64 } };
        var bad = gptq with { Request = gptq.Request with { Method = method } };
        Assert.That(bad.Request.Spec.Hash, Is.Not.EqualTo(gptq.Request.Spec.Hash), "a changed copy of a request has its own spec");
        Assert.That(() => ClaimRunner.CheckGroupSizes([bad]), Throws.InstanceOf<InputException>()
            .With.Message.Contains("group size 64").And.Message.Contains("intermediate_size 352")
            .And.Message.Contains(Path.Combine("tiny", "config.json")).And.Message.Not.Contains("hidden_size"));
    }
}
