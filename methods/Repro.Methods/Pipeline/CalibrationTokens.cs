using System.Security.Cryptography;
using TorchSharp;

namespace Repro.Methods.Pipeline;

/// <summary>
/// The calibration batch the layer-by-layer pipeline runs on: token ids <c>[nsamples, seqlen]</c>, every row one
/// unpadded window (METHODS §1–§2), and whatever describes where they came from. The pipeline does not interpret
/// <see cref="Provenance"/>; it writes it into prune.json as JSON (a sampler's spec record, languages and shares,
/// corpus hashes), so a pruned folder says what it was calibrated on.
/// </summary>
public sealed record CalibrationTokens
{
    public CalibrationTokens(long[,] ids, int? seed = null, object? provenance = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.GetLength(0) < 1 || ids.GetLength(1) < 1)
            throw new ArgumentException($"calibration ids must be [nsamples ≥ 1, seqlen ≥ 1], got [{ids.GetLength(0)}, {ids.GetLength(1)}]", nameof(ids));
        Ids = ids;
        Seed = seed;
        Provenance = provenance;
    }

    /// <summary>From an int64 tensor <c>[nsamples, seqlen]</c> on any device (copied).</summary>
    public static CalibrationTokens FromTensor(torch.Tensor ids, int? seed = null, object? provenance = null)
    {
        if (ids.dim() != 2 || ids.dtype != torch.ScalarType.Int64)
            throw new ArgumentException($"calibration ids must be an int64 tensor [nsamples, seqlen], got {ids.dtype} [{string.Join(", ", ids.shape)}]", nameof(ids));
        var (rows, cols) = ((int)ids.shape[0], (int)ids.shape[1]);
        using var cpu = ids.cpu().contiguous();
        var flat = cpu.data<long>().ToArray();
        var array = new long[rows, cols];
        Buffer.BlockCopy(flat, 0, array, 0, flat.Length * sizeof(long));
        return new CalibrationTokens(array, seed, provenance);
    }

    public long[,] Ids { get; }

    /// <summary>The seed the sampler drew with, recorded at the top of prune.json; null when the ids were not drawn at random.</summary>
    public int? Seed { get; }

    public object? Provenance { get; }

    /// <summary>
    /// The language of each row, when the sampler knows it (Lang-Prune takes one importance per language); null otherwise.
    /// Not part of <see cref="Sha256"/>: the ids are.
    /// </summary>
    public IReadOnlyList<string>? RowLanguages
    {
        get => rowLanguages;
        init
        {
            if (value is not null && value.Count != Ids.GetLength(0))
                throw new ArgumentException($"{value.Count} row languages for {Ids.GetLength(0)} calibration rows");
            rowLanguages = value;
        }
    }

    readonly IReadOnlyList<string>? rowLanguages;

    public int NSamples => Ids.GetLength(0);
    public int Seqlen => Ids.GetLength(1);

    /// <summary>SHA-256 of the ids as little-endian int64s, row by row: two runs calibrated on the same tokens record the same hash.</summary>
    public string Sha256()
    {
        var bytes = new byte[Ids.Length * sizeof(long)];
        Buffer.BlockCopy(Ids, 0, bytes, 0, bytes.Length);
        if (!BitConverter.IsLittleEndian)
            for (var i = 0; i < bytes.Length; i += sizeof(long)) Array.Reverse(bytes, i, sizeof(long));
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }
}
