using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>What evaluation needs from a causal language model: next-token logits for a batch of token ids.</summary>
public interface ILanguageModel
{
    int VocabSize { get; }
    Device Device { get; }

    /// <summary>Logits <c>[batch, tokens, vocab]</c> for token ids <c>[batch, tokens]</c> (int64); called under no_grad.</summary>
    Tensor Logits(Tensor inputIds);

    /// <summary>
    /// The logits <see cref="Logits"/> gives, a slice of at most <paramref name="positions"/> positions at a time
    /// (<c>[batch, ≤ positions, vocab]</c>, in order), so that a caller reducing them never holds all of them: at 8192
    /// tokens and a 256k vocabulary they are 8 GB per row. Each slice is the caller's to dispose; called under no_grad.
    /// The default slices <see cref="Logits"/>; a model may run its trunk once and its head per slice.
    /// </summary>
    IEnumerable<Tensor> LogitSlices(Tensor inputIds, int positions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(positions, 1);
        using var logits = Logits(inputIds);
        for (long start = 0; start < logits.shape[1]; start += positions)
            yield return logits.narrow(1, start, Math.Min(positions, logits.shape[1] - start)).clone();
    }

    /// <summary>
    /// Logits for rows that all begin with the same tokens: row r is <paramref name="prefix"/> (P ≥ 1 tokens) followed by
    /// row r of <paramref name="suffixes"/> <c>[batch, S]</c> (int64). Returns what <see cref="Logits"/> of the joined
    /// rows gives at prefix positions <paramref name="sharedFrom"/>..P−1 (<c>[P − sharedFrom, vocab]</c>, the same for
    /// every row) and at every suffix position (<c>[batch, S, vocab]</c>); called under no_grad. The default joins the
    /// rows and calls <see cref="Logits"/>; a model may run the prefix once and let every suffix attend to its keys.
    /// </summary>
    (Tensor Shared, Tensor Rows) LogitsSharingPrefix(long[] prefix, Tensor suffixes, long sharedFrom)
    {
        PrefixArguments.Check(prefix, suffixes, sharedFrom);
        using var scope = NewDisposeScope();
        var (batch, length) = (suffixes.shape[0], suffixes.shape[1]);
        var joined = cat([tensor(prefix, device: Device).unsqueeze(0).expand(batch, -1), suffixes.to(Device)], 1);
        var logits = Logits(joined);
        var shared = logits[0].narrow(0, sharedFrom, prefix.Length - sharedFrom);
        var rows = logits.narrow(1, prefix.Length, length);
        return (shared.MoveToOuterDisposeScope(), rows.MoveToOuterDisposeScope());
    }
}

/// <summary>The argument checks every <see cref="ILanguageModel.LogitsSharingPrefix"/> shares.</summary>
public static class PrefixArguments
{
    public static void Check(long[] prefix, Tensor suffixes, long sharedFrom)
    {
        if (prefix.Length == 0) throw new ArgumentException("the shared prefix is empty; call Logits on the rows instead", nameof(prefix));
        if (suffixes.dim() != 2 || suffixes.shape[1] == 0)
            throw new ArgumentException($"suffix ids must be [batch, tokens] with at least one token, got [{string.Join(", ", suffixes.shape)}]", nameof(suffixes));
        if (sharedFrom < 0 || sharedFrom > prefix.Length)
            throw new ArgumentOutOfRangeException(nameof(sharedFrom), $"shared logits from position {sharedFrom}: the prefix has {prefix.Length} tokens");
    }
}

/// <summary>
/// <paramref name="inner"/> without its own <see cref="ILanguageModel.LogitsSharingPrefix"/>: every row runs whole, as
/// lm-eval-harness runs it. The reference the shared-prefix path is tested and benchmarked against.
/// </summary>
public sealed class JoinedRowsModel(ILanguageModel inner) : ILanguageModel
{
    public int VocabSize => inner.VocabSize;
    public Device Device => inner.Device;
    public Tensor Logits(Tensor inputIds) => inner.Logits(inputIds);
    public IEnumerable<Tensor> LogitSlices(Tensor inputIds, int positions) => inner.LogitSlices(inputIds, positions);
}
