# %% [markdown]
# # 4.3 Exercises: The Base Classification Model
#
# The exercises at the end of d2l section 4.3, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# The book's `Classifier` averages the validation loss over minibatches, each batch counting
# once, "not exactly correct if the final batch contains fewer examples". FashionMNIST's
# validation set of 10,000 images in batches of 256 is such a case: 39 batches of 256 and a
# last one of 16. The checks below use softmax regression (4.4's model) trained through `fit`.

# %% tags=["parameters"]
quick = False  # smoke run: 10,000 training images (not 60,000), 500 resamples (not 4,000)
seed = 0  # PRNG seed of the initial weights, the batch order and the resampling
out_dir = "results/4.3-exercises"  # where the figure and metrics.json go

# %%
import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

from jaxhw import notebook, train
from jaxhw.data import fashion_mnist
from jaxhw.models import softmax_regression
from jaxhw.nn.losses import cross_entropy
from jaxhw.nn.softmax import softmax

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
rng = np.random.default_rng(run.seed)  # the resampled validation sets of Exercise 2
num_resamples = 500 if run.quick else 4000

# %% [markdown]
# The model: softmax regression, learning rate 0.1, batch size 256, trained on FashionMNIST
# for 5 epochs (in quick mode on a class-balanced 10,000 of the training images). The
# validation set is always the full test split, in its files' order, as the book's validation
# loader reads it (no shuffling).

# %%
(train_X, train_y), (val_X, val_y) = fashion_mnist.load_splits(
    10000 if run.quick else None, None)
epochs = 5
loss = train.supervised_loss(softmax_regression.apply, cross_entropy)
metrics = train.classification_metrics(softmax_regression.apply)
key_init, key_fit = jax.random.split(jax.random.key(run.seed))
result = train.fit(loss, softmax_regression.init(key_init), optax.sgd(0.1), (train_X, train_y),
                   (val_X, val_y), epochs=epochs, batch_size=256, key=key_fit,
                   metrics=metrics, progress=False)
params = result.params
print(f"{len(train_y)} training images, {epochs} epoch(s): validation loss "
      f"{result.history['val_loss'][-1]:.4f}, accuracy {result.history['val_acc'][-1]:.4f}")

# %% [markdown]
# ### Exercise 1 — the exact validation loss from the quick estimate and the last batch's loss
#
# $L_\textrm{v}$ is the validation loss (the mean over all $N$ examples),
# $L_\textrm{v}^\textrm{q}$ the book's quick estimate (the mean of the minibatch means), and
# $l_\textrm{v}^\textrm{b}$ the loss of the last minibatch. Express $L_\textrm{v}$ through
# them and the sizes.

# %% [markdown]
# <details><summary>Answer</summary>
#
# Say there are $B$ minibatches: $B - 1$ full ones of $m$ examples and a last one of
# $m' = N - (B - 1)m$ examples, with sizes $n_b$ and minibatch means $l_1, \ldots, l_B$
# (so $l_B = l_\textrm{v}^\textrm{b}$). The validation loss weights each minibatch mean by its
# size:
#
# $$L_\textrm{v} = \frac{1}{N} \sum_{b=1}^{B} n_b l_b$$
#
# $$= \frac{1}{N}\Big(m \sum_{b=1}^{B-1} l_b + m' l_\textrm{v}^\textrm{b}\Big),$$
#
# and the quick estimate gives the sum of the full batches' means,
# $\sum_{b=1}^{B-1} l_b = B L_\textrm{v}^\textrm{q} - l_\textrm{v}^\textrm{b}$. So
#
# $$L_\textrm{v} = \frac{m B L_\textrm{v}^\textrm{q} - (m - m')\, l_\textrm{v}^\textrm{b}}{N} .$$
#
# Using $N = mB - (m - m')$, the error of the quick estimate,
# $L_\textrm{v}^\textrm{q} - L_\textrm{v}$, is
#
# $$\frac{m - m'}{N}\big(l_\textrm{v}^\textrm{b} - L_\textrm{v}^\textrm{q}\big) :$$
#
# zero when the batches are all equal ($m' = m$), otherwise the last batch's deviation from
# the average, scaled by how much weight it was given too much. Here $N = 10000$, $m = 256$,
# $B = 40$, $m' = 16$: the last 16 examples count as much as any 256, and the factor is
# $240 / 10000 = 0.024$. The check computes the 40 minibatch losses in order and compares the
# formula with `train.evaluate`, which weights by batch size, at batch size 256, and with the
# validation loss `fit` reported (batches of 2,000, which divide 10,000).
#
# </details>

