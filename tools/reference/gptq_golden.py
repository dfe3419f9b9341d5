#!/usr/bin/env python3
"""Golden files for Repro's GPTQ and Quantizer, produced by the reference implementation.

What it does: for each case below, builds a small seeded nn.Linear (16 x 64, float32, CPU) and
seeded calibration inputs X [8 sequences, 32 tokens, 64], configures the reference `Quantizer`
as gptq's llama.py does (`configure(bits, perchannel=True, sym=..., mse=False)`), feeds X to
`GPTQ.add_batch` one sequence at a time, runs `fasterquant` with the case's blocksize,
groupsize, act-order and static-groups settings (percdamp 0.01), and writes
methods/Repro.Methods.Tests/Golden/gptq/<case>.safetensors with:
  W     the weight before quantization              [16, 64] F32
  X     the calibration inputs                      [8, 32, 64] F32
  H     the reference's accumulated Hessian         [64, 64] F32
  W_out the reference's dequantized weight          [16, 64] F32
  RTN   reference Quantizer, find_params + quantize on W directly (per row, no groups) [16, 64] F32
and metadata: the case's parameters, the loss the reference printed, reference commit, torch version.
The C# tests (GptqGoldenTests) run Repro's implementation on W and H (and X, for H) and compare.

Reference used: IST-DASLab/gptq at commit 2d65066eeb06a5c9ff5184d8cebdf33662c67faf (files gptq.py,
quant.py). The reference code is imported from a local checkout, never copied. CPU work-arounds
(stub `transformers`, no-op `torch.cuda.synchronize`; the optional quant_cuda extension is simply
absent) are in golden_io.import_reference.

Re-run (Debian's python3-torch 1.13 works; numpy needed):
  git clone https://github.com/IST-DASLab/gptq /tmp/gptq
  git -C /tmp/gptq checkout 2d65066eeb06a5c9ff5184d8cebdf33662c67faf
  /usr/bin/python3 tools/reference/gptq_golden.py /tmp/gptq
"""

import argparse
import json
from pathlib import Path

import torch
import torch.nn as nn

from golden_io import (REPO_ROOT, calibration_inputs, commit_of, import_reference, printed_error,
                       run_capturing, write_safetensors)

ROWS, COLUMNS, NSAMPLES, TOKENS = 16, 64, 8, 32

# name: (seed, bits, sym, groupsize, actorder, static_groups, blocksize, dead input column or None)
CASES = {
    "w4_asym_nogroup": (11, 4, False, -1, False, False, 128, None),
    "w4_asym_g16": (12, 4, False, 16, False, False, 128, None),
    "w4_asym_g32_block16": (13, 4, False, 32, False, False, 16, None),
    "w4_asym_g16_block16_actorder": (14, 4, False, 16, True, False, 16, None),
    "w3_sym_g16_actorder_static": (15, 3, True, 16, True, True, 128, None),
    "w2_asym_nogroup_block16_dead": (16, 2, False, -1, False, False, 16, 7),
    "w8_asym_g16_actorder": (17, 8, False, 16, True, False, 128, None),
    "w4_sym_nogroup_dead": (18, 4, True, -1, False, False, 128, 3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="path to a git checkout of IST-DASLab/gptq")
    parser.add_argument("--out", default=str(REPO_ROOT / "methods/Repro.Methods.Tests/Golden/gptq"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    gptq = import_reference(args.reference, "gptq")
    quant = import_reference(args.reference, "quant")
    commit = commit_of(args.reference)

    for name, (seed, bits, sym, groupsize, actorder, static, blocksize, dead) in CASES.items():
        generator = torch.Generator().manual_seed(seed)
        layer = nn.Linear(COLUMNS, ROWS, bias=False)
        with torch.no_grad():
            layer.weight.copy_(0.1 * torch.randn(ROWS, COLUMNS, generator=generator))
            layer.weight[3, :] = 0  # an all-zero row: the quantizer's xmin = xmax = 0 rule
        w = layer.weight.data.clone()
        x = calibration_inputs(generator, NSAMPLES, TOKENS, COLUMNS, dead)

        rtn = quant.Quantizer()
        rtn.configure(bits, perchannel=True, sym=sym, mse=False)
        rtn.find_params(w, weight=True)
        w_rtn = rtn.quantize(w)

        quantizer = gptq.GPTQ(layer)
        quantizer.quantizer = quant.Quantizer()
        quantizer.quantizer.configure(bits, perchannel=True, sym=sym, mse=False)
        for s in range(NSAMPLES):
            quantizer.add_batch(x[s:s + 1], None)
        h = quantizer.H.clone()
        printed = run_capturing(quantizer.fasterquant, blocksize=blocksize, percdamp=0.01, groupsize=groupsize,
                                actorder=actorder, static_groups=static)
        w_out = layer.weight.data.clone()

        metadata = {
            "case": name,
            "params": json.dumps({"seed": seed, "bits": bits, "sym": sym, "groupsize": groupsize,
                                  "actorder": actorder, "static_groups": static, "blocksize": blocksize,
                                  "percdamp": 0.01, "dead_column": dead}),
            "loss": repr(printed_error(printed)),
            "reference": "IST-DASLab/gptq gptq.py quant.py",
            "reference_commit": commit,
            "torch": torch.__version__,
            "generator": "tools/reference/gptq_golden.py",
        }
        out = Path(args.out) / f"{name}.safetensors"
        write_safetensors(out, {"W": w, "X": x, "H": h, "W_out": w_out, "RTN": w_rtn}, metadata)
        print(f"{out}: loss {metadata['loss']}, distinct values {w_out.unique().numel()}")


if __name__ == "__main__":
    main()
