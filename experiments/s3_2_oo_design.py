# %% [markdown]
# # 3.2 Object-Oriented Design for Implementation
#
# *Dive into Deep Learning*, section 3.2, in JAX. The book builds three classes that every later
# section fills in: a `Module` (the model, its loss and its optimizer), a `DataModule` (the
# data loaders) and a `Trainer` (the loop), with two helpers, `add_to_class` and
# `save_hyperparameters`, and a `ProgressBoard` that plots while training runs.
#
# jaxhw keeps the same roles but as plain values and functions, because JAX differentiates and
# compiles functions of arrays, not objects that change in place:
#
# | d2l (3.2)                          | jaxhw                                               |
# | ---------------------------------- | --------------------------------------------------- |
# | `add_to_class(Class)`              | a new function that takes the value as an argument  |
# | `save_hyperparameters()`           | a frozen dataclass; `dataclasses.replace` to vary   |
# | `Module.forward`, params inside    | `init(key, ...) -> params`, `apply(params, X)`      |
# | `Module.loss`, `training_step`     | `loss(params, batch) -> scalar`, `jax.grad`         |
# | `Module.configure_optimizers`      | any `optax.GradientTransformation`                  |
# | `DataModule.train_dataloader`      | arrays `(X, y)`; `fit` draws the minibatches        |
# | `Trainer.fit`                      | `train.fit(...) -> (params, history, opt_state)`    |
# | `ProgressBoard.draw`               | `board.ProgressBoard.draw`, fed once per epoch      |
#
# Each code cell that prints a value starts with `# reference:` and what the PyTorch notebook
# this project reproduces printed there; the output under the cell is this notebook's.

# %% tags=["parameters"]
quick = False  # smoke run (this section has nothing to shrink)
seed = 0  # PRNG seed of the data, the initial parameters and the minibatch order
out_dir = "results/3.2"  # where board_sin_cos.png and metrics.json go

# %%
import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxhw import notebook, train
from jaxhw.board import ProgressBoard
from jaxhw.data.synthetic import synthetic_regression
from jaxhw.models import linear
from jaxhw.nn.losses import squared_loss

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)

# %% [markdown]
# ## Utilities
# `add_to_class` lets the book define a class's methods one cell at a time: it sets a function
# as an attribute of a class that already exists. It is plain Python and works here as well:

# %%
# reference: Class attribute "b" is 1
def add_to_class(Class):
    """Register functions as methods in created class."""
    def wrapper(obj):  # a top-level function's qualified name is its plain name
        setattr(Class, obj.__qualname__, obj)
    return wrapper


class A:
    def __init__(self):
        self.b = 1


a = A()


@add_to_class(A)
def do(self):
    print('Class attribute "b" is', self.b)


a.do()

# %% [markdown]
# jaxhw does not change classes after they are made: a method added in a later cell silently
# replaces one of the same name, and which one runs then depends on the order the cells ran.
# The counterpart is an immutable value and a function that takes it; a later cell adds a
# function, and nothing that exists changes.

# %%
# reference: Class attribute "b" is 1
class State(NamedTuple):
    b: int = 1


def do_state(state: State) -> None:
    print('Class attribute "b" is', state.b)


do_state(State())

# %% [markdown]
# `save_hyperparameters(ignore=['c'])` stores every argument of `__init__` but `c` as an
# attribute. A dataclass does that from its field declarations; an argument that is used
# while constructing but not kept is a `dataclasses.InitVar`. `frozen=True` makes the stored
# values read-only.

# %%
# reference: self.a = 1 self.b = 2
# reference: There is no self.c = True
@dataclasses.dataclass(frozen=True)
class B:
    a: int
    b: int
    c: dataclasses.InitVar[int]  # save_hyperparameters(ignore=['c'])

    def __post_init__(self, c):
        print('self.a =', self.a, 'self.b =', self.b)
        print('There is no self.c =', not hasattr(self, 'c'))


b = B(a=1, b=2, c=3)

# %% [markdown]
# The hyperparameters of a training run, in the same form: checked once when made, never
# changed afterwards; a variant is a copy with one field replaced.

# %%
@dataclasses.dataclass(frozen=True)
class Config:
    """Hyperparameters of a training run; frozen, so a run cannot change them behind your back."""

    lr: float = 0.03
    batch_size: int = 32
    epochs: int = 3

    def __post_init__(self):
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


config = Config()
faster = dataclasses.replace(config, lr=0.1)
try:
    config.lr = 1.0  # type: ignore[misc]
    frozen = False
except dataclasses.FrozenInstanceError as err:
    frozen = True
    print(f"config.lr = 1.0 -> FrozenInstanceError: {err}")
config, faster

# %% [markdown]
# ## Progress board
# `draw(x, y, label, every_n)` plots the mean of every `every_n` points of a line: sin every 2
# points, cos every 10. In a notebook the board redraws as it goes; the PNG is the last frame.

# %%
# reference: the board of sin (every 2 points) and cos (every 10 points)
board = ProgressBoard("x", ylabel="y", title="sin every_n=2, cos every_n=10")
for x in np.arange(0, 10, 0.1):
    board.draw(x, np.sin(x), "sin", every_n=2)
    board.draw(x, np.cos(x), "cos", every_n=10)
board.save(run.out_dir / "board_sin_cos.png")
board.close()
{label: len(points) for label, points in board.data.items()}

# %% [markdown]
# ## Models, data and training
# The book's `Module`, `DataModule` and `Trainer` are base classes whose methods later
# sections fill in (cells [165]-[167] of the reference print nothing). Here a model is a pair
# of functions, the data are arrays, and `train.fit` is the loop; section 3.4 builds each piece
# from scratch. All together on the synthetic data of 3.3, with optax's SGD at `faster.lr`:

# %%
data_key, init_key, fit_key = jax.random.split(jax.random.key(run.seed), 3)
train_data, val_data = synthetic_regression(data_key, jnp.array([2.0, -3.4]), 4.2)  # DataModule
params = linear.init(init_key, num_inputs=2)  # Module.__init__
loss = train.supervised_loss(linear.apply, squared_loss)  # Module.forward + Module.loss
trained, history, _ = train.fit(loss, params, optax.sgd(faster.lr), train_data, val_data,
                                epochs=faster.epochs, batch_size=faster.batch_size,
                                key=fit_key, progress=False)  # Trainer.fit
param_shapes = {k: list(v.shape) for k, v in trained.items()}
print(f"val_loss per epoch: {history['val_loss']} (the noise alone gives 0.01² / 2 = 5e-05)")
param_shapes

# %%
run.save_metrics({
    "config": dataclasses.asdict(config),
    "variant_lr": faster.lr,
    "config_is_frozen": frozen,
    "hyperparameters_kept": dataclasses.asdict(b),
    "has_c": hasattr(b, "c"),
    "sin_points": len(board.data["sin"]),
    "cos_points": len(board.data["cos"]),
    "val_loss": history["val_loss"],
    "param_shapes": param_shapes,
})
