namespace Repro.Core.Corpora;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014; the seeding generator of xoshiro): a documented 64-bit generator whose
/// stream is fixed by its seed on every platform and .NET version, unlike <see cref="System.Random"/>, whose
/// seeded algorithm is an implementation detail. METHODS §1 asks for such a generator for every random choice.
/// </summary>
public sealed class SplitMix64(ulong seed)
{
    ulong state = seed;

    public ulong NextUInt64()
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// Uniform integer in <c>[0, bound)</c>, without modulo bias: draws falling in the incomplete last block of
    /// 2^64 are rejected (Lemire's threshold), so every value has exactly the same number of preimages.
    /// </summary>
    public long NextBelow(long bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        var n = (ulong)bound;
        var threshold = (0UL - n) % n;           // 2^64 mod n
        while (true)
        {
            var r = NextUInt64();
            if (r >= threshold) return (long)(r % n);
        }
    }

    /// <summary>
    /// <paramref name="count"/> distinct indices from <c>[0, population)</c>, uniformly, in ascending order:
    /// a partial Fisher–Yates shuffle whose first <paramref name="count"/> slots are the sample.
    /// </summary>
    public int[] SampleWithoutReplacement(int population, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > population)
            throw new ArgumentOutOfRangeException(nameof(count), $"cannot draw {count} distinct items from {population}");
        var slots = new Dictionary<int, int>();   // sparse shuffle: only touched slots are stored
        var sample = new int[count];
        for (var i = 0; i < count; i++)
        {
            var j = i + (int)NextBelow(population - i);
            var atJ = slots.GetValueOrDefault(j, j);
            slots[j] = slots.GetValueOrDefault(i, i);
            sample[i] = atJ;
        }
        Array.Sort(sample);
        return sample;
    }
}
