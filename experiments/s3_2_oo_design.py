# %% [markdown]
# # 3.2 Object-oriented design, the functional way
# The book builds `Module`, `DataModule` and `Trainer` classes and a `save_hyperparameters`
# helper. jaxhw keeps the same roles as plain values and functions:
#
# | d2l (3.2)                          | jaxhw                                              |
# | ---------------------------------- | -------------------------------------------------- |
# | `save_hyperparameters()`           | a frozen dataclass; `dataclasses.replace` to vary  |
# | `Module.forward`, params inside    | `init(key, ...) -> params`, `apply(params, X)`     |
# | `Module.loss`, `training_step`     | `loss(params, batch) -> scalar`, `jax.grad`        |
# | `Module.configure_optimizers`      | any `optax.GradientTransformation`                 |
# | `DataModule.train_dataloader`      | device-resident `(X, y)`; `fit` draws the batches  |
# | `Trainer.fit`                      | `train.fit(...) -> (params, history, opt_state)` |
# | `ProgressBoard.draw`               | `board.ProgressBoard.draw`, fed once per epoch     |

# %%
from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments.runner import run_as_script
from jaxhw import train
from jaxhw.board import ProgressBoard
from jaxhw.data.synthetic import synthetic_regression
from jaxhw.models import linear
from jaxhw.nn.losses import squared_loss

SECTION = "3.2"
TITLE = "Object-oriented design, the functional way"


# %% In place of `save_hyperparameters`: an immutable config, checked once, copied to vary.
@dataclasses.dataclass(frozen=True)
class Config:
    """Hyperparameters of a training run; frozen, so a run cannot change them behind your back."""

    lr: float = 0.03
    batch_size: int = 32
    epochs: int = 3

    def __post_init__(self):
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    out_dir = Path(out_dir)
    config = Config()
    faster = dataclasses.replace(config, lr=0.1)
    try:
        config.lr = 1.0  # type: ignore[misc]
        frozen = False
    except dataclasses.FrozenInstanceError:
        frozen = True

    # %% The board demo of 3.2: sin drawn every 2 points, cos every 10 (each point a mean).
    board = ProgressBoard(xlabel="x", title="ProgressBoard: sin every_n=2, cos every_n=10")
    for x in np.arange(0, 10, 0.1):
        board.draw(x, np.sin(x), "sin", every_n=2)
        board.draw(x, np.cos(x), "cos", every_n=10)
    board.save(out_dir / "board_sin_cos.png")
    board.close()

    # %% Model functions + data + fit in place of Module + DataModule + Trainer.
    data_key, init_key, fit_key = jax.random.split(jax.random.key(seed), 3)
    train_data, val_data = synthetic_regression(data_key, jnp.array([2.0, -3.4]), 4.2)
    params = linear.init(init_key, num_inputs=2)
    loss = train.supervised_loss(linear.apply, squared_loss)
    trained, history, _ = train.fit(loss, params, optax.sgd(faster.lr), train_data, val_data,
                                 epochs=faster.epochs, batch_size=faster.batch_size,
                                 key=fit_key, progress=False)
    return {
        "config": dataclasses.asdict(config),
        "variant_lr": faster.lr,
        "config_is_frozen": frozen,
        "sin_points": len(board.data["sin"]),
        "cos_points": len(board.data["cos"]),
        "val_loss": history["val_loss"],
        "param_shapes": {k: list(v.shape) for k, v in trained.items()},
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
