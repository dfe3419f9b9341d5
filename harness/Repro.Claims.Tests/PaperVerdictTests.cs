using System.Text.Json.Nodes;
using Repro.Core;
using Repro.Core.Claims;

namespace Repro.Claims.Tests;

/// <summary>
/// Every claim's rule applied to its paper's transcribed tables gives the verdict and the figures derived by hand
/// (expectations/papers/&lt;paper&gt;/verdicts.json: EVALUATION §6 for Kurz, §5 and §6.4–6.6 for Lang-Prune),
/// including the exceptions, evidence cells and out-of-scope verdicts it names.
/// </summary>
public sealed class PaperVerdictTests
{
    static readonly string[] Papers = ["kurz", "lang-prune"];

    static JsonObject Hand(string paper) => Expectations.Json("papers", paper, "verdicts.json")["claims"]!.AsObject();

    /// <summary>The paper folder a claim's tables sit in: the first segment of its first table (<c>kurz/table1.csv</c> → <c>kurz</c>).</summary>
    static string PaperOf(Claim claim) => claim.Paper.Tables[0].Split('/')[0];

    static IEnumerable<TestCaseData> Claims() =>
        ClaimCatalog.Load(RepoPaths.Expectations).Select(c => new TestCaseData(PaperOf(c), c.Id).SetArgDisplayNames(PaperOf(c), c.Id));

    static Claim ClaimById(string id) => ClaimCatalog.Load(RepoPaths.Expectations).Single(c => c.Id == id);

    static void AssertFigures(string id, Verdict verdict, JsonObject figures)
    {
        foreach (var (name, value) in figures)
        {
            Assert.That(verdict.Figures.ContainsKey(name), $"{id}: the rule computes no figure '{name}'; it has {string.Join(", ", verdict.Figures.Keys)}");
            var printed = value!.ToJsonString();
            var decimals = printed.Contains('.') ? printed.Length - printed.IndexOf('.') - 1 : 0;
            Assert.That(verdict.Figures[name], Is.EqualTo((double)value).Within(0.5 * Math.Pow(10, -decimals) + 1e-12), $"{id}: {name}");
        }
    }

    [TestCaseSource(nameof(Claims))]
    public void Rule_gives_the_hand_derived_verdict_on_the_papers_tables(string paper, string id)
    {
        var hand = Hand(paper);
        Assert.That(hand.ContainsKey(id), $"papers/{paper}/verdicts.json has no hand-derived verdict for {id}");
        var claim = ClaimById(id);
        var verdict = claim.Evaluate(ClaimCatalog.PaperBlocks(claim, RepoPaths.Expectations));
        var expected = hand[id]!;
        Assert.That(verdict.Outcome.ToString(), Is.EqualTo((string)expected["outcome"]!).IgnoreCase, verdict.ToString());
        AssertFigures(id, verdict, expected["figures"]!.AsObject());
        foreach (var exception in expected["exceptions"]?.AsArray() ?? [])
            Assert.That(verdict.Notes, Has.Some.StartsWith((string)exception!), $"{id}: notes {string.Join(" | ", verdict.Notes)}");
        foreach (var cell in expected["nonDiagonal"]?.AsArray() ?? [])
        {
            var parts = ((string)cell!).Split('|');
            Assert.That(verdict.Evidence, Has.Some.Matches<EvidenceCell>(e => e.Block == parts[0] && e.Column == parts[1] && e.Row == parts[2] && e.Role == "best"),
                        $"{id}: {cell} is not among the best-other cells of the evidence");
        }
        foreach (var cell in expected["evidence"]?.AsArray() ?? [])
        {
            var parts = ((string)cell!).Split('|');
            Assert.That(verdict.Evidence, Has.Some.Matches<EvidenceCell>(e => e.Block == parts[0] && e.Column == parts[1] && e.Row == parts[2] && e.Role == parts[3]),
                        $"{id}: {cell} is not in the evidence: {string.Join("; ", verdict.Evidence)}");
        }
    }

    static IEnumerable<TestCaseData> OutOfScope() =>
        from paper in Papers
        from claim in Hand(paper)
        from model in claim.Value!["outOfScope"]?.AsObject() ?? []
        select new TestCaseData(paper, claim.Key, model.Key).SetArgDisplayNames(paper, claim.Key, model.Key);

    /// <summary>
    /// A model the claim leaves out of its scope (Lang-Prune Table 15's Qwen3-0.6B for C2) gets its own hand-derived
    /// verdict when the rule sees that model's blocks alone without the scope parameter: the expected exception really is one.
    /// </summary>
    [TestCaseSource(nameof(OutOfScope))]
    public void Rule_gives_the_hand_derived_verdict_on_a_model_outside_the_claims_scope(string paper, string id, string model)
    {
        var claim = ClaimById(id);
        var expected = Hand(paper)[id]!["outOfScope"]![model]!;
        var parameters = claim.Parameters.DeepClone().AsObject();
        Assert.That(parameters.Remove("outOfScope"), $"{id} has no outOfScope parameter");
        var blocks = ClaimCatalog.PaperBlocks(claim, RepoPaths.Expectations).Where(b => b.Model == model).ToList();
        Assert.That(blocks, Is.Not.Empty, $"{id}'s paper section has no block of {model}");
        var verdict = Rules.Get(claim.Rule, claim.File)(blocks, new RuleParameters(parameters, claim.File));
        Assert.That(verdict.Outcome.ToString(), Is.EqualTo((string)expected["outcome"]!).IgnoreCase, verdict.ToString());
        AssertFigures($"{id} {model}", verdict, expected["figures"]!.AsObject());
    }

    [Test]
    public void Every_claim_has_a_hand_derived_paper_verdict()
    {
        foreach (var claim in ClaimCatalog.Load(RepoPaths.Expectations))
        {
            Assert.That(Papers, Does.Contain(PaperOf(claim)), $"{claim.Id}: tables of an unknown paper folder");
            Assert.That(Hand(PaperOf(claim)).Select(p => p.Key), Does.Contain(claim.Id), $"{claim.Id} ({claim.File})");
        }
    }
}
