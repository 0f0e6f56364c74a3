# %% [markdown]
# # 5.2 Implementation of Multilayer Perceptrons
#
# *Dive into Deep Learning*, section 5.2, in JAX. FashionMNIST through one hidden layer of 256
# ReLU units, twice: from scratch (weights N(0, 0.01²), zero biases, as the book) and concisely
# with Flax NNX (Linear 256, relu, Linear 10). Both are an `init`/`apply` pair, so both go
# through the same loss, the book's scratch SGD (lr 0.1, batch 256, 10 epochs) and the same
# compiled `fit`, one `lax.scan` per epoch.
#
# The reference's cells print nothing: its two `trainer.fit` cells draw d2l's board
# (train_loss, val_loss, val_acc per epoch), a figure its text does not keep. Each training
# cell below draws the same board and prints its final values (the tests ask at least 0.84
# validation accuracy of both models after the full 10 epochs).

# %% tags=["parameters"]
quick = False  # smoke run: 2 epochs on 10,000 training and 2,000 validation images
seed = 0  # PRNG seed: initial weights and the order of the minibatches
out_dir = "results/5.2"  # where the boards and metrics.json go
deeper = True  # also train the book's exercise, an MLP with two hidden layers (256, 128)

# %%
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxhw import notebook, optim, train
from jaxhw.board import ProgressBoard
from jaxhw.data import fashion_mnist
from jaxhw.models import concise_mlp, mlp
from jaxhw.nn.activations import relu
from jaxhw.nn.losses import cross_entropy

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir, deeper=deeper)
metrics = {}  # values kept for metrics.json as the cells go

# %% [markdown]
# ## The data
# `d2l.FashionMNIST(batch_size=256)` in the reference; here the arrays themselves, uint8 on the
# device, scaled to [0, 1] inside the compiled step. The test split is the validation set, as
# in the book.

# %%
lr, batch_size, num_hiddens = 0.1, 256, 256
epochs = 2 if run.quick else 10
train_data, val_data = fashion_mnist.load_splits(*((10000, 2000) if run.quick else (None, None)))
print(f"train {train_data[0].shape} {train_data[0].dtype}, val {val_data[0].shape}; "
      f"{epochs} epochs")

# %% [markdown]
# ## Implementation from scratch
# ### Initializing model parameters
# The reference's `MLPScratch.__init__` makes W1 (784, 256) and W2 (256, 10) from
# `torch.randn(...) * sigma` with sigma = 0.01, and zero biases; `mlp.init` returns the same
# four arrays as a dict (a pytree), from a JAX key instead of PyTorch's global generator.

# %%
scratch_key, concise_key, deeper_key = jax.random.split(jax.random.key(run.seed), 3)
init_key, fit_key = jax.random.split(scratch_key)
params = mlp.init(init_key, num_inputs=784, num_hiddens=num_hiddens, num_outputs=10, sigma=0.01)
{name: (a.shape, round(float(a.std()), 4)) for name, a in params.items()}

# %% [markdown]
# ### Activation function
# The reference writes ReLU as `torch.max(X, zeros_like(X))`; `jaxhw.nn.activations.relu` is
# `jnp.where(X > 0, X, 0)`, the same values, and gradient 0 at 0 as PyTorch's.

# %%
relu(jnp.array([-1.0, 0.0, 2.0]))

# %% [markdown]
# ### Model
# The reference's `forward` flattens X to (n, 784) and returns relu(X W1 + b1) W2 + b2;
# `mlp.apply(params, X)` does the same (its uint8 images scaled to [0, 1] on the way).

# %%
mlp.apply(params, train_data[0][:2]).shape

# %% [markdown]
# ### Training
# `train_mlp` is the reference's `trainer.fit(model, data)`: the loss (mean cross-entropy of
# the logits), the book's SGD, a board fed once per epoch, saved as `<name>.png`.

# %%
def train_mlp(name: str, params, apply, key: jax.Array) -> dict:
    """Train `params` with the book's settings; the history, its board saved as `<name>.png`."""
    board = ProgressBoard(xlabel="epoch", title=f"{name} MLP")
    result = train.fit(train.supervised_loss(apply, cross_entropy), params, optim.sgd(lr),
                       train_data, val_data, epochs=epochs, batch_size=batch_size, key=key,
                       metrics=train.classification_metrics(apply), board=board,
                       progress=False)
    board.save(run.out_dir / f"{name}.png")
    board.close()
    history = result.history
    # The first epoch includes compiling: the steady time is the median of the others.
    steady = np.median(history["epoch_seconds"][1:] if epochs > 1 else history["epoch_seconds"])
    print(f"{name}: val acc {history['val_acc'][-1]:.4f}, val loss {history['val_loss'][-1]:.4f}, "
          f"train loss {history['train_loss'][-1]:.4f}; {steady * 1e3:.0f} ms per epoch "
          "after compiling")
    return {"val_acc": history["val_acc"], "val_loss": history["val_loss"],
            "train_loss": history["train_loss"], "epoch_seconds": float(steady)}


# %% [markdown]
# The reference's `trainer.fit(model, data)` shows its board; the numbers differ from run to
# run with the random initial weights and minibatch order (PyTorch's generator there, JAX keys
# here), not with the method.

