#!/usr/bin/env python3
"""Whole-model goldens: the reference pruning and quantization loops run on a whole small Llama model.

What it does
    Loads a Hugging Face Llama folder (default: fixtures/models/tiny, GQA 4:2) in float32 into a Llama
    written in this file (``ReferenceLlama``: the Hugging Face module layout and call interface that the
    reference loops drive, with its arithmetic spelled out independently of Repro's C# runtime), draws
    calibration and evaluation windows from a corpus folder with its own rule (below), and runs, for
    each case of ``CASES``, the reference's own whole-model loop on a fresh copy of the model:

      magnitude, Wanda   locuslab/wanda lib/prune.py   prune_magnitude, prune_wanda
      SparseGPT          locuslab/wanda lib/prune.py   prune_sparsegpt (lib/sparsegpt.py)
      GPTQ               IST-DASLab/gptq llama.py      llama_sequential (gptq.py, quant.py)

    imported from local checkouts, never copied. It writes into ``--out``:

      windows.safetensors     calibration ids [nsamples, seqlen] and evaluation ids [windows, seqlen] (I64),
                              and the dense model's logits on the first evaluation window (F32): the
                              dense-logits golden
      <case>.safetensors      per sublayer: a weight sketch ``W_out · r`` (F64, r a fixed ±1 vector per
                              width, ``sketch_vector``) and, for pruning cases, the zero pattern of
                              ``W_out`` bit-packed as Repro's masks (bitpacked-le/1: element k of the
                              row-major mask is bit k mod 8 of byte k div 8, set = zero); metadata: the
                              case's parameters, SHA-256 of all sublayer weights (float32, little-endian,
                              in name order), the perplexity on the evaluation windows, the reference
                              commits and torch version, the BLAS and thread count it ran with
      noise-floor.json        (``--floor NAME``) how far a run of the reference under another BLAS kernel and
                              thread count moved each case: zero patterns that differ, sketch relative
                              differences per sublayer, perplexity and dense-logits relative differences

    The C# tests (WholeModelGoldenTests) run Repro's pipeline on the same float32 model and windows and
    compare with these files within tolerances derived from noise-floor.json.

Windows (this script's own rule, recorded so the C# side never re-derives it: it reads the ids)
    The tiny model's tokenizer is byte-level with id = byte value, so ids are the UTF-8 bytes of the text
    (checked against tokenizer.json). Calibration: documents of ``<corpus>/<lang>/calibration.jsonl.gz``
    in order, each longer than seqlen bytes; Python's ``random.Random(seed)`` picks a document and a start
    per window (locuslab/wanda's C4 rule). Evaluation: documents of ``validation.jsonl.gz`` joined by
    "\\n\\n", cut into consecutive windows of seqlen, the first ``--eval-windows`` of them. No BOS.
    Perplexity is exp of the mean next-token NLL over all windows (every window scores seqlen-1 tokens).

Adaptations, all outside the reference's code
    * ``datasets``/``transformers`` are stubbed (imported at module level, unused on these paths; the stub
      transformers has an empty ``Conv1D``), ``torch.cuda.synchronize``/``empty_cache`` are no-ops and
      ``Tensor.cuda`` the identity while a reference function runs (it sorts on ``.cuda()``).
    * ``lib.prune.get_loaders`` is replaced by a function returning the calibration windows.
    * gptq's llama.py reads its options from a module-level ``args``; it is set on the module.

Re-run (from the repository root; Debian's python3-torch 1.13 and python3-numpy; about a minute per run):
    git clone https://github.com/locuslab/wanda /tmp/wanda && git -C /tmp/wanda checkout 8e8fc87b4a2f9955baa7e76e64d5fce7fa8724a6
    git clone https://github.com/IST-DASLab/gptq /tmp/gptq && git -C /tmp/gptq checkout 2d65066eeb06a5c9ff5184d8cebdf33662c67faf
    /usr/bin/python3 tools/reference/whole_model.py --wanda /tmp/wanda --gptq /tmp/gptq
    # the noise floor: the same cases under OpenBLAS's other kernels (Debian's torch links OpenBLAS, built for every
    # x86 generation and choosing one at start-up; OPENBLAS_CORETYPE overrides the choice) and two threads
    for k in Haswell Sandybridge Nehalem; do
      OPENBLAS_CORETYPE=$k /usr/bin/python3 tools/reference/whole_model.py --wanda /tmp/wanda --gptq /tmp/gptq --threads 2 --floor $k
    done
    Swapping libblas.so.3 (update-alternatives, LD_LIBRARY_PATH) changes nothing: torch calls libopenblas.so.0 directly.
    The goldens above were written on an AMD EPYC where OpenBLAS chose its Cooperlake (AVX-512) kernels.

What the floor showed (noise-floor.json): magnitude, Wanda (50 %, 2:4) and SparseGPT 50 % repeat their zero patterns
    exactly and their weights to ~1e-5 (SparseGPT's OBS sweep) under every kernel; SparseGPT 2:4 and GPTQ do not. A
    2:4 group is chosen on weights the sweep has already updated, so a near-tie flipped by rounding (first seen in
    layer 2's down_proj, 2 groups) re-routes that row's error and every later layer diverges (246-272 zeros, up to 11 %
    in weight sketches, 1.1-1.5e-4 in perplexity); a GPTQ code on a rounding boundary does the same from layer 0 or 1.
"""

