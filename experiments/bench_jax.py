"""The JAX contenders of `make bench` (run inside `experiments.bench_worker`): jaxhw's `fit`, the
d2l-jax shape, and the GEMM and memory-copy probes.

Only the part of jaxhw's API that the old and the new training core share is used, so the same
code times an exported older commit in an A/B run: `train.fit(...)` (whose result is indexed,
`out[0]` params and `out[1]` history: a tuple before, a NamedTuple now),
`train.supervised_loss`, `train.classification_metrics`, `optim.sgd` and the models'
`init(key)` / `apply(params, X)`.
"""

from __future__ import annotations

import functools
import importlib
import os
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.bench_worker import BATCH_SIZE, LR, NUM_HIDDENS, NUM_INPUTS, Data

MODEL_MODULES = {"softmax": "softmax_regression", "mlp": "mlp"}


def start() -> dict[str, Any]:
    """Switch the persistent compilation cache off (so a first epoch really compiles, whatever
    the environment says) and say which jax and jaxhw this process runs."""
    jax.config.update("jax_enable_compilation_cache", False)
    import jaxlib

    import jaxhw

    return {"jax_version": jax.__version__, "jaxlib_version": jaxlib.__version__,
            "backend": jax.default_backend(),
            "devices": ", ".join(str(d) for d in jax.devices()),
            "jaxhw_path": os.path.dirname(os.path.abspath(jaxhw.__file__)),
            "numpy_version": np.__version__,
            "xla_flags": os.environ.get("XLA_FLAGS", "") or "(none)"}


def _model(name: str) -> ModuleType:
    """jaxhw.models.softmax_regression or jaxhw.models.mlp, imported from this worker's tree."""
    return importlib.import_module(f"jaxhw.models.{MODEL_MODULES[name]}")


class JaxhwFit:
    """jaxhw's `fit`, one epoch per call with params carried over: the compiled, scanned epoch."""

    def __init__(self, model: str, data: Data, seed: int) -> None:
        from jaxhw import optim, train
        from jaxhw.nn.losses import cross_entropy

        module = _model(model)
        self.fit = train.fit
        self.loss = train.supervised_loss(module.apply, cross_entropy)
        self.metrics = train.classification_metrics(module.apply)
        self.optimizer = optim.sgd(LR)
        self.params = module.init(jax.random.key(seed))
        # on the device once, as a user keeps a dataset across fits
        self.train, self.val = jax.device_put(data.train), jax.device_put(data.val)
        self.key = jax.random.key(seed + 1)
        self.epochs = 0

    def epoch(self) -> tuple[float, float, float]:
        """One epoch: (fit's own `epoch_seconds`, wall seconds of the whole call, val_acc).

        The epoch figure is fit's clock (dispatch to the epoch's host sync), what each epoch of
        a many-epoch fit costs; the call's wall time also holds fit's per-call set-up, which
        cancels in first-call-minus-steady-call compile figures.
        """
        start = time.perf_counter()
        out = self.fit(self.loss, self.params, self.optimizer, self.train, self.val, epochs=1,
                       batch_size=BATCH_SIZE, key=jax.random.fold_in(self.key, self.epochs),
                       metrics=self.metrics, progress=False)
        call_seconds = time.perf_counter() - start
        self.params, history = out[0], out[1]
        self.epochs += 1
        for key in ("epoch_seconds", "val_acc"):
            if key not in history:
                raise KeyError(f"fit's history has no {key!r} (it has {sorted(history)})")
        return (float(history["epoch_seconds"][0]), call_seconds,
                float(history["val_acc"][-1]))

    def fit_epochs(self, epochs: int) -> tuple[float, float]:
        """One `fit` of `epochs` epochs, params carried over: (wall seconds of the call,
        val_acc). What a user's many-epoch fit costs, the host's work between epochs included
        (which a newer fit overlaps with the next epoch)."""
        start = time.perf_counter()
        out = self.fit(self.loss, self.params, self.optimizer, self.train, self.val,
                       epochs=epochs, batch_size=BATCH_SIZE,
                       key=jax.random.fold_in(self.key, self.epochs), metrics=self.metrics,
                       progress=False)
        call_seconds = time.perf_counter() - start
        self.params, history = out[0], out[1]
        self.epochs += epochs
        return call_seconds, float(history["val_acc"][-1])


