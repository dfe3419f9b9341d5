#!/usr/bin/env python3
"""Golden masks for Repro's Magnitude and Wanda, computed by the reference implementation.

What it does
    Builds one small linear layer per case (seeded weights and calibration inputs), wraps it in a
    stand-in "model" just large enough for the reference's own ``prune_wanda`` / ``prune_magnitude``
    (lib/prune.py) to run on it unchanged, and records the dense weight, the calibration inputs,
    the reference accumulator (``WrappedGPT.scaler_row`` from lib/layerwrapper.py, fed one sequence
    per call as prune_wanda does), and the pruned weight and mask the reference produced, as
    ``methods/Repro.Methods.Tests/Golden/wanda/<case>.safetensors``. The C# tests
    (MagnitudeGoldenTests, WandaGoldenTests) compare Repro's masks and accumulator with these files.

    Nothing of the reference is copied here: the script imports it from a local checkout. The stand-in
    model has one decoder "layer" whose forward calls the linear sublayer (so the reference's forward
    hook sees the input) and returns its input unchanged (so the reference's ``outs[j] = ...`` fits its
    hidden-size buffer). The reference's mask is local to its functions, so it is read back as
    ``pruned == 0``; every case has no zero in its dense weight (asserted), so that is exact. For
    ``use_variant`` cases the alpha the reference settled on exists only in its log line
    ("alpha found ..."), so the log is captured and alpha stored in the file's metadata.

    Expected differences, checked (not hidden) by the C# tests: the reference's unstructured magnitude
    prunes ``|W| <= sort(|W|)[int(numel*s)]``, one more than floor(numel*s) plus ties of that value;
    Repro prunes exactly floor(numel*s) (METHODS.md section 3).

Adaptations, all outside the reference's code
    * ``datasets`` and ``transformers`` are stubbed in ``sys.modules``: lib/prune.py imports them at
      module level but these code paths never use them.
    * ``lib.prune.get_loaders`` is replaced by a function returning the case's calibration inputs
      (one ``[1, tokens, in]`` tensor per sample) in place of tokenized C4.
    * ``torch.Tensor.cuda`` is made the identity while the reference runs: prune_magnitude sorts on
      ``.cuda()``; this script runs on CPU.

Reference
    locuslab/wanda at commit 8e8fc87b4a2f9955baa7e76e64d5fce7fa8724a6 ("add dense ft", 2023-11-03),
    run with Debian's python3-torch 1.13.1 (it reports itself as 1.13.0a0) on CPU.

Re-run (from the repository root)
    git clone https://github.com/locuslab/wanda /tmp/wanda
    git -C /tmp/wanda checkout 8e8fc87b4a2f9955baa7e76e64d5fce7fa8724a6
    /usr/bin/python3 tools/reference/wanda_golden.py --wanda-repo /tmp/wanda \
        --out methods/Repro.Methods.Tests/Golden/wanda
The output is deterministic for a given torch version (seeded CPU generators); the files are
small (a few KB each) and checked in, so the C# tests never need Python.
"""

import argparse
import contextlib
import io
import json
import re
import os
import struct
import subprocess
import sys
import types
from types import SimpleNamespace

import torch
import torch.nn as nn

ROWS, COLS = 16, 32            # weight [out, in]
SAMPLES, TOKENS = 4, 8         # calibration: 4 sequences of 8 tokens


def import_reference(repo):
    for name, attrs in (("datasets", {"load_dataset": None}), ("transformers", {})):
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.__dict__.update(attrs)
            sys.modules[name] = stub
    sys.path.insert(0, os.path.abspath(repo))
    import lib.prune as prune                    # noqa: E402  (the reference)
    from lib.layerwrapper import WrappedGPT      # noqa: E402  (the reference)
    return prune, WrappedGPT


class OneLinearLayer(nn.Module):
    """A decoder layer with one hooked linear sublayer; returns its input so that outs[j] fits."""

    def __init__(self, linear):
        super().__init__()
        self.proj = linear

    def forward(self, x, attention_mask=None, position_ids=None):
        self.proj(x)
        return (x,)


class StandInModel(nn.Module):
    """Just the attributes prune_wanda / prune_magnitude read: model.layers, seqlen, config, hf_device_map."""

    def __init__(self, linear):
        super().__init__()
        self.model = nn.Module()
        self.model.layers = nn.ModuleList([OneLinearLayer(linear)])
        self.seqlen = TOKENS
        self.config = SimpleNamespace(use_cache=False, hidden_size=linear.in_features)
        self.hf_device_map = {}

    def forward(self, x):
        return self.model.layers[0](x, attention_mask=None, position_ids=None)


def make_weight(generator, grid):
    if grid:
        # Few distinct magnitudes, none zero: many ties, so the tie rules are exercised.
        levels = torch.tensor([-4, -3, -2, -1, 1, 2, 3, 4], dtype=torch.float32) / 4
        w = levels[torch.randint(0, len(levels), (ROWS, COLS), generator=generator)]
    else:
        w = torch.randn(ROWS, COLS, generator=generator)
    assert bool((w != 0).all()), "a dense zero would make pruned == 0 an inexact mask"
    return w


