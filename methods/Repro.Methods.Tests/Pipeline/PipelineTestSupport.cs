using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using Repro.Methods.Pipeline;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Methods.Tests.Pipeline;

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "repro-pipeline-" + Guid.NewGuid().ToString("N")[..12]);

    public string Sub(string relative) => System.IO.Path.Combine(Path, relative);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }   // a leftover temp folder is not a test failure
    }
}

/// <summary>
/// A tiny model on disk (3 layers, hidden 32, byte tokenizer) and its weights in memory: Llama with biases everywhere by
/// default, or another family with its own parts (Qwen3's q/k norms and head_dim ≠ hidden/heads, Cohere's parallel
/// block, LayerNorm, q/k norms and tied embeddings, Qwen2's q/k/v biases and tied embeddings).
/// </summary>
sealed class TinyCheckpoint : IDisposable
{
    public const int Vocab = 259;

    public TinyCheckpoint(string dir, int layers = 3, string storedDType = "float32", long seed = 11, bool tied = false, long maxShardBytes = 0,
                          ModelFamily family = ModelFamily.Llama)
    {
        Dir = dir;
        Json = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["vocab_size"] = Vocab,
            ["hidden_size"] = 32,
            ["intermediate_size"] = 48,
            ["num_hidden_layers"] = layers,
            ["num_attention_heads"] = 4,
            ["num_key_value_heads"] = 2,
            ["max_position_embeddings"] = 64,
            ["rope_theta"] = 100.0,
            ["rms_norm_eps"] = 1e-5,
            ["hidden_act"] = "silu",
            ["attention_bias"] = true,
            ["mlp_bias"] = true,
            ["tie_word_embeddings"] = tied,
            ["bos_token_id"] = 256,
            ["eos_token_id"] = 257,
            ["torch_dtype"] = storedDType,
        };
        if (family != ModelFamily.Llama) AsFamily(Json, family);
        Config = ModelConfig.FromJson(Json, "tiny/config.json");
        var dtype = storedDType switch { "bfloat16" => ScalarType.BFloat16, "float16" => ScalarType.Float16, _ => ScalarType.Float32 };

        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed);
        var weights = new Dictionary<string, Tensor>();
        foreach (var spec in Config.ExpectedTensors())
        {
            using var scope = NewDisposeScope();
            // std 0.2 keeps attention far from uniform; norm weights around 1 so a forgotten norm shows.
            var value = spec.Name.EndsWith("norm.weight", StringComparison.Ordinal)
                ? 1 + 0.3 * randn(spec.Shape, generator: generator)
                : 0.2 * randn(spec.Shape, generator: generator);
            weights[spec.Name] = value.to(dtype).MoveToOuterDisposeScope().DetachFromDisposeScope();
        }
        Weights = weights;
        HfCheckpointWriter.Write(dir, Json, weights, new CheckpointWriteOptions { MaxShardBytes = maxShardBytes });
        new ByteTokenizer().WriteHfFiles(dir, 64);
    }

    /// <summary>Turns the Llama config into <paramref name="family"/>'s, keeping the sizes.</summary>
    static void AsFamily(JsonObject json, ModelFamily family)
    {
        json["model_type"] = family.ToString().ToLowerInvariant();
        json["architectures"] = new JsonArray($"{family}ForCausalLM");
        foreach (var llamaOnly in new[] { "attention_bias", "mlp_bias" }) json.Remove(llamaOnly);
        switch (family)
        {
            case ModelFamily.Qwen2:
                json["tie_word_embeddings"] = true;
                break;
            case ModelFamily.Qwen3:
                json["head_dim"] = 16;                  // 4 heads × 16 = 64 ≠ hidden 32, as in real Qwen3
                break;
            case ModelFamily.Cohere:
                json.Remove("rms_norm_eps");
                json["layer_norm_eps"] = 1e-5;
                json["use_qk_norm"] = true;
                json["logit_scale"] = 0.25;
                json["tie_word_embeddings"] = true;
                break;
        }
    }

    public string Dir { get; }
    public JsonObject Json { get; }
    public ModelConfig Config { get; }
    /// <summary>The stored tensors, in the stored dtype, CPU.</summary>
    public IReadOnlyDictionary<string, Tensor> Weights { get; }

    /// <summary>Random token ids [n, t] below the vocabulary, deterministic for the seed.</summary>
    public static long[,] Ids(int n, int t, ulong seed = 5)
    {
        var rng = new Repro.Core.Corpora.SplitMix64(seed);
        var ids = new long[n, t];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < t; j++) ids[i, j] = (long)(rng.NextUInt64() % 256);
        return ids;
    }

    /// <summary>SHA-256 of every file in the folder, by relative name.</summary>
    public static SortedDictionary<string, string> Hashes(string dir) =>
        new(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(
            f => System.IO.Path.GetRelativePath(dir, f), f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f)))), StringComparer.Ordinal);

    public void Dispose()
    {
        foreach (var t in Weights.Values) t.Dispose();
    }
}

