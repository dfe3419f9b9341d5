using TorchSharp;

namespace Repro.Core.Models;

/// <summary>What evaluation needs from a causal language model: next-token logits for a batch of token ids.</summary>
public interface ILanguageModel
{
    int VocabSize { get; }
    torch.Device Device { get; }

    /// <summary>Logits <c>[batch, tokens, vocab]</c> for token ids <c>[batch, tokens]</c> (int64); called under no_grad.</summary>
    torch.Tensor Logits(torch.Tensor inputIds);
}
