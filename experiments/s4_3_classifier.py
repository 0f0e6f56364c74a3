# %% [markdown]
# # 4.3 The Base Classification Model
#
# *Dive into Deep Learning*, section 4.3, in JAX. The book's `Classifier` adds to its `Module`
# what every classifier needs: after each epoch, the validation loss *and* the validation
# accuracy, drawn on the progress board. The reference notebook only defines it (it prints
# nothing); it is first used in 4.4. Here the same thing is `train.classification_metrics(apply)`
# handed to the one `fit`, which works for any model with an `init`/`apply` pair.
#
# Beyond the reference, the section then puts two classifiers through it on data one can look
# at: points on three concentric rings, the class being the ring. Softmax regression, a linear
# model, cannot separate rings; a small MLP can. The pictures show why.

# %% tags=["parameters"]
quick = False  # smoke run: 1024 / 512 train / val points, 4 epochs (not 4096 / 1024, 20)
seed = 0  # PRNG seed of the data, the initial weights and the batch order
out_dir = "results/4.3"  # where the figures and metrics.json go

# %%
import math

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

from jaxhw import notebook, optim, train
from jaxhw.board import ProgressBoard
from jaxhw.data.rings import rings
from jaxhw.decision_regions import plot_decision_regions, scatter_classes
from jaxhw.models import concise_mlp, softmax_regression
from jaxhw.models.checks import check_classification_data
from jaxhw.nn.losses import cross_entropy

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
metrics = {}  # values kept for metrics.json

# %% [markdown]
# ## 4.3.1 The `Classifier` Class
# The book's `validation_step` computes the loss and the accuracy of a validation batch and
# plots both. In jaxhw the loss is `train.supervised_loss(apply, cross_entropy)` and the
# metrics `train.classification_metrics(apply)`: `fit` averages both over the validation set
# after each epoch, records them in its history (`val_loss`, `val_acc`) and draws them on a
# `ProgressBoard`.
#
# ## 4.3.2 The Optimizer
# The book's `configure_optimizers` returns minibatch SGD at the model's learning rate; here
# that is `optim.sgd(lr)`, the scratch SGD of 3.4 as an optax transformation, passed to `fit`.
#
# ## 4.3.3 Accuracy
# The fraction of examples whose highest score is the true class. On the example of 4.4 (scores
# for two examples over three classes, labels 0 and 2) the first row's highest score is class
# 2, the second's is class 2: one of two is right. The reference defines `accuracy` but does
# not call it.

# %%
y_hat = jnp.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
y = jnp.array([0, 2])
metrics["accuracy_book_example"] = train.accuracy(y_hat, y)
metrics["accuracy_book_example"]

# %% [markdown]
# ## Trying it out: three rings
# Each point is on one of three rings of radius 1, 2 and 3 (plus noise), at a random angle; its
# class is its ring. The classes are equally likely and every one of them is centred on the
# origin.

# %%
num_classes = 3
ring_names = [f"ring {k} (radius {k + 1})" for k in range(num_classes)]
n_train, n_val, epochs = (1024, 512, 4) if run.quick else (4096, 1024, 20)
k_train, k_val, k_softmax, k_mlp = jax.random.split(jax.random.key(run.seed), 4)
train_data, val_data = rings(k_train, n_train), rings(k_val, n_val)
for split, arrays in (("train", train_data), ("val", val_data)):
    check_classification_data(arrays, num_classes=num_classes, input_shape=(2,), name=split)
_, ax = plt.subplots(figsize=(3.5, 3.5))
scatter_classes(*train_data, ax, ring_names, legend=True)
ax.set_title(f"{n_train} training points")
run.show(ax.figure, "rings.png")

# %% [markdown]
# **Chance level.** With three equally likely classes, a model that knows nothing about the
# points (it guesses, or always names the same class) is right a third of the time: accuracy
# 1/3. If it gives each class probability 1/3, its cross-entropy loss is
# -log(1/3) = ln 3 ≈ 1.099. Those two numbers are the bar: a curve stuck there has learned
# nothing about the points; the boards below mark chance accuracy as a dotted line.

# %%
chance_acc, chance_loss = 1 / num_classes, math.log(num_classes)
print(f"chance: accuracy {chance_acc:.3f}, loss ln 3 = {chance_loss:.4f}")


# %% [markdown]
# One function trains either model: `init` and `apply` are the only things that differ. The
# board draws the training loss twice per epoch and the validation loss and accuracy once;
# the chance line is added after training.

