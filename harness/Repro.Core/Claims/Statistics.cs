namespace Repro.Core.Claims;

/// <summary>The few statistics the rules need, in double.</summary>
public static class Statistics
{
    /// <summary>P(X ≥ k) for X ~ Binomial(n, p): how often chance alone gives k or more diagonal wins.</summary>
    public static double BinomialTail(int k, int n, double p)
    {
        if (k <= 0) return 1;
        if (k > n) return 0;
        double tail = 0;
        for (var i = k; i <= n; i++) tail += Math.Exp(LogChoose(n, i) + i * Math.Log(p) + (n - i) * Math.Log(1 - p));
        return Math.Min(1, tail);
    }

    static double LogChoose(int n, int k)
    {
        double sum = 0;
        for (var i = 1; i <= k; i++) sum += Math.Log(n - k + i) - Math.Log(i);
        return sum;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
