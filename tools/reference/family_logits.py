#!/usr/bin/env python3
"""Dense-logits goldens for every model family the runtime runs: Llama, Mistral, Qwen2, Qwen3 and Cohere.

What it does
    For each family of ``FAMILIES`` it draws a small random model (torch.Generator seeded per family: hidden 32,
    4 query heads, 2 KV heads, 2 layers, MLP 48, the fixture tokenizer's 259 ids; norm weights 1 + 0.1·N(0, 1),
    projections 0.2·N(0, 1) so attention is far from uniform, biases 0.1·N(0, 1), embeddings 0.5·N(0, 1)), writes it
    as a Hugging Face folder and runs it through this file's own decoder (``forward``), float32 on CPU. Each folder
    ``methods/Repro.Methods.Tests/Golden/families/<family>/`` holds

      config.json              the family's model_type, architectures and the fields under the names its HF
                               config class reads (``config_for``)
      model.safetensors        the weights, F32, HF tensor names; tied families have no lm_head.weight
      tokenizer.json, tokenizer_config.json, special_tokens_map.json
                               copied from fixtures/models/tiny (byte-level BPE, id = byte, 3 special tokens)
      logits.safetensors       ``input_ids`` I64 [2, T] (torch.Generator seeded with ``IDS_SEED``, uniform over the
                               vocabulary) and ``logits`` F32 [2, T, vocab] of this file's decoder on them; the
                               metadata records torch, BLAS, kernel and threads

    The golden logits come from the weights read back from model.safetensors, so they are the logits of the folder
    as written. ``--floor NAME`` instead reads every folder back, runs the decoder again under the current BLAS
    kernel and thread count and records, per family, the relative Frobenius difference (and the largest absolute
    one) from the golden logits as run NAME of ``Golden/families/noise-floor.json`` (other runs kept).
    FamilyLogitsGoldenTests loads each folder in Repro's runtime and compares its logits with these.

The decoder: Hugging Face semantics per family, written here, not derived from Repro's C# runtime
    Shared (modeling_llama.py): RMSNorm x·rsqrt(mean(x²) + eps)·w; RoPE with inv_freq = theta^(-2i/d) over
    i < d/2, angles position·inv_freq; scores q·kᵀ·d^-1/2 plus a causal mask of float32's minimum, softmax in float32;
    GQA repeats each KV head for its consecutive query heads; MLP down(silu(gate(x))·up(x)); pre-norm residual layers;
    final norm, lm_head (the embedding when tie_word_embeddings).
      llama     attention_bias: biases on q, k, v and o; mlp_bias: biases on gate, up and down; rope_scaling llama3
                (inv_freq of wavelength above original_max_position_embeddings / low_freq_factor divided by factor,
                below original / high_freq_factor kept, between them interpolated by
                s = (original / wavelength - low) / (high - low): (1 - s)·inv/factor + s·inv). Here
                original = 64 with head_dim 8, so the four frequencies cover all three bands.
      mistral   no biases; head_dim from config (12 here, not hidden / heads); sliding_window W: a query at position
                i sees keys j with i - W < j <= i (masking_utils' sliding_window_overlay); W = 8 < T so it matters.
      qwen2     q, k and v always have biases, o never; rope_scaling linear (inv_freq / factor); tied embeddings.
      qwen3     q_norm, k_norm: RMSNorm over head_dim (one weight [head_dim] shared by the heads) on the projected
                q and k before RoPE; head_dim 16 ≠ hidden / heads; attention_bias on q, k, v and o; tied embeddings.
      cohere    LayerNorm without bias, mean subtracted: (x - mean)·rsqrt(var + eps)·w, eps = layer_norm_eps;
                one input_layernorm feeds attention and MLP in parallel, x + attn(h) + mlp(h), no
                post_attention_layernorm; RoPE on interleaved pairs (angles repeat_interleave'd, rotate
                (x0, x1) → (-x1, x0) per pair); use_qk_norm: LayerNorm per head with weights [heads, head_dim] on
                q and k before RoPE; logits × logit_scale (0.25 here, not the default 0.0625); tied embeddings.

What the goldens tell apart: each feature above moves the logits by 0.2 to 0.9 relative when left out (Cohere's
    parallel layer 0.91, its LayerNorm 0.45 and interleaved RoPE 0.40 against RMSNorm and half-split RoPE, its q/k norm
    0.32 and logit_scale 0.75; Qwen3's q/k norm 0.37; Qwen2's q/k/v biases 0.36 and linear scaling 0.76; Llama's o and
    MLP biases 0.26 and 0.23 and llama3 scaling 0.36; Mistral's window 0.84, or 0.45 and 0.42 when one token shorter or
    longer), against a noise floor under 1e-6. On the tiny fixture Llama this decoder and whole_model.py's
    ReferenceLlama agree to 3e-7.

Re-run (from the repository root; Debian's python3-torch 1.13; a few seconds):
    /usr/bin/python3 tools/reference/family_logits.py
    # the noise floor: the same folders under OpenBLAS's other kernels (Debian's torch links OpenBLAS, which picks its
    # kernels at start-up; OPENBLAS_CORETYPE overrides the choice) and two threads
    for k in Haswell Sandybridge Nehalem; do
      OPENBLAS_CORETYPE=$k /usr/bin/python3 tools/reference/family_logits.py --threads 2 --floor $k
    done
    The goldens in the repository were written on an AMD EPYC where OpenBLAS chose its own (AVX-512) kernels.

Adaptations
    Hugging Face transformers is not used (not installable where this was written): the decoder above is written from
    the HF modeling files' semantics, so it checks Repro's runtime against an implementation independent of it.
    Only the eager attention path without padding, caches or dropout is modelled: the goldens need no more.
"""

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from whole_model import read_safetensors, record_floor_run, run_environment, write_safetensors  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "methods/Repro.Methods.Tests/Golden/families"
TOKENIZER = REPO_ROOT / "fixtures/models/tiny"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
VOCAB, HIDDEN, HEADS, KV_HEADS, LAYERS, INTERMEDIATE = 259, 32, 4, 2, 2, 48
BATCH, TOKENS, IDS_SEED = 2, 32, 1234

