# %% [markdown]
# # Beyond the book: many models in one compiled call
# `jaxhw.sweep.fit_many` is `fit` under `jax.vmap`: one compiled epoch trains a whole stack of
# models. First 8 softmax regressions (4.4) over a learning-rate grid, from the same start and
# on the same batches, so that only the rate differs; they share the batch gathers and their
# 8 products `X W_i` become one wider one, so on a 2-core CPU the 8 take about 4-5 times as
# long as one model, not 8 times (docs/scaling.md says where the time goes). Then 8 seeds of
# the MLP (5.2): validation accuracy as mean +- std over seeds.

# %%
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

from experiments.runner import run_as_script
from jaxhw import optim, sweep, train
from jaxhw.board import save_figure
from jaxhw.data import fashion_mnist
from jaxhw.models import mlp, softmax_regression
from jaxhw.nn.losses import cross_entropy

SECTION = "sweep"
TITLE = "Many models in one compiled call (vmap)"
LRS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
SINGLE_LR = 0.1  # the book's rate: the one model timed alone, and checked against the sweep
TIMING_REPEATS = 2
BATCH_SIZE, EPOCHS = 256, 10
MLP_LR, MLP_HIDDENS, NUM_SEEDS = 0.1, 256, 8
QUICK_TRAIN, QUICK_VAL, QUICK_EPOCHS = 6000, 2000, 2


# %% [markdown]
# ## The data
# FashionMNIST as uint8 on the device; the test split is the validation set, as in the book.

# %%
def load_data(quick: bool) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """FashionMNIST train and val `(X (n, 28, 28, 1) uint8, y (n,) int32)`, checked."""
    return fashion_mnist.load_splits(*((QUICK_TRAIN, QUICK_VAL) if quick else (None, None)))


# %% [markdown]
# ## A learning-rate sweep in one call
# One model alone with `fit`, then all 8 rates with `fit_many`. Each is called once for one
# epoch first, which compiles its epoch (timed apart: compiling costs the same whatever the
# number of models, and XLA's persistent cache may hold one program and not the other), then
# timed over the whole run, twice, interleaved: on a shared machine the faster run of each is
# the less disturbed one. The model with the book's rate must end where the lone model ends.

# %%
def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    """`run()` and the seconds it took."""
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def lr_sweep(train_data, val_data, *, epochs: int, seed: int) -> dict:
    """Softmax regression at every rate of LRS in one `fit_many`; one model alone for scale."""
    init_key, fit_key = jax.random.split(jax.random.key(seed))
    params = softmax_regression.init(init_key, num_inputs=784, num_outputs=10, sigma=0.01)
    apply = softmax_regression.apply
    loss, metrics = train.supervised_loss(apply, cross_entropy), train.classification_metrics(apply)
    common = {"batch_size": BATCH_SIZE, "metrics": metrics, "progress": False}
    single_opt = optax.sgd(SINGLE_LR)  # one object: the second fit reuses the compiled epoch
    sweep_opt = optax.inject_hyperparams(optax.sgd)(learning_rate=SINGLE_LR)  # rate per model

    def single(n: int):
        return train.fit(loss, params, single_opt, train_data, val_data, epochs=n, key=fit_key,
                         **common)

    def many(n: int):
        return sweep.fit_many(loss, sweep.replicate(params, len(LRS)), sweep_opt, train_data,
                              val_data, epochs=n, keys=fit_key, learning_rates=LRS, **common)

    _, single_compile_seconds = timed(lambda: single(1))
    _, sweep_compile_seconds = timed(lambda: many(1))
    single_runs, sweep_runs = [], []
    for _ in range(TIMING_REPEATS):
        (alone, single_hist, _), seconds = timed(lambda: single(epochs))
        single_runs.append(seconds)
        (stack, hist, _), seconds = timed(lambda: many(epochs))
        sweep_runs.append(seconds)

    i = LRS.index(SINGLE_LR)
    diff = max(float(np.max(np.abs(np.asarray(a[i]) - np.asarray(b))))
               for a, b in zip(jax.tree.leaves(stack), jax.tree.leaves(alone), strict=True))
    return {"hist": hist, "single_hist": single_hist, "single_seconds": min(single_runs),
            "sweep_seconds": min(sweep_runs), "single_runs_seconds": single_runs,
            "sweep_runs_seconds": sweep_runs, "single_compile_seconds": single_compile_seconds,
            "sweep_compile_seconds": sweep_compile_seconds, "max_abs_diff_vs_single": diff}


# %%
def plot_lr_sweep(val_acc: np.ndarray, path: Path) -> None:
    """Final validation accuracy against the learning rate (log axis)."""
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(LRS, val_acc, "o-")
    ax.set(xscale="log", xlabel="learning rate", ylabel="val accuracy",
           title=f"softmax regression, {len(LRS)} models in one call")
    ax.grid(True, alpha=0.3)
    save_figure(fig, path)


