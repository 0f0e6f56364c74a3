# %% [markdown]
# # 4.4 Exercises: Softmax Regression Implementation from Scratch
#
# The exercises at the end of d2l section 4.4, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# The section's own notebook (4.4) trains the model; here the softmax and the cross-entropy are
# pushed to their limits, and the learning rate and the minibatch size are varied on
# FashionMNIST through the same compiled `fit` (several seeds at once with `fit_many`).

# %% tags=["parameters"]
quick = False  # smoke run: 6,000 / 2,000 images, 2 epochs, 2 seeds, 3 batch sizes, less timing
seed = 0  # PRNG seed: initial weights, minibatch orders, random logits
out_dir = "results/4.4-exercises"  # where the figures and metrics.json go

# %%
import inspect
import re
from functools import partial

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from jaxhw import notebook, sweep, train
from jaxhw.data import fashion_mnist
from jaxhw.models import softmax_regression
from jaxhw.nn.losses import book_cross_entropy, cross_entropy
from jaxhw.nn.softmax import book_softmax, log_softmax, softmax
from jaxhw.vectorization import best_time

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
key_init, key_fit = jax.random.split(jax.random.key(run.seed))  # weights; minibatch orders
rng = np.random.default_rng(run.seed)  # random logits and features: nothing to compile


# %% [markdown]
# ## The softmax at extreme inputs (exercise 1)
# The section's `softmax` is `exp(X) / exp(X).sum(1)`, in `jaxhw.nn.softmax.book_softmax`.
# Its results are compared with the exact softmax, computed in float64 by numpy after
# subtracting the row's maximum (float64 has room for every exponent used here).