import argparse
import contextlib
import copy
import gzip
import hashlib
import io
import json
import math
import os
import random
import struct
import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "methods/Repro.Methods.Tests/Golden/whole-model"

# name: (loop, parameters). Sparsity loops take (sparsity, prune_n, prune_m); GPTQ takes its llama.py options.
CASES = {
    "magnitude-50": ("magnitude", dict(sparsity=0.5, n=0, m=0)),
    "wanda-50": ("wanda", dict(sparsity=0.5, n=0, m=0)),
    "wanda-2of4": ("wanda", dict(sparsity=0.5, n=2, m=4)),
    "sparsegpt-50": ("sparsegpt", dict(sparsity=0.5, n=0, m=0)),
    "sparsegpt-2of4": ("sparsegpt", dict(sparsity=0.5, n=2, m=4)),
    "gptq-w4-g32": ("gptq", dict(wbits=4, groupsize=32, sym=False, act_order=False)),
    "gptq-w4-sym-actorder": ("gptq", dict(wbits=4, groupsize=-1, sym=True, act_order=True)),
    "gptq-w8": ("gptq", dict(wbits=8, groupsize=-1, sym=False, act_order=False)),
}


# ---------------------------------------------------------------------------------------------- the model

class RMSNorm(nn.Module):
    def __init__(self, weight, eps):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.eps = eps

    def forward(self, x):
        variance = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x.float() * torch.rsqrt(variance + self.eps)).to(x.dtype)


def linear(weight):
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    layer.weight = nn.Parameter(weight, requires_grad=False)
    return layer


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, w, prefix, config):
        super().__init__()
        self.heads, self.kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
        self.head_dim = config.get("head_dim") or config["hidden_size"] // self.heads
        self.theta = float(config.get("rope_theta", 10000.0))
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            setattr(self, name, linear(w[f"{prefix}.{name}.weight"]))

    def rope(self, positions):
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
        freqs = positions.float()[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    def forward(self, x, attention_mask, position_ids):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = self.rope(position_ids[0])
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        group = self.heads // self.kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim) + attention_mask
        probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
        out = (probs @ v).transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return self.o_proj(out)


class Mlp(nn.Module):
    def __init__(self, w, prefix):
        super().__init__()
        for name in ("gate_proj", "up_proj", "down_proj"):
            setattr(self, name, linear(w[f"{prefix}.{name}.weight"]))

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Hugging Face's call interface: layer(hidden, attention_mask=, position_ids=) -> (hidden,)."""

    def __init__(self, w, i, config):
        super().__init__()
        prefix, eps = f"model.layers.{i}", config["rms_norm_eps"]
        self.self_attn = Attention(w, prefix + ".self_attn", config)
        self.mlp = Mlp(w, prefix + ".mlp")
        self.input_layernorm = RMSNorm(w[prefix + ".input_layernorm.weight"], eps)
        self.post_attention_layernorm = RMSNorm(w[prefix + ".post_attention_layernorm.weight"], eps)

    def forward(self, x, attention_mask=None, position_ids=None, **kwargs):
        x = x + self.self_attn(self.input_layernorm(x), attention_mask, position_ids)
        return (x + self.mlp(self.post_attention_layernorm(x)),)


class ReferenceLlama(nn.Module):
    """model.model.{embed_tokens, layers, norm}, model.lm_head, model.seqlen, model.config, model.hf_device_map."""

    def __init__(self, w, config, seqlen):
        super().__init__()
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding.from_pretrained(w["model.embed_tokens.weight"], freeze=True)
        self.model.layers = nn.ModuleList(DecoderLayer(w, i, config) for i in range(config["num_hidden_layers"]))
        self.model.norm = RMSNorm(w["model.norm.weight"], config["rms_norm_eps"])
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        self.lm_head = linear(head.clone())
        self.seqlen = seqlen
        self.config = SimpleNamespace(use_cache=False, hidden_size=config["hidden_size"])
        self.hf_device_map = {}

    def forward(self, ids):
        t = ids.shape[1]
        mask = torch.full((t, t), torch.finfo(torch.float32).min).triu(1)[None, None]
        positions = torch.arange(t)[None]
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, attention_mask=mask, position_ids=positions)[0]
        return SimpleNamespace(logits=self.lm_head(self.model.norm(x)))