# %%
# reference: a figure: d2l's board of train_loss, val_loss and val_acc over 10 epochs
metrics["scratch"] = train_mlp("scratch", params, mlp.apply, fit_key)

# %% [markdown]
# ## Concise implementation
# The reference's `nn.Sequential(nn.Flatten(), nn.LazyLinear(256), nn.ReLU(),
# nn.LazyLinear(10))` is a Flax NNX module, `concise_mlp.MLP`. Like a PyTorch module it is a
# Python object that makes its layers in `__init__` (drawing their weights from an `nnx.Rngs`
# key) and runs them in `__call__`:
#
# ```python
# class MLP(nnx.Module):
#     def __init__(self, num_inputs, num_hiddens, num_outputs, *, rngs):
#         self.num_inputs = num_inputs
#         self.hidden = nnx.Linear(num_inputs, num_hiddens, rngs=rngs)
#         self.output = nnx.Linear(num_hiddens, num_outputs, rngs=rngs)
#
#     def __call__(self, X):
#         X = flatten_images(X, self.num_inputs)  # uint8 pixels scaled to [0, 1]
#         return self.output(nnx.relu(self.hidden(X)))
# ```
#
# Its weights start from Flax's default, LeCun normal (variance 1/fan_in), where PyTorch's
# `LazyLinear` draws uniformly in ±1/√fan_in (variance 1/(3 fan_in)): standard deviations of
# 0.02-0.06 here, larger than the scratch model's 0.01, so both learn faster in the first epoch.

# %%
init_key, fit_key = jax.random.split(concise_key)
model = concise_mlp.MLP(784, num_hiddens, 10, rngs=nnx.Rngs(params=init_key))
model(train_data[0][:2]).shape

# %% [markdown]
# `jax.grad` and optax work on arrays, not on objects, so training takes the module apart:
# `nnx.split(model)` gives its structure (a `GraphDef`: the layers and their sizes) and its
# arrays (an `nnx.State`, a pytree like the scratch model's dict). `nnx.merge(graphdef,
# params)` builds the module again, so `apply(params, X) = nnx.merge(graphdef, params)(X)` is
# a pure function of the params, the same pair as the scratch model. `concise_mlp.init(key)`
# builds the same module and returns its State, and `concise_mlp.apply` rebuilds the graphdef
# from the params' shapes, so nothing but the params travels through `fit`.

# %%
graphdef, concise_params = nnx.split(model)
same = jnp.array_equal(concise_mlp.apply(concise_params, train_data[0][:2]),
                       nnx.merge(graphdef, concise_params)(train_data[0][:2]))
print(f"apply equals nnx.merge(graphdef, params): {bool(same)}")
jax.tree.map(jnp.shape, nnx.to_pure_dict(concise_params))

# %%
# reference: a figure: d2l's board of train_loss, val_loss and val_acc over 10 epochs
metrics["concise"] = train_mlp("concise", concise_params, concise_mlp.apply, fit_key)

# %% [markdown]
# **Flax Linen, in older code.** Before NNX (2024), Flax's API was Linen, and much JAX code,
# the first JAX edition of d2l among it, is written in it. A Linen module is a frozen
# description with no arrays inside: `params = MLP(...).init(key, X)` returns them as a plain
# nested dict (`{"params": {"hidden": {"kernel", "bias"}, ...}}`) and
# `MLP(...).apply(params, X)` runs the model on them, the same pure pair as above with no
# split and merge; its layers are declared inside `__call__` under `@nn.compact`. Flax now
# recommends NNX for new code: the module holds its arrays as PyTorch's does, and
# `nnx.split`/`nnx.merge` turn it into the pair only where a pure function is wanted.

# %% [markdown]
# ## Beyond the reference: the book's exercise with more hidden layers
# `mlp.init` takes a sequence of widths: (256, 128) gives relu(relu(X W1 + b1) W2 + b2) W3 + b3.
# With weights N(0, 0.01²) each layer scales its input down (by roughly 0.01 √width), so the
# deeper network starts with smaller signals and gradients still, and in 10 epochs it need not
# beat the shallow one. (`deeper = False` in the parameters cell skips it.)

# %%
if run.params["deeper"]:
    init_key, fit_key = jax.random.split(deeper_key)
    deeper_params = mlp.init(init_key, num_inputs=784, num_hiddens=(256, 128), num_outputs=10,
                             sigma=0.01)
    print({name: a.shape for name, a in deeper_params.items()})
    metrics["deeper"] = train_mlp("deeper", deeper_params, mlp.apply, fit_key)

# %% [markdown]
# ## Results
# `metrics.json` keeps each model's final validation accuracy and loss, per-epoch curves and
# steady epoch time (tests/test_sections_ch5.py).

# %%
run.save_metrics({
    **{f"{name}_val_acc": m["val_acc"][-1] for name, m in metrics.items()},
    **{f"{name}_val_loss": m["val_loss"][-1] for name, m in metrics.items()},
    **{f"{name}_val_acc_per_epoch": m["val_acc"] for name, m in metrics.items()},
    "epoch_seconds": {name: m["epoch_seconds"] for name, m in metrics.items()},
    "epochs": epochs,
    "num_train": len(train_data[1]),
    "num_val": len(val_data[1]),
})