# %%
def exact_softmax(X) -> np.ndarray:
    """The softmax of each row of X (n, q) in float64, shifted by the row maximum."""
    X = np.asarray(X, np.float64)
    e = np.exp(X - X.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# %% [markdown]
# ### Exercise 1.1 — does the softmax still work when an input is 100?

# %%
book_and_exp = jax.jit(lambda X: (book_softmax(X), jnp.exp(X)))  # one compiled call for 1.1, 1.2
X_large = jnp.array([[1.0, 0.0, -1.0], [100.0, 1.0, 0.0], [88.0, 87.0, 86.0]])
X_small = jnp.array([[-101.0, -102.0, -103.0], [-110.0, -111.0, -112.0]])
book_rows, exp_rows = jax.device_get(book_and_exp(jnp.concatenate([X_large, X_small])))
book_large, book_small = book_rows[:3], book_rows[3:]
float32_max_exponent = float(np.log(np.finfo(np.float32).max))
print(f"exp(x) overflows float32 for x > {float32_max_exponent:.2f}; exp(100) = "
      f"{exp_rows[1, 0]}")
print("book's softmax:\n", book_large)
print("exact:\n", exact_softmax(X_large).round(4))
answers["1.1"] = {
    "exp_overflow_above": float32_max_exponent,
    "book_softmax_1_0_-1": book_large[0],
    "book_softmax_100_1_0": book_large[1],
    "book_softmax_88_87_86": book_large[2],
    "exact_100_1_0": exact_softmax(X_large)[1],
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# No. float32 holds numbers up to about $3.4 \times 10^{38}$, so $\exp(x)$ is `inf` for
# $x > 88.72$: with an input of 100 the numerator and the row sum are both `inf`, and
# `inf / inf` is `nan` (the other entries are finite over `inf`, 0). The exact answer is
# $[1, e^{-99}, e^{-100}]$. The first row shows the function is fine on ordinary inputs.
# The third row, $[88, 87, 86]$, has no `inf` anywhere, yet its printed result is wrong in this
# run: each exponential is finite and so is their sum ($2.5 \times 10^{38}$), but XLA divides
# by multiplying with the reciprocal, $1/(2.5 \times 10^{38}) = 4 \times 10^{-39}$, which is
# below float32's smallest normal number and is flushed to 0 on this CPU. Where a machine keeps
# such subnormal numbers, that row comes out right; the failure at 100 happens everywhere.
#
# </details>

# %% [markdown]
# ### Exercise 1.2 — does it still work when the largest input is below −100?

# %%
print(f"exp(-101) = {exp_rows[3, 0]}, exp(-110) = {exp_rows[4, 0]} in float32 "
      f"(smallest normal {np.finfo(np.float32).tiny:.2e}, smallest subnormal "
      f"{np.finfo(np.float32).smallest_subnormal:.2e})")
print("book's softmax:\n", book_small)
print("exact:\n", exact_softmax(X_small).round(4))
answers["1.2"] = {
    "book_softmax_-101": book_small[0],
    "book_softmax_-110": book_small[1],
    "exact": exact_softmax(X_small)[0],
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# No. Every $\exp(x)$ underflows: $e^{-110} \approx 1.7 \times 10^{-48}$ is below even the
# smallest subnormal float32 ($1.4 \times 10^{-45}$), so it is 0 on every machine, the row sum
# is 0 and each entry is `0 / 0 = nan`. The row at −101 is `nan` too in this run: $e^{-101}$
# would be a subnormal number, which this CPU flushes to 0 (on a machine that keeps subnormals
# it would come out with only a few correct bits). The exact answer does not depend on the
# shift: both rows are softmax([0, −1, −2]) = [0.665, 0.245, 0.090].
#
# </details>

# %% [markdown]
# ### Exercise 1.3 — a fix: compute relative to the largest entry
# Since $\mathrm{softmax}(\mathbf{x}) = \mathrm{softmax}(\mathbf{x} - c)$ for any constant $c$,
# subtract each row's maximum first:

# %%
def stable_softmax(X: jax.Array) -> jax.Array:
    """Softmax of each row of X (n, q), computed from X minus the row maximum: exponents <= 0."""
    X_exp = jnp.exp(X - X.max(axis=1, keepdims=True))
    return X_exp / X_exp.sum(axis=1, keepdims=True)


# %% [markdown]
# The library's `jaxhw.nn.softmax.softmax` does the same through the log-softmax (which the
# loss of exercise 2.4 needs):

# %%
print(inspect.getsource(log_softmax))
print(inspect.getsource(softmax))

# %% [markdown]
# Both on the rows above, and then on the row $[c, c - 1, c - 2]$ for $c$ from −120 to 100:
# the exact softmax is the same for every $c$.

# %%
three_softmaxes = jax.jit(lambda X: {"book": book_softmax(X), "fix": stable_softmax(X),
                                     "library": softmax(X)})
shifts = np.arange(-120.0, 100.5, 0.5, dtype=np.float32)
rows = np.concatenate([shifts[:, None] - np.arange(3, dtype=np.float32), X_large, X_small])
results = jax.device_get(three_softmaxes(jnp.asarray(rows)))
print("fix on the rows of 1.1 and 1.2:\n", results["fix"][len(shifts):])
exact = exact_softmax(rows[:len(shifts)])
error = {name: np.abs(results[name][:len(shifts)].astype(np.float64) - exact).max(axis=1)
         for name in ("book", "fix", "library")}
book_ok = shifts[np.nan_to_num(error["book"], nan=1.0) < 1e-6]
print(f"book's softmax within 1e-6 of exact for c in [{book_ok.min()}, {book_ok.max()}]; "
      f"largest error of the fix {error['fix'].max():.1e}, "
      f"of the library {error['library'].max():.1e}")
answers["1.3"] = {
    "fix_max_abs_error": float(error["fix"].max()),
    "library_max_abs_error": float(error["library"].max()),
    "book_ok_from": float(book_ok.min()),
    "book_ok_to": float(book_ok.max()),
    "fix_nan_count": int(np.isnan(error["fix"]).sum()),
}

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(shifts, results["fix"][:len(shifts), 0], lw=3, alpha=0.5, label="fix (max subtracted)")
ax.plot(shifts, results["book"][:len(shifts), 0], "k.", ms=2, label="book's softmax")
ax.axhline(exact[0, 0], color="C2", ls=":", label="exact, 0.665")
ax.axvspan(shifts[0], shifts[-1], color="C3", alpha=0.08)
ax.axvspan(book_ok.min(), book_ok.max(), color="white")
ax.set(xlabel="c (row [c, c-1, c-2])", ylabel="first softmax entry", ylim=(-0.05, 0.8),
       title="book's softmax: wrong (nan, 0 or off) in the shaded range")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
run.show(fig, "softmax_range.png")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Subtracting the row maximum $m$ leaves the result unchanged, because the factor $e^{-m}$
# cancels between numerator and denominator, and makes every exponent $\le 0$: the largest term
# is exactly $e^0 = 1$, so the sum lies in $[1, q]$ and neither overflows nor becomes 0. The
# printed errors show the fix (and the library's softmax) exact to float32 rounding on the whole
# range, while the book's version is right only between the printed bounds (the white band;
# outside it, shaded, it gives `nan`, zeros, or, where only the smallest entry was flushed to
# 0, a wrong distribution). Small entries can still underflow to 0 (e.g. $e^{-200}$), which is
# the correct float32 probability, but their logarithm is then $-\infty$: that is why a loss
# should take the log-softmax of the logits (exercise 2.4) and not the log of these
# probabilities.
#
# </details>

# %% [markdown]
# ## The training runs that exercises 2, 3 and 5 share
# FashionMNIST (training images, and the test images as validation, as in the section), and
# softmax regression trained as in the section (SGD, batches of 256, the same epochs) at 8
# learning rates and several seeds, each seed its own initial weights and minibatch order: all
# models in one compiled call of `fit_many`, each model's rate kept in its optimizer state by
# `optax.inject_hyperparams`. The model at the section's rate 0.1 is exercise 2.1's reference
# and exercise 3's classifier; exercise 5 reads the whole grid.

# %%
train_data, val_data = fashion_mnist.load_splits(*((6000, 2000) if run.quick else (None, None)))
epochs = 2 if run.quick else 10
num_seeds = 2 if run.quick else 3
num_classes = 10
apply = softmax_regression.apply
fused_loss = train.supervised_loss(apply, cross_entropy)
metrics_fn = train.classification_metrics(apply)
learning_rates = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
seed_params = [softmax_regression.init(jax.random.fold_in(key_init, s), 784, num_classes, 0.01)
               for s in range(num_seeds)]
seed_params = jax.tree.map(lambda *a: jnp.stack(a), *seed_params)  # (seeds, ...)
seed_keys = jax.random.split(key_fit, num_seeds)
model_seed = np.tile(np.arange(num_seeds), len(learning_rates))  # models ordered by rate
grid_params = jax.tree.map(lambda a: a[model_seed], seed_params)
print(f"train {train_data[0].shape}, val {val_data[0].shape}; {len(learning_rates)} rates x "
      f"{num_seeds} seeds, {epochs} epochs")
grid = sweep.fit_many(fused_loss, grid_params, optax.inject_hyperparams(optax.sgd)(0.1),
                      train_data, val_data, epochs=epochs, batch_size=256,
                      key=seed_keys[model_seed],
                      learning_rates=np.repeat(learning_rates, num_seeds),
                      metrics=metrics_fn, progress=False)
book_model = learning_rates.index(0.1) * num_seeds  # lr 0.1, seed 0
print(f"grid trained; lr 0.1, seed 0: val loss {grid.history['val_loss'][book_model, -1]:.4f}, "
      f"val acc {grid.history['val_acc'][book_model, -1]:.4f}")


# %% [markdown]
# ## Cross-entropy by its definition (exercise 2)
# The definition, $l(\mathbf{y}, \hat{\mathbf{y}}) = -\sum_i y_i \log \hat y_i$ with
# $\mathbf{y}$ the one-hot label. (The book's exercise writes it without the minus sign; the
# loss is the negative of that sum.) The section's `cross_entropy` instead picks
# $\hat y_{y}$ by indexing (`book_cross_entropy` here), and `jaxhw.nn.losses.cross_entropy`
# takes logits and the log-softmax, fused into one stable expression.

# %%
def definition_cross_entropy(y_hat: jax.Array, Y: jax.Array) -> jax.Array:
    """Mean over rows of -sum_i Y_i log y_hat_i; y_hat, Y: (n, q) probabilities (Y one-hot)."""
    return -(Y * jnp.log(y_hat)).sum(axis=1).mean()


# %% [markdown]
# ### Exercise 2.1 — try it out in the section's code
# The section's model outputs probabilities (`book_softmax` of X W + b), and its loss is
# computed from them; here the loss is the definition, with the labels one-hot encoded. It
# trains from the same initial weights on the same minibatches as the grid's model at lr 0.1,
# seed 0, which was trained with the fused loss on logits.

# %%
def definition_loss(params, batch):
    """The section's model (probabilities) and the definition's cross-entropy; a scalar."""
    X, y = batch
    y_hat = book_softmax(apply(params, X))
    return definition_cross_entropy(y_hat, jax.nn.one_hot(y, num_classes))


params0 = jax.tree.map(lambda a: a[0], seed_params)
first = (val_data[0][:256], val_data[1][:256])
losses_at_start = jax.device_get(jax.jit(lambda p, batch: {
    "definition": definition_loss(p, batch),
    "book (indexing)": book_cross_entropy(book_softmax(apply(p, batch[0])), batch[1]),
    "fused (logits)": fused_loss(p, batch)})(params0, first))
losses_at_start = {k: float(v) for k, v in losses_at_start.items()}
print("the three losses on the first 256 validation images at the initial weights:")
for name, value in losses_at_start.items():
    print(f"  {name:16s} {value:.6f}")

# %%
definition_fit = train.fit(definition_loss, params0, optax.sgd(0.1), train_data, val_data,
                           epochs=epochs, batch_size=256, key=seed_keys[0],
                           metrics=metrics_fn, progress=False)
curves = {"definition": definition_fit.history,
          "fused": {k: grid.history[k][book_model] for k in ("val_loss", "val_acc")}}
for name, h in curves.items():
    print(f"{name:10s} val loss per epoch {np.round(h['val_loss'], 4)}, last val acc "
          f"{h['val_acc'][-1]:.4f}")
answers["2.1"] = {
    "loss_at_start": losses_at_start,
    "max_gap_at_start": max(losses_at_start.values()) - min(losses_at_start.values()),
    "val_loss": {k: h["val_loss"][-1] for k, h in curves.items()},
    "val_acc": {k: h["val_acc"][-1] for k, h in curves.items()},
    "max_val_loss_gap": float(np.max(np.abs(curves["definition"]["val_loss"]
                                            - curves["fused"]["val_loss"]))),
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# On the same batch the three forms give the same loss up to float32 rounding (the first print),
# and trained from the same start on the same batches the definition follows the fused loss
# epoch by epoch (the second print): on this model's moderate logits nothing overflows, and the
# gradient with respect to the logits is mathematically the same, $\hat{\mathbf{y}} -
# \mathbf{y}$. Where they differ it is float32 rounding, carried along by the training. So it
# works here; exercise 2.2 asks what it costs, exercise 2.4 where it breaks.
#
# </details>

# %% [markdown]
# ### Exercise 2.2 — why does it run more slowly?
# The loss and its gradient with respect to the logits, compiled, for 2,048 examples (512 in
# quick mode) and 1,000 classes, where the work per class shows: the fastest of 5 calls, and
# what XLA's cost analysis counts in the compiled program (`transcendentals`: exp and log
# evaluations; `bytes accessed`: memory traffic).

# %%
forms = {
    "definition": lambda o, y: definition_cross_entropy(book_softmax(o), jax.nn.one_hot(
        y, o.shape[1])),
    "book (indexing)": lambda o, y: book_cross_entropy(book_softmax(o), y),
    "fused (logits)": cross_entropy,
}
n, q = (512 if run.quick else 2048), 1000
logits = jnp.asarray(3 * rng.standard_normal((n, q)), jnp.float32)
y = jnp.asarray(rng.integers(0, q, n))
speed = {"shape": [n, q]}
for name, f in forms.items():
    step = jax.jit(jax.value_and_grad(f)).lower(logits, y).compile()
    cost = step.cost_analysis()
    speed[name] = {"ms": best_time(partial(step, logits, y), repeat=5, warmup=1) * 1e3,
                   "transcendentals": int(cost["transcendentals"]),
                   "bytes_accessed": int(cost["bytes accessed"])}
for name in forms:
    s = speed[name]
    print(f"{name:16s} {s['ms']:7.2f} ms ({s['ms'] / speed['fused (logits)']['ms']:4.2f}x fused)"
          f"  exp and log {s['transcendentals']:>9,}  bytes {s['bytes_accessed']:>11,}")
answers["2.2"] = speed

# %% [markdown]
# <details><summary>Answer</summary>
#
# The definition takes a logarithm of **every** probability, $q$ per example, and multiplies
# them with a one-hot matrix that is almost all zeros, where the section's loss picks one entry
# per example and takes $n$ logarithms. The cost analysis counts it: with 1,000 classes the
# definition evaluates about twice as many exp and log as either other form (the softmax's
# $nq$ exponentials plus $nq$ logarithms, against $nq$ plus $n$), and its backward pass
# divides by every $\hat y_i$ as well. It also materialises the $n \times q$ one-hot matrix. How
# much of that shows in time depends on the machine and on XLA fusing the elementwise work: the
# printed ratios are this run's. With the section's 10 classes the extra work is 10 logarithms
# per example, next to the $2 \times 784 \times 10 = 15{,}680$ floating-point operations of
# the model's forward product alone, so in the section's training it hardly matters.
#
# </details>

# %% [markdown]
# ### Exercise 2.3 — should you use it? When would it make sense?
#
# <details><summary>Answer</summary>
#
# Not for ordinary one-hot labels: it computes $q - 1$ logarithms only to multiply them by
# zero, and taking the log of probabilities (instead of the log-softmax of the logits) is the
# numerically fragile order (exercise 2.4). It makes sense when the label is a *distribution*
# rather than one class: label smoothing, soft targets from a teacher model (distillation),
# mixed-up examples, or annotators who disagree; then every $y_i$ is nonzero and the sum is the
# loss. Even then compute it from logits, $-\sum_i y_i \log \mathrm{softmax}(\mathbf{o})_i$
# with the log-softmax evaluated as one stable expression (what
# `optax.softmax_cross_entropy(logits, labels)` does), never as the log of $\hat y_i$.
#
# </details>

# %% [markdown]
# ### Exercise 2.4 — what to be careful of: the domain of the logarithm
# Logits whose softmax underflows in one entry: $[10, 0, -120]$. Its probabilities are
# $[0.99995, 4.5 \times 10^{-5}, 0]$ in float32 (the last is $e^{-130}$). The loss for label 0
# and for label 2, and the gradient for label 0, by each form, the probabilities coming from
# the section's softmax as in 2.1. The definition takes the labels as a distribution, passed in
# as data (as soft labels would be); one more row builds the one-hot matrix inside the compiled
# function instead, as 2.1's loss does.

# %%
@jax.jit
def cross_entropies(o: jax.Array, y: jax.Array, Y: jax.Array) -> dict[str, jax.Array]:
    """The cross-entropy of logits o (n, q) for labels y (n,), also given as rows Y (n, q), five
    ways (each a scalar), and the first row's probabilities."""
    p = book_softmax(o)
    return {"probabilities": p[0], "definition": definition_cross_entropy(p, Y),
            "definition, one-hot made inside": definition_cross_entropy(
                p, jax.nn.one_hot(y, o.shape[1])),
            "definition with xlogy": -jax.scipy.special.xlogy(Y, p).sum(1).mean(),
            "book (indexing)": book_cross_entropy(p, y),
            "fused (logits)": cross_entropy(o, y)}


# %%
o = jnp.array([[10.0, 0.0, -120.0]])
careful = {}
for label in (0, 2):
    y = jnp.array([label])
    losses = jax.device_get(cross_entropies(o, y, jax.nn.one_hot(y, 3)))
    careful["probabilities"] = losses.pop("probabilities")
    careful[f"label {label}"] = {k: float(v) for k, v in losses.items()}
careful["grad label 0"] = jax.jit(lambda o, y, Y: {
    name: jax.grad(lambda o, name=name: cross_entropies(o, y, Y)[name])(o)[0]
    for name in ("definition", "fused (logits)")})(o, jnp.array([0]), jnp.eye(3)[:1])
print("probabilities", careful["probabilities"])
for k in ("label 0", "label 2"):
    print(k + ":\n  " + "\n  ".join(f"{name:32s} {v}" for name, v in careful[k].items()))
print("gradient with respect to the logits, label 0:")
for name, grad in careful["grad label 0"].items():
    print(f"  {name:32s} {np.asarray(grad)}")
answers["2.4"] = careful

# %% [markdown]
# Why the one-hot matrix made inside differs: the operations that XLA's optimized program runs
# for the definition's product `Y * log(y_hat)` (found by their `mul` origin in its text).

# %%
def product_operations(one_hot_inside: bool) -> list[str]:
    """The XLA operations implementing the definition's `Y * log(y_hat)` for the 2.4 logits."""
    def loss(o, y, Y):
        return definition_cross_entropy(book_softmax(o), jax.nn.one_hot(y, 3) if one_hot_inside
                                        else Y)
    hlo = jax.jit(loss).lower(o, jnp.array([0]), jnp.eye(3)[:1]).compile().as_text()
    return sorted(set(re.findall(r'= \S+ (\w+)\([^\n]*op_name="[^"]*/mul"', hlo)))


product_ops = {"labels passed in": product_operations(False),
               "one-hot made inside": product_operations(True)}
print(product_ops)
answers["2.4"]["product_operations"] = product_ops

# %% [markdown]
# <details><summary>Answer</summary>
#
# $\log$ is defined only on $(0, \infty)$, and float32 probabilities reach 0 exactly once a logit is
# about 87 below the largest one (on this CPU, which flushes subnormal numbers to 0; 103 where they
# are kept). Then, as printed: with the true label on that entry $-\log 0 = \infty$ (every form that
# takes a log of the probabilities gives `inf`, where the exact loss is 130). With any other label
# the definition still computes $0 \cdot \log 0 = 0 \cdot (-\infty) = $ `nan`, so the whole
# minibatch's loss turns `nan` although that term should contribute nothing, and so does the
# gradient (the backward pass computes $0 / 0$). The row whose one-hot matrix is built inside the
# compiled function is finite: there XLA sees a product with a matrix of 0s and 1s and turns it into
# a selection (the `select` printed above, against a `multiply` for labels passed in), which never
# multiplies. A compiler rewrite is nothing to rely on: with labels passed in as data it cannot
# happen. `xlogy` (which defines $0 \log 0 = 0$) repairs the `nan` but not the `inf`; clipping
# $\hat y$ to $[\epsilon, 1]$ hides both but caps the loss and zeroes its gradient there. Even where
# the log is finite it loses digits: for label 0 the forms that take $-\log 0.99995$ and stay finite
# print $4.536 \times 10^{-5}$, where the exact loss is $4.542 \times 10^{-5}$ (float32 holds
# 0.99995 only to about $6 \times 10^{-8}$). The fused form on logits, $\log \sum_j e^{o_j} - o_y$
# computed with the max subtracted, has none of these problems: it is finite for any finite logits,
# accurate, and its gradient $\mathrm{softmax}(\mathbf{o}) - \mathbf{y}$ is bounded.
#
# </details>

# %% [markdown]
# ### Exercise 3 — is the most likely label always the right answer, e.g. in medical diagnosis?
# A demonstration with the grid's model at lr 0.1 (seed 0): how accurate its predictions are
# when it is sure of them, and how many it would have to leave to a person.

# %%
book_params = jax.tree.map(lambda a: a[book_model], grid.params)
val_probs = exact_softmax(jax.jit(apply)(book_params, val_data[0]))
confidence = val_probs.max(axis=1)
correct = val_probs.argmax(axis=1) == np.asarray(val_data[1])
selective = []
for threshold in (0.0, 0.5, 0.7, 0.9):
    keep = confidence >= threshold
    selective.append({"threshold": threshold, "coverage": float(keep.mean()),
                      "accuracy": float(correct[keep].mean())})
    print(f"answer only when max probability >= {threshold:.1f}: {keep.mean():6.1%} of the images, "
          f"accuracy {correct[keep].mean():.4f} on them")
answers["3"] = {"selective": selective}

# %% [markdown]
# <details><summary>Answer</summary>
#
# No. The argmax minimises the expected number of errors only when every error costs the same.
# In diagnosis a missed disease costs far more than a false alarm: with probabilities
# $p(\text{healthy}) = 0.8$, $p(\text{ill}) = 0.2$, a cost of 1 for treating a healthy person and
# 50 for sending an ill one home, treating costs $0.8 \cdot 1 = 0.8$ in expectation and not
# treating $0.2 \cdot 50 = 10$, so one should treat although "healthy" is the most likely
# label. In general choose the action $a$ minimising $\sum_y p(y \mid \mathbf{x})\,
# \mathrm{cost}(a, y)$ (the decision rule of 4.3's exercise). That needs probabilities one can
# trust, so calibrate them on held-out data (e.g. temperature scaling) and check them per
# subgroup of patients. And let the model abstain: the printed table shows that, on this
# classifier, the images it is confident about are classified more accurately than the rest,
# so low-confidence cases can go to a doctor, with the threshold set by the cost of an error
# against the cost of a review. Report the probabilities (or the few likeliest diagnoses), not
# one label.
#
# </details>

# %% [markdown]
# ### Exercise 4 — problems with a large vocabulary when predicting the next word
# A softmax regression from d features to V words has a d x V weight matrix, computes V
# logits and V exponentials per example, and its gradient touches every column. The costs for
# d = 512 and a minibatch of 256, counted; then one training step (loss and gradient) timed
# for d = 64 and growing V, and the number of columns of W whose gradient is nonzero.

# %%
d_model, n_batch = 512, 256
print(f"{'V':>10s} {'W (MB)':>9s} {'logits/batch (MB)':>18s} {'GFLOP/step':>11s}")
vocab_cost = []
for V in (10**3, 10**4, 10**5, 10**6):
    row = {"V": V, "W_MB": 4 * d_model * V / 1e6, "logits_MB": 4 * n_batch * V / 1e6,
           "GFLOP": 3 * 2 * n_batch * d_model * V / 1e9}  # forward, and backward twice that
    vocab_cost.append(row)
    print(f"{V:10,d} {row['W_MB']:9.0f} {row['logits_MB']:18.0f} {row['GFLOP']:11.1f}")

# %%
d_small = 64
vocab_sizes = (1000, 4000) if run.quick else (1000, 4000, 16000)
step = jax.jit(jax.grad(lambda p, X, y: cross_entropy(X @ p["W"] + p["b"], y)))
step_ms, nonzero_columns = [], []
for V in vocab_sizes:
    vocab_params = {"W": jnp.asarray(0.01 * rng.standard_normal((d_small, V)), jnp.float32),
                    "b": jnp.zeros(V)}
    features = jnp.asarray(rng.standard_normal((n_batch, d_small)), jnp.float32)
    words = rng.integers(0, V, n_batch)
    step_ms.append(best_time(partial(step, vocab_params, features, words), repeat=3,
                             warmup=1) * 1e3)
    grad_W = np.asarray(step(vocab_params, features, words)["W"])
    nonzero_columns.append(float((np.abs(grad_W).max(axis=0) > 0).mean()))
    print(f"V = {V:6,d}: {step_ms[-1]:7.2f} ms per step; {len(np.unique(words))} distinct words "
          f"in the batch, {nonzero_columns[-1]:.0%} of W's columns get a nonzero gradient")
answers["4"] = {"cost_d512_batch256": vocab_cost, "vocab_sizes": list(vocab_sizes),
                "step_ms": step_ms, "nonzero_column_fraction": nonzero_columns}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Everything in the output layer grows linearly with the vocabulary (the table): at a million
# words and 512 features its weights alone are 2 GB in float32 (twice that with their
# gradient, more with Adam's state), the logits of one minibatch of 256 are 1 GB, and one step
# through this layer alone costs nearly 0.8 TFLOP, whatever the rest of the model does. The
# timed steps grow with V as well (the printed milliseconds, noisy on a shared machine). The
# normalisation couples all words: every example's loss needs all V exponentials, so the
# gradient is dense and every column of W changes on every step (the printed 100 %), although
# a batch names at most 256 words. Word frequencies follow Zipf's law, so most words are rare:
# their columns see few real examples, their probabilities are tiny and poorly estimated, and
# many words appear in no training data at all. Remedies: subword vocabularies (BPE,
# WordPiece) to keep V in the tens of thousands, hierarchical softmax ($O(\log V)$ per word),
# sampled softmax or negative sampling (a few hundred words per step), adaptive softmax (small
# clusters for rare words), and weight tying with the input embedding.
#
# </details>

# %% [markdown]
# ## The hyperparameters (exercise 5)
# ### Exercise 5.1 — the validation loss against the learning rate
# The grid trained above: the last epoch's losses and accuracy at each rate, mean ± std over
# the seeds. The training loss is the mean of the last epoch's minibatch losses, as the
# section's board plots it; the validation loss is measured after the epoch.

# %%
def by_setting(history: dict, name: str, num: int) -> np.ndarray:
    """The last epoch's `name` of a stack of models, as (settings, seeds)."""
    return np.asarray(history[name])[:, -1].reshape(-1, num)


lr_val_loss = by_setting(grid.history, "val_loss", num_seeds)
lr_train_loss = by_setting(grid.history, "train_loss", num_seeds)
lr_val_acc = by_setting(grid.history, "val_acc", num_seeds)
for lr, vl, tl, va in zip(learning_rates, lr_val_loss, lr_train_loss, lr_val_acc, strict=True):
    print(f"lr {lr:6.3f}: val loss {vl.mean():8.4f} ± {vl.std():.4f}, train loss "
          f"{tl.mean():8.4f}, val acc {va.mean():.4f} ± {va.std():.4f}")
best_lr = learning_rates[int(np.argmin(lr_val_loss.mean(axis=1)))]
print(f"lowest mean validation loss at lr {best_lr} ({num_seeds} seeds, {epochs} epochs)")
answers["5.1"] = {"learning_rates": learning_rates, "seeds": num_seeds, "epochs": epochs,
                  "val_loss_mean": lr_val_loss.mean(1), "val_loss_std": lr_val_loss.std(1),
                  "train_loss_mean": lr_train_loss.mean(1), "val_acc_mean": lr_val_acc.mean(1),
                  "val_acc_std": lr_val_acc.std(1), "best_lr": best_lr}


# %%
def against(ax_loss, ax_acc, x, val_loss, train_loss, val_acc, xlabel):
    """Losses and accuracy (mean ± std over seeds, the columns) against x, on two axes."""
    ax_loss.errorbar(x, val_loss.mean(1), val_loss.std(1), fmt="o-", capsize=3, label="val loss")
    ax_loss.errorbar(x, train_loss.mean(1), train_loss.std(1), fmt="s--", capsize=3,
                     label="train loss (last epoch)")
    ax_loss.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="cross-entropy loss")
    ax_loss.legend(loc="upper center")
    ax_acc.errorbar(x, val_acc.mean(1), val_acc.std(1), fmt="o-", capsize=3, color="C2")
    ax_acc.set(xscale="log", xlabel=xlabel, ylabel="val accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)


fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
against(ax_loss, ax_acc, learning_rates, lr_val_loss, lr_train_loss, lr_val_acc, "learning rate")
fig.suptitle(f"softmax regression, batch 256, {epochs} epochs, mean ± std of {num_seeds} seeds")
fig.tight_layout()
run.show(fig, "learning_rate.png")

# %% [markdown]
# <details><summary>Answer</summary>
#
# The validation loss falls as the rate grows from 0.001, is lowest at the printed best rate,
# and rises again above it: too small a rate has not got far from the initial weights after
# these epochs (train and validation loss both high: underfitting by lack of steps), too large
# a rate overshoots, and the loss jumps between minibatches instead of settling. Up to the
# best rate the training loss stays close to the validation loss: a linear model on 60,000
# images hardly overfits, so the learning rate decides how well the optimisation goes, not
# the generalisation gap. Above it the final weights are one sample of a jumpy trajectory:
# the validation loss scatters between seeds (wide error bars) and need not match the
# training loss averaged over the epoch (compare the printed columns). The accuracy suffers
# far less than the loss there: large steps make the weights large and the predictions
# overconfident, and cross-entropy punishes confident mistakes heavily. Below the largest
# rates the seeds' spread is small next to the differences between rates.
#
# </details>

# %% [markdown]
# ### Exercise 5.2 — the validation and training loss against the minibatch size
# The same model at lr 0.1 for the same number of epochs, so a smaller batch takes more steps,
# from the same initial weights and seeds as the grid (whose lr 0.1 models are the batch size
# 256 here). Each other batch size is its own compiled `fit_many` (a batch size changes the
# shapes), with the seeds stacked. The smallest size, 1, is the extreme of the book's question;
# it fits the time budget even in the full run (60,000 steps per epoch in one compiled scan:
# the epoch times are printed).

# %%
batch_sizes = (1, 256, 2048) if run.quick else (1, 4, 16, 64, 256, 1024, 4096, 16384)
at_book_lr = slice(book_model, book_model + num_seeds)  # the grid's lr 0.1 models
plain_sgd = optax.sgd(0.1)
bs_runs = {}
for batch_size in batch_sizes:
    if batch_size == 256:
        bs_runs[batch_size] = {k: np.asarray(grid.history[k])[at_book_lr]
                               for k in ("val_loss", "train_loss", "val_acc")}
    else:
        bs_runs[batch_size] = sweep.fit_many(
            fused_loss, seed_params, plain_sgd,
            train_data, val_data, epochs=epochs, batch_size=batch_size,
            key=seed_keys, metrics=metrics_fn, progress=False).history
    h = bs_runs[batch_size]
    print(f"batch {batch_size:6d}: {-(-len(train_data[1]) // batch_size):6d} steps/epoch, "
          f"val loss {h['val_loss'][:, -1].mean():.4f} ± {h['val_loss'][:, -1].std():.4f}, "
          f"train loss {h['train_loss'][:, -1].mean():.4f}, val acc "
          f"{h['val_acc'][:, -1].mean():.4f}; " + (
              "from the grid" if batch_size == 256 else
              f"epoch {np.median(h['epoch_seconds'][1:]):.2f} s"))

# %%
bs_val_loss = np.stack([bs_runs[b]["val_loss"][:, -1] for b in batch_sizes])
bs_train_loss = np.stack([bs_runs[b]["train_loss"][:, -1] for b in batch_sizes])
bs_val_acc = np.stack([bs_runs[b]["val_acc"][:, -1] for b in batch_sizes])
best_batch = int(batch_sizes[int(np.argmin(bs_val_loss.mean(axis=1)))])
print(f"lowest mean validation loss at batch size {best_batch}")
answers["5.2"] = {
    "batch_sizes": list(batch_sizes), "seeds": num_seeds, "epochs": epochs,
    "val_loss_mean": bs_val_loss.mean(1), "val_loss_std": bs_val_loss.std(1),
    "train_loss_mean": bs_train_loss.mean(1), "val_acc_mean": bs_val_acc.mean(1),
    "val_acc_std": bs_val_acc.std(1), "best_batch_size": best_batch,
    "epoch_seconds": {b: float(np.median(bs_runs[b]["epoch_seconds"][1:]))
                      for b in batch_sizes if b != 256},
}

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
against(ax_loss, ax_acc, batch_sizes, bs_val_loss, bs_train_loss, bs_val_acc, "minibatch size")
for ax in (ax_loss, ax_acc):
    ax.set_xscale("log", base=2)
fig.suptitle(f"softmax regression, lr 0.1, {epochs} epochs, mean ± std of {num_seeds} seeds")
fig.tight_layout()
run.show(fig, "batch_size.png")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Yes, at both ends, with a flat middle around the section's 256, where neighbouring sizes
# differ by about the seeds' spread (the printed table says which sizes that is in this run).
# Large batches take few steps per epoch (a batch of 16,384 makes 4), so after the same epochs
# the model is undertrained: training and validation loss rise together, steadily, with
# hardly any spread between seeds, once a batch holds a thousand examples or more. Very small
# batches take many steps, but each gradient is noisy; at lr 0.1 the weights keep jumping
# around the minimum instead of settling. There the validation loss at the end rises steeply
# (batches of 1 and 4), scatters between seeds, and lies above the training loss averaged over
# the epoch, while the accuracy falls much less: the noisy steps leave large, overconfident
# weights, which cross-entropy punishes. So the batch size changes the optimisation here, not
# what a linear model can learn. Smaller batches would want a smaller rate and larger ones a
# larger rate (roughly in proportion), to keep the noise and the progress per epoch the same.
#
# </details>

# %%
run.save_metrics({"answers": answers,
                  "settings": {"epochs": epochs, "num_train": len(train_data[1]),
                               "num_val": len(val_data[1]), "seeds": num_seeds}})