# %% [markdown]
# ## Seeds of the MLP
# 8 initialisations and 8 batch orders (one key each), trained in one call by the book's SGD.

# %%
def mlp_seeds(train_data, val_data, *, epochs: int, seed: int,
              checkpoint_dir: Path | None) -> tuple[dict, float]:
    """History of NUM_SEEDS MLPs (5.2), each with its own init and shuffle key; and seconds."""
    init_keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 1), NUM_SEEDS)
    fit_keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 2), NUM_SEEDS)
    params = jax.vmap(lambda k: mlp.init(k, 784, MLP_HIDDENS, 10))(init_keys)
    start = time.perf_counter()
    _, hist, _ = sweep.fit_many(train.supervised_loss(mlp.apply, cross_entropy), params,
                                optim.sgd(MLP_LR), train_data, val_data, epochs=epochs,
                                batch_size=BATCH_SIZE, keys=fit_keys,
                                metrics=train.classification_metrics(mlp.apply), progress=False,
                                checkpoint_dir=checkpoint_dir,
                                resume="auto" if checkpoint_dir is not None else False)
    return hist, time.perf_counter() - start


# %%
def plot_seeds(val_acc: np.ndarray, path: Path) -> None:
    """Mean +- std over seeds of the validation accuracy per epoch, and each seed faintly."""
    epochs = np.arange(1, val_acc.shape[1] + 1)
    mean, std = val_acc.mean(axis=0), val_acc.std(axis=0)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(epochs, val_acc.T, color="C0", alpha=0.2, lw=0.8)
    ax.fill_between(epochs, mean - std, mean + std, color="C0", alpha=0.3, label="mean ± std")
    ax.plot(epochs, mean, color="C0", label="mean")
    ax.set(xlabel="epoch", ylabel="val accuracy", title=f"MLP, {val_acc.shape[0]} seeds")
    ax.legend()
    save_figure(fig, path)


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0,
         checkpoint_dir: Path | None = None) -> dict:
    out_dir = Path(out_dir)
    train_data, val_data = load_data(quick)
    epochs = QUICK_EPOCHS if quick else EPOCHS

    sw = lr_sweep(train_data, val_data, epochs=epochs, seed=seed)
    val_acc = sw["hist"]["val_acc"][:, -1]
    plot_lr_sweep(val_acc, out_dir / "lr_sweep.png")
    sweep_epoch = float(np.median(sw["hist"]["epoch_seconds"]))
    single_epoch = float(np.median(sw["single_hist"]["epoch_seconds"]))
    ratio = sw["sweep_seconds"] / sw["single_seconds"]
    print(f"{len(LRS)} softmax models in {sw['sweep_seconds']:.2f} s, one in "
          f"{sw['single_seconds']:.2f} s: {ratio:.2f}x (target <= 3x); compiling "
          f"{sw['sweep_compile_seconds']:.2f} s vs {sw['single_compile_seconds']:.2f} s (with "
          f"one epoch); best lr {LRS[int(np.argmax(val_acc))]} (val acc {val_acc.max():.4f})")

    seeds_dir = None if checkpoint_dir is None else Path(checkpoint_dir) / "mlp_seeds"
    seeds, mlp_seconds = mlp_seeds(train_data, val_data, epochs=epochs, seed=seed,
                                   checkpoint_dir=seeds_dir)
    plot_seeds(seeds["val_acc"], out_dir / "mlp_seeds.png")
    final = seeds["val_acc"][:, -1]
    print(f"MLP over {NUM_SEEDS} seeds: val acc {final.mean():.4f} +- {final.std():.4f}")

    return {
        "lrs": list(LRS),
        "val_acc": val_acc,
        "val_loss": sw["hist"]["val_loss"][:, -1],
        "sweep_seconds": sw["sweep_seconds"],
        "single_seconds": sw["single_seconds"],
        "sweep_ratio": ratio,
        "sweep_epoch_seconds": sweep_epoch,
        "single_epoch_seconds": single_epoch,
        "sweep_epoch_ratio": sweep_epoch / single_epoch,
        "sweep_runs_seconds": sw["sweep_runs_seconds"],
        "single_runs_seconds": sw["single_runs_seconds"],
        "sweep_compile_seconds": sw["sweep_compile_seconds"],
        "single_compile_seconds": sw["single_compile_seconds"],
        "max_abs_diff_vs_single": sw["max_abs_diff_vs_single"],
        "mlp_val_acc_mean": seeds["val_acc"].mean(axis=0),
        "mlp_val_acc_std": seeds["val_acc"].std(axis=0),
        "mlp_final_val_acc": final,
        "mlp_seconds": mlp_seconds,
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
