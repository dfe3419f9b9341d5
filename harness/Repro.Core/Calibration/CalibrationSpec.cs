namespace Repro.Core.Calibration;

/// <summary>
/// Which calibration data a run uses (METHODS §1): one language or a mix in equal shares, <paramref name="NSamples"/>
/// windows of <paramref name="Seqlen"/> tokens in total, drawn with <paramref name="Seed"/>. A value that can go into
/// a run spec: equality and hash compare the language list by content, in order (order decides who gets the
/// extra samples of an uneven split and the order of the samples).
/// </summary>
public sealed record CalibrationSpec(IReadOnlyList<string> Languages, int NSamples, int Seqlen, int Seed)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the field when the spec cannot be sampled.</summary>
    public void Validate()
    {
        if (Languages is null || Languages.Count == 0)
            throw new InputException("calibration needs at least one language");
        if (Languages.Any(string.IsNullOrWhiteSpace))
            throw new InputException($"calibration languages [{string.Join(", ", Languages)}] contain an empty code");
        var duplicate = Languages.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InputException($"calibration language '{duplicate.Key}' is listed twice in [{string.Join(", ", Languages)}]; " +
                                        "list each language once (shares are equal)");
        if (NSamples < 1) throw new InputException($"calibration nsamples is {NSamples}; it must be at least 1");
        if (Seqlen < 2) throw new InputException($"calibration seqlen is {Seqlen}; it must be at least 2 tokens");
    }

    /// <summary>
    /// Samples per language: floor(n/L) each, and one more for each of the first n mod L languages in listed order
    /// (METHODS §1: 128 over seven languages is 19,19,18,18,18,18,18). A language may get 0 when n &lt; L.
    /// </summary>
    public IReadOnlyList<(string Language, int Count)> Shares()
    {
        Validate();
        var each = NSamples / Languages.Count;
        var extra = NSamples % Languages.Count;
        return [.. Languages.Select((language, i) => (language, each + (i < extra ? 1 : 0)))];
    }

    public bool Equals(CalibrationSpec? other) =>
        other is not null && NSamples == other.NSamples && Seqlen == other.Seqlen && Seed == other.Seed
        && Languages.SequenceEqual(other.Languages, StringComparer.Ordinal);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var language in Languages) hash.Add(language, StringComparer.Ordinal);
        hash.Add(NSamples);
        hash.Add(Seqlen);
        hash.Add(Seed);
        return hash.ToHashCode();
    }

    public override string ToString() => $"CalibrationSpec {{ Languages = [{string.Join(", ", Languages)}], NSamples = {NSamples}, Seqlen = {Seqlen}, Seed = {Seed} }}";
}