/// <summary>
/// The decoder layer computed by hand from its weights (HF Llama, float32), returning every linear's input:
/// q/k/v see the normed hidden state, o_proj the concatenated heads, gate/up the post-attention norm, down
/// <c>silu(gate) ⊙ up</c>. Only RoPE is borrowed from the model code (it has its own tests).
/// </summary>
static class HandLayer
{
    public sealed record Trace(Tensor Normed, Tensor Heads, Tensor MlpNormed, Tensor DownInput, Tensor Output)
    {
        public Tensor InputOf(string sublayer) => sublayer switch
        {
            "self_attn.q_proj" or "self_attn.k_proj" or "self_attn.v_proj" => Normed,
            "self_attn.o_proj" => Heads,
            "mlp.gate_proj" or "mlp.up_proj" => MlpNormed,
            "mlp.down_proj" => DownInput,
            _ => throw new ArgumentException(sublayer),
        };
    }

    public static Trace Run(ModelConfig config, Func<string, Tensor> weight, int layer, Tensor hidden, RotaryEmbedding rope)
    {
        var p = ModelConfig.LayerPrefix(layer);
        Tensor W(string name) => weight(p + name).to(ScalarType.Float32);
        Tensor Linear(Tensor x, string name) => nn.functional.linear(x, W(name + ".weight"), W(name + ".bias"));
        Tensor Rms(Tensor x, string name) => x * (x.square().mean([-1L], keepdim: true) + config.NormEps).rsqrt() * W(name);

        var (tokens, heads, kv, d) = (hidden.shape[1], config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim);
        var normed = Rms(hidden, "input_layernorm.weight");
        var q = Linear(normed, "self_attn.q_proj").view(1, tokens, heads, d).transpose(1, 2);
        var k = Linear(normed, "self_attn.k_proj").view(1, tokens, kv, d).transpose(1, 2);
        var v = Linear(normed, "self_attn.v_proj").view(1, tokens, kv, d).transpose(1, 2);
        (q, k) = rope.Apply(q, k);
        k = k.repeat_interleave(heads / kv, dim: 1);
        v = v.repeat_interleave(heads / kv, dim: 1);
        var scores = q.matmul(k.transpose(2, 3)) / Math.Sqrt(d);
        var future = ones(tokens, tokens, dtype: ScalarType.Bool).triu(1);
        var attention = scores.masked_fill(future, double.NegativeInfinity).softmax(-1).matmul(v);
        var concatenated = attention.transpose(1, 2).reshape(1, tokens, heads * d);
        var h = hidden + Linear(concatenated, "self_attn.o_proj");
        var mlpNormed = Rms(h, "post_attention_layernorm.weight");
        var downInput = nn.functional.silu(Linear(mlpNormed, "mlp.gate_proj")) * Linear(mlpNormed, "mlp.up_proj");
        return new Trace(normed, concatenated, mlpNormed, downInput, h + Linear(downInput, "mlp.down_proj"));
    }

    public static double MaxAbsDiff(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
}

/// <summary>Test method: zeros the floor(numel/2) smallest |w| of every matrix (ties: lower flat index first).</summary>
sealed class HalfMagnitudeMethod(bool needsCalibration = true) : ICompressionMethod
{
    public string Name => "test-half-magnitude";
    public bool NeedsCalibration => needsCalibration;
    public JsonObject HyperParameters => new() { ["fraction"] = 0.5 };
    public int Observed { get; private set; }

    public ISublayerCompressor Begin(string name, Linear sublayer) => new Compressor(this, name, sublayer);

