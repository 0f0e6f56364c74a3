# %% [markdown]
# # 4.4 Softmax Regression Implementation from Scratch
#
# *Dive into Deep Learning*, section 4.4, in JAX. The softmax, the model (one affine layer
# 784 -> 10 with weights N(0, 0.01)) and the cross-entropy loss, written out, then trained on
# Fashion-MNIST with the book's minibatch SGD (lr 0.1, batches of 256, 10 epochs) through the
# one compiled `fit`. One change from the book: the model returns logits and the loss takes
# the log-softmax of them, because the book's softmax overflows on large logits (shown at the
# end).
#
# Each code cell that prints a value starts with `# reference:` and what the PyTorch notebook
# this project reproduces printed there; the output under the cell is this notebook's.

# %% tags=["parameters"]
quick = False  # smoke run: 10,000 / 2,000 training / validation images and 2 epochs
seed = 0  # PRNG seed of the random matrix, the initial weights and the batch order
out_dir = "results/4.4"  # where the figures and metrics.json go

# %%
import inspect
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxhw import notebook, optim, train
from jaxhw.board import ProgressBoard
from jaxhw.data import fashion_mnist
from jaxhw.models import softmax_regression
from jaxhw.nn.losses import book_cross_entropy, cross_entropy
from jaxhw.nn.softmax import book_softmax, softmax

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
metrics = {}  # values kept for metrics.json before a later cell reuses their names
k_rand, k_init, k_fit = jax.random.split(jax.random.key(run.seed), 3)

# %% [markdown]
# ## 4.4.1 The Softmax
# Summing over an axis with `keepdims=True` keeps that axis with length 1, so the result
# broadcasts against the original: the first sum is over the rows (one per column), the
# second over the columns (one per row).

# %%
# reference: (tensor([[5., 7., 9.]]), tensor([[ 6.], [15.]]))
X = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
metrics["sum_axis0_keepdims"], metrics["sum_axis1_keepdims"] = (
    X.sum(0, keepdims=True), X.sum(1, keepdims=True))
X.sum(0, keepdims=True), X.sum(1, keepdims=True)

# %% [markdown]
# The softmax exponentiates every entry and divides each row by its sum (its *partition
# function*), so every row becomes a probability distribution. `jaxhw.nn.softmax.book_softmax`
# is the book's function, line for line:

# %%
print(inspect.getsource(book_softmax))

# %% [markdown]
# On a random 2x5 matrix every entry becomes positive and each row sums to 1. The entries
# differ from the reference's: `torch.rand` and `jax.random.uniform` draw different numbers.
# The sums are 1 in both, up to float32 rounding (a few times 1e-7).

# %%
# reference: (tensor([[0.2147, 0.2238, 0.0983, 0.2420, 0.2212],
#                     [0.1714, 0.2793, 0.1708, 0.2187, 0.1598]]), tensor([1., 1.]))
X = jax.random.uniform(k_rand, (2, 5))
X_prob = book_softmax(X)
metrics["softmax_random_rows"], metrics["softmax_row_sums"] = X_prob, X_prob.sum(1)
X_prob, X_prob.sum(1)

# %% [markdown]
# ## 4.4.2 The Model
# The book's `SoftmaxRegressionScratch` keeps W (784, 10) ~ N(0, 0.01²) and b (10,) zeros, and
# its `forward` flattens each 28x28 image into 784 numbers, computes X W + b and applies the
# softmax. In jaxhw the model is a pair of functions: `softmax_regression.init(key, ...)`
# returns the parameters as a dict, and `apply(params, X)` returns the logits X W + b (uint8
# images are scaled by 1/255 inside it). The softmax moves into the loss.

# %%
print(inspect.getsource(softmax_regression.apply))
params = softmax_regression.init(k_init, num_inputs=784, num_outputs=10, sigma=0.01)
{name: p.shape for name, p in params.items()}

# %% [markdown]
# ## 4.4.3 The Cross-Entropy Loss
# The cross-entropy takes, in each row of predicted probabilities, the entry of the true class.
# The book picks them with fancy indexing: row 0's entry 0 and row 1's entry 2. JAX takes the
# same index arrays (as arrays: JAX refuses a Python list as an index).

# %%
# reference: tensor([0.1000, 0.5000])
y = jnp.array([0, 2])
y_hat = jnp.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
metrics["picked"] = y_hat[jnp.array([0, 1]), y]
y_hat[jnp.array([0, 1]), y]

# %% [markdown]
# The loss is the mean of -log of those entries: (-log 0.1 - log 0.5) / 2.
# `jaxhw.nn.losses.book_cross_entropy` is the book's function.

# %%
# reference: tensor(1.4979)
metrics["book_cross_entropy_example"] = book_cross_entropy(y_hat, y)
book_cross_entropy(y_hat, y)

# %% [markdown]
# The loss `fit` trains with, `cross_entropy(logits, y)`, takes logits; the logarithms of these
# probabilities are logits whose softmax gives them back, so it gives the same number.

# %%
metrics["cross_entropy_example"] = cross_entropy(jnp.log(y_hat), y)
cross_entropy(jnp.log(y_hat), y)

# %% [markdown]
# ## 4.4.4 Training
# The 60,000 training images and the 10,000 test images as validation, as in the book. The
# arrays stay uint8 and are checked (shapes, labels in 0..9) on the host before anything is
# compiled. (Quick mode keeps class-balanced subsets.)

