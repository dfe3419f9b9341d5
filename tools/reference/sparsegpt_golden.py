#!/usr/bin/env python3
"""Golden files for Repro's SparseGPT, produced by the reference implementation.

What it does: for each case below, builds a small seeded nn.Linear (16 x 64, float32, CPU) and
seeded calibration inputs X [8 sequences, 32 tokens, 64], feeds X to the reference
`SparseGPT.add_batch` one sequence at a time (as the reference's forward hook does), runs
`fasterprune` with the reference defaults (percdamp 0.01) and the case's sparsity, N:M pattern
and blocksize, and writes methods/Repro.Methods.Tests/Golden/sparsegpt/<case>.safetensors with:
  W     the dense weight before pruning            [16, 64] F32
  X     the calibration inputs                      [8, 32, 64] F32
  H     the reference's accumulated Hessian         [64, 64] F32
  W_out the reference's pruned weight               [16, 64] F32
  mask  W_out == 0 (true = pruned)                  [16, 64] BOOL
and metadata: the case's parameters, the loss the reference printed, reference commit, torch version.
The C# tests (SparseGptGoldenTests) run Repro's implementation on W and H (and X, for H) and compare.

Reference used: IST-DASLab/sparsegpt at commit 147d2159dc4f3e9f73e47b32c04d7b3708f44436
(file sparsegpt.py; locuslab/wanda's lib/sparsegpt.py is the same algorithm). The reference code
is imported from a local checkout, never copied. CPU work-arounds (stub `transformers`, no-op
`torch.cuda.synchronize`) are in golden_io.import_reference.

Re-run (Debian's python3-torch 1.13 works; numpy needed):
  git clone https://github.com/IST-DASLab/sparsegpt /tmp/sparsegpt
  git -C /tmp/sparsegpt checkout 147d2159dc4f3e9f73e47b32c04d7b3708f44436
  /usr/bin/python3 tools/reference/sparsegpt_golden.py /tmp/sparsegpt
"""

import argparse
import json
from pathlib import Path

import torch
import torch.nn as nn

from golden_io import (REPO_ROOT, calibration_inputs, commit_of, import_reference, printed_error,
                       run_capturing, write_safetensors)

ROWS, COLUMNS, NSAMPLES, TOKENS = 16, 64, 8, 32

# name: (seed, sparsity, prunen, prunem, blocksize, dead input column or None)
CASES = {
    "unstructured50_block128": (1, 0.5, 0, 0, 128, None),
    "unstructured50_block16_dead": (2, 0.5, 0, 0, 16, 5),
    "unstructured30_block16": (3, 0.3, 0, 0, 16, None),
    "nm24_block128": (4, 0.5, 2, 4, 128, None),
    "nm24_block16_dead": (5, 0.5, 2, 4, 16, 9),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="path to a git checkout of IST-DASLab/sparsegpt")
    parser.add_argument("--out", default=str(REPO_ROOT / "methods/Repro.Methods.Tests/Golden/sparsegpt"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    module = import_reference(args.reference, "sparsegpt")
    commit = commit_of(args.reference)

    for name, (seed, sparsity, prunen, prunem, blocksize, dead) in CASES.items():
        generator = torch.Generator().manual_seed(seed)
        layer = nn.Linear(COLUMNS, ROWS, bias=False)
        with torch.no_grad():
            layer.weight.copy_(0.1 * torch.randn(ROWS, COLUMNS, generator=generator))
        w = layer.weight.data.clone()
        x = calibration_inputs(generator, NSAMPLES, TOKENS, COLUMNS, dead)

        pruner = module.SparseGPT(layer)
        for s in range(NSAMPLES):
            pruner.add_batch(x[s:s + 1], None)
        h = pruner.H.clone()
        printed = run_capturing(pruner.fasterprune, sparsity, prunen, prunem, blocksize=blocksize, percdamp=0.01)
        w_out = layer.weight.data.clone()

        metadata = {
            "case": name,
            "params": json.dumps({"seed": seed, "sparsity": sparsity, "prunen": prunen, "prunem": prunem,
                                  "blocksize": blocksize, "percdamp": 0.01, "dead_column": dead}),
            "loss": repr(printed_error(printed)),
            "reference": "IST-DASLab/sparsegpt sparsegpt.py",
            "reference_commit": commit,
            "torch": torch.__version__,
            "generator": "tools/reference/sparsegpt_golden.py",
        }
        out = Path(args.out) / f"{name}.safetensors"
        write_safetensors(out, {"W": w, "X": x, "H": h, "W_out": w_out, "mask": w_out == 0}, metadata)
        print(f"{out}: zeros {(w_out == 0).sum().item()}/{w_out.numel()}, loss {metadata['loss']}")


if __name__ == "__main__":
    main()
