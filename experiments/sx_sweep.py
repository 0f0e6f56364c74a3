# %% [markdown]
# # Beyond the book: many models in one compiled call
#
# `jaxhw.sweep.fit_many` is `fit` under `jax.vmap`: one compiled epoch trains a whole stack of
# models. First 8 softmax regressions (4.4) over a learning-rate grid, from the same start and
# on the same batches, so that only the rate differs: they share the batch gathers, and their
# 8 products `X W_i` become one wider product, so the 8 cost far less than 8 lone fits
# (docs/scaling.md says where the time goes). Then 8 seeds of the MLP (5.2): the validation
# accuracy as mean ± std over seeds, the spread a single run cannot show.
#
# Nothing here is in the reference; the numbers to compare are the book's settings (lr 0.1,
# batch 256, 10 epochs), which the sweep reproduces for the model at lr 0.1.

# %% tags=["parameters"]
quick = False  # smoke run: 2 epochs on 6,000 training and 2,000 validation images
seed = 0  # PRNG seed: initial weights and minibatch orders
out_dir = "results/sweep"  # where the figures and metrics.json go
checkpoint_dir = None  # a folder: the MLP seeds checkpoint every epoch there and resume

# %%
import time
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax
from matplotlib.ticker import MaxNLocator

from jaxhw import notebook, optim, sweep, train
from jaxhw.data import fashion_mnist
from jaxhw.models import mlp, softmax_regression
from jaxhw.nn.losses import cross_entropy

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir, checkpoint_dir=checkpoint_dir)

# %% [markdown]
# ## The data
# FashionMNIST as uint8 on the device; the test split is the validation set, as in the book.

# %%
batch_size = 256
epochs = 2 if run.quick else 10
train_data, val_data = fashion_mnist.load_splits(*((6000, 2000) if run.quick else (None, None)))
print(f"train {train_data[0].shape}, val {val_data[0].shape}; {epochs} epochs")

# %% [markdown]
# ## A learning-rate sweep in one call
# The rate lives in the optimizer's state (`optax.inject_hyperparams`), so `fit_many` can give
# each of the 8 stacked models its own: one array of rates, one compiled epoch.

# %%
lrs = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
book_lr = 0.1  # the book's rate: the one model timed alone, and checked against the sweep
init_key, fit_key = jax.random.split(jax.random.key(run.seed))
params = softmax_regression.init(init_key, num_inputs=784, num_outputs=10, sigma=0.01)
apply = softmax_regression.apply
loss = train.supervised_loss(apply, cross_entropy)
common = {"batch_size": batch_size, "metrics": train.classification_metrics(apply),
          "progress": False}
single_opt = optax.sgd(book_lr)  # one object: the second fit reuses the compiled epoch
sweep_opt = optax.inject_hyperparams(optax.sgd)(learning_rate=book_lr)  # a rate per model


def single(n: int):
    """One softmax regression at the book's rate, `n` epochs."""
    return train.fit(loss, params, single_opt, train_data, val_data, epochs=n, key=fit_key,
                     **common)


def many(n: int):
    """All rates at once from the same start on the same batches, `n` epochs."""
    return sweep.fit_many(loss, sweep.replicate(params, len(lrs)), sweep_opt, train_data,
                          val_data, epochs=n, key=fit_key, learning_rates=lrs, **common)