# %%
tic = time.perf_counter()
train_data, val_data = fashion_mnist.load_splits(*((10000, 2000) if run.quick else (None, None)))
load_seconds = time.perf_counter() - tic
print(f"train {train_data[0].shape} {train_data[0].dtype}, val {val_data[0].shape}; "
      f"loaded in {load_seconds:.2f} s")

# %% [markdown]
# The book's `trainer.fit(model, data)`: here `fit` with the loss, the scratch SGD and the
# classification metrics of 4.3. The board draws the training loss twice per epoch and the
# validation loss and accuracy once; its y axis carries both loss and accuracy.

# %%
lr, batch_size, epochs = 0.1, 256, 2 if run.quick else 10
apply = softmax_regression.apply
board = ProgressBoard(xlabel="epoch", title="softmax regression")
params, history, _ = train.fit(
    train.supervised_loss(apply, cross_entropy), params, optim.sgd(lr), train_data, val_data,
    epochs=epochs, batch_size=batch_size, key=k_fit,
    metrics=train.classification_metrics(apply), board=board, progress=False)
board.save(run.out_dir / "training.png")
board.close()

# %% [markdown]
# The reference prints no number here: its trainer only draws the board. jaxhw's slow test
# asks for a validation accuracy of at least 0.82 after the full 10 epochs. Two runs, here or
# there, differ in the second decimal place: the initial weights and the order of the
# minibatches are random draws (PyTorch's generator there, a JAX key here), and the two
# libraries add up sums in different orders.

# %%
epoch_seconds = float(np.median(history["epoch_seconds"][1:]))  # the first epoch compiles
print(f"reference: no value printed (board only); here: val acc {history['val_acc'][-1]:.4f}, "
      f"val loss {history['val_loss'][-1]:.4f} after {epochs} epochs, "
      f"{epoch_seconds * 1e3:.0f} ms per epoch after the first (which compiles)")

# %% [markdown]
# ## 4.4.5 Prediction
# The first batch of 256 validation images (the validation loader does not shuffle), and the
# predicted class of each: the index of its largest logit.

# %%
# reference: torch.Size([256])
X, y = val_data[0][:256], val_data[1][:256]
preds = jax.jit(apply)(params, X).argmax(axis=1)
metrics["preds_shape"] = preds.shape
preds.shape

# %% [markdown]
# The images of that batch the model gets wrong, each titled with its true class (top) and the
# class the model predicted (bottom), as in the book's figure.

# %%
# reference: the book's figure: the misclassified images of the batch, titled true / predicted
wrong = np.flatnonzero(np.asarray(preds) != np.asarray(y))
misclassified_titles = [
    f"true: {t}\npred: {p}" for t, p in zip(fashion_mnist.text_labels(np.asarray(y)[wrong]),
                                            fashion_mnist.text_labels(np.asarray(preds)[wrong]),
                                            strict=True)]
axes = fashion_mnist.visualize(np.asarray(X)[wrong], None, nrows=1, ncols=8,
                               titles=misclassified_titles[:8])
run.show(axes[0].figure, "misclassified.png")
print(f"{len(wrong)} of {len(y)} wrong")


# %% [markdown]
# ## Beyond the reference: the book's softmax overflows
# exp(1000) is inf in float32, so the book's softmax gives inf / inf = nan, and its
# cross-entropy of that is nan too. The stable softmax subtracts each row's maximum first
# (softmax(X) = softmax(X - c) for any per-row c), so no exponent is positive; the
# cross-entropy from logits uses the log-softmax and never takes the log of 0. That is why
# the model returns logits.

# %%
@jax.jit
def book_and_stable(logits, y):
    """Softmax (n, q) and mean cross-entropy () of `logits` (n, q), the book's way and stably."""
    return {"book_softmax": book_softmax(logits), "softmax": softmax(logits),
            "book_cross_entropy": book_cross_entropy(book_softmax(logits), y),
            "cross_entropy": cross_entropy(logits, y)}


# %%
logits = jnp.array([[100.0, 1000.0, 0.0]])
demo = jax.device_get(book_and_stable(logits, jnp.array([0])))
overflow_demo = {"logits": logits[0].tolist(), "book_softmax": demo["book_softmax"][0].tolist(),
                 "softmax": demo["softmax"][0].tolist(),
                 "book_cross_entropy": float(demo["book_cross_entropy"]),
                 "cross_entropy": float(demo["cross_entropy"])}
print(f"book: softmax {overflow_demo['book_softmax']}, cross-entropy "
      f"{overflow_demo['book_cross_entropy']}\nstable: softmax {overflow_demo['softmax']}, "
      f"cross-entropy {overflow_demo['cross_entropy']} (= 1000 - 100)")

# %% [markdown]
# ## Results
# `metrics.json` keeps the printed values, the training curves and times
# (tests/test_sections_ch4.py).

# %%
run.save_metrics({
    **metrics,
    "val_acc": history["val_acc"][-1],
    "val_loss": history["val_loss"][-1],
    "epoch_seconds": epoch_seconds,
    "first_epoch_seconds": history["epoch_seconds"][0],
    "train_loss": history["train_loss"],
    "val_acc_per_epoch": history["val_acc"],
    "load_seconds": load_seconds,
    "num_misclassified_first_batch": len(wrong),
    "misclassified_titles": misclassified_titles[:8],
    "overflow_demo": overflow_demo,
})
