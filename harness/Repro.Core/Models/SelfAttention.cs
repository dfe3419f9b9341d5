using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>
/// Causal grouped-query self-attention with RoPE, HF layout: q/k/v/o projections, optional per-head
/// q/k norms (Qwen3, Cohere), positions 0..tokens−1 for every sequence of the batch.
/// </summary>
/// <remarks>
/// Every projection runs through <c>call</c>, never <c>forward</c>: TorchSharp fires forward hooks only
/// from <c>call</c>, and the pruning pipeline calibrates each Linear from its pre-hook.
/// Head counts are read from the projection shapes at run time, so structured pruning of whole
/// heads (LLM-Pruner) needs no change here.
/// </remarks>
public sealed class SelfAttention : nn.Module<Tensor, Tensor>
{
    // Field names are TorchSharp component names, hence HF's snake_case.
    readonly Linear q_proj, k_proj, v_proj, o_proj;
    readonly ScaleNorm? q_norm, k_norm;
    readonly RotaryEmbedding rope;
    readonly int? slidingWindow;

    /// <param name="widths">This layer's head counts (<see cref="ModelConfig.Widths"/>: structurally pruned layers have fewer).</param>
    public SelfAttention(ModelConfig config, LayerWidths widths, RotaryEmbedding rope) : base(nameof(SelfAttention))
    {
        long hidden = config.HiddenSize, q = (long)widths.NumAttentionHeads * config.HeadDim, kv = (long)widths.NumKeyValueHeads * config.HeadDim;
        q_proj = WeightLoading.PlaceholderLinear(hidden, q, config.HasQkvBias);
        k_proj = WeightLoading.PlaceholderLinear(hidden, kv, config.HasQkvBias);
        v_proj = WeightLoading.PlaceholderLinear(hidden, kv, config.HasQkvBias);
        o_proj = WeightLoading.PlaceholderLinear(q, hidden, config.HasOutputBias);
        if (config.HasQkNorm)
        {
            q_norm = config.IsCohere ? new CohereLayerNorm([widths.NumAttentionHeads, config.HeadDim], config.NormEps)
                                     : new RmsNorm([config.HeadDim], config.NormEps);
            k_norm = config.IsCohere ? new CohereLayerNorm([widths.NumKeyValueHeads, config.HeadDim], config.NormEps)
                                     : new RmsNorm([config.HeadDim], config.NormEps);
        }
        HeadDim = config.HeadDim;
        this.rope = rope;
        slidingWindow = config.SlidingWindow;
        RegisterComponents();
    }

    public int HeadDim { get; }
    public Linear QProj => q_proj;
    public Linear KProj => k_proj;
    public Linear VProj => v_proj;
    public Linear OProj => o_proj;
    public ScaleNorm? QNorm => q_norm;
    public ScaleNorm? KNorm => k_norm;

    /// <summary>Normed hidden states <c>[batch, tokens, hidden]</c> → attention output <c>[batch, tokens, hidden]</c>.</summary>
    public override Tensor forward(Tensor x) => Attend(x, past: null, out _);

    /// <summary>
    /// Attention for tokens at positions <c>past.Length</c>.. that follow a prefix whose rotated keys and values are
    /// <paramref name="past"/> (<c>[1, kvHeads, P, headDim]</c>, shared by every row), or for a whole sequence when it is
    /// null. <paramref name="keys"/> receives this call's own rotated keys and values, for a later call to attend to.
    /// Projections still run through <c>call</c>; the attention module's own hooks do not fire (it is not <c>call</c>ed).
    /// </summary>
    public Tensor Attend(Tensor x, KeyValues? past, out KeyValues keys)
    {
        var (batch, tokens) = (x.shape[0], x.shape[1]);
        var q = q_proj.call(x).view(batch, tokens, -1, HeadDim);
        var k = k_proj.call(x).view(batch, tokens, -1, HeadDim);
        var v = v_proj.call(x).view(batch, tokens, -1, HeadDim);
        if (q_norm is not null && k_norm is not null)
        {
            q = q_norm.call(q);
            k = k_norm.call(k);
        }
        var offset = past?.Length ?? 0;
        var (qr, kr) = rope.Apply(q.transpose(1, 2), k.transpose(1, 2), offset);
        var vt = v.transpose(1, 2);
        keys = new KeyValues(kr, vt);
        var groups = qr.shape[1] / kr.shape[1];
        Tensor attended;
        if (past is null)
        {
            var mask = SlidingWindowMask(tokens, x.device);
            attended = nn.functional.scaled_dot_product_attention(
                qr, RepeatKv(kr, groups), RepeatKv(vt, groups), mask, is_casual: mask is null);
        }
        else
        {
            var allKeys = cat([past.Keys.expand(batch, -1, -1, -1), kr], 2);
            var allValues = cat([past.Values.expand(batch, -1, -1, -1), vt], 2);
            attended = nn.functional.scaled_dot_product_attention(
                qr, RepeatKv(allKeys, groups), RepeatKv(allValues, groups), PrefixMask(offset, tokens, x.device));
        }
        return o_proj.call(attended.transpose(1, 2).reshape(batch, tokens, -1));
    }

    /// <summary>Rotated keys and values <c>[batch, kvHeads, tokens, headDim]</c> of tokens at positions 0..Length−1.</summary>
    public sealed record KeyValues(Tensor Keys, Tensor Values)
    {
        public long Length => Keys.shape[2];
    }

    /// <summary>
    /// HF <c>repeat_kv</c>: KV head k serves query heads k·groups … (k+1)·groups−1 (expand, not tile),
    /// the order LLM-Pruner's GQA grouping and converted checkpoints assume.
    /// </summary>
    public static Tensor RepeatKv(Tensor kv, long groups)
    {
        if (groups == 1) return kv;
        var (b, h, s, d) = (kv.shape[0], kv.shape[1], kv.shape[2], kv.shape[3]);
        return kv.unsqueeze(2).expand(b, h, groups, s, d).reshape(b, h * groups, s, d);
    }

    /// <summary>
    /// Mistral's window (HF masking_utils: <c>kv_idx &gt; q_idx − sliding_window</c>, on top of causal);
    /// null while the window covers the whole sequence, so SDPA keeps its fused causal path.
    /// </summary>
    Tensor? SlidingWindowMask(long tokens, Device device)
    {
        if (slidingWindow is not { } window || tokens <= window) return null;
        var position = arange(tokens, device: device);
        var distance = position.unsqueeze(1) - position.unsqueeze(0);   // query − key
        return distance.ge(0).logical_and(distance.lt(window));
    }

    /// <summary>
    /// Queries at positions offset..offset+tokens−1 over keys 0..offset+tokens−1: causal, and within Mistral's window
    /// where the model has one (true = attend, SDPA's boolean convention).
    /// </summary>
    Tensor PrefixMask(long offset, long tokens, Device device)
    {
        var query = arange(offset, offset + tokens, device: device);
        var key = arange(offset + tokens, device: device);
        var distance = query.unsqueeze(1) - key.unsqueeze(0);
        var mask = distance.ge(0);
        return slidingWindow is { } window ? mask.logical_and(distance.lt(window)) : mask;
    }
}