# family: (weights seed, the family-specific config.json fields)
FAMILIES = {
    "llama": (101, dict(rms_norm_eps=1e-5, rope_theta=10000.0, attention_bias=True, mlp_bias=True, tie_word_embeddings=False,
                        max_position_embeddings=512,
                        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                          original_max_position_embeddings=64))),
    "mistral": (102, dict(rms_norm_eps=1e-5, rope_theta=1000.0, head_dim=12, sliding_window=8, tie_word_embeddings=False,
                          max_position_embeddings=4096)),
    "qwen2": (103, dict(rms_norm_eps=1e-6, rope_theta=1000000.0, rope_scaling=dict(rope_type="linear", factor=2.0),
                        tie_word_embeddings=True, use_sliding_window=False, max_position_embeddings=32768)),
    "qwen3": (104, dict(rms_norm_eps=1e-6, rope_theta=1000000.0, head_dim=16, attention_bias=True, tie_word_embeddings=True,
                        use_sliding_window=False, max_position_embeddings=40960)),
    "cohere": (105, dict(layer_norm_eps=1e-5, rope_theta=10000.0, use_qk_norm=True, logit_scale=0.25, attention_bias=False,
                         tie_word_embeddings=True, max_position_embeddings=8192)),
}
ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "qwen3": "Qwen3ForCausalLM", "cohere": "CohereForCausalLM"}


def config_for(family):
    _, fields = FAMILIES[family]
    return {"architectures": [ARCHITECTURES[family]], "model_type": family, "vocab_size": VOCAB, "hidden_size": HIDDEN,
            "intermediate_size": INTERMEDIATE, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
            "num_key_value_heads": KV_HEADS, "hidden_act": "silu", **fields,
            "bos_token_id": 256, "eos_token_id": 257, "pad_token_id": 258, "torch_dtype": "float32"}


def head_dim(config):
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


# ---------------------------------------------------------------------------------------------- the weights