def make_inputs(generator, kind, dead_column):
    if kind == "signs":
        # Every x_j^2 = 1, so every scaler_j is the same number (the token count, up to the running mean's
        # rounding, which is the same for every feature) and scores are |W| times one constant: ties survive.
        x = torch.randint(0, 2, (SAMPLES, TOKENS, COLS), generator=generator).float() * 2 - 1
    else:
        scale = torch.rand(COLS, generator=generator) * 2.9 + 0.1   # column norms differ a lot
        x = torch.randn(SAMPLES, TOKENS, COLS, generator=generator) * scale
    if dead_column is not None:
        x[:, :, dead_column] = 0
    return x


def reference_scaler(WrappedGPT, linear, inputs):
    wrapped = WrappedGPT(linear)
    for j in range(inputs.shape[0]):             # prune_wanda calls the layer on one sequence at a time
        x = inputs[j:j + 1]
        wrapped.add_batch(x, linear(x))
    return wrapped.scaler_row.clone(), wrapped.nsamples


def run_reference(prune, method, weight, inputs, sparsity, pattern, use_variant):
    linear = nn.Linear(COLS, ROWS, bias=False)
    with torch.no_grad():
        linear.weight.copy_(weight)
    model = StandInModel(linear)
    prune_n, prune_m = (0, 0) if pattern == "unstructured" else map(int, pattern.split(":"))
    args = SimpleNamespace(nsamples=SAMPLES, seed=0, sparsity_ratio=sparsity, use_variant=use_variant)
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            if method == "wanda":
                prune.get_loaders = lambda *a, **k: ([(inputs[j:j + 1],) for j in range(SAMPLES)], None)
                prune.prune_wanda(args, model, None, torch.device("cpu"), prune_n=prune_n, prune_m=prune_m)
            else:
                prune.prune_magnitude(args, model, None, torch.device("cpu"), prune_n=prune_n, prune_m=prune_m)
    finally:
        torch.Tensor.cuda = cuda
    # The variant's alpha exists only in the reference's log line "alpha found {alpha} sparsity {s:.6f}".
    found = re.search(r"alpha found (\S+) sparsity", log.getvalue())
    pruned = linear.weight.detach().clone()
    mask = pruned == 0
    assert bool((pruned[~mask] == weight[~mask]).all()), "the reference changed a kept weight"
    return pruned, mask, (found.group(1) if found else None)


def write_safetensors(path, tensors, metadata):
    dtypes = {torch.float32: "F32", torch.bool: "BOOL", torch.int64: "I64"}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


# name, method, sparsity, pattern, use_variant, seed, grid weights, input kind, dead column
CASES = [
    ("wanda-unstructured-50", "wanda", 0.5, "unstructured", False, 1, False, "gauss", None),
    ("wanda-unstructured-30-dead", "wanda", 0.3, "unstructured", False, 2, False, "gauss", 5),
    ("wanda-unstructured-50-ties", "wanda", 0.5, "unstructured", False, 3, True, "signs", None),
    ("wanda-2of4", "wanda", 0.5, "2:4", False, 4, False, "gauss", None),
    ("wanda-4of8", "wanda", 0.5, "4:8", False, 5, False, "gauss", None),
    ("wanda-variant-50", "wanda", 0.5, "unstructured", True, 6, False, "gauss", None),
    ("wanda-variant-30", "wanda", 0.3, "unstructured", True, 10, False, "gauss", None),
    ("wanda-variant-30-ties", "wanda", 0.3, "unstructured", True, 11, True, "signs", None),
    ("magnitude-unstructured-50", "magnitude", 0.5, "unstructured", False, 7, False, None, None),
    ("magnitude-unstructured-50-ties", "magnitude", 0.5, "unstructured", False, 8, True, None, None),
    ("magnitude-2of4", "magnitude", 0.5, "2:4", False, 9, False, None, None),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wanda-repo", required=True, help="local checkout of locuslab/wanda")
    parser.add_argument("--out", default="methods/Repro.Methods.Tests/Golden/wanda")
    options = parser.parse_args()

    prune, WrappedGPT = import_reference(options.wanda_repo)
    commit = subprocess.run(["git", "-C", options.wanda_repo, "rev-parse", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    os.makedirs(options.out, exist_ok=True)
    torch.set_num_threads(1)

    for name, method, sparsity, pattern, use_variant, seed, grid, kind, dead in CASES:
        generator = torch.Generator().manual_seed(seed)
        weight = make_weight(generator, grid)
        tensors = {"weight": weight.clone()}
        if method == "wanda":
            inputs = make_inputs(generator, kind, dead)
            linear = nn.Linear(COLS, ROWS, bias=False)
            with torch.no_grad():
                linear.weight.copy_(weight)
            with torch.no_grad():
                scaler, nsamples = reference_scaler(WrappedGPT, linear, inputs)
            assert nsamples == SAMPLES
            tensors.update(inputs=inputs, scaler=scaler)
        else:
            inputs = None
        pruned, mask, alpha = run_reference(prune, method, weight, inputs, sparsity, pattern, use_variant)
        tensors.update(pruned=pruned, mask=mask)
        metadata = {
            "method": method, "sparsity_ratio": repr(sparsity), "sparsity_type": pattern,
            "use_variant": str(use_variant).lower(), "seed": str(seed),
            "reference": f"locuslab/wanda@{commit}", "torch": torch.__version__,
            "generator": "tools/reference/wanda_golden.py",
        }
        if use_variant:
            metadata["alpha"] = alpha      # repr of the reference's Python float: parses back exactly
        path = os.path.join(options.out, f"{name}.safetensors")
        write_safetensors(path, tensors, metadata)
        print(f"{name}: pruned {int(mask.sum())}/{mask.numel()} -> {path}")


if __name__ == "__main__":
    main()
