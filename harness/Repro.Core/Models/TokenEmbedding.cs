using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>The token embedding table <c>[vocab, hidden]</c> (HF <c>model.embed_tokens</c>); also the tied lm_head.</summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    // Field name is the TorchSharp component name: HF's "weight".
    Parameter weight;

    public TokenEmbedding(long vocab, long hidden) : base(nameof(TokenEmbedding))
    {
        weight = WeightLoading.Placeholder([vocab, hidden]);
        RegisterComponents();
    }

    public Parameter Weight => weight;

    internal void SetWeight(Parameter value)
    {
        var old = weight;
        weight = (Parameter)value.DetachFromDisposeScope();
        ConditionallyRegisterParameter(nameof(weight), weight);
        old.Dispose();
    }

    /// <summary>Token ids <c>[batch, tokens]</c> (int64) → <c>[batch, tokens, hidden]</c> in the weight's dtype.</summary>
    public override Tensor forward(Tensor ids)
    {
        if (ids.dtype != ScalarType.Int64) throw new ArgumentException($"token ids must be int64, got {ids.dtype}");
        var flat = weight.index_select(0, ids.reshape(-1));
        return flat.view([.. ids.shape, weight.shape[1]]);
    }
}