# %%
m, N = 256, len(val_y)
loss_and_acc = jax.jit(lambda params, batch: (loss(params, batch), metrics(params, batch)))
per_batch = [loss_and_acc(params, (val_X[s:s + m], val_y[s:s + m])) for s in range(0, N, m)]
minibatch_losses = np.array([value for value, _ in per_batch])  # in order, as the book's loader
minibatch_accs = np.array([acc["acc"] for _, acc in per_batch])
B, m_last = len(minibatch_losses), N - (len(minibatch_losses) - 1) * m
quick_loss, last_loss = float(minibatch_losses.mean()), float(minibatch_losses[-1])
formula = (m * B * quick_loss - (m - m_last) * last_loss) / N
by_evaluate = train.evaluate(loss, params, (val_X, val_y), batch_size=m, metrics=metrics)
quick_acc = float(minibatch_accs.mean())
print(f"B = {B} minibatches, the last of m' = {m_last} examples")
print(f"quick estimate L_q (mean of minibatch means)   {quick_loss:.6f}")
print(f"last minibatch's loss l_b                      {last_loss:.6f}")
print(f"formula (m B L_q - (m - m') l_b) / N           {formula:.6f}")
print(f"train.evaluate, batch size 256                 {by_evaluate['loss']:.6f}")
print(f"fit's last validation loss (batches of 2000)   {result.history['val_loss'][-1]:.6f}")
print(f"error of the quick estimate L_q - L_v          {quick_loss - by_evaluate['loss']:+.6f}; "
      f"predicted (m - m') / N (l_b - L_q) = {(m - m_last) / N * (last_loss - quick_loss):+.6f}")
print(f"accuracy: quick {quick_acc:.6f}, exact {by_evaluate['acc']:.6f}")
answers["1"] = {"N": N, "m": m, "B": B, "m_last": m_last, "quick_loss": quick_loss,
                "last_batch_loss": last_loss, "formula": formula,
                "evaluate_256": by_evaluate["loss"],
                "fit_val_loss": float(result.history["val_loss"][-1]),
                "quick_acc": quick_acc, "exact_acc": by_evaluate["acc"],
                "last_batch_acc": float(minibatch_accs[-1])}

# %% [markdown]
# The formula gives `train.evaluate`'s value up to float32 rounding, and the quick estimate
# is off by exactly the predicted amount: in this run the 16 images of the last batch have a
# loss (and accuracy) different from the average, and the quick estimate gives them 16 times
# their share. `fit` reports the exact value: its validation pass weights by batch size.

# %% [markdown]
# ### Exercise 2 — the quick estimate is unbiased; why use the exact one anyway?

# %% [markdown]
# <details><summary>Answer</summary>
#
# Take the validation examples as drawn independently from the data distribution, so their
# losses are independent with mean $R$ (the expected loss) and variance $\sigma^2$; the
# partition into minibatches is fixed beforehand. Each minibatch mean averages $n_b$ of them,
# so $\mathbb{E}[l_b] = R$ whatever its size, and
#
# $$\mathbb{E}[L_\textrm{v}^\textrm{q}] = \frac{1}{B} \sum_b \mathbb{E}[l_b] = R ,$$
#
# $$\mathbb{E}[L_\textrm{v}] = \frac{1}{N} \sum_b n_b \mathbb{E}[l_b] = R .$$
#
# Both are unbiased, but they do not have the same variance:
#
# $$\mathrm{Var}[L_\textrm{v}] = \frac{\sigma^2}{N} ,$$
#
# $$\mathrm{Var}[L_\textrm{v}^\textrm{q}] = \frac{1}{B^2} \sum_b \frac{\sigma^2}{n_b} ,$$
#
# which is at least $\sigma^2 / N$ by the inequality between the arithmetic and the harmonic mean
# ($\sum_b 1/n_b \ge B^2 / \sum_b n_b$), with equality only when all $n_b$ are equal. Among
# all weightings of the examples that are unbiased, the equal weights $1/N$ of $L_\textrm{v}$
# have the smallest variance; the quick estimate lets the 16 examples of the small batch
# swing it 16 times as much as the others. Here the variance ratio is
#
# $$\frac{N}{B^2} \sum_b \frac{1}{n_b} = \frac{10000}{1600}\Big(\frac{39}{256}+\frac{1}{16}\Big),$$
#
# about 1.34.
#
# Reasons to use $L_\textrm{v}$ anyway: it is more precise (above); it is *the* loss on this
# validation set, the number we compare models by, while $L_\textrm{v}^\textrm{q}$ changes with
# the batch size, an implementation detail; and with the validation set read in a fixed order,
# the same 16 examples are in the small batch at every epoch, so for this validation set its
# error (Exercise 1) is the same systematic offset every time; unbiasedness only says it
# averages out over other validation sets we do not have. It also costs nothing: weight each
# batch by its size, as `train.measure` does.
#
# </details>

