using System.Security.Cryptography;
using System.Text;

namespace Repro.Core.Fixtures;

/// <summary>Shares of a source's documents that go to calibration, validation and test; the rest is train.</summary>
public sealed record SplitFractions(double Calibration, double Validation, double Test)
{
    public double Train => 1 - Calibration - Validation - Test;
}

/// <summary>
/// Assigns documents to train / calibration / validation / test by document, deterministically: documents
/// are ranked by SHA-256 of their UTF-8 key (ties, impossible in practice, by ordinal key), the first
/// round(n·test) of the ranking are test, the next round(n·validation) validation, the next
/// round(n·calibration) calibration, the rest train; each held-out split gets at least one document when
/// there are four or more. The key is language-independent, so parallel documents land in the same split in
/// every language. Ranking by hash rather than thresholding it gives exact counts even for the eleven UDHR
/// documents, and adding a document moves no other document to a different split unless it lands in a
/// held-out split's range.
/// </summary>
public static class DocumentSplit
{
    public const string Train = "train";
    public const string Calibration = "calibration";
    public const string Validation = "validation";
    public const string Test = "test";

    /// <summary>The split names in file-writing order.</summary>
    public static IReadOnlyList<string> Names { get; } = [Train, Calibration, Validation, Test];

    public static Dictionary<string, string> Assign(IEnumerable<string> keys, SplitFractions fractions)
    {
        if (fractions.Calibration < 0 || fractions.Validation < 0 || fractions.Test < 0 || fractions.Train < 0)
            throw new ArgumentException($"split fractions {fractions} must be non-negative and sum to at most 1");
        var ranked = keys.Distinct(StringComparer.Ordinal)
            .Select(k => (Key: k, Hash: Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(k)))))
            .OrderBy(x => x.Hash, StringComparer.Ordinal).ThenBy(x => x.Key, StringComparer.Ordinal)
            .Select(x => x.Key).ToList();
        var n = ranked.Count;
        int Count(double fraction) => n >= 4 && fraction > 0
            ? Math.Max(1, (int)Math.Round(n * fraction, MidpointRounding.AwayFromZero))
            : (int)Math.Round(n * fraction, MidpointRounding.AwayFromZero);
        var test = Count(fractions.Test);
        var validation = Count(fractions.Validation);
        var calibration = Count(fractions.Calibration);
        var assignment = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            assignment[ranked[i]] = i < test ? Test
                : i < test + validation ? Validation
                : i < test + validation + calibration ? Calibration
                : Train;
        }
        return assignment;
    }
}
