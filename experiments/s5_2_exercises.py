# %% [markdown]
# # 5.2 Exercises: Implementation of Multilayer Perceptrons
#
# The exercises at the end of d2l section 5.2, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# The section's own notebook (5.2) trains the book's MLP once; here its width, depth,
# activation, initialisation and learning rate are varied on FashionMNIST, and searched
# jointly. Settings are trained over several seeds at once: `jaxhw.sweep.fit_many` stacks
# models of one shape along a leading axis and trains the stack in one compiled call, so most
# results below are a mean and a spread over seeds, not one run.

# %% tags=["parameters"]
quick = False  # smoke run: 3,072 / 1,024 images, 3 epochs, 2 seeds, 2 widths, 2 rates, tiny search
seed = 0  # PRNG seed: initial weights, minibatch orders, the search's random draws
out_dir = "results/5.2-exercises"  # where the figures and metrics.json go

# %%
import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from matplotlib.ticker import MaxNLocator

from jaxhw import notebook, sweep, train
from jaxhw.board import plot
from jaxhw.data import fashion_mnist
from jaxhw.models import concise_mlp, mlp
from jaxhw.nn.activations import sigmoid, tanh
from jaxhw.nn.images import flatten_images
from jaxhw.nn.losses import cross_entropy
from jaxhw.vectorization import best_time

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
init_key, fit_key, lr_key, search_key = jax.random.split(jax.random.key(run.seed), 4)

# %% [markdown]
# ## The data and the training set-up
# FashionMNIST's training split for training and its test split for validation, as in the book
# (the quick run keeps class-balanced subsets). Every model is trained by minibatch SGD
# (`optax.sgd`, the book's update; batch 256, learning rate 0.1 unless an exercise varies it)
# for 4 epochs (3 in the quick run): fewer than the book's 10, so that every comparison can
# be repeated over seeds within this notebook's time budget. The optimizer keeps its learning
# rate in its state (`optax.inject_hyperparams`), so a stack of models can hold one rate per
# model.
#
# One loss and one accuracy function per activation, made once: `fit` compiles an epoch for
# each (loss, optimizer, shapes) it meets and reuses it, so the same model shape trained again
# (another width's seeds, another initialisation) costs no new compile.

# %%
X_train, y_train = fashion_mnist.load("train")
X_test, y_test = fashion_mnist.load("test")
if run.quick:
    keep_train = fashion_mnist.balanced_subset(y_train, 4096)  # 3,072 to train, 1,024 held out
    keep_test = fashion_mnist.balanced_subset(y_test, 1024)
    X_train, y_train, X_test, y_test = (X_train[keep_train], y_train[keep_train],
                                        X_test[keep_test], y_test[keep_test])
train_data = (X_train[:3072], y_train[:3072]) if run.quick else (X_train, y_train)
val_data = (X_test, y_test)

batch_size = 256
epochs = 3 if run.quick else 4  # per run of exercises 1, 2, 3, 8, 9
num_seeds = 2 if run.quick else 3
init_keys = jax.random.split(init_key, num_seeds)  # the same seeds for every setting
fit_keys = jax.random.split(fit_key, num_seeds)  # one minibatch order per seed
sgd = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
applies = {"ReLU": mlp.apply,
           "tanh": functools.partial(mlp.apply, activation=tanh),
           "sigmoid": functools.partial(mlp.apply, activation=sigmoid)}
losses = {name: train.supervised_loss(apply, cross_entropy) for name, apply in applies.items()}
accuracy = {name: train.classification_metrics(apply) for name, apply in applies.items()}
print(f"train {train_data[0].shape}, val {val_data[0].shape}; {epochs} epochs, "
      f"{num_seeds} seeds, batch {batch_size}")


# %%
def train_stack(params, activation: str = "ReLU", *, data=None, keys=fit_keys,
                num_epochs: int = epochs, learning_rates=None, opt_state=None):
    """Train a stack of MLPs (every leaf has a leading model axis) with SGD in one compiled
    call; `keys` gives each model its minibatch order. Returns fit's FitResult."""
    data = (train_data, val_data) if data is None else data
    return sweep.fit_many(losses[activation], params, sgd, *data, epochs=num_epochs,
                          batch_size=batch_size, key=keys, metrics=accuracy[activation],
                          learning_rates=learning_rates, opt_state=opt_state, progress=False)


def init_stack(num_hiddens, sigma: float = 0.01, keys=init_keys):
    """One MLP per key, stacked: `mlp.init` under `jax.vmap`."""
    return jax.vmap(lambda k: mlp.init(k, num_hiddens=num_hiddens, sigma=sigma))(keys)


def final_acc(result) -> np.ndarray:
    """Each stacked model's validation accuracy after its last epoch: (models,)."""
    return np.asarray(result.history["val_acc"][:, -1])


def inside_noise(a, b) -> bool:
    """Whether the means of two sets of seed accuracies differ by less than two standard errors
    of their difference (sample standard deviations over seeds)."""
    a, b = np.asarray(a), np.asarray(b)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return bool(abs(a.mean() - b.mean()) < 2 * se)


def describe(acc) -> str:
    """'mean ± std (min-max)' of seed accuracies."""
    acc = np.asarray(acc)
    return f"{acc.mean():.4f} ± {acc.std(ddof=1):.4f} ({acc.min():.4f}-{acc.max():.4f})"


# %% [markdown]
# ### Exercise 1 — vary the number of hidden units and find the best width
# One hidden layer of `num_hiddens` ReLU units, from 1 to 512 (1 and 256 in the quick run).
# Each width is a different shape, so a separate compiled call; within it, the seeds train
# together.

# %%
widths = (1, 256) if run.quick else (1, 4, 16, 64, 256, 512)
width_runs, width_seconds = {}, {}
for width in widths:
    start = time.perf_counter()
    width_runs[width] = train_stack(init_stack(width))
    width_seconds[width] = time.perf_counter() - start
    print(f"width {width:5d}: val acc {describe(final_acc(width_runs[width]))}; "
          f"{width_seconds[width]:.1f} s for {num_seeds} seeds")