# %% [markdown]
# The check: the validation set's per-example losses stand in for the data distribution.
# Draw validation sets of 10,000 from them with replacement, many times, and compute both
# estimates on each (in the drawn order, batches of 256): their means should both be the
# distribution's mean $R$ (within their standard errors), and their variances should stand in
# the ratio 1.34.

# %%
@jax.jit
def per_example(params, X, y):
    """Each example's loss (n,) and the model's probabilities (n, 10)."""
    losses = jax.vmap(lambda x, t: loss(params, (x[None], t[None])))(X, y)
    return losses, softmax(softmax_regression.apply(params, X))


example_losses, probs = map(np.asarray, per_example(params, val_X, val_y))
R = float(example_losses.mean(dtype=np.float64))
sizes = np.array([m] * (B - 1) + [m_last])
exact_estimates, quick_estimates = [], []
for chunk in np.array_split(np.arange(num_resamples), max(1, num_resamples // 500)):
    drawn = example_losses[rng.integers(0, N, (len(chunk), N))].astype(np.float64)
    exact_estimates.append(drawn.mean(axis=1))
    batch_means = np.add.reduceat(drawn, np.arange(0, N, m), axis=1) / sizes
    quick_estimates.append(batch_means.mean(axis=1))
exact_estimates = np.concatenate(exact_estimates)
quick_estimates = np.concatenate(quick_estimates)
predicted_ratio = N / B**2 * np.sum(1 / sizes)
variance_ratio = float(quick_estimates.var() / exact_estimates.var())
print(f"R = mean of the {N} per-example losses = {R:.5f} (train.evaluate: "
      f"{by_evaluate['loss']:.5f})")
for name, est in (("L_v", exact_estimates), ("L_q", quick_estimates)):
    print(f"{name} over {num_resamples} validation sets: mean {est.mean():.5f} "
          f"(mean - R = {est.mean() - R:+.5f}, standard error "
          f"{est.std() / np.sqrt(len(est)):.5f}), standard deviation {est.std():.5f}")
print(f"variance ratio Var[L_q] / Var[L_v] = {variance_ratio:.3f}; predicted "
      f"{predicted_ratio:.3f}")
fig, ax = plt.subplots(figsize=(4.5, 3))
bins = np.linspace(min(quick_estimates.min(), exact_estimates.min()),
                   max(quick_estimates.max(), exact_estimates.max()), 40)
ax.hist(exact_estimates, bins, alpha=0.6, label="exact L_v")
ax.hist(quick_estimates, bins, histtype="step", linewidth=1.5, label="quick L_q")
ax.axvline(R, color="k", linestyle=":", label="R")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
ax.set(title=f"{num_resamples} resampled validation sets", xlabel="validation loss estimate",
       ylabel="validation sets")
run.show(fig, "estimates.png")
answers["2"] = {"R": R, "num_resamples": num_resamples,
                "exact_mean": float(exact_estimates.mean()),
                "quick_mean": float(quick_estimates.mean()),
                "exact_std": float(exact_estimates.std()),
                "quick_std": float(quick_estimates.std()),
                "variance_ratio": variance_ratio, "predicted_variance_ratio": predicted_ratio}

# %% [markdown]
# Both means land within a few standard errors of $R$ and the quick estimate is the wider of
# the two, by the printed variance ratio, near the predicted one.

# %% [markdown]
# ### Exercise 3 — the optimal prediction for a loss l(y, y′) and a probability p(y | x)

# %% [markdown]
# <details><summary>Answer</summary>
#
# Predicting $y'$ when the label is $y$ costs $l(y, y')$. We do not know $y$, only
# $p(y \mid x)$, so the expected cost of predicting $y'$ is
#
# $$r(y' \mid x) = \sum_y l(y, y')\, p(y \mid x),$$
#
# and the optimal (Bayes) decision minimises it:
#
# $$\hat{y}(x) = \mathop{\mathrm{argmin}}_{y'} \sum_y l(y, y')\, p(y \mid x) .$$
#
# In matrix form, with $L_{y y'} = l(y, y')$ and the vector $\mathbf{p}$ of probabilities, take
# the smallest entry of $L^\top \mathbf{p}$. No other rule does better on average: for each
# $x$ it takes the cheapest option given what is known. For the 0–1 loss
# ($l = 0$ when $y' = y$, 1 otherwise) $r(y' \mid x) = 1 - p(y' \mid x)$, and the rule is the
# argmax of $p$, what `accuracy` uses. For any other loss the argmax can be the wrong choice:
# below, two classes with $p = (0.7, 0.3)$ and a missed "sick" costing 10 times a false alarm.
#
# </details>

# %%
L2 = np.array([[0.0, 1.0],  # true healthy: saying "sick" costs 1
               [10.0, 0.0]])  # true sick: saying "healthy" costs 10
p2 = np.array([0.7, 0.3])
expected_cost = L2.T @ p2  # r(y') for y' = healthy, sick
bayes2, argmax2 = int(expected_cost.argmin()), int(p2.argmax())
names2 = ["healthy", "sick"]
labels2 = rng.choice(2, size=100_000, p=p2)  # cases drawn from p: the realised average costs
realised = {rule: float(L2[labels2, choice].mean())
            for rule, choice in (("argmax", argmax2), ("bayes", bayes2))}
print(f"expected cost of saying healthy {expected_cost[0]:.2f}, sick {expected_cost[1]:.2f}: "
      f"argmax says {names2[argmax2]}, the Bayes rule says {names2[bayes2]}")
print(f"over {len(labels2)} cases drawn from p, mean cost: argmax {realised['argmax']:.3f}, "
      f"Bayes rule {realised['bayes']:.3f}")
answers["3"] = {"two_class_expected_cost": expected_cost, "two_class_argmax": argmax2,
                "two_class_bayes": bayes2, "two_class_realised": realised}

# %% [markdown]
# The same rule on FashionMNIST, with the trained model's probabilities standing in for
# $p(y \mid x)$: every mistake costs 1, except that missing a shirt (saying anything else when
# it is a shirt, class 6) costs 5.

# %%
shirt = fashion_mnist.TEXT_LABELS.index("shirt")
L10 = 1.0 - np.eye(10)
L10[shirt, :] *= 5  # true shirt, any other prediction: cost 5
probs = probs.astype(np.float64)  # the model's p(y | x), from Exercise 2's cell
argmax10, bayes10 = probs.argmax(axis=1), (probs @ L10).argmin(axis=1)
val_y_np = np.asarray(val_y)
fashion = {}
for rule, pred in (("argmax", argmax10), ("bayes", bayes10)):
    fashion[rule] = {"mean_cost": float(L10[val_y_np, pred].mean()),
                     "expected_cost_under_model":
                         float((probs @ L10)[np.arange(N), pred].mean()),
                     "accuracy": float((pred == val_y_np).mean()),
                     "says_shirt": int((pred == shirt).sum()),
                     "shirt_recall": float((pred[val_y_np == shirt] == shirt).mean())}
changed = argmax10 != bayes10
to_shirt = int((bayes10[changed] == shirt).sum())
print(f"decisions changed: {int(changed.sum())} of {N}, {to_shirt} of them to shirt")
for rule, v in fashion.items():
    print(f"{rule:6s}: mean cost on the validation labels {v['mean_cost']:.4f} (expected under "
          f"the model {v['expected_cost_under_model']:.4f}),\n        accuracy "
          f"{v['accuracy']:.4f}, says shirt {v['says_shirt']} times, shirt recall "
          f"{v['shirt_recall']:.3f}")
answers["3"].update(fashion_changed=int(changed.sum()), fashion_changed_to_shirt=to_shirt,
                    fashion=fashion)

# %% [markdown]
# <details><summary>Answer</summary>
#
# With this loss the expected cost of saying "shirt" is $1 - p_\textrm{shirt}$, and of saying
# any other class $y'$ it is $1 - p_{y'} + 4 p_\textrm{shirt}$; so the Bayes rule says "shirt"
# whenever $5 p_\textrm{shirt}$ exceeds the largest other probability, and otherwise the
# argmax. Every decision it changes is therefore a change to "shirt", as printed. It gives up
# some accuracy (printed) to catch more shirts, and its mean cost on the validation labels is
# the lower of the two. Under the model's own probabilities it is lower by
# construction; on the real labels it is lower as far as the model's probabilities are
# calibrated (close to the true frequencies), which a softmax regression trained on
# cross-entropy roughly is.
#
# </details>

# %%
run.save_metrics({"answers": answers,
                  "settings": {"num_train": len(train_y), "epochs": epochs, "batch_size": m,
                               "num_resamples": num_resamples}})
