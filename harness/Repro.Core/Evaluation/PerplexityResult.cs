namespace Repro.Core.Evaluation;

/// <summary>Where BOS goes in windowed perplexity (EVALUATION §1.4). Never mix policies in one matrix.</summary>
public enum BosPolicy
{
    /// <summary>
    /// wanda's procedure: the text is tokenized once, BOS (if the tokenizer adds one) only at position 0 of the
    /// stream, and windows after the first start mid-stream without BOS.
    /// </summary>
    StreamOnly,

    /// <summary>
    /// Every window is BOS followed by <c>seqlen − 1</c> text tokens, so the model input stays <c>seqlen</c>
    /// long; every text token is scored, the first of each window given BOS alone. Needs a tokenizer with BOS.
    /// </summary>
    PerWindow,
}

/// <param name="Seqlen">Model input length of every window.</param>
/// <param name="NSamples">At most this many windows; null: all windows of the text.</param>
/// <param name="Seed">
/// Null: the first <paramref name="NSamples"/> windows (wanda's truncation). Set: that many windows drawn
/// uniformly without replacement by <see cref="Corpora.SplitMix64"/> seeded with <c>(ulong)(long)Seed</c>.
/// </param>
/// <param name="BosPolicy">See <see cref="Evaluation.BosPolicy"/>.</param>
/// <param name="BatchSize">Windows per model call; does not change the result beyond float rounding.</param>
public sealed record PerplexityOptions(int Seqlen, int? NSamples = null, int? Seed = null,
                                       BosPolicy BosPolicy = BosPolicy.StreamOnly, int BatchSize = 1)
{
    /// <summary>Text tokens one window consumes: <c>seqlen</c>, or <c>seqlen − 1</c> when BOS is prepended per window.</summary>
    public int TextTokensPerWindow => BosPolicy == BosPolicy.PerWindow ? Seqlen - 1 : Seqlen;

    /// <summary>Text tokens needed for <paramref name="windows"/> windows (BOS included under StreamOnly).</summary>
    public long TokensNeeded(int windows) => (long)TextTokensPerWindow * windows;
}

/// <summary>
/// Perplexity and bits per byte of one language's text, with the raw sums so that pooled statistics come
/// from the same pass (EVALUATION §1.1, §1.3). Every window has <c>seqlen − 1</c> scored tokens.
/// </summary>
/// <param name="Windows">Windows evaluated.</param>
/// <param name="AvailableWindows">Windows the text holds (floor of tokens / tokens per window).</param>
/// <param name="SumNllNats">Σ negative log-likelihood over scored tokens, in nats.</param>
/// <param name="ScoredBytes">UTF-8 bytes of text spelled by the scored tokens.</param>
/// <param name="Perplexity"><c>exp(SumNllNats / ScoredTokens)</c>; NaN when any window had non-finite logits.</param>
/// <param name="BitsPerByte"><c>SumNllNats / (ln 2 · ScoredBytes)</c>; NaN when any window had non-finite logits.</param>
/// <param name="TextSha256">SHA-256 of the exact text evaluated, so rows of a matrix can prove they read the same text.</param>
/// <param name="NonFiniteWindows">Windows whose logits held NaN or ±∞; any makes the cell non-finite (claims: inconclusive).</param>
public sealed record PerplexityResult(string Language, int Windows, int AvailableWindows, long ScoredTokens,
                                      double SumNllNats, long ScoredBytes, double Perplexity, double BitsPerByte,
                                      string TextSha256, int Seqlen, BosPolicy BosPolicy, int NonFiniteWindows)
{
    public bool IsFinite => NonFiniteWindows == 0 && double.IsFinite(Perplexity) && double.IsFinite(BitsPerByte);
}

/// <summary>Progress of one evaluation, for progress bars.</summary>
public readonly record struct EvalProgress(string Language, int WindowsDone, int WindowsTotal, double TokensPerSecond);