# ---------------------------------------------------------------------------------------------- files

def read_safetensors(path):
    """Every tensor of a safetensors file as float32 (F32, BF16, F16) or its own integer type."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        raw = bytearray(data[8 + n + start:8 + n + end])
        shape = info["shape"]
        if info["dtype"] == "BF16":
            bits = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) << 16
            out[name] = bits.view(torch.float32).reshape(shape).clone()
        else:
            dtype = {"F32": torch.float32, "F16": torch.float16, "I64": torch.int64, "F64": torch.float64,
                     "U8": torch.uint8}[info["dtype"]]
            out[name] = torch.frombuffer(raw, dtype=dtype).reshape(shape).clone().float() \
                if info["dtype"] == "F16" else torch.frombuffer(raw, dtype=dtype).reshape(shape).clone()
    return out


def write_safetensors(path, tensors, metadata):
    dtypes = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8"}
    header, blobs, offset = {"__metadata__": {k: str(v) for k, v in metadata.items()}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        blob = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def pack_bits(mask):
    """bool, any shape -> uint8 [ceil(numel/8)], element k = bit k%8 of byte k//8 (little-endian bit order)."""
    flat = mask.flatten().to(torch.uint8)
    flat = torch.cat([flat, torch.zeros((-flat.numel()) % 8, dtype=torch.uint8)])
    weights = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.int32)
    return (flat.view(-1, 8).to(torch.int32) * weights).sum(1).to(torch.uint8)


def documents(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)["text"]


def byte_ids_checked(model_dir):
    """The tokenizer must be byte-level with id = byte value (GPT-2's byte-to-unicode map), or ids are not bytes."""
    vocab = json.loads((Path(model_dir) / "tokenizer.json").read_text("utf-8"))["model"]["vocab"]
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    bad = [b for b in range(256) if vocab.get(chars[b]) != b]
    if bad:
        sys.exit(f"{model_dir}/tokenizer.json: not a byte-level vocabulary with id = byte (bytes {bad[:5]}...)")


def windows(corpus, lang, nsamples, seqlen, seed, eval_windows):
    calib_docs = [d.encode("utf-8") for d in documents(Path(corpus) / lang / "calibration.jsonl.gz")]
    long_docs = [d for d in calib_docs if len(d) > seqlen]
    rng = random.Random(seed)
    calib = []
    for _ in range(nsamples):
        doc = long_docs[rng.randint(0, len(long_docs) - 1)]
        start = rng.randint(0, len(doc) - seqlen - 1)
        calib.append(list(doc[start:start + seqlen]))
    text = "\n\n".join(documents(Path(corpus) / lang / "validation.jsonl.gz")).encode("utf-8")
    if len(text) < eval_windows * seqlen:
        sys.exit(f"{corpus}/{lang}/validation.jsonl.gz: {len(text)} bytes, fewer than {eval_windows} x {seqlen}")
    evaluation = [list(text[i * seqlen:(i + 1) * seqlen]) for i in range(eval_windows)]
    return torch.tensor(calib, dtype=torch.int64), torch.tensor(evaluation, dtype=torch.int64)


# ---------------------------------------------------------------------------------------------- the reference

def stub_modules():
    for name in ("datasets", "transformers"):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.load_dataset = None

            class Conv1D(nn.Module):
                pass

            stub.Conv1D = Conv1D
            sys.modules[name] = stub
    torch.cuda.synchronize = lambda *a, **k: None
    torch.cuda.empty_cache = lambda *a, **k: None


def import_wanda(checkout):
    sys.path.insert(0, str(Path(checkout).resolve()))
    import lib.prune as prune  # the reference
    return prune


