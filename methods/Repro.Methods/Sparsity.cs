using Repro.Core;

namespace Repro.Methods;

/// <summary>
/// Fraction of weights to remove, in [0, 1). Decimal, because in double <c>(int)(0.29 * 100) == 28</c>
/// and a comparison group's prune count must be exactly <c>floor(s · n)</c>.
/// </summary>
public readonly record struct Sparsity
{
    public Sparsity(decimal fraction)
    {
        if (fraction < 0m || fraction >= 1m)
            throw new InputException($"sparsity must be in [0, 1), e.g. 0.5 for half of the weights, got {fraction}");
        Fraction = fraction;
    }

    public decimal Fraction { get; }

    /// <summary>How many of <paramref name="count"/> weights a group loses: <c>floor(s · count)</c>.</summary>
    public long PruneCount(long count) => (long)decimal.Floor(Fraction * count);

    public override string ToString() => Fraction.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Semi-structured N:M sparsity: in every aligned group of M consecutive inputs of a row, N are pruned ("2:4").</summary>
public sealed record NmPattern
{
    public NmPattern(int n, int m)
    {
        if (m < 1 || n < 1 || n > m)
            throw new InputException($"N:M pattern {n}:{m}: needs 1 ≤ N ≤ M, e.g. 2:4");
        (N, M) = (n, m);
    }

    public int N { get; }
    public int M { get; }

    /// <summary>Parses "2:4".</summary>
    public static NmPattern Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var n) || !int.TryParse(parts[1], out var m))
            throw new InputException($"'{text}' is not an N:M pattern such as 2:4");
        return new NmPattern(n, m);
    }

    public override string ToString() => $"{N}:{M}";
}
