using System.Text.Json.Serialization;

namespace Repro.Core.Claims;

[JsonConverter(typeof(JsonStringEnumConverter<Outcome>))]
public enum Outcome { Holds, Fails, Inconclusive }

/// <summary>A cell a verdict rests on, with the role it plays ("diagonal", "best", "violation", ...).</summary>
public sealed record EvidenceCell(string Block, string Row, string Column, double Value, double? Std, string Role);

/// <summary>
/// A computed verdict: the outcome, one sentence saying why, the figures the rule computed (counts, tails, ranks,
/// spreads) and the cells it rests on. Never typed in: every field comes out of a rule applied to a table.
/// </summary>
public sealed record Verdict(Outcome Outcome, string Reason, IReadOnlyDictionary<string, double> Figures, IReadOnlyList<EvidenceCell> Evidence,
                             IReadOnlyList<string> Notes)
{
    public static Verdict Inconclusive(string reason, IReadOnlyList<string>? notes = null) =>
        new(Outcome.Inconclusive, reason, new Dictionary<string, double>(), [], notes ?? []);

    public override string ToString() => $"{Outcome.ToString().ToLowerInvariant()}: {Reason}";
}