# %%
def train_classifier(name, init, apply, key, lr, **hparams):
    """Fit one classifier on the rings; returns its params, history and board."""
    init_key, fit_key = jax.random.split(key)
    params = init(init_key, num_inputs=2, num_outputs=num_classes, **hparams)
    board = ProgressBoard(xlabel="epoch", ylabel="loss, accuracy", ylim=(0, None), title=name)
    params, history, _ = train.fit(
        train.supervised_loss(apply, cross_entropy), params, optim.sgd(lr), train_data,
        val_data, epochs=epochs, batch_size=64, key=fit_key,
        metrics=train.classification_metrics(apply), board=board, progress=False)
    for x in (0, epochs):
        board.draw(x, chance_acc, "chance acc (1/3)")
    print(f"{name}: val loss {history['val_loss'][-1]:.4f}, val acc {history['val_acc'][-1]:.3f}"
          f"  (chance: loss {chance_loss:.4f}, acc {chance_acc:.3f})")
    return params, history, board


# %% [markdown]
# ### Softmax regression
# One affine layer 2 -> 3 with weights N(0, 0.01), SGD at lr 0.1, batches of 64.

# %%
linear_params, linear, board = train_classifier(
    "softmax regression", softmax_regression.init, softmax_regression.apply, k_softmax, lr=0.1,
    sigma=0.01)
board.save(run.out_dir / "softmax_regression.png")
board.close()

# %% [markdown]
# This is not a failed run; it is the point of the example. The loss sits at ln 3 ≈ 1.099 and
# the accuracy at chance, 1/3, from the first epoch on. Softmax regression scores each class
# with a linear function of the point, and its cross-entropy is convex in the weights and
# biases: a point where the gradient is zero is the best the model can do. With weights
# W = 0 and the biases at the class frequencies, the gradient with respect to W is a sum of
# the points weighted by (1/3 - 1 or 1/3), that is, each class's points summed; every ring is
# centred on the origin, so that sum is about zero. The best linear model, by its loss, is
# thus the one that ignores the points and says 1/3 to every class, and training finds it at
# once; what is left of W is noise (its norm, in metrics.json, is a few hundredths), which
# moves the accuracy a little around 1/3.
#
# The decision regions below show why no linear model does much better: the class with the
# highest of three linear scores is a convex region of the plane (a wedge or a strip), and no
# convex region holds a ring without the rings inside it.

# %% [markdown]
# ### The concise MLP
# The Flax MLP of 5.2 with 32 hidden units: Linear(32), ReLU, Linear(3), SGD at lr 0.5.

# %%
mlp_params, deep, board = train_classifier(
    "concise MLP", concise_mlp.init, concise_mlp.apply, k_mlp, lr=0.5, num_hiddens=32)
board.save(run.out_dir / "concise_MLP.png")
board.close()

# %% [markdown]
# The hidden layer's 32 ReLUs bend the plane: the MLP's loss falls far below ln 3 and its
# accuracy climbs well above chance.
#
# ## Decision regions
# The class each model predicts at every point of the plane (the shaded regions), with the
# validation points over them. The linear model's regions are convex; the MLP's follow the
# rings.

# %%
fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), sharey=True)
for ax, (name, apply, params, history) in zip(axes, (
        ("softmax regression", softmax_regression.apply, linear_params, linear),
        ("concise MLP", concise_mlp.apply, mlp_params, deep)), strict=True):
    plot_decision_regions(lambda X, apply=apply, params=params: apply(params, X), *val_data,
                          ax=ax, class_names=ring_names, legend=ax is axes[-1])
    ax.set_title(f"{name}: val acc {history['val_acc'][-1]:.2f}")
axes[1].set_ylabel("")
run.show(fig, "decision_regions.png")

# %% [markdown]
# ## Results
# `metrics.json` keeps the accuracy example, chance level and each model's validation curves
# (tests/test_sections_ch4.py).

# %%
run.save_metrics({
    **metrics,
    "num_train": n_train,
    "num_val": n_val,
    "epochs": epochs,
    "chance_acc": chance_acc,
    "chance_loss": chance_loss,
    "val_class_counts": jnp.bincount(val_data[1], length=num_classes),
    "softmax_regression_val_acc": linear["val_acc"][-1],
    "softmax_regression_val_loss": linear["val_loss"],
    "softmax_regression_W_norm": jnp.linalg.norm(linear_params["W"]),
    "mlp_val_acc": deep["val_acc"][-1],
    "mlp_val_loss": deep["val_loss"],
})
