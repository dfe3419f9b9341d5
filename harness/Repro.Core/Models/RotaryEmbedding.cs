using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>
/// Rotary position embedding shared by all layers of one model: inverse frequencies computed once
/// from the config, cos/sin tables cached per device and dtype for positions 0..n−1, so a decoder
/// layer can be called with hidden states alone (every sample is an unpadded window starting at 0).
/// </summary>
/// <remarks>
/// Two layouts exist. Llama, Mistral and Qwen rotate halves: coordinate i pairs with i + d/2
/// (<c>rotate_half</c>, cos/sin tables <c>cat(freqs, freqs)</c>), applied in the model dtype.
/// Cohere rotates interleaved pairs (2i, 2i+1) (<c>repeat_interleave(freqs, 2)</c>) and, as
/// <c>modeling_cohere.py</c> does, applies the rotation in float32 and casts back.
/// </remarks>
public sealed class RotaryEmbedding : IDisposable
{
    readonly Lock gate = new();
    readonly Dictionary<(string Device, ScalarType DType), (long Length, Tensor Cos, Tensor Sin)> tables = [];

    public RotaryEmbedding(ModelConfig config)
    {
        Dim = config.HeadDim;
        Interleaved = config.IsCohere;
        InverseFrequencies = ComputeInverseFrequencies(config.HeadDim, config.RopeTheta, config.RopeScaling);
    }

    /// <summary>Rotated coordinates per head (the whole head_dim: no partial rotary factor in these families).</summary>
    public int Dim { get; }
    public bool Interleaved { get; }

    /// <summary>The d/2 inverse frequencies, float32 as HF computes them (scaling already applied).</summary>
    public float[] InverseFrequencies { get; }

    /// <summary>
    /// HF's <c>_compute_default_rope_parameters</c> / <c>linear</c> / <c>llama3</c>, op for op in float32, so
    /// the frequencies match transformers bit for bit rather than a float64 re-derivation.
    /// </summary>
    public static float[] ComputeInverseFrequencies(int dim, double theta, RopeScaling? scaling)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var exponents = arange(0, dim, 2, dtype: ScalarType.Int64).to(ScalarType.Float32) / dim;
        var inv = tensor((float)theta).pow(exponents).reciprocal();   // 1.0 / (base ** (arange / dim))
        if (scaling is { Type: RopeScaling.LinearType } linear) inv = inv / linear.Factor;
        else if (scaling is { Type: RopeScaling.Llama3Type } r)
        {
            // Llama 3.1: wavelengths longer than original/low_freq_factor are stretched by factor, shorter
            // than original/high_freq_factor kept, and the band between interpolated smoothly.
            double old = r.OriginalMaxPositionEmbeddings, low = r.LowFreqFactor, high = r.HighFreqFactor;
            var lowFreqWavelen = old / low;
            var highFreqWavelen = old / high;
            var wavelen = inv.reciprocal() * (2 * Math.PI);             // 2π / inv_freq
            var llama = where(wavelen > lowFreqWavelen, inv / r.Factor, inv);
            var smooth = (wavelen.reciprocal() * old - low) / (high - low);
            var smoothed = (1 - smooth) * llama / r.Factor + smooth * llama;
            var medium = (wavelen < highFreqWavelen).logical_not().logical_and((wavelen > lowFreqWavelen).logical_not());
            inv = where(medium, smoothed, llama);
        }
        else if (scaling is not null) throw new ArgumentException($"rope scaling '{scaling.Type}' is not supported");
        return inv.contiguous().data<float>().ToArray();
    }

    /// <summary>
    /// cos and sin <c>[length, Dim]</c> for positions 0..length−1 on <paramref name="device"/> in
    /// <paramref name="dtype"/>: views into a cached table, owned by the caller's dispose scope.
    /// </summary>
    public (Tensor Cos, Tensor Sin) CosSin(long length, Device device, ScalarType dtype)
    {
        lock (gate)
        {
            var key = (device.ToString(), dtype);
            if (!tables.TryGetValue(key, out var table) || table.Length < length)
            {
                if (table.Cos is not null) { table.Cos.Dispose(); table.Sin.Dispose(); }
                table = Build(Math.Max(length, table.Length * 2), device, dtype);
                tables[key] = table;
            }
            return (table.Cos.narrow(0, 0, length), table.Sin.narrow(0, 0, length));
        }
    }

    (long, Tensor, Tensor) Build(long length, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // HF: freqs = inv_freq ⊗ positions in float32 (autocast off), then cos/sin, then cast.
        var positions = arange(length, dtype: ScalarType.Float32, device: device);
        var freqs = outer(positions, tensor(InverseFrequencies, device: device));
        var emb = Interleaved ? freqs.repeat_interleave(2, dim: -1) : cat([freqs, freqs], -1);
        var cos = emb.cos().to(dtype).contiguous().DetachFromDisposeScope();
        var sin = emb.sin().to(dtype).contiguous().DetachFromDisposeScope();
        return (length, cos, sin);
    }

    /// <summary>
    /// Rotates queries and keys <c>[batch, heads, tokens, Dim]</c> by their positions <paramref name="offset"/>..offset+tokens−1
    /// (offset 0 for a whole sequence; the prefix's length for tokens that follow a cached prefix).
    /// </summary>
    public (Tensor Q, Tensor K) Apply(Tensor q, Tensor k, long offset = 0) => (Rotate(q, offset), Rotate(k, offset));

    /// <summary>Rotates <c>[…, tokens, Dim]</c> by positions offset..offset+tokens−1 along the second-to-last axis.</summary>
    public Tensor Rotate(Tensor x, long offset = 0)
    {
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), $"position offset {offset} is negative");
        var tokens = x.shape[^2];
        var (dtype, input) = Interleaved ? (ScalarType.Float32, x.to(ScalarType.Float32)) : (x.dtype, x);
        var (cos, sin) = CosSin(offset + tokens, x.device, dtype);
        if (offset > 0) (cos, sin) = (cos.narrow(0, offset, tokens), sin.narrow(0, offset, tokens));
        return Interleaved ? (input * cos + RotatePairs(input) * sin).to(x.dtype) : input * cos + RotateHalf(input) * sin;
    }

    /// <summary>Llama's rotate_half: (x1, x2) → (−x2, x1) for the two halves of the head.</summary>
    static Tensor RotateHalf(Tensor x)
    {
        var half = x.shape[^1] / 2;
        return cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
    }

    /// <summary>Cohere's rotate_half: (x[2i], x[2i+1]) → (−x[2i+1], x[2i]) for each interleaved pair.</summary>
    static Tensor RotatePairs(Tensor x)
    {
        var d = x.shape[^1];
        var even = x.slice(-1, 0, d, 2);
        var odd = x.slice(-1, 1, d, 2);
        return stack([odd.neg(), even], -1).flatten(-2);
    }

    public void Dispose()
    {
        lock (gate)
        {
            foreach (var (_, cos, sin) in tables.Values) { cos.Dispose(); sin.Dispose(); }
            tables.Clear();
        }
    }
}
