"""What a section notebook needs: its parameters, figures shown and saved, and metrics.json.

A section script (see docs/notebooks.md) calls `start(...)` once, right after its parameters
cell, then `run.show(fig, "name.png")` for every figure and `run.save_metrics({...})` in its last
cell. The same calls work in a Jupyter, VS Code or Colab kernel and in
`python experiments/<section>.py [--quick] [--seed N] [--out DIR]`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import json
import math
import numbers
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from jaxhw.files import write_atomic

# jax.random.key takes a 32-bit seed by default (jax_enable_x64 off): 2**32 becomes 0 and -1
# becomes 2**32 - 1, so any seed outside this range silently reruns another one.
SEED_MAX = 2**32 - 1


def check_seed(seed: object) -> int:
    """`seed` as an int if it is an integer in [0, SEED_MAX], else a ValueError/TypeError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer in [0, {SEED_MAX}], got {seed!r} "
                        f"({type(seed).__name__})")
    if not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed must be in [0, {SEED_MAX}] (2**32 - 1: jax.random.key keeps 32 "
                         f"bits, so other seeds alias one of these), got {seed}")
    return int(seed)


def seed_argument(text: str) -> int:
    """argparse `type=` for a seed: the message of a refused seed becomes the CLI's error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seed must be an integer in [0, {SEED_MAX}], got {text!r}") from None
    try:
        return check_seed(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def to_jsonable(value: Any) -> Any:
    """numpy/JAX scalars and arrays (also nested in dicts, lists, tuples) as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, str | bool | int | None):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        arr = np.asarray(value)
        return to_jsonable(arr.item() if arr.ndim == 0 else arr.tolist())
    raise TypeError(f"metrics value of type {type(value).__name__} is not JSON-serialisable")


def run_info(seed: int) -> dict[str, Any]:
    """The seed, library versions and device recorded with every result."""
    import jax
    import jaxlib

    # The installed versions, read without importing Flax (0.17 s of CPU in every section
    # that never uses it) or optax.
    return {
        "seed": seed,
        "jax_version": jax.__version__,
        "jaxlib_version": jaxlib.__version__,
        "flax_version": importlib.metadata.version("flax"),
        "optax_version": importlib.metadata.version("optax"),
        "python_version": platform.python_version(),
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "device_count": jax.device_count(),
    }


@dataclass
class Run:
    """One run of a section: its parameters, where its files go, and when it started."""

    quick: bool
    seed: int
    out_dir: Path
    params: dict[str, Any] = field(default_factory=dict)  # the section's other parameters
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    _clock: float = field(default_factory=time.perf_counter, repr=False)

    def show(self, fig, name: str) -> None:
        """Save `fig` as `out_dir/name` (PNG), close it, and display that PNG in a notebook."""
        from jaxhw.board import in_notebook, save_figure  # matplotlib: not for the runner

        path = save_figure(fig, self.out_dir / name)
        if in_notebook():
            from IPython.display import Image, display

            display(Image(filename=str(path)))

    def save_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Write `out_dir/metrics.json`: `metrics` as JSON plus `_run` (seed, mode, versions...)."""
        if "_run" in metrics:
            raise ValueError("metrics must not have a '_run' key: save_metrics adds it")
        record = to_jsonable(metrics)
        record["_run"] = {**run_info(self.seed), "quick": self.quick,
                          "started": self.started.isoformat(timespec="seconds"),
                          "seconds": round(time.perf_counter() - self._clock, 3)}
        path = write_atomic(self.out_dir / "metrics.json",
                            (json.dumps(record, indent=2) + "\n").encode())
        print(f"wrote {path}")


def start(quick: bool = False, seed: int = 0, out_dir: str | Path = "results",
          argv: Sequence[str] | None = None, **params: Any) -> Run:
    """Check the parameters cell's values and create `out_dir`; returns the section's `Run`.

    Run as a script (`python section.py ...`), the command line overrides them: `--quick`,
    `--seed N`, `--out DIR`, and `--name VALUE` for every other keyword in `params` (e.g.
    `checkpoint_dir=None` gives `--checkpoint-dir`). In a kernel, or when imported, `argv` is
    not read unless given.
    """
    if argv is None and _called_from_script():
        argv = sys.argv[1:]
    if argv is not None:
        args = vars(_parser(quick, seed, out_dir, params).parse_args(argv))
        quick, seed, out_dir = args.pop("quick"), args.pop("seed"), args.pop("out")
        params = args
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be True or False, got {quick!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return Run(quick=quick, seed=check_seed(seed), out_dir=out, params=params)


def _called_from_script() -> bool:
    """True when start()'s caller is the `__main__` script of a plain Python process."""
    caller = inspect.currentframe().f_back.f_back
    return caller.f_globals.get("__name__") == "__main__" and not _in_ipython()


def _in_ipython() -> bool:
    ipython = sys.modules.get("IPython")  # never imported here: only asked if already loaded
    return ipython is not None and ipython.get_ipython() is not None


def _parser(quick: bool, seed: int, out_dir: str | Path,
            params: Mapping[str, Any]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=Path(sys.argv[0]).name,
        description="Run this section as a script: figures and metrics.json go to --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--quick", action=argparse.BooleanOptionalAction, default=quick,
                        help="smoke run: less data, fewer epochs")
    parser.add_argument("--seed", type=seed_argument, default=seed,
                        help=f"PRNG seed, 0..{SEED_MAX}")
    parser.add_argument("--out", type=Path, default=Path(out_dir),
                        help="folder for the figures and metrics.json")
    for name, default in params.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                default=default)
        else:
            kind = type(default) if isinstance(default, int | float) else str
            parser.add_argument(flag, dest=name, type=kind, default=default)
    return parser