width_means = np.array([final_acc(width_runs[w]).mean() for w in widths])
width_stds = np.array([final_acc(width_runs[w]).std(ddof=1) for w in widths])
best_width = widths[int(np.argmax(width_means))]
tied_widths = [w for w in widths
               if inside_noise(final_acc(width_runs[w]), final_acc(width_runs[best_width]))]
print(f"best mean: width {best_width}; inside the noise of it: {tied_widths}")

# %%
fig, ax = plt.subplots(figsize=(4.5, 3))
ax.errorbar(widths, width_means, yerr=width_stds, fmt="o-", capsize=3)
ax.set(xscale="log", xlabel="hidden units (log scale)", ylabel="val accuracy",
       title=f"one hidden layer, {epochs} epochs, mean ± std of {num_seeds} seeds")
ax.grid(True, alpha=0.3)
run.show(fig, "width.png")
answers["1"] = {"widths": list(widths), "val_acc_mean": width_means, "val_acc_std": width_stds,
                "val_acc": {str(w): final_acc(width_runs[w]) for w in widths},
                "best_width": best_width, "inside_noise_of_best": tied_widths,
                "seconds": {str(w): s for w, s in width_seconds.items()}}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Accuracy climbs steeply with the first units: one unit is far below everything else (exercise
# 3 says why), four units already classify about three images in four, and from a few dozen
# units on the curve is flat. The best mean is printed, but the widths listed as inside the
# noise of it cannot be told apart from it with these seeds: after a few epochs on FashionMNIST
# the last-epoch accuracy of one seed moves by several hundredths (the error bars), more than
# the width changes it past the knee. What width does change is the cost: the seconds printed
# for the widest layer are several times those of the narrow ones. So the best value is the
# smallest width on the plateau, the smallest in the printed list; the book's 256 is on the
# plateau, with room to spare.
#
# </details>

# %% [markdown]
# ### Exercise 2 — add a second hidden layer
# `num_hiddens=(256, 128)`: relu(relu(X W1 + b1) W2 + b2) W3 + b3, with the same seeds,
# minibatch orders and epochs as the width-256 network of exercise 1.

# %%
deeper = train_stack(init_stack((256, 128)))
shallow = width_runs[256]
for name, result in (("(256,)", shallow), ("(256, 128)", deeper)):
    acc = result.history["val_acc"]
    print(f"{name:11s} val acc after epoch 1: {acc[:, 0].mean():.4f}; after epoch {epochs}: "
          f"{describe(acc[:, -1])}")
deeper_tied = inside_noise(final_acc(deeper), final_acc(shallow))
print(f"difference {final_acc(deeper).mean() - final_acc(shallow).mean():+.4f}: "
      f"{'inside' if deeper_tied else 'outside'} the noise")
answers["2"] = {"one_layer_val_acc": final_acc(shallow), "two_layer_val_acc": final_acc(deeper),
                "one_layer_epoch1_mean": float(shallow.history["val_acc"][:, 0].mean()),
                "two_layer_epoch1_mean": float(deeper.history["val_acc"][:, 0].mean()),
                "inside_noise": deeper_tied}

# %% [markdown]
# <details><summary>Answer</summary>
#
# The second layer starts slower: after one epoch it is behind the one-layer network (first
# line of numbers above). With weights drawn from $N(0, 0.01^2)$ each layer multiplies its
# input's scale by about $0.01\sqrt{\text{fan-in}}$ (0.16 for 256 inputs, 0.28 for 784), so
# the extra layer makes the logits and the gradients reaching $W_1$ several times smaller at
# the start, and SGD at rate 0.1 needs some epochs to grow them. Whether the extra layer ends
# ahead, behind or level after these epochs is printed above, with whether the difference is
# inside the seed noise; a second layer does not by itself buy accuracy here, it buys capacity
# that this dataset and these few epochs hardly use. Exercise 9 shows how much the scale of
# the initial weights changes the start, even with one hidden layer.
#
# </details>

# %% [markdown]
# ### Exercise 3 — why is a hidden layer with a single neuron a bad idea?
# The width-1 network of exercise 1: every image is squeezed into one number
# $h = \mathrm{ReLU}(\mathbf{x}^\top \mathbf{w}_1 + b_1)$, and the ten logits are
# $h\,\mathbf{w}_2 + \mathbf{b}_2$. Below, for each seed: its accuracy, the fraction of
# validation images for which the unit is off ($h = 0$, so the logits are just
# $\mathbf{b}_2$ and every such image gets the same class), and how many classes the network
# predicts at all.

# %%
X_val = np.asarray(flatten_images(val_data[0], 784))  # (n, 784) float32 in [0, 1]


def hidden_layer(params) -> np.ndarray:
    """The first hidden layer's ReLU outputs on the validation images, for each model of a
    stack, computed on the host: (models, n, units)."""
    W1, b1 = np.asarray(params["W1"]), np.asarray(params["b1"])
    return np.maximum(X_val @ W1 + b1[:, None, :], 0)


narrow = width_runs[1]
hidden = hidden_layer(narrow.params)  # (seeds, n, 1)
logits = hidden @ np.asarray(narrow.params["W2"]) + np.asarray(narrow.params["b2"])[:, None]
off_fraction = (hidden[..., 0] == 0).mean(axis=1)
classes_predicted = [int(np.unique(p).size) for p in logits.argmax(-1)]
for i, p in enumerate(logits.argmax(-1)):
    never = fashion_mnist.text_labels(sorted(set(range(10)) - set(p.tolist())))
    print(f"seed {i}: val acc {final_acc(narrow)[i]:.4f}; unit off for "
          f"{off_fraction[i]:.1%} of the images; {classes_predicted[i]} of 10 classes "
          f"predicted, never {', '.join(never)}")
print(f"width 1: {describe(final_acc(narrow))}; width 256: {describe(final_acc(shallow))}")
answers["3"] = {"val_acc": final_acc(narrow), "off_fraction": off_fraction,
                "classes_predicted": classes_predicted,
                "width_256_val_acc_mean": float(final_acc(shallow).mean())}

# %% [markdown]
# <details><summary>Answer</summary>
#
# A one-unit layer is a bottleneck: whatever comes before it, everything the output layer sees
# about an image is one number $h \ge 0$, so the logits $h\,\mathbf{w}_2 + \mathbf{b}_2$ lie
# on a ray in the 10-dimensional logit space. As $h$ grows, the winning class can only change
# at the points where two of those ten lines cross, so the network sorts the images along a
# single learned direction of pixel space and cuts that line into intervals, one class per
# interval: classes that overlap along that direction cannot be told apart, and some classes
# are never predicted at all (named above). The accuracy printed is
# far below the wide network's. What can also go wrong is the ReLU itself: wherever
# $\mathbf{x}^\top\mathbf{w}_1 + b_1 < 0$ the unit is off, those images all receive the class
# of $\mathbf{b}_2$, and no gradient reaches $\mathbf{w}_1$ through them; if an unlucky start
# or a large step turns the unit off for every image, the gradient of $\mathbf{w}_1$ and
# $b_1$ is zero for good and the network is stuck predicting one class (accuracy 0.1). The
# printed fractions show how much of the data sits in that dead region here.
#
# </details>

# %% [markdown]
# ### Exercise 4 — learning rate against epochs
# A grid of learning rates for the book's network (256 ReLU units), trained in one compiled
# call: every model starts from the same weights (the first seed's) and sees the same
# minibatches, so only the rate differs. The book's 10 epochs, validation accuracy after each.

# %%
lrs = (0.03, 0.1) if run.quick else (0.01, 0.03, 0.1, 0.3, 1.0)
lr_epochs = epochs if run.quick else 10
book_start = jax.tree.map(lambda a: np.asarray(a)[0], init_stack(256))  # the first seed's
same_order = jnp.stack([lr_key] * len(lrs))  # one minibatch order, shared
lr_run = train_stack(sweep.replicate(book_start, len(lrs)), keys=same_order,
                     num_epochs=lr_epochs, learning_rates=lrs)
lr_acc = np.asarray(lr_run.history["val_acc"])  # (rates, epochs)
threshold = 0.5 if run.quick else 0.8
reached = [int(np.argmax(a >= threshold)) + 1 if (a >= threshold).any() else None
           for a in lr_acc]
dead_units = (hidden_layer(lr_run.params) == 0).all(axis=1).mean(axis=1)  # off for every image
for lr, acc, first, dead in zip(lrs, lr_acc, reached, dead_units, strict=True):
    print(f"lr {lr:5.2f}: val acc after epoch 1 {acc[0]:.4f}, best {acc.max():.4f} (epoch "
          f"{int(acc.argmax()) + 1}), last {acc[-1]:.4f}; first >= {threshold}: epoch {first}; "
          f"dead hidden units {dead:.0%}")
last = np.sort(lr_acc[:, -1])
best_lr, top_gap = lrs[int(np.argmax(lr_acc[:, -1]))], float(last[-1] - last[-2])
print(f"best after {lr_epochs} epochs: lr {best_lr}, ahead of the next by {top_gap:.4f}; the "
      f"seed spread of exercise 1 (lr 0.1): ± {final_acc(shallow).std(ddof=1):.4f}")

# %%
epoch_axis = np.arange(1, lr_epochs + 1)
ax = plot(epoch_axis, list(lr_acc), xlabel="epoch", ylabel="val accuracy",
          legend=[f"lr {lr}" for lr in lrs], fmts=("-o",), figsize=(4.5, 3),
          title="256 ReLU units: one start, one minibatch order")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
run.show(ax.figure, "learning_rate.png")
answers["4"] = {"lrs": list(lrs), "val_acc_per_epoch": lr_acc, "best_lr": best_lr,
                "dead_unit_fraction": dead_units, "top_gap": top_gap,
                "seed_spread": float(final_acc(shallow).std(ddof=1)),
                "threshold": threshold, "first_epoch_at_threshold": reached}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Up to a point, a larger rate learns faster: the epoch at which each rate first reaches the
# threshold falls as the rate grows (the smallest rate has not reached it after 10 epochs, and
# its best epoch is its last: it is still climbing). A rate ten times smaller needs several
# times more epochs for the same accuracy, so rate and epochs trade against each other: for a
# short budget take the largest rate that is stable, for a long one a smaller rate catches up.
# Too large a rate breaks training: at 1.0 the accuracy stays far below the others' and ends
# no higher than it started, and most hidden ReLUs are dead (the printed fraction): a few huge
# steps pushed their inputs below 0 for every image, and from then on they get no gradient.
# The best rate after 10 epochs is the printed one, but these curves share one start and one
# minibatch order, and the gap between the two best rates is smaller than the seed spread
# printed beside it, so the ranking of the top rates is inside the noise.
#
# </details>

# %% [markdown]
# ### Exercise 5.1 — the best result from tuning rate, epochs, depth and width jointly
# Learning rate, epochs, number of hidden layers and units per layer at once. The search
# space: 1 or 2 hidden layers (a second layer half as wide as the first, as the book's
# (256, 128)), first-layer width in {128, 256, 512}, and the learning rate drawn at random,
# log-uniformly in [0.01, 1], three per architecture (stratified random search). The quick run
# searches 256 units only, two rates each.
#
# **Strategy: successive halving** (Jamieson and Talwalkar, 2016; the inner loop of
# Hyperband). Train every candidate for 1 epoch, keep the best third, train those on to 3
# epochs, keep the best third again and train it to 9. The number of epochs is the resource
# being allocated, and most candidates (a rate far too small or too large) are recognisably bad
# after one epoch, so they should not get nine. Why random rates rather than a grid: for the
# same number of candidates each architecture sees different rates, so the search covers the
# rate axis more finely than a grid would (Bergstra and Bengio, 2012).
#
# Candidates are ranked on 10,000 images held out from the training split and trained on the
# other 50,000: choosing the best of many settings by their accuracy on a set makes that
# accuracy an optimistic estimate, so the test split is used once, for the winner only.
# Candidates of one architecture train together in one `fit_many` call with one rate each,
# continued from their parameters and optimizer state from rung to rung.
# **Budget: 42 model-epochs** of 50,000 images (18 × 1 + 6 × 2 + 2 × 6), about what 4 models
# trained for 10 epochs cost.

# %%
order = np.random.default_rng(run.seed).permutation(len(y_train))
search_train_idx, holdout_idx = ((order[:3072], order[3072:4096]) if run.quick
                                 else (order[:50000], order[50000:]))
search_data = ((X_train[search_train_idx], y_train[search_train_idx]),
               (X_train[holdout_idx], y_train[holdout_idx]))
first_widths = (256,) if run.quick else (128, 256, 512)
architectures = [(w,) for w in first_widths] + [(w, w // 2) for w in first_widths]
rates_per_architecture = num_seeds
rng = np.random.default_rng(run.seed)
candidates = [{"num_hiddens": arch, "lr": float(10 ** rng.uniform(-2, 0))}
              for arch in architectures for _ in range(rates_per_architecture)]
rung_epochs = (1, 3) if run.quick else (1, 3, 9)  # epochs trained by the end of each rung
eta = 3  # each rung keeps the best 1/eta of its candidates
print(f"{len(candidates)} candidates, rungs at {rung_epochs} epochs, "
      f"{len(search_train_idx)} training / {len(holdout_idx)} held-out images")


# %%
def train_rung(alive: list[int], num_epochs: int, rung: int) -> None:
    """Train the candidates `alive` for `num_epochs` more epochs, one `fit_many` call per
    architecture, with the rung's own minibatch orders; each candidate keeps its params,
    optimizer state and held-out curve."""
    for arch in architectures:
        group = [i for i in alive if candidates[i]["num_hiddens"] == arch]
        if not group:
            continue
        group_key = jax.random.fold_in(search_key, rung * len(architectures)
                                       + architectures.index(arch))
        start_keys, keys = jax.random.split(group_key, (2, len(group)))
        if rung == 0:
            params = init_stack(arch, keys=start_keys)
            result = train_stack(params, data=search_data, keys=keys, num_epochs=num_epochs,
                                 learning_rates=[candidates[i]["lr"] for i in group])
        else:
            stack = jax.tree.map(lambda *a: np.stack(a),
                                 *[candidates[i]["state"] for i in group])
            result = train_stack(stack[0], data=search_data, keys=keys, num_epochs=num_epochs,
                                 opt_state=stack[1])
        params, opt_state = jax.device_get((result.params, result.opt_state))
        for j, i in enumerate(group):
            candidates[i]["state"] = jax.tree.map(lambda a, j=j: a[j], (params, opt_state))
            candidates[i].setdefault("curve", []).extend(result.history["val_acc"][j])


# %%
search_start = time.perf_counter()
alive, trained, rung_sizes = list(range(len(candidates))), 0, []
for rung, until in enumerate(rung_epochs):
    more = until - (rung_epochs[rung - 1] if rung else 0)
    train_rung(alive, more, rung)
    trained += more * len(alive)
    rung_sizes.append(len(alive))
    ranked = sorted(alive, key=lambda i: -candidates[i]["curve"][-1])
    print(f"rung {rung}: {len(alive)} candidates at {until} epochs; best held-out acc "
          + ", ".join(f"{candidates[i]['curve'][-1]:.4f} {candidates[i]['num_hiddens']} "
                      f"lr {candidates[i]['lr']:.3f}" for i in ranked[:3]))
    if rung + 1 < len(rung_epochs):
        alive = ranked[:max(1, len(alive) // eta)]
search_seconds = time.perf_counter() - search_start
winner = candidates[ranked[0]]
winner_curve = np.asarray(winner["curve"])
winner_test = train.evaluate(losses["ReLU"], winner["state"][0], val_data,
                             metrics=accuracy["ReLU"])
grid_cost = len(candidates) * rung_epochs[-1]
print(f"best: hidden {winner['num_hiddens']}, lr {winner['lr']:.3f}, {rung_epochs[-1]} epochs: "
      f"held-out acc {winner_curve[-1]:.4f} (best epoch {int(winner_curve.argmax()) + 1}: "
      f"{winner_curve.max():.4f}); test split acc {winner_test['acc']:.4f}")
if 0.1 in lrs:
    book_setting = float(lr_acc[lrs.index(0.1), -1])
    print(f"the book's setting (256 units, lr 0.1, {lr_epochs} epochs, exercise 4): val acc "
          f"{book_setting:.4f};\n  the winner's test acc differs by "
          f"{winner_test['acc'] - book_setting:+.4f} (seed spread "
          f"± {final_acc(shallow).std(ddof=1):.4f})")
print(f"cost: {trained} model-epochs of {len(search_train_idx)} images in "
      f"{search_seconds:.1f} s, against {grid_cost} to train every candidate "
      f"{rung_epochs[-1]} epochs")

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.2))
for c in candidates:
    curve = c["curve"]
    ax.plot(np.arange(1, len(curve) + 1), curve, "o-", ms=3, lw=1,
            color=f"C{architectures.index(c['num_hiddens'])}")
for k, arch in enumerate(architectures):
    ax.plot([], [], color=f"C{k}", label=f"hidden {arch}")
ax.set(xlabel="epochs trained", ylabel="held-out accuracy",
       title="successive halving: each line a candidate")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")
ax.grid(True, alpha=0.3)
run.show(fig, "search.png")
answers["5.1"] = {
    "best": {"num_hiddens": list(winner["num_hiddens"]), "lr": winner["lr"],
             "epochs": rung_epochs[-1], "best_epoch": int(winner_curve.argmax()) + 1},
    "best_holdout_acc": float(winner_curve[-1]),
    "best_test_acc": winner_test["acc"],
    "model_epochs": trained, "seconds": search_seconds, "num_candidates": len(candidates),
    "rung_epochs": list(rung_epochs), "rung_sizes": rung_sizes, "eta": eta,
    "best_holdout_curve": winner_curve,
    "final_holdout_acc": [float(candidates[i]["curve"][-1]) for i in ranked],
    "first_rung_holdout_acc": [float(c["curve"][0]) for c in candidates],
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# The printed winner (its architecture, rate and epochs), with its accuracy on the held-out
# images that chose it and, once, on the test split, beside the book's setting from exercise 4
# (trained on all 60,000 images). The held-out number is the best of several noisy ones, so it
# is biased upwards; the test-split accuracy is the honest estimate. The finalists differ by
# less than the seed noise of exercise 1 (the last rung's line), so the search found a region
# of good settings rather than one best point, and its winner differs from the book's choice
# by less than the seed spread (printed). The whole search cost the printed model-epochs and
# seconds, about a quarter of training every candidate to the end.
#
# </details>

# %% [markdown]
# ### Exercise 5.2 — why is it much harder with several hyperparameters?
#
# <details><summary>Answer</summary>
#
# - **The grid explodes.** With $k$ values for each of $d$ hyperparameters a grid has $k^d$
#   settings: 5 values of each of the four here make 625 training runs, each a full training.
# - **They interact.** The best learning rate depends on the number of epochs (exercise 4),
#   and on the depth and the width (a deeper network with small initial weights starts slower,
#   exercise 2, so it wants more epochs or a larger rate), so tuning one at a time, with the
#   others fixed, can end far from the joint optimum.
# - **Each evaluation is noisy.** Two seeds of one setting differ by about ±0.03 in validation
#   accuracy (exercise 1), as much as many of the effects being searched for, so ranking close
#   settings needs repeated runs, multiplying the cost again; and picking the maximum of many
#   noisy numbers overstates the winner, which is why a held-out set chose it above and the
#   test split only scored it.
# - **They are of different kinds.** The rate is continuous and matters on a log scale, depth
#   and width are integers that change the shapes (and the cost) of the model, and the number
#   of epochs is a budget rather than a setting.
#
# </details>

# %% [markdown]
# ### Exercise 5.3 — an efficient strategy for several hyperparameters at once

# %%
saving = grid_cost / trained
first_rung = np.array([c["curve"][0] for c in candidates])
survivors_first = np.array([candidates[i]["curve"][0] for i in ranked])
print(f"successive halving trained {trained} model-epochs where training every candidate to "
      f"{rung_epochs[-1]} epochs takes {grid_cost}: {saving:.1f}x fewer")
print(f"after 1 epoch: candidates {first_rung.min():.3f}-{first_rung.max():.3f}; the finalists "
      f"were {survivors_first.min():.3f}-{survivors_first.max():.3f}")
answers["5.3"] = {"model_epochs": trained, "all_to_the_end_model_epochs": grid_cost,
                  "saving": saving}

# %% [markdown]
# <details><summary>Answer</summary>
#
# 1. **Sample, don't grid.** Draw settings at random from sensible ranges (log scale for the
#    learning rate): with the same number of runs every hyperparameter takes many distinct
#    values, which matters because only a few hyperparameters usually matter much.
# 2. **Spend the epochs where they pay.** Early stopping of bad candidates: successive
#    halving, as above, trains everything briefly and only the best fraction longer; the
#    printed saving is the factor it gained over training every candidate to the end, and the
#    first-epoch range shows how clearly the first rung separated bad from good. Hyperband runs
#    several such brackets with different starting budgets, in case a slow starter would win
#    late (exercise 4 shows small rates are such slow starters).
# 3. **Model the response.** Bayesian optimisation (a Gaussian process or a tree-structured
#    Parzen estimator over past results) proposes the next setting where a good result is
#    likely; it pays when each run is expensive.
# 4. **Use the hardware.** Candidates of one shape train together as one stack: here every
#    architecture's rates went through one compiled `fit_many` call.
# 5. **Keep a clean test.** Select on held-out data, report once on data the search never saw.
#
# </details>

# %% [markdown]
# ### Exercise 6 — framework against from-scratch speed, and how it changes with size
# The scratch MLP (`jaxhw.models.mlp`) and the concise Flax one (`jaxhw.models.concise_mlp`)
# through the same `fit`, for a small and a large hidden layer. On a shared machine one epoch
# can take tens of percent longer than the next, so the two models take turns (two rounds of
# two epochs each) and each one's time is its fastest epoch after the first, which includes
# compiling. The spread of a model's own epochs is the yardstick: a ratio between the models
# within it is inside the noise. Times are printed, never asserted.

# %%
speed_widths = (256,) if run.quick else (256, 1024)
concise_loss = train.supervised_loss(concise_mlp.apply, cross_entropy)
speed = {"widths": list(speed_widths), "scratch": [], "concise": [], "ratio": [],
         "noise": [], "first_epoch": {"scratch": [], "concise": []}}
speed_params = {}
for width in speed_widths:
    speed_params[width] = {"scratch": jax.tree.map(lambda a: np.asarray(a)[0],
                                                   init_stack(width)),
                           "concise": concise_mlp.init(init_key, num_hiddens=width)}
    epoch_seconds = {"scratch": [], "concise": []}
    for _ in range(2):
        for name, loss in (("scratch", losses["ReLU"]), ("concise", concise_loss)):
            epoch_seconds[name].extend(train.fit(
                loss, speed_params[width][name], sgd, train_data, epochs=2,
                batch_size=batch_size, key=fit_key, progress=False).history["epoch_seconds"])
    for name, seconds in epoch_seconds.items():
        speed["first_epoch"][name].append(seconds[0])
        speed[name].append(min(seconds[1:]))
    ratio = speed["concise"][-1] / speed["scratch"][-1]
    noise = max(max(seconds[1:]) / min(seconds[1:]) for seconds in epoch_seconds.values())
    speed["ratio"].append(ratio)
    speed["noise"].append(noise)
    print(f"width {width:5d}: scratch {speed['scratch'][-1]:.3f} s/epoch, concise "
          f"{speed['concise'][-1]:.3f} s/epoch: ratio {ratio:.2f}, "
          f"{'inside' if 1 / noise <= ratio <= noise else 'outside'} the spread of one "
          f"model's own epochs ({noise:.2f}x);\n  first epoch, with compiling (scratch / concise): "
          f"{speed['first_epoch']['scratch'][-1]:.2f} / "
          f"{speed['first_epoch']['concise'][-1]:.2f} s")

# %% [markdown]
# What each model hands to XLA: the primitives of its forward pass, as JAX records them.

# %%
def primitives(apply, params) -> list[str]:
    """The JAX primitives `apply(params, X)` traces to, for a batch of 2 images."""
    return [str(eq.primitive) for eq in jax.make_jaxpr(apply)(params, X_test[:2]).jaxpr.eqns]


scratch_ops = primitives(mlp.apply, speed_params[256]["scratch"])
concise_ops = primitives(concise_mlp.apply, speed_params[256]["concise"])
print("scratch:", ", ".join(scratch_ops))
print("concise:", ", ".join(concise_ops))
speed.update({"scratch_primitives": scratch_ops, "concise_primitives": concise_ops,
              "scratch_matmuls": scratch_ops.count("dot_general"),
              "concise_matmuls": concise_ops.count("dot_general")})
answers["6"] = speed

# %% [markdown]
# <details><summary>Answer</summary>
#
# Once the epoch is compiled there is no framework left to cost anything: Flax's modules run
# only while JAX traces `apply`, and what reaches XLA is, for both models, the same two matrix
# products (`dot_general` twice in both lists) with a bias addition and a ReLU; the other
# primitives reshape and scale the uint8 pixels, cheap next to a product. The lists differ
# only in the elementwise operations around the products (the scratch ReLU is a `where`,
# Flax's a `custom_jvp` of `max`), so whatever difference the printed ratio shows comes from
# how XLA compiles those, not from Python; and the printed verdict says whether it is larger
# than the spread of one model's own epochs on this machine. With the larger layer the
# products take a larger share of each step, so the time per epoch grows with the width (the
# rows above) and whatever either model adds around the products weighs even less.
#
# </details>

# %% [markdown]
# ### Exercise 7 — matrix products of well- and badly-aligned sizes
# `jnp.dot` of two $n \times n$ float32 matrices for $n = 1024, \dots, 1032$, on every backend
# JAX can see (the CPU always; a GPU or TPU too where one exists). Each product costs
# $2n^3$ floating-point operations; the time is the fastest of several calls after a first
# one that compiles (the sizes take turns), and the rate is printed in GFLOP/s.

# %%
devices = {"cpu": jax.devices("cpu")[0], **{d.platform: d for d in jax.devices()[:1]}}
sizes = list(range(1024, 1033))
matmul_repeats = 1 if run.quick else 10
dot = jax.jit(jnp.dot)
matrix_rng = np.random.default_rng(run.seed)
gflops, repeat_spread = {}, {}
for platform, device in devices.items():
    pairs = {n: [jax.device_put(matrix_rng.standard_normal((n, n), np.float32), device)
                 for _ in range(2)] for n in sizes}
    for A, B in pairs.values():
        jax.block_until_ready(dot(A, B))  # compile for each size
    seconds = {n: [] for n in sizes}
    for _ in range(matmul_repeats):  # sizes take turns, so a slow spell hits them all
        for n, (A, B) in pairs.items():
            seconds[n].append(best_time(functools.partial(dot, A, B), repeat=1))
    gflops[platform] = [2 * n**3 / min(seconds[n]) / 1e9 for n in sizes]
    # The yardstick: how much slower a typical call is than the fastest call of the same size.
    repeat_spread[platform] = float(np.median([np.median(t) / min(t) for t in seconds.values()]))
    rates = np.array(gflops[platform])
    print(f"{platform}: " + ", ".join(f"{n}: {r:.0f}" for n, r in zip(sizes, rates, strict=True))
          + " GFLOP/s")
    size_spread, noise = rates.max() / rates.min(), repeat_spread[platform]
    print(f"{platform}: fastest n = {sizes[int(rates.argmax())]}, slowest n = "
          f"{sizes[int(rates.argmin())]}: {size_spread:.2f}x apart, against {noise:.2f}x between "
          f"repeats of one size: {'outside' if size_spread > noise else 'inside'} the noise")

# %%
ax = plot(sizes, [gflops[p] for p in devices], xlabel="n (n × n times n × n, float32)",
          ylabel="GFLOP/s", legend=list(devices), fmts=("-o", "-s"), figsize=(4.5, 3),
          title="jnp.dot speed by matrix size")
ax.set_xticks(sizes)
run.show(ax.figure, "matmul.png")
cpu_rates = np.array(gflops["cpu"])
answers["7"] = {"sizes": sizes, "gflops": gflops, "repeat_spread": repeat_spread,
                "cpu_fastest_n": sizes[int(cpu_rates.argmax())],
                "cpu_slowest_n": sizes[int(cpu_rates.argmin())],
                "cpu_slowest_over_fastest": float(cpu_rates.min() / cpu_rates.max())}

# %% [markdown]
# <details><summary>Answer</summary>
#
# The rates above are this run's, and on a shared machine part of their spread is noise: the
# last line compares the spread between sizes with the spread between repeats of one size,
# and only a spread between sizes well outside the latter says something about alignment.
# What alignment can do: a BLAS kernel works on tiles (register blocks 8 or 16 floats wide
# with AVX2 / AVX-512, cache blocks of a few hundred), so a size such as 1025 leaves a sliver
# of tiles that runs through slower edge code, while a multiple of 8 or 16 fills its tiles
# exactly; powers of two can be slow for the opposite reason, since rows 4096 bytes apart map
# to the same cache sets and evict each other. Which, if either, this CPU shows is in the
# printed rates: look for the multiples of 4 and 8 (1024, 1028, 1032) against their
# neighbours.
#
# </details>

# %% [markdown]
# ### Exercise 7.1 — how does this change between CPUs and GPUs?

# %%
print(jax.devices())
print("backends timed above:", list(devices))
answers["7.1"] = {"devices": [str(d) for d in jax.devices()], "backends": list(devices),
                  "gpu_timed": "gpu" in devices}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Where the list above shows only the CPU, this machine has no GPU, and there is nothing
# measured to compare: the cell of exercise 7 times every backend JAX finds, so run this
# notebook where a GPU exists and its curve appears beside the CPU's. What to look for there:
# a GPU's matrix units work on larger tiles (multiples of 8 or 16 elements for tensor cores, 64
# to 256 per thread block), so a misaligned size wastes part of a whole block of threads and
# the dips at sizes that are not multiples of 8 are usually larger than on a CPU; and the
# GPU's rate is one to two orders of magnitude higher, so at $n \approx 1000$ the launch
# overhead is already a visible part of each product.
#
# </details>

# %% [markdown]
# ### Exercise 7.2 — the memory bus width of the CPU and the GPU
# What software can see is the bandwidth: below, the time to read and write one large array
# once (`x + 1` on $2^{26}$ float32 numbers, 256 MiB each way; $2^{22}$ in the quick run),
# on each backend, and the CPU's name as Linux reports it.

# %%
elements = 2**22 if run.quick else 2**26
add_one = jax.jit(lambda x: x + 1)
bandwidth = {}
for platform, device in devices.items():
    x = jax.device_put(np.zeros(elements, np.float32), device)
    jax.block_until_ready(add_one(x))
    bandwidth[platform] = 2 * x.nbytes / best_time(functools.partial(add_one, x), repeat=5) / 1e9
    print(f"{platform}: {bandwidth[platform]:.1f} GB/s (read + write)")
cpuinfo = Path("/proc/cpuinfo")
cpu_name = next((line.split(":", 1)[1].strip() for line in
                 (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
                 if line.startswith("model name")), "unknown")
print(f"CPU: {cpu_name}; devices: {[d.device_kind for d in devices.values()]}")
answers["7.2"] = {"bandwidth_gb_per_s": bandwidth, "cpu_name": cpu_name}

# %% [markdown]
# <details><summary>Answer</summary>
#
# The bus width is a property of the hardware, not something a program measures: a bandwidth
# is width times transfer rate, so with the measured bandwidth and the memory's transfer rate
# one can infer the width. A DDR4/DDR5 channel is 64 bits wide (DDR5 splits it into two
# 32-bit subchannels); a server CPU has 6-12 channels, so 384-768 bits, giving
# $8 \times 4800\,\text{MT/s} \times 8$ bytes $\approx 300$ GB/s on a whole socket. This
# machine is a virtual one with 2 cores (name above): it shows neither its channels nor its
# DIMMs (`dmidecode` would need the real hardware), and what this process draws through its
# two cores is the printed figure, far below a socket's. GPUs have much wider buses: HBM
# stacks are 1024 bits each, so an H100 with five stacks has a 5120-bit bus (about 3 TB/s), a
# consumer card with GDDR6 has 128-384 bits. On a GPU, `nvidia-smi -q` or the vendor's
# specification gives the width; the cell above, run there, measures its bandwidth.
#
# </details>

# %% [markdown]
# ### Exercise 8 — try other activation functions
# ReLU (exercise 1's width-256 runs), tanh and sigmoid in the hidden layer of the book's
# network, `functools.partial(mlp.apply, activation=...)` as the model, the same seeds.

# %%
activation_runs = {"ReLU": shallow,
                   **{name: train_stack(init_stack(256), name) for name in ("tanh", "sigmoid")}}
last_gain = {}
for name, result in activation_runs.items():
    mean_curve = np.asarray(result.history["val_acc"]).mean(axis=0)
    last_gain[name] = float(mean_curve[-1] - mean_curve[-2])
    print(f"{name:8s} val acc {describe(final_acc(result))}; mean gain in the last epoch "
          f"{last_gain[name]:+.4f}")
best_activation = max(activation_runs, key=lambda n: final_acc(activation_runs[n]).mean())
tied_activations = [n for n in activation_runs if inside_noise(
    final_acc(activation_runs[n]), final_acc(activation_runs[best_activation]))]
print(f"best mean: {best_activation}; inside the noise of it: {tied_activations}")

# %%
fig, ax = plt.subplots(figsize=(4.5, 3))
epoch_axis = np.arange(1, epochs + 1)
for k, (name, result) in enumerate(activation_runs.items()):
    acc = np.asarray(result.history["val_acc"])
    ax.plot(epoch_axis, acc.mean(0), "o-", color=f"C{k}", label=name)
    ax.fill_between(epoch_axis, acc.min(0), acc.max(0), color=f"C{k}", alpha=0.2)
ax.set(xlabel="epoch", ylabel="val accuracy", title=f"mean and range of {num_seeds} seeds")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
ax.grid(True, alpha=0.3)
run.show(fig, "activations.png")
answers["8"] = {"val_acc": {n: final_acc(r) for n, r in activation_runs.items()},
                "last_epoch_gain": last_gain,
                "best": best_activation, "inside_noise_of_best": tied_activations}

# %% [markdown]
# <details><summary>Answer</summary>
#
# With the book's settings ReLU and tanh end close together, inside each other's noise (the
# printed list), and sigmoid is behind, outside it. Sigmoid starts handicapped twice over: with
# small initial weights every hidden unit outputs about $\sigma(0) = 0.5$ whatever the image,
# so the hidden layer starts out nearly constant, and its slope there is $\sigma'(0) = 1/4$,
# so the gradient reaching $W_1$ is four times smaller than through tanh, whose slope at 0 is 1.
# It learns, only more slowly: in the full run its mean accuracy still rises in the last epoch
# while the others' have levelled off (the printed gains).
# So "which works best" has no single answer here: ReLU or tanh, by less than the seed noise
# between them.
#
# </details>

# %% [markdown]
# ### Exercise 9 — does the weight initialisation matter?
# The book's network (256 ReLU units) from four starts, with the same seeds: all weights zero;
# the book's $N(0, 0.01^2)$ (exercise 1's runs); Xavier's scale, $N(0, 2/(n_\text{in} +
# n_\text{out}))$ per layer (Glorot and Bengio, 2010: 0.044 for $W_1$, 0.087 for $W_2$); and
# $N(0, 1)$.

# %%
def xavier(params):
    """Each weight matrix (..., n_in, n_out) of N(0, 1) draws scaled to std sqrt(2 / (n_in +
    n_out)); biases unchanged."""
    return {name: np.asarray(a) * np.sqrt(2 / (a.shape[-2] + a.shape[-1]))
            if name.startswith("W") else a for name, a in params.items()}


init_runs = {"zeros": train_stack(init_stack(256, sigma=0.0)),
             "N(0, 0.01²)": shallow,
             "Xavier": train_stack(xavier(init_stack(256, sigma=1.0))),
             "N(0, 1)": train_stack(init_stack(256, sigma=1.0))}
book_acc = final_acc(shallow)
for name, result in init_runs.items():
    tied = inside_noise(final_acc(result), book_acc)
    print(f"{name:12s} val acc {describe(final_acc(result))}, "
          f"{'inside' if tied else 'outside'} the noise of the book's; train loss after "
          f"epoch 1 {np.asarray(result.history['train_loss'])[:, 0].mean():.3g}")


# %% [markdown]
# Zero weights make every hidden unit the same function of the image. Below, after training:
# the largest difference between two hidden units' incoming weights (columns of $W_1$),
# against the largest weight, for the ReLU network started from zeros, for the same network
# with sigmoid units started from zeros, and for the book's random start.

# %%
def unit_spread(W1) -> tuple[float, float]:
    """For stacked W1 (models, n_in, units): the largest |W1[:, :, j] - W1[:, :, 0]| and the
    largest |W1|."""
    W1 = np.asarray(W1)
    return float(np.abs(W1 - W1[:, :, :1]).max()), float(np.abs(W1).max())


symmetric = train_stack(init_stack(256, sigma=0.0), "sigmoid")
checks = {"ReLU, zeros": init_runs["zeros"].params["W1"],
          "sigmoid, zeros": symmetric.params["W1"],
          "ReLU, N(0, 0.01²)": shallow.params["W1"]}
spreads = {name: unit_spread(W1) for name, W1 in checks.items()}
for name, (spread, size) in spreads.items():
    print(f"{name:18s}: units differ by at most {spread:.3g}; largest weight {size:.3g}")
print(f"sigmoid from zeros: val acc {describe(final_acc(symmetric))}")
answers["9"] = {"val_acc": {n: final_acc(r) for n, r in init_runs.items()},
                "train_loss_epoch1": {n: np.asarray(r.history["train_loss"])[:, 0].mean()
                                      for n, r in init_runs.items()},
                "unit_spread": {n: s for n, (s, _) in spreads.items()},
                "largest_weight": {n: w for n, (_, w) in spreads.items()},
                "sigmoid_zeros_val_acc": final_acc(symmetric),
                "inside_noise_of_book": {n: inside_noise(final_acc(r), book_acc)
                                         for n, r in init_runs.items()},
                "zeros_relu_W2_max": float(np.abs(np.asarray(init_runs["zeros"]
                                                             .params["W2"])).max())}

# %% [markdown]
# <details><summary>Answer</summary>
#
# It matters a great deal. **Zeros** never learn. Identical units receive identical gradients,
# so nothing can make them differ. With ReLU it is worse: every hidden input is 0, where
# ReLU's slope is 0, so no gradient reaches $W_1$, and none reaches $W_2$ either (its gradient
# is multiplied by the hidden values, all 0): every weight stays exactly 0 (the printed
# largest weight), only the output bias learns, and the network gives every image the same
# class, accuracy 0.1. With sigmoid the units output 0.5 and do move, but they stay exact
# copies of each other (difference 0, against weights of the printed size), so 256 units act
# as one, and the accuracy is of the order of exercise 3's single unit, not of a 256-unit
# network. Any random
# start breaks that symmetry (the last line: the units differ by as much as the weights
# themselves). **The scale** of a random start matters next. $N(0, 1)$ makes the hidden values
# and logits huge (the 784 inputs add up), so its first epoch's mean loss is several times the
# others'. Xavier's scale, which keeps the variance of the signal about the same from layer to
# layer, starts faster than the book's 0.01 (a lower first-epoch loss). Later the differences
# shrink: the printed verdicts say which starts are still outside the seed noise of the book's
# after the last epoch.
#
# </details>

# %%
run.save_metrics({"answers": answers,
                  "settings": {"epochs": epochs, "num_seeds": num_seeds,
                               "batch_size": batch_size, "num_train": len(train_data[1]),
                               "num_val": len(val_data[1])}})