def timed(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` and the seconds it took."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


# %% [markdown]
# Each is first called for one epoch, which compiles its epoch (timed apart: compiling costs
# about the same whatever the number of models, and XLA's persistent cache may hold one program
# and not the other), then timed over the whole run, twice, interleaved: on a shared machine
# the faster run of each is the less disturbed one.

# %%
_, single_compile_seconds = timed(single, 1)
_, sweep_compile_seconds = timed(many, 1)
single_runs, sweep_runs = [], []
for _ in range(2):
    (alone, single_hist, _), seconds = timed(single, epochs)
    single_runs.append(seconds)
    (stack, hist, _), seconds = timed(many, epochs)
    sweep_runs.append(seconds)
single_seconds, sweep_seconds = min(single_runs), min(sweep_runs)
print(f"{len(lrs)} softmax models in {sweep_seconds:.2f} s, one in {single_seconds:.2f} s: "
      f"{sweep_seconds / single_seconds:.2f}x; compiling {sweep_compile_seconds:.2f} s vs "
      f"{single_compile_seconds:.2f} s (with one epoch)")

# %% [markdown]
# The model at the book's rate in the stack must end where the lone model ends: the same start,
# batches and rate, so only float32 rounding in the batched products may separate them.

# %%
i = lrs.index(book_lr)
max_abs_diff_vs_single = max(
    float(np.max(np.abs(np.asarray(a[i]) - np.asarray(b))))
    for a, b in zip(jax.tree.leaves(stack), jax.tree.leaves(alone), strict=True))
val_acc = hist["val_acc"][:, -1]
print(f"lr {book_lr}: max |stacked - alone| = {max_abs_diff_vs_single:.1e}; val acc "
      f"{val_acc[i]:.4f} (alone {single_hist['val_acc'][-1]:.4f})")
print(f"best lr {lrs[int(np.argmax(val_acc))]} (val acc {val_acc.max():.4f})")

# %%
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(lrs, val_acc, "o-")
ax.set(xscale="log", xlabel="learning rate", ylabel="val accuracy",
       title=f"softmax regression, {len(lrs)} models in one call")
ax.grid(True, alpha=0.3)
run.show(fig, "lr_sweep.png")

# %% [markdown]
# ## Seeds of the MLP
# 8 initialisations and 8 minibatch orders (one key each), trained in one call by the book's
# SGD. With `checkpoint_dir` set, every epoch is saved there and a rerun resumes from it.

# %%
num_seeds, mlp_lr = 8, 0.1
init_keys = jax.random.split(jax.random.fold_in(jax.random.key(run.seed), 1), num_seeds)
fit_keys = jax.random.split(jax.random.fold_in(jax.random.key(run.seed), 2), num_seeds)
seed_params = jax.vmap(lambda k: mlp.init(k, 784, 256, 10))(init_keys)
seeds_dir = run.params["checkpoint_dir"]
seeds_dir = None if seeds_dir is None else Path(seeds_dir) / "mlp_seeds"
(_, seeds, _), mlp_seconds = timed(
    sweep.fit_many, train.supervised_loss(mlp.apply, cross_entropy), seed_params,
    optim.sgd(mlp_lr), train_data, val_data, epochs=epochs, batch_size=batch_size,
    key=fit_keys, metrics=train.classification_metrics(mlp.apply), progress=False,
    checkpoint_dir=seeds_dir, resume="auto" if seeds_dir is not None else False)
final = seeds["val_acc"][:, -1]
print(f"MLP over {num_seeds} seeds: val acc {final.mean():.4f} ± {final.std():.4f} "
      f"(min {final.min():.4f}, max {final.max():.4f}); {mlp_seconds:.1f} s")

# %%
acc = seeds["val_acc"]
epoch_axis = np.arange(1, acc.shape[1] + 1)
mean, std = acc.mean(axis=0), acc.std(axis=0)
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(epoch_axis, acc.T, color="C0", alpha=0.2, lw=0.8)
ax.fill_between(epoch_axis, mean - std, mean + std, color="C0", alpha=0.3, label="mean ± std")
ax.plot(epoch_axis, mean, color="C0", label="mean")
ax.set(xlabel="epoch", ylabel="val accuracy", title=f"MLP, {acc.shape[0]} seeds")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
ax.legend(loc="lower right")
ax.grid(True, alpha=0.3)
run.show(fig, "mlp_seeds.png")

# %% [markdown]
# ## Results
# `metrics.json` keeps the sweep's accuracies, its times against one model, and the seeds'
# accuracies (tests/test_sections_ch5.py).

# %%
sweep_epoch = float(np.median(hist["epoch_seconds"]))
single_epoch = float(np.median(single_hist["epoch_seconds"]))
run.save_metrics({
    "lrs": list(lrs),
    "val_acc": val_acc,
    "val_loss": hist["val_loss"][:, -1],
    "single_val_acc": single_hist["val_acc"][-1],
    "sweep_seconds": sweep_seconds,
    "single_seconds": single_seconds,
    "sweep_ratio": sweep_seconds / single_seconds,
    "sweep_epoch_seconds": sweep_epoch,
    "single_epoch_seconds": single_epoch,
    "sweep_epoch_ratio": sweep_epoch / single_epoch,
    "sweep_runs_seconds": sweep_runs,
    "single_runs_seconds": single_runs,
    "sweep_compile_seconds": sweep_compile_seconds,
    "single_compile_seconds": single_compile_seconds,
    "max_abs_diff_vs_single": max_abs_diff_vs_single,
    "num_seeds": num_seeds,
    "mlp_val_acc_mean": mean,
    "mlp_val_acc_std": std,
    "mlp_final_val_acc": final,
    "mlp_seconds": mlp_seconds,
})
