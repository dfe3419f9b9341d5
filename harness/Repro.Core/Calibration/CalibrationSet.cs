using TorchSharp;

namespace Repro.Core.Calibration;

/// <summary>Where one calibration window came from: the language, the document's index in its corpus, the first token.</summary>
public readonly record struct CalibrationSample(string Language, int DocumentIndex, int WindowStart);

/// <summary>What one language contributed, and from which text.</summary>
/// <param name="Count">Realised number of samples (the spec's share).</param>
/// <param name="CorpusFile">The corpus file read (its calibration split).</param>
/// <param name="CorpusSha256"><see cref="Corpora.Corpus.ContentSha256"/> of that corpus.</param>
/// <param name="Documents">Documents in the corpus.</param>
/// <param name="Draws">Documents drawn, rejected ones (not longer than seqlen) included.</param>
/// <param name="SubSeed">The seed of this language's generator (<see cref="Calibration.SubSeed"/>).</param>
/// <param name="TextTokens">
/// Tokens of the documents longer than seqlen, counted in document order until they reach Count × seqlen: at least
/// that much when <paramref name="RepeatsText"/> is false, all such text in the corpus when it is true.
/// </param>
/// <param name="RepeatsText">The corpus holds less text than Count × seqlen, so its windows repeat text (sampled only when allowed).</param>
public sealed record CalibrationLanguage(string Language, int Count, string CorpusFile, string CorpusSha256, int Documents, int Draws, ulong SubSeed,
                                         long TextTokens, bool RepeatsText);

/// <summary>
/// Calibration token windows, <c>[NSamples, Seqlen]</c> int64 row-major in <see cref="TokenIds"/>, with the
/// provenance of every row. Rows are grouped by language in the spec's listed order.
/// </summary>
public sealed class CalibrationSet
{
    public CalibrationSet(CalibrationSpec spec, long[] tokenIds, IReadOnlyList<CalibrationSample> samples, IReadOnlyList<CalibrationLanguage> languages)
    {
        if (tokenIds.Length != (long)spec.NSamples * spec.Seqlen || samples.Count != spec.NSamples)
            throw new ArgumentException($"{samples.Count} samples and {tokenIds.Length} ids do not make [{spec.NSamples}, {spec.Seqlen}]");
        Spec = spec;
        TokenIds = tokenIds;
        Samples = samples;
        Languages = languages;
    }

    public CalibrationSpec Spec { get; }
    public int NSamples => Spec.NSamples;
    public int Seqlen => Spec.Seqlen;

    /// <summary>Row-major token ids: sample i is <c>[i·Seqlen, (i+1)·Seqlen)</c>.</summary>
    public long[] TokenIds { get; }

    public IReadOnlyList<CalibrationSample> Samples { get; }
    public IReadOnlyList<CalibrationLanguage> Languages { get; }

    public ReadOnlySpan<long> Row(int sample) => TokenIds.AsSpan(sample * Seqlen, Seqlen);

    /// <summary>Realised samples per language, in listed order.</summary>
    public IReadOnlyDictionary<string, int> CountPerLanguage => Languages.ToDictionary(l => l.Language, l => l.Count);

    /// <summary>A new int64 tensor <c>[NSamples, Seqlen]</c> (the caller disposes it), on <paramref name="device"/> or the CPU.</summary>
    public torch.Tensor ToTensor(torch.Device? device = null)
    {
        var cpu = torch.tensor(TokenIds, [NSamples, Seqlen], torch.int64);
        if (device is null || device.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }
}
