using System.Text.Json.Nodes;

namespace Repro.Core.Models;

/// <summary>
/// Shapes of random-weight models for tests and benchmarks, named by rough parameter count
/// (exact counts: 0.13M, 7.9M, 125M, 1.24B; widths are multiples of 128 so GPTQ groups of 128 fit; `repro fixtures generate` prints them).
/// Each is a real Llama-family config (GQA, SwiGLU, RoPE), so a generated folder exercises the
/// same loaders and kernels as a downloaded checkpoint; the larger ones follow published shapes
/// (1B ≈ Llama-3.2-1B) so memory and speed figures transfer.
/// </summary>
public static class GeneratedModelShapes
{
    public sealed record Shape(string Name, int Hidden, int Layers, int Heads, int KvHeads, int Intermediate, int Vocab, bool TiedEmbeddings);

    public static IReadOnlyList<Shape> All { get; } =
    [
        new("100K", Hidden: 64, Layers: 2, Heads: 4, KvHeads: 2, Intermediate: 192, Vocab: 259, TiedEmbeddings: false),
        new("10M", Hidden: 256, Layers: 4, Heads: 8, KvHeads: 4, Intermediate: 768, Vocab: 8192, TiedEmbeddings: false),
        new("100M", Hidden: 768, Layers: 12, Heads: 12, KvHeads: 4, Intermediate: 2048, Vocab: 32000, TiedEmbeddings: false),
        new("1B", Hidden: 2048, Layers: 16, Heads: 32, KvHeads: 8, Intermediate: 8192, Vocab: 128256, TiedEmbeddings: true),
    ];

    public static Shape Get(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new InputException($"unknown generated model size '{name}'; known sizes: {string.Join(", ", All.Select(s => s.Name))}");

    /// <summary>A Hugging Face config.json for the shape, as transformers would write it for LlamaForCausalLM.</summary>
    public static JsonObject LlamaConfig(Shape shape, int maxPositions = 8192) => new()
    {
        ["architectures"] = new JsonArray("LlamaForCausalLM"),
        ["model_type"] = "llama",
        ["vocab_size"] = shape.Vocab,
        ["hidden_size"] = shape.Hidden,
        ["intermediate_size"] = shape.Intermediate,
        ["num_hidden_layers"] = shape.Layers,
        ["num_attention_heads"] = shape.Heads,
        ["num_key_value_heads"] = shape.KvHeads,
        ["head_dim"] = shape.Hidden / shape.Heads,
        ["hidden_act"] = "silu",
        ["max_position_embeddings"] = maxPositions,
        ["rms_norm_eps"] = 1e-5,
        ["rope_theta"] = 500000.0,
        ["tie_word_embeddings"] = shape.TiedEmbeddings,
        ["attention_bias"] = false,
        ["mlp_bias"] = false,
        ["bos_token_id"] = 256,
        ["eos_token_id"] = 257,
        ["torch_dtype"] = "bfloat16",
    };
}