    public static Tensor Mask(Tensor weight)
    {
        var flat = weight.abs().flatten();
        var k = flat.shape[0] / 2;
        var order = flat.sort(dim: 0, stable: true).Indices;
        var mask = zeros(flat.shape[0], dtype: ScalarType.Bool);
        mask.index_fill_(0, order.narrow(0, 0, k).cpu(), true);
        return mask.view(weight.shape);
    }

    sealed class Compressor(HalfMagnitudeMethod method, string name, Linear sublayer) : ISublayerCompressor
    {
        public void Observe(Tensor input) => method.Observed++;

        public SublayerResult Apply()
        {
            var mask = Mask(sublayer.weight);
            sublayer.weight.masked_fill_(mask.to(sublayer.weight.device), 0);
            return new SublayerResult(name, sublayer.weight.NumberOfElements, mask.sum().item<long>(), mask,
                                      new Dictionary<string, double> { ["k"] = mask.sum().item<long>() });
        }

        public void Dispose() { }
    }
}

/// <summary>Test method: keeps a CPU copy of every input each sublayer observes, logs events, and defers to an inner method (or changes nothing).</summary>
sealed class RecordingMethod(ICompressionMethod? inner = null) : ICompressionMethod
{
    public string Name => inner?.Name ?? "test-recording";
    public bool NeedsCalibration => inner?.NeedsCalibration ?? true;
    public JsonObject HyperParameters => inner?.HyperParameters ?? new JsonObject { ["records"] = true };
    /// <summary>Inputs per full sublayer name ("model.layers.0.self_attn.q_proj"), in the order observed.</summary>
    public Dictionary<string, List<Tensor>> Inputs { get; } = [];
    public List<string> Events { get; } = [];

    public ISublayerCompressor Begin(string name, Linear sublayer)
    {
        Inputs.TryAdd(name, []);
        Events.Add($"begin {name}");
        return new Compressor(this, name, sublayer, inner?.Begin(name, sublayer));
    }

    public void Clear()
    {
        foreach (var list in Inputs.Values) foreach (var t in list) t.Dispose();
        Inputs.Clear();
    }

    sealed class Compressor(RecordingMethod method, string name, Linear sublayer, ISublayerCompressor? inner) : ISublayerCompressor
    {
        public void Observe(Tensor input)
        {
            if (method.Inputs[name].Count == 0) method.Events.Add($"observe {name}");
            method.Inputs[name].Add(input.detach().cpu().clone().DetachFromDisposeScope());
            inner?.Observe(input);
        }

        public SublayerResult Apply()
        {
            method.Events.Add($"apply {name}");
            return inner?.Apply() ?? new SublayerResult(name, sublayer.weight.NumberOfElements, 0, null, new Dictionary<string, double>());
        }

        public void Dispose() => inner?.Dispose();
    }
}

/// <summary>Test method: a working half-magnitude method that throws when it reaches <paramref name="failAt"/>.</summary>
sealed class FailingMethod(string failAt) : ICompressionMethod
{
    readonly HalfMagnitudeMethod inner = new();
    public string Name => "test-failing";
    public bool NeedsCalibration => true;
    public JsonObject HyperParameters => new();

    public ISublayerCompressor Begin(string name, Linear sublayer) =>
        name == failAt ? throw new InvalidOperationException($"test failure at {name}") : inner.Begin(name, sublayer);
}

/// <summary>Test method: returns a mask that marks weights it did not zero.</summary>
sealed class LyingMethod : ICompressionMethod
{
    public string Name => "test-lying";
    public bool NeedsCalibration => false;
    public JsonObject HyperParameters => new();

    public ISublayerCompressor Begin(string name, Linear sublayer) => new Compressor(name, sublayer);

    sealed class Compressor(string name, Linear sublayer) : ISublayerCompressor
    {
        public void Observe(Tensor input) { }
        public SublayerResult Apply() => new(name, sublayer.weight.NumberOfElements, 0, HalfMagnitudeMethod.Mask(sublayer.weight), new Dictionary<string, double>());
        public void Dispose() { }
    }
}

/// <summary>Reports synchronously, on the reporting thread.</summary>
sealed class ListProgress<T>(Action<T>? onReport = null) : IProgress<T>
{
    public List<T> Reports { get; } = [];
    public void Report(T value)
    {
        Reports.Add(value);
        onReport?.Invoke(value);
    }
}
