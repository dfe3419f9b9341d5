"""Shared plumbing for the golden-file scripts in this folder (sparsegpt_golden.py, gptq_golden.py).

Nothing here comes from the reference repositories: it makes their modules importable on a
CPU-only Python without `transformers`, runs them with a fixed thread count, and writes small
safetensors files by hand (struct + json), so the C# tests read them with Repro's own
SafetensorsFile reader.
"""

import contextlib
import io
import json
import struct
import subprocess
import sys
import types
from pathlib import Path

import torch
import torch.nn as nn

REPO_ROOT = Path(__file__).resolve().parents[2]


def import_reference(checkout: str, module: str):
    """Imports `module` (e.g. 'sparsegpt', 'gptq') from a local checkout of the reference repository.

    Work-arounds, applied here and never by editing the reference:
    - The reference imports `transformers` only to test `isinstance(layer, transformers.Conv1D)`;
      a stub module with an empty Conv1D class stands in when transformers is not installed.
    - fasterprune/fasterquant call `torch.cuda.synchronize()`, which raises on a CPU-only torch;
      it is replaced by a no-op (timing only, no effect on the numbers).
    """
    try:
        import transformers  # noqa: F401
    except ImportError:
        stub = types.ModuleType("transformers")

        class Conv1D(nn.Module):
            pass

        stub.Conv1D = Conv1D
        sys.modules["transformers"] = stub
    torch.cuda.synchronize = lambda *args, **kwargs: None
    sys.path.insert(0, str(Path(checkout).resolve()))
    with contextlib.redirect_stdout(io.StringIO()):  # gptq's quant.py prints 'CUDA extension not installed.'
        return __import__(module)


def commit_of(checkout: str) -> str:
    return subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def run_capturing(fn, *args, **kwargs):
    """Calls fn and returns (its stdout as text); the reference prints 'error <loss>'."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        fn(*args, **kwargs)
    return buffer.getvalue()


def printed_error(text: str) -> float:
    for line in text.splitlines():
        if line.startswith("error "):
            return float(line.split()[1])
    raise ValueError(f"the reference printed no 'error' line: {text!r}")


def calibration_inputs(generator: torch.Generator, nsamples: int, tokens: int, columns: int,
                       dead_column=None) -> torch.Tensor:
    """Correlated inputs with unequal column scales, so H is far from diagonal and OBS updates matter."""
    mixing = torch.eye(columns) + 0.4 * torch.randn(columns, columns, generator=generator) / columns ** 0.5
    scales = torch.exp(0.5 * torch.randn(columns, generator=generator))
    x = torch.randn(nsamples, tokens, columns, generator=generator) @ mixing * scales
    if dead_column is not None:
        x[:, :, dead_column] = 0
    return x.float().contiguous()


def write_safetensors(path: Path, tensors: dict, metadata: dict) -> None:
    """Writes float32/bool tensors as safetensors (little-endian, C order), metadata as strings."""
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        if tensor.dtype == torch.float32:
            dtype, data = "F32", tensor.numpy().astype("<f4").tobytes()
        elif tensor.dtype == torch.bool:
            dtype, data = "BOOL", tensor.numpy().astype("u1").tobytes()
        else:
            raise TypeError(f"{name}: {tensor.dtype} is not written by this script")
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the format allows trailing spaces; keeps the data 8-byte aligned
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
