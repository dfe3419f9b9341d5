using System.Text.Json.Nodes;
using Repro.Core;
using Repro.Core.Claims;

namespace Repro.Claims.Tests;

/// <summary>
/// Every claim's rule applied to the transcribed paper tables gives the verdict and the figures EVALUATION §6 derives by
/// hand (expectations/papers/kurz/verdicts.json), including the exceptions it names.
/// </summary>
public sealed class PaperVerdictTests
{
    static readonly JsonObject Hand = Expectations.Json("papers", "kurz", "verdicts.json")["claims"]!.AsObject();

    static IEnumerable<TestCaseData> Claims() =>
        ClaimCatalog.Load(RepoPaths.Expectations).Select(c => new TestCaseData(c.Id).SetArgDisplayNames(c.Id));

    static Verdict PaperVerdict(string id)
    {
        var claim = ClaimCatalog.Load(RepoPaths.Expectations).Single(c => c.Id == id);
        return claim.Evaluate(ClaimCatalog.PaperBlocks(claim, RepoPaths.Expectations));
    }

    [TestCaseSource(nameof(Claims))]
    public void Rule_gives_the_hand_derived_verdict_on_the_papers_tables(string id)
    {
        Assert.That(Hand.ContainsKey(id), $"verdicts.json has no hand-derived verdict for {id}");
        var verdict = PaperVerdict(id);
        var expected = Hand[id]!;
        Assert.That(verdict.Outcome.ToString(), Is.EqualTo((string)expected["outcome"]!).IgnoreCase, verdict.ToString());
        foreach (var (name, value) in expected["figures"]!.AsObject())
        {
            Assert.That(verdict.Figures.ContainsKey(name), $"{id}: the rule computes no figure '{name}'; it has {string.Join(", ", verdict.Figures.Keys)}");
            var printed = value!.ToJsonString();
            var decimals = printed.Contains('.') ? printed.Length - printed.IndexOf('.') - 1 : 0;
            Assert.That(verdict.Figures[name], Is.EqualTo((double)value).Within(0.5 * Math.Pow(10, -decimals) + 1e-12), $"{id}: {name}");
        }
        foreach (var exception in expected["exceptions"]?.AsArray() ?? [])
            Assert.That(verdict.Notes, Has.Some.StartsWith((string)exception!), $"{id}: notes {string.Join(" | ", verdict.Notes)}");
        foreach (var cell in expected["nonDiagonal"]?.AsArray() ?? [])
        {
            var parts = ((string)cell!).Split('|');
            Assert.That(verdict.Evidence, Has.Some.Matches<EvidenceCell>(e => e.Block == parts[0] && e.Column == parts[1] && e.Row == parts[2] && e.Role == "best"),
                        $"{id}: {cell} is not among the best-other cells of the evidence");
        }
    }

    [Test]
    public void Every_claim_has_a_hand_derived_paper_verdict() =>
        Assert.That(Hand.Select(p => p.Key), Is.SupersetOf(ClaimCatalog.Load(RepoPaths.Expectations).Select(c => c.Id)));
}
