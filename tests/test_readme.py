"""The README's code runs as written: the quickstart is experiments/quickstart.py, and the
custom model and loss train through fit with each optimizer the README names."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import chex
import jax
import numpy as np
import optax
import pytest

from jaxhw import train

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_the_quickstart_block_is_the_quickstart_program():
    program = (Path(__file__).resolve().parents[1] / "experiments" / "quickstart.py").read_text()
    for line in ("loss = train.supervised_loss(model.apply, cross_entropy)",
                 "optax.sgd(0.1)", "epochs=10, batch_size=256"):
        assert line in BLOCKS[0] and line in program


@pytest.mark.parametrize("optimizer", [
    optax.adam(1e-3), optax.adam(optax.cosine_decay_schedule(1e-3, 2000)),
    optax.chain(optax.add_decayed_weights(1e-4), optax.sgd(0.1))], ids=["adam", "cosine", "decay"])
def test_the_custom_model_block_trains(optimizer):
    names: dict = {}
    exec(BLOCKS[1], names)  # the README's own code: init, apply, loss
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (320, 28, 28, 1), dtype=np.uint8)
    y = (X[:, 10:18, 10:18].mean(axis=(1, 2, 3)) > 127.5).astype(np.int32)
    params = names["init"](jax.random.key(0))
    chex.assert_shape(names["apply"](params, X[:3]), (3, 10))
    _, history, _ = train.fit(names["loss"], params, optimizer, (X[:256], y[:256]),
                              (X[256:], y[256:]), epochs=3, batch_size=64,
                              key=jax.random.key(1), progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_the_learning_rate_loop_compiles_one_epoch(caplog):
    # The README's loop, on 512 small images: three rates, one compiled epoch.
    names: dict = {}
    exec(BLOCKS[1], names)  # init, apply, loss
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (512, 28, 28, 1), dtype=np.uint8)
    y = (X[:, 10:18, 10:18].mean(axis=(1, 2, 3)) > 127.5).astype(np.int32)
    printed = []
    names.update(jax=jax, optax=optax, train=train, params=names["init"](jax.random.key(0)),
                 train_data=(X[:384], y[:384]), val_data=(X[384:], y[384:]),
                 print=lambda *args: printed.append(args))
    with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
        exec(BLOCKS[2].replace("epochs=10", "epochs=2"), names)
    compiles = [r for r in caplog.records if "Finished XLA compilation of jit(epoch" in
                r.getMessage()]
    assert len(compiles) == 1
    assert [lr for lr, _ in printed] == [0.03, 0.1, 0.3]
    assert len({float(v) for _, v in printed}) == 3  # each rate trained its own model
