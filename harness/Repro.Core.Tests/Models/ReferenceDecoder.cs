using Repro.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Models;

/// <summary>
/// A deliberately naive float64 decoder written from the HF modeling files (per token, per head, per
/// rotation pair, in plain C# arrays), to check the TorchSharp runtime against something independent.
/// RoPE frequencies are theta^(−2i/d) in double (no scaling: scaled RoPE is tested on its own).
/// </summary>
sealed class ReferenceDecoder(ModelConfig c, IReadOnlyDictionary<string, Tensor> weights)
{
    double[] Flat(string name) => weights[name].to(ScalarType.Float64).contiguous().data<double>().ToArray();
    double[]? Maybe(string name) => weights.ContainsKey(name) ? Flat(name) : null;

    double[][] Rows(string name)
    {
        var flat = Flat(name);
        var cols = (int)weights[name].shape[^1];
        return Enumerable.Range(0, flat.Length / cols).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }

    static double[] Linear(double[] x, double[][] w, double[]? b) =>
        w.Select((row, o) => row.Zip(x, (a, v) => a * v).Sum() + (b?[o] ?? 0)).ToArray();

    static double[] RmsNorm(double[] x, ReadOnlySpan<double> w, double eps)
    {
        var scale = 1 / Math.Sqrt(x.Average(v => v * v) + eps);
        var result = new double[x.Length];
        for (var i = 0; i < x.Length; i++) result[i] = w[i] * x[i] * scale;
        return result;
    }

    static double[] LayerNorm(double[] x, ReadOnlySpan<double> w, double eps)
    {
        var mean = x.Average();
        var scale = 1 / Math.Sqrt(x.Average(v => (v - mean) * (v - mean)) + eps);
        var result = new double[x.Length];
        for (var i = 0; i < x.Length; i++) result[i] = w[i] * (x[i] - mean) * scale;
        return result;
    }

    double[] Norm(double[] x, ReadOnlySpan<double> w) => c.IsCohere ? LayerNorm(x, w, c.NormEps) : RmsNorm(x, w, c.NormEps);

    /// <summary>Rotates one head vector to position t: pairs (i, i+d/2) for Llama-style, (2i, 2i+1) for Cohere.</summary>
    double[] Rope(double[] v, int t)
    {
        var d = v.Length;
        var result = (double[])v.Clone();
        for (var i = 0; i < d / 2; i++)
        {
            var angle = t * Math.Pow(c.RopeTheta, -2.0 * i / d);
            var (a, b) = c.IsCohere ? (2 * i, 2 * i + 1) : (i, i + d / 2);
            result[a] = v[a] * Math.Cos(angle) - v[b] * Math.Sin(angle);
            result[b] = v[b] * Math.Cos(angle) + v[a] * Math.Sin(angle);
        }
        return result;
    }

    static double[] Head(double[] x, int h, int d) => x.AsSpan(h * d, d).ToArray();

    double[] HeadNorm(double[] v, string name, int h)
    {
        if (!c.HasQkNorm) return v;
        var w = Flat(name);
        return c.IsCohere ? LayerNorm(v, w.AsSpan(h * v.Length, v.Length), c.NormEps) : RmsNorm(v, w, c.NormEps);
    }

    double[][] Attention(double[][] x, string p)
    {
        int T = x.Length, d = c.HeadDim, heads = c.NumAttentionHeads, groups = c.QueriesPerKeyValue;
        var q = x.Select(r => Linear(r, Rows(p + "q_proj.weight"), Maybe(p + "q_proj.bias"))).ToArray();
        var k = x.Select(r => Linear(r, Rows(p + "k_proj.weight"), Maybe(p + "k_proj.bias"))).ToArray();
        var v = x.Select(r => Linear(r, Rows(p + "v_proj.weight"), Maybe(p + "v_proj.bias"))).ToArray();
        var concat = new double[T][];
        for (var t = 0; t < T; t++) concat[t] = new double[heads * d];
        for (var h = 0; h < heads; h++)
        {
            var kvHead = h / groups;   // HF repeat_kv
            for (var t = 0; t < T; t++)
            {
                var qt = Rope(HeadNorm(Head(q[t], h, d), p + "q_norm.weight", h), t);
                var scores = new double[t + 1];
                for (var s = 0; s <= t; s++)
                {
                    var inWindow = c.SlidingWindow is not { } w || t - s < w;
                    var ks = Rope(HeadNorm(Head(k[s], kvHead, d), p + "k_norm.weight", kvHead), s);
                    scores[s] = inWindow ? qt.Zip(ks, (a, b) => a * b).Sum() / Math.Sqrt(d) : double.NegativeInfinity;
                }
                var max = scores.Max();
                var probs = scores.Select(z => Math.Exp(z - max)).ToArray();
                var total = probs.Sum();
                for (var s = 0; s <= t; s++)
                    for (var j = 0; j < d; j++)
                        concat[t][h * d + j] += probs[s] / total * v[s][kvHead * d + j];
            }
        }
        return concat.Select(r => Linear(r, Rows(p + "o_proj.weight"), Maybe(p + "o_proj.bias"))).ToArray();
    }

    double[] Mlp(double[] x, string p)
    {
        var gate = Linear(x, Rows(p + "gate_proj.weight"), Maybe(p + "gate_proj.bias"));
        var up = Linear(x, Rows(p + "up_proj.weight"), Maybe(p + "up_proj.bias"));
        var act = gate.Zip(up, (g, u) => g / (1 + Math.Exp(-g)) * u).ToArray();
        return Linear(act, Rows(p + "down_proj.weight"), Maybe(p + "down_proj.bias"));
    }

    static double[] Add(params double[][] parts) =>
        Enumerable.Range(0, parts[0].Length).Select(i => parts.Sum(p => p[i])).ToArray();

    /// <summary>One decoder layer on hidden states <c>[tokens][hidden]</c>.</summary>
    public double[][] Layer(double[][] x, int index)
    {
        var p = ModelConfig.LayerPrefix(index);
        var inputNorm = Flat(p + "input_layernorm.weight");
        var normed = x.Select(r => Norm(r, inputNorm)).ToArray();
        var attn = Attention(normed, p + "self_attn.");
        if (c.IsCohere)
            return x.Select((r, t) => Add(r, attn[t], Mlp(normed[t], p + "mlp."))).ToArray();
        var postNorm = Flat(p + "post_attention_layernorm.weight");
        var h = x.Select((r, t) => Add(r, attn[t])).ToArray();
        return h.Select(r => Add(r, Mlp(Norm(r, postNorm), p + "mlp."))).ToArray();
    }

    public double[][] Logits(long[] ids)
    {
        var embed = Rows("model.embed_tokens.weight");
        var x = ids.Select(id => (double[])embed[id].Clone()).ToArray();
        for (var i = 0; i < c.NumHiddenLayers; i++) x = Layer(x, i);
        var norm = Flat("model.norm.weight");
        var head = c.TieWordEmbeddings ? embed : Rows("lm_head.weight");
        return x.Select(r => Linear(Norm(r, norm), head, null).Select(z => z * c.LogitScale).ToArray()).ToArray();
    }

    public static Tensor ToTensor(double[][] rows) =>
        tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length], ScalarType.Float64);
}