def import_gptq(checkout):
    sys.path.insert(0, str(Path(checkout).resolve()))
    with contextlib.redirect_stdout(io.StringIO()):   # quant.py prints 'CUDA extension not installed.'
        import llama  # the reference
    return llama


@contextlib.contextmanager
def cuda_is_identity():
    saved = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.Tensor.cuda = saved


def run_case(loop, p, model, calib, prune, llama):
    loader = [(calib[j:j + 1], None) for j in range(calib.shape[0])]
    cpu = torch.device("cpu")
    with cuda_is_identity(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
        if loop == "gptq":
            llama.args = SimpleNamespace(nsamples=calib.shape[0], wbits=p["wbits"], groupsize=p["groupsize"],
                                         sym=p["sym"], act_order=p["act_order"], static_groups=False,
                                         percdamp=0.01, true_sequential=False)
            llama.llama_sequential(model, loader, cpu)
        else:
            args = SimpleNamespace(nsamples=calib.shape[0], seed=0, sparsity_ratio=p["sparsity"], use_variant=False)
            prune.get_loaders = lambda *a, **k: (loader, None)
            if loop == "magnitude":
                prune.prune_magnitude(args, model, None, cpu, prune_n=p["n"], prune_m=p["m"])
            elif loop == "wanda":
                prune.prune_wanda(args, model, None, cpu, prune_n=p["n"], prune_m=p["m"])
            else:
                prune.prune_sparsegpt(args, model, None, cpu, prune_n=p["n"], prune_m=p["m"])


def sublayers(model):
    out = {}
    for i, layer in enumerate(model.model.layers):
        for name, module in layer.named_modules():
            if isinstance(module, nn.Linear):
                out[f"model.layers.{i}.{name}.weight"] = module.weight.data
    return dict(sorted(out.items()))


def sketch_vector(columns):
    """The fixed ±1 vector the sketches multiply by: torch.Generator seeded with the width, signs of randn."""
    g = torch.Generator().manual_seed(columns)
    return torch.randn(columns, generator=g, dtype=torch.float64).sign()


@torch.no_grad()
def perplexity(model, evaluation):
    total, count = 0.0, 0
    for j in range(evaluation.shape[0]):
        ids = evaluation[j:j + 1]
        logits = model(ids).logits.float()
        nll = F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="sum")
        total += float(nll.double())
        count += ids.shape[1] - 1
    return math.exp(total / count)


def weights_sha256(weights):
    h = hashlib.sha256()
    for name, w in weights.items():
        h.update(name.encode("utf-8"))
        h.update(w.contiguous().numpy().astype("<f4").tobytes())
    return h.hexdigest()


def commit(checkout):
    return subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def run_environment(threads):
    """What a golden or floor run ran with: torch, its thread count, the BLAS libraries loaded and OpenBLAS's kernel."""
    return {"torch": torch.__version__, "threads": threads, "blas": blas_in_use(),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "detected")}


def record_floor_run(path, name, run):
    """Writes run `name` into the noise-floor file at `path`, keeping the other runs."""
    runs = json.loads(path.read_text("utf-8")) if path.exists() else {}
    runs[name] = run
    path.write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n", "utf-8")


def blas_in_use():
    try:
        maps = Path("/proc/self/maps").read_text()
        libs = sorted({line.split()[-1] for line in maps.splitlines() if "blas" in line.lower() and "/" in line})
        return ",".join(libs) or "unknown"
    except OSError:
        return "unknown"


