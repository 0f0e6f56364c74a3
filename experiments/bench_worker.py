"""One contender family of `make bench` in a process of its own, driven by `experiments.bench`.

`python -m experiments.bench_worker FAMILY --data FILE [--tree DIR] [--seed N]` loads the
arrays in FILE (an .npz written by the parent: train_x, train_y, val_x, val_y), sets up
FAMILY's contender for each model, writes one JSON line `{"ready": info}` and then answers
each JSON line it reads on stdin with one JSON line on stdout:

    {"epoch": "softmax"}                    -> {"seconds": s, "call_seconds": s, "val_acc": a}
    {"fit": "mlp", "epochs": 3}             -> {"call_seconds": s, "val_acc": a}   (jaxhw only)
    {"probe": {"gemm_n": n, "copy_mib": m}} -> {"<library>_gemm_gflops": r, ...}

and exits when stdin closes. A failure answers `{"error": traceback}` and exits 1.

Between requests the worker blocks in `readline()`, so an idle worker takes no CPU time once
its own thread pools (OpenMP's, XLA's) stop spinning; the parent waits for that before it
starts the next contender (docs/bench.md). `--tree DIR` goes first on `sys.path` before any
family module is imported, so a jaxhw worker imports the `jaxhw` package under DIR: the
working tree's, or an exported older commit's for an A/B run. Only the standard library and
NumPy are imported here: a PyTorch worker never imports JAX.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

BATCH_SIZE = 256
LR = 0.1
SIGMA = 0.01
NUM_INPUTS, NUM_HIDDENS, NUM_OUTPUTS = 784, 256, 10
MODELS = ("softmax", "mlp")
# family -> "module:class" of its contender; the module also has start() and probe()
FAMILIES = {
    "jaxhw": "experiments.bench_jax:JaxhwFit",
    "d2l_jax": "experiments.bench_jax:D2lJax",
    "torch_tuned": "experiments.bench_torch:TorchTuned",
    "torch_book": "experiments.bench_torch:TorchBook",
}


class Data(NamedTuple):
    """Train and validation splits as host arrays: images (n, 28, 28, 1) uint8, labels int32."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]


def save_data(data: Data, path: Path) -> Path:
    """Write `data` to `path` (.npz) for the workers."""
    np.savez(path, train_x=data.train[0], train_y=data.train[1], val_x=data.val[0],
             val_y=data.val[1])
    return path


def load_data(path: Path) -> Data:
    """The arrays `save_data` wrote."""
    with np.load(path) as f:
        return Data((f["train_x"], f["train_y"]), (f["val_x"], f["val_y"]))


def _protocol_stream() -> IO[str]:
    """A private copy of stdout for the answers; file descriptor 1 then points at stderr, so a
    library that prints cannot corrupt the JSON lines."""
    stream = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return stream


def serve(family: str, data: Data, seed: int, requests: IO[str], answers: IO[str]) -> None:
    """Set up `family`'s contenders, say ready, then answer `requests` line by line."""
    module_name, class_name = FAMILIES[family].split(":")
    module = importlib.import_module(module_name)
    info = module.start()
    contenders = {model: getattr(module, class_name)(model, data, seed) for model in MODELS}

    def send(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message) + "\n")

    send({"ready": info})
    for line in requests:  # blocks while the parent times someone else
        request = json.loads(line)
        if "epoch" in request:
            seconds, call_seconds, val_acc = contenders[request["epoch"]].epoch()
            send({"seconds": seconds, "call_seconds": call_seconds, "val_acc": val_acc})
        elif "fit" in request:
            call_seconds, val_acc = contenders[request["fit"]].fit_epochs(request["epochs"])
            send({"call_seconds": call_seconds, "val_acc": val_acc})
        elif "probe" in request:
            send(module.probe(**request["probe"]))
        else:
            raise ValueError(f"unknown request {line.strip()!r}: expected 'epoch', 'fit' or "
                             "'probe'")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: serve one family until stdin closes; 1 after a failure."""
    parser = argparse.ArgumentParser(prog="python -m experiments.bench_worker",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("--data", type=Path, required=True, help=".npz written by save_data")
    parser.add_argument("--tree", type=Path, default=None,
                        help="import jaxhw from this folder (default: as installed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    answers = _protocol_stream()
    try:
        if args.tree is not None:
            sys.path.insert(0, str(args.tree.resolve()))
        serve(args.family, load_data(args.data), args.seed, sys.stdin, answers)
    except Exception:
        answers.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