def shapes(config):
    """HF tensor name -> shape for this family's architecture."""
    family, h, d = config["model_type"], config["hidden_size"], head_dim(config)
    q, kv, inter = config["num_attention_heads"] * d, config["num_key_value_heads"] * d, config["intermediate_size"]
    qkv_bias = family == "qwen2" or (family in ("llama", "qwen3", "cohere") and config.get("attention_bias", False))
    o_bias = family in ("llama", "qwen3", "cohere") and config.get("attention_bias", False)
    mlp_bias = family == "llama" and config.get("mlp_bias", False)
    out = {"model.embed_tokens.weight": (config["vocab_size"], h), "model.norm.weight": (h,)}
    if not config["tie_word_embeddings"]:
        out["lm_head.weight"] = (config["vocab_size"], h)
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out[p + "input_layernorm.weight"] = (h,)
        if family != "cohere":
            out[p + "post_attention_layernorm.weight"] = (h,)
        for name, rows, cols, bias in (("self_attn.q_proj", q, h, qkv_bias), ("self_attn.k_proj", kv, h, qkv_bias),
                                       ("self_attn.v_proj", kv, h, qkv_bias), ("self_attn.o_proj", h, q, o_bias),
                                       ("mlp.gate_proj", inter, h, mlp_bias), ("mlp.up_proj", inter, h, mlp_bias),
                                       ("mlp.down_proj", h, inter, mlp_bias)):
            out[p + name + ".weight"] = (rows, cols)
            if bias:
                out[p + name + ".bias"] = (rows,)
        if family == "qwen3":
            out[p + "self_attn.q_norm.weight"] = (d,)
            out[p + "self_attn.k_norm.weight"] = (d,)
        if family == "cohere" and config.get("use_qk_norm", False):
            out[p + "self_attn.q_norm.weight"] = (config["num_attention_heads"], d)
            out[p + "self_attn.k_norm.weight"] = (config["num_key_value_heads"], d)
    return out