class D2lJax:
    """The d2l-jax Trainer's shape: host numpy batches, one jitted step each, a sync per batch."""

    def __init__(self, model: str, data: Data, seed: int) -> None:
        from jaxhw import optim, train
        from jaxhw.nn.losses import cross_entropy

        module = _model(model)
        loss = train.supervised_loss(module.apply, cross_entropy)
        optimizer = optim.sgd(LR)
        self.params = module.init(jax.random.key(seed))
        self.opt_state = optimizer.init(self.params)
        self.train, self.val = data.train, data.val
        self.rng = np.random.default_rng(seed)

        @jax.jit
        def train_step(params, opt_state, X, y):
            value, grads = jax.value_and_grad(loss)(params, (X, y))
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, value

        @jax.jit
        def eval_step(params, X, y):
            return loss(params, (X, y)), jnp.mean(jnp.argmax(module.apply(params, X), 1) == y)

        self.train_step, self.eval_step = train_step, eval_step

    def epoch(self) -> tuple[float, float, float]:
        """One shuffled train pass and a validation pass, batch by batch as d2l's Trainer:
        (seconds, the same seconds, val_acc)."""
        start = time.perf_counter()
        images, labels = self.train
        order = self.rng.permutation(len(labels))
        for i in range(0, len(labels), BATCH_SIZE):
            idx = order[i:i + BATCH_SIZE]
            self.params, self.opt_state, value = self.train_step(
                self.params, self.opt_state, images[idx], labels[idx])
            float(value)  # d2l plots each batch's loss: one host sync per batch
        correct = 0.0
        images, labels = self.val
        for i in range(0, len(labels), BATCH_SIZE):
            value, acc = self.eval_step(self.params, images[i:i + BATCH_SIZE],
                                        labels[i:i + BATCH_SIZE])
            float(value)
            correct += float(acc) * len(labels[i:i + BATCH_SIZE])
        seconds = time.perf_counter() - start
        return seconds, seconds, correct / len(labels)


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """The fastest of `repeat` timed calls of `fn` (its result waited for), in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


@functools.cache
def _operands(m: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray, jax.Array, jax.Array]:
    """Random float32 (m, k) and (k, n) matrices, on the host and on the device."""
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k), np.float32), rng.random((k, n), np.float32)
    return a, b, jax.device_put(a), jax.device_put(b)


_matmul = jax.jit(jnp.matmul)
_plus_one = jax.jit(lambda x: x + 1)


def gemm_rates(m: int, k: int, n: int, repeat: int) -> dict[str, float]:
    """GFLOP/s of an (m, k) @ (k, n) float32 product: jitted jnp and NumPy's BLAS."""
    a, b, a_dev, b_dev = _operands(m, k, n)
    flops = 2 * m * k * n
    jax.block_until_ready(_matmul(a_dev, b_dev))  # compiled before it is timed
    return {"jax": flops / best_time(lambda: _matmul(a_dev, b_dev), repeat) / 1e9,
            "numpy": flops / best_time(lambda: a @ b, repeat) / 1e9}


def copy_rates(mib: int, repeat: int = 3) -> dict[str, float]:
    """GB/s (bytes read + written) over `mib` MiB of uint8: NumPy's copy and a jitted x + 1."""
    src = np.ones(mib << 20, np.uint8)
    dst, src_dev = np.empty_like(src), jax.device_put(src)
    jax.block_until_ready(_plus_one(src_dev))
    moved = 2 * src.nbytes
    return {"numpy": moved / best_time(lambda: np.copyto(dst, src), repeat) / 1e9,
            "jax": moved / best_time(lambda: _plus_one(src_dev), repeat) / 1e9}


def probe(gemm_n: int, copy_mib: int) -> dict[str, float]:
    """This process's machine limits: GEMM rates (gemm_n^3 and the MLP's 256x784x256) and copy
    rates, keyed `<lib>_gemm_gflops`, `<lib>_mlp_shape_gemm_gflops` and `<lib>_copy_gbps`."""
    out = {}
    for lib, rate in gemm_rates(gemm_n, gemm_n, gemm_n, repeat=3).items():
        out[f"{lib}_gemm_gflops"] = rate
    for lib, rate in gemm_rates(BATCH_SIZE, NUM_INPUTS, NUM_HIDDENS, repeat=10).items():
        out[f"{lib}_mlp_shape_gemm_gflops"] = rate
    for lib, rate in copy_rates(copy_mib).items():
        out[f"{lib}_copy_gbps"] = rate
    return out