# ---------------------------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wanda", required=True, help="local checkout of locuslab/wanda")
    parser.add_argument("--gptq", required=True, help="local checkout of IST-DASLab/gptq")
    parser.add_argument("--model", default=str(REPO_ROOT / "fixtures/models/tiny"))
    parser.add_argument("--corpus", default=str(REPO_ROOT / "fixtures/corpora"))
    parser.add_argument("--lang", default="de")
    parser.add_argument("--nsamples", type=int, default=32)
    parser.add_argument("--seqlen", type=int, default=256)
    parser.add_argument("--eval-windows", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--floor", metavar="NAME",
                        help="compare with the goldens already in --out and record the differences as run NAME of "
                             "noise-floor.json (other runs kept) instead of writing goldens")
    options = parser.parse_args()
    out = Path(options.out)
    torch.set_num_threads(options.threads)
    stub_modules()
    prune, llama = import_wanda(options.wanda), import_gptq(options.gptq)

    byte_ids_checked(options.model)
    config = json.loads((Path(options.model) / "config.json").read_text("utf-8"))
    dense = read_safetensors(Path(options.model) / "model.safetensors")
    calib, evaluation = windows(options.corpus, options.lang, options.nsamples, options.seqlen, options.seed, options.eval_windows)
    environment = {**run_environment(options.threads),
                   "wanda": f"locuslab/wanda@{commit(options.wanda)}", "gptq": f"IST-DASLab/gptq@{commit(options.gptq)}"}

    floor = {"environment": environment, "cases": {}}
    if options.floor:
        recorded = read_safetensors(out / "windows.safetensors")
        if not (torch.equal(recorded["calibration"], calib) and torch.equal(recorded["evaluation"], evaluation)):
            sys.exit(f"{out}/windows.safetensors: the windows differ from the ones drawn now; regenerate the goldens first")
        with torch.no_grad():
            logits = ReferenceLlama(copy.deepcopy(dense), config, options.seqlen)(evaluation[:1]).logits[0].float()
        golden_logits = recorded["dense_logits"]
        floor["dense_logits"] = {"max_abs": float((logits - golden_logits).abs().max()),
                                 "rel": float((logits - golden_logits).norm() / golden_logits.norm())}
    else:
        base = ReferenceLlama(copy.deepcopy(dense), config, options.seqlen)
        with torch.no_grad():
            logits = base(evaluation[:1]).logits[0].float()
        widths = sorted({w.shape[1] for w in sublayers(base).values()})
        vectors = {f"sketch_vector.{c}": sketch_vector(c) for c in widths}
        write_safetensors(out / "windows.safetensors", {"calibration": calib, "evaluation": evaluation, "dense_logits": logits, **vectors},
                          {"model": os.path.relpath(options.model, REPO_ROOT), "corpus": os.path.relpath(options.corpus, REPO_ROOT),
                           "lang": options.lang, "seed": options.seed, "rule": "tools/reference/whole_model.py windows()",
                           "dense_ppl": repr(perplexity(base, evaluation)), **environment})

    for name in options.cases.split(","):
        loop, p = CASES[name]
        model = ReferenceLlama(copy.deepcopy(dense), config, options.seqlen)
        run_case(loop, p, model, calib, prune, llama)
        weights = sublayers(model)
        tensors = {}
        for w_name, w in weights.items():
            tensors["sketch." + w_name] = w.double() @ sketch_vector(w.shape[1])
            if loop != "gptq":
                tensors[w_name] = pack_bits(w == 0)
        ppl = perplexity(model, evaluation)
        metadata = {"repro.mask_format": "bitpacked-le/1", "case": name, "loop": loop, "params": json.dumps(p, sort_keys=True),
                    "weights_sha256": weights_sha256(weights), "ppl": repr(ppl), **environment}
        for w_name, w in weights.items():
            metadata["shape." + w_name] = ",".join(str(d) for d in w.shape)
        if options.floor:
            golden = read_safetensors(out / f"{name}.safetensors")
            golden_ppl = float(read_metadata(out / f"{name}.safetensors")["ppl"])
            entry = {"ppl": ppl, "ppl_rel": abs(ppl - golden_ppl) / golden_ppl, "sublayers": {}}
            for w_name in weights:
                s, g = tensors["sketch." + w_name], golden["sketch." + w_name]
                sub = {"sketch_rel": float((s - g).norm() / g.norm())}
                if loop != "gptq":
                    sub["zeros_differing"] = int(bin(int.from_bytes((tensors[w_name] ^ golden[w_name]).numpy().tobytes(), "little")).count("1"))
                entry["sublayers"][w_name] = sub
            floor["cases"][name] = entry
            print(f"{name}: ppl {ppl:.6f} (rel {entry['ppl_rel']:.2e}), max sketch rel "
                  f"{max(v['sketch_rel'] for v in entry['sublayers'].values()):.2e}, zeros differing "
                  f"{sum(v.get('zeros_differing', 0) for v in entry['sublayers'].values())}")
        else:
            write_safetensors(out / f"{name}.safetensors", tensors, metadata)
            print(f"{name}: ppl {ppl:.6f}")
    if options.floor:
        record_floor_run(out / "noise-floor.json", options.floor, floor)


def read_metadata(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n])["__metadata__"]


if __name__ == "__main__":
    main()