def random_weights(config, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in sorted(shapes(config).items()):
        noise = torch.randn(shape, generator=g, dtype=torch.float32)
        if name.endswith("norm.weight"):
            out[name] = 1 + 0.1 * noise
        elif name.endswith(".bias"):
            out[name] = 0.1 * noise
        elif name == "model.embed_tokens.weight":
            out[name] = 0.5 * noise
        else:
            out[name] = 0.2 * noise
    return out


def input_ids():
    g = torch.Generator().manual_seed(IDS_SEED)
    return torch.randint(0, VOCAB, (BATCH, TOKENS), generator=g, dtype=torch.int64)


# ---------------------------------------------------------------------------------------------- the decoder

def rms_norm(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def layer_norm(x, weight, eps):
    """Cohere's LayerNorm: mean subtracted, no bias; weight broadcasts over the last dims ([heads, head_dim] for q/k)."""
    centred = x - x.mean(-1, keepdim=True)
    return weight * (centred * torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + eps))


def inverse_frequencies(config):
    d = head_dim(config)
    inv = 1.0 / (config.get("rope_theta", 10000.0) ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    scaling = config.get("rope_scaling")
    if scaling is None:
        return inv
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "linear":
        return inv / scaling["factor"]
    if kind == "llama3":
        factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
        original = scaling["original_max_position_embeddings"]
        wavelength = 2 * math.pi / inv
        long_waves = wavelength > original / low
        short_waves = wavelength < original / high
        smooth = (original / wavelength - low) / (high - low)
        between = (1 - smooth) * inv / factor + smooth * inv
        return torch.where(long_waves, inv / factor, torch.where(short_waves, inv, between))
    sys.exit(f"rope type {kind} is not modelled here")


def rope(q, k, config, interleaved):
    """q, k: [batch, heads, T, head_dim]. Half-split pairs (i, i + d/2), or Cohere's adjacent pairs (2i, 2i + 1)."""
    t = q.shape[2]
    angles = torch.arange(t).float()[:, None] * inverse_frequencies(config)[None, :]
    if interleaved:
        angles = angles.repeat_interleave(2, dim=-1)
    else:
        angles = torch.cat((angles, angles), dim=-1)
    cos, sin = angles.cos(), angles.sin()

    def rotated(x):
        if interleaved:
            return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    return q * cos + rotated(q) * sin, k * cos + rotated(k) * sin


def project(w, prefix, x):
    return F.linear(x, w[prefix + ".weight"], w.get(prefix + ".bias"))


def attention(w, p, x, config):
    family, d = config["model_type"], head_dim(config)
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    b, t, _ = x.shape
    q = project(w, p + "q_proj", x).view(b, t, heads, d)
    k = project(w, p + "k_proj", x).view(b, t, kv_heads, d)
    v = project(w, p + "v_proj", x).view(b, t, kv_heads, d)
    if family == "qwen3":
        q = rms_norm(q, w[p + "q_norm.weight"], config["rms_norm_eps"])
        k = rms_norm(k, w[p + "k_norm.weight"], config["rms_norm_eps"])
    if family == "cohere" and config.get("use_qk_norm", False):
        q = layer_norm(q, w[p + "q_norm.weight"], config["layer_norm_eps"])
        k = layer_norm(k, w[p + "k_norm.weight"], config["layer_norm_eps"])
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    q, k = rope(q, k, config, interleaved=family == "cohere")
    k = k.repeat_interleave(heads // kv_heads, dim=1)
    v = v.repeat_interleave(heads // kv_heads, dim=1)
    query, key = torch.arange(t)[:, None], torch.arange(t)[None, :]
    visible = key <= query
    if family == "mistral" and config.get("sliding_window") is not None:
        visible &= key > query - config["sliding_window"]
    mask = torch.zeros(t, t).masked_fill(~visible, torch.finfo(torch.float32).min)
    scores = q @ k.transpose(2, 3) * d ** -0.5 + mask
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
    out = (probs @ v).transpose(1, 2).reshape(b, t, heads * d)
    return project(w, p + "o_proj", out)


def mlp(w, p, x):
    return project(w, p + "down_proj", F.silu(project(w, p + "gate_proj", x)) * project(w, p + "up_proj", x))


@torch.no_grad()
def forward(w, config, ids):
    cohere = config["model_type"] == "cohere"

    def norm(x, name):
        return layer_norm(x, w[name], config["layer_norm_eps"]) if cohere else rms_norm(x, w[name], config["rms_norm_eps"])

    x = F.embedding(ids, w["model.embed_tokens.weight"])
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        if cohere:
            h = norm(x, p + "input_layernorm.weight")
            x = x + attention(w, p + "self_attn.", h, config) + mlp(w, p + "mlp.", h)
        else:
            x = x + attention(w, p + "self_attn.", norm(x, p + "input_layernorm.weight"), config)
            x = x + mlp(w, p + "mlp.", norm(x, p + "post_attention_layernorm.weight"))
    head = w["model.embed_tokens.weight"] if config["tie_word_embeddings"] else w["lm_head.weight"]
    logits = F.linear(norm(x, "model.norm.weight"), head)
    return logits * config["logit_scale"] if cohere else logits


# ---------------------------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--floor", metavar="NAME",
                        help="compare with the goldens already in --out and record the differences as run NAME of "
                             "noise-floor.json (other runs kept) instead of writing goldens")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    out = Path(options.out)
    env = run_environment(options.threads)
    floor = {"environment": env, "families": {}}
    for family in options.families.split(","):
        folder = out / family
        if not options.floor:
            seed, _ = FAMILIES[family]
            config = config_for(family)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", "utf-8")
            write_safetensors(folder / "model.safetensors", random_weights(config, seed), {"format": "pt"})
            for name in TOKENIZER_FILES:
                shutil.copyfile(TOKENIZER / name, folder / name)
        # The logits of the folder as written: config and weights read back.
        config = json.loads((folder / "config.json").read_text("utf-8"))
        weights = read_safetensors(folder / "model.safetensors")
        expected = set(shapes(config))
        if set(weights) != expected:
            sys.exit(f"{folder}/model.safetensors: tensors {sorted(set(weights) ^ expected)} differ from the architecture's")
        ids = input_ids()
        logits = forward(weights, config, ids)
        if options.floor:
            golden = read_safetensors(folder / "logits.safetensors")
            if not torch.equal(golden["input_ids"], ids):
                sys.exit(f"{folder}/logits.safetensors: the input ids differ from the ones drawn now; regenerate the goldens first")
            g = golden["logits"]
            entry = {"rel": float((logits - g).norm() / g.norm()), "max_abs": float((logits - g).abs().max())}
            floor["families"][family] = entry
            print(f"{family}: logits rel {entry['rel']:.2e}, max abs {entry['max_abs']:.2e}")
        else:
            probs = torch.softmax(logits, -1)
            write_safetensors(folder / "logits.safetensors", {"input_ids": ids, "logits": logits},
                              {"family": family, "rule": "tools/reference/family_logits.py forward()", **env})
            print(f"{family}: logits std {float(logits.std()):.3f}, mean top-1 probability {float(probs.max(-1).values.mean()):.3f}")
    if options.floor:
        record_floor_run(out / "noise-floor.json", options.floor, floor)


if __name__ == "__main__":
    main()
