"""Checkpoints never lose or silently mix runs (issue 15): one writer per folder (the lock,
shared by every process of a run), a resume refused when the run's settings differ, settings
described whole or said to be unseen, and bad `checkpoint_dir` / `resume` arguments refused up
front."""

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxhw import checkpoint, train
from jaxhw.fingerprint import describe, undescribed
from jaxhw.models import mlp, softmax_regression
from jaxhw.nn.losses import cross_entropy, squared_loss

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(Path(__file__).parents[1])}


# ----------------------------------------------------------------------------- describe
def _json(obj) -> str:
    return json.dumps(describe(obj), sort_keys=True)


def test_describe_tells_optimizer_hyperparameters_apart():
    assert _json(optax.sgd(0.5)) != _json(optax.sgd(0.001))
    assert _json(optax.adam(0.1)) == _json(optax.adam(0.1))  # two separate calls
    assert _json(optax.adam(0.1, b1=0.8)) != _json(optax.adam(0.1))
    assert _json(optax.adam(0.1)) != _json(optax.sgd(0.1))
    assert "-0.5" in _json(optax.sgd(0.5))  # the step size is seen, not just a function name


def test_describe_sees_inject_hyperparams():
    adam = optax.inject_hyperparams(optax.adam)
    assert _json(adam(learning_rate=0.1)) == _json(adam(learning_rate=0.1))
    assert _json(adam(learning_rate=0.1)) != _json(adam(learning_rate=0.2))
    assert _json(adam(learning_rate=0.1)) != _json(optax.inject_hyperparams(optax.sgd)(
        learning_rate=0.1))


def _supervised_loss(apply, loss):
    """The shape of train.supervised_loss: a closure over a model's apply and a loss."""

    def batch_loss(params, batch):
        X, y = batch
        return loss(apply(params, X), y)

    return batch_loss


@pytest.mark.parametrize("make", [_supervised_loss, train.supervised_loss])
def test_describe_sees_what_a_loss_closes_over(make):
    base = _json(make(mlp.apply, cross_entropy))
    assert base == _json(make(mlp.apply, cross_entropy))
    assert base != _json(make(softmax_regression.apply, cross_entropy))
    assert base != _json(make(mlp.apply, squared_loss))
    assert "jaxhw.models.mlp.apply" in base and "jaxhw.nn.losses.cross_entropy" in base


def test_describe_of_values_numbers_arrays_partials_and_cycles():
    assert describe(np.float32(0.5)) == 0.5 and describe(jnp.int32(3)) == 3
    assert describe((1, "a", None, [True])) == [1, "a", None, [True]]
    a = describe(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert a["shape"] == [2, 3] and a["dtype"] == "float32" and len(a["sha256"]) == 64
    assert a == describe(jnp.arange(6, dtype=jnp.float32).reshape(2, 3))
    assert a != describe(np.arange(1, 7, dtype=np.float32).reshape(2, 3))
    assert describe(jax.random.key(1)) != describe(jax.random.key(2))
    assert _json(functools.partial(cross_entropy, y=1)) != _json(functools.partial(
        cross_entropy, y=2))
    loop = [1]
    loop.append(loop)
    assert describe(loop) == [1, {"type": "builtins.list", "note": "cycle"}]
    deep = [[[[["bottom"]]]]]
    assert describe(deep, max_depth=2) == [[{"type": "builtins.list",
                                             "note": "nested too deep to describe"}]]
    assert describe(object()) == {"type": "builtins.object", "note": "not looked inside"}
    assert describe(np.dtype("float32")) == {"dtype": "float32"}
    assert describe(len) == {"function": "builtins.len"}


class _Settings:
    def __init__(self, rate):
        self.rate, self._inner = rate, {"decay": 0.5}


class _Slotted:
    __slots__ = ("rate",)

    def __init__(self, rate):
        self.rate = rate


def test_describe_reads_an_objects_attributes_and_marks_what_it_cannot():
    # optax.MultiSteps keeps its optimizer in attributes: before, only its type name was kept.
    assert describe(_Settings(0.1)) == {
        "type": f"{__name__}._Settings",
        "attributes": {"_inner": {"decay": 0.5}, "rate": 0.1}}
    assert _json(_Settings(0.1)) != _json(_Settings(0.2))
    assert describe(_Slotted(3))["attributes"] == {"rate": 3}
    a = optax.MultiSteps(optax.adamw(0.01, weight_decay=1e-4), 2).gradient_transformation()
    b = optax.MultiSteps(optax.adamw(0.01, weight_decay=1e-3), 2).gradient_transformation()
    assert _json(a) != _json(b) and undescribed(describe(a)) == []
    treedef = jax.tree.structure({"a": 1, "b": (2, 3)})  # a C object with a telling repr
    assert describe(treedef)["repr"] == repr(treedef)
    hidden = {"opt": [iter([1])], "deep": describe([[["x"]]], max_depth=1)}
    assert undescribed(describe(hidden)) == ["builtins.list (at deep/0)",
                                             "builtins.list_iterator (at opt/0)"]
    assert undescribed(describe(lambda: hidden)) == [  # describe's wrappers are left out
        "builtins.list (at hidden/deep/0)", "builtins.list_iterator (at hidden/opt/0)"]


def test_describe_is_the_same_in_another_process():
    code = ("import json, optax\nfrom jaxhw.fingerprint import describe\nfrom jaxhw import train"
            "\nfrom jaxhw.models import mlp\nfrom jaxhw.nn.losses import cross_entropy\n"
            "print(json.dumps([describe(optax.adam(0.1)), describe(train.supervised_loss("
            "mlp.apply, cross_entropy))], sort_keys=True))")
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                          timeout=120, check=True)
    here = [describe(optax.adam(0.1)), describe(train.supervised_loss(mlp.apply, cross_entropy))]
    assert json.loads(done.stdout) == json.loads(json.dumps(here))


# ----------------------------------------------------------------------------- resume
LOSS = train.supervised_loss(mlp.apply, cross_entropy)


def _params():
    return mlp.init(jax.random.key(0), 6, 16, 3, sigma=0.3)


def _config(optimizer, loss=LOSS, **overrides):
    """What fit records: descriptions of the loss and optimizer, and the run's numbers."""
    return {"loss": describe(loss), "optimizer": describe(optimizer), "batch_size": 24,
            "num_train": 163, "num_models": None, **overrides}


def _save_run(folder, optimizer, epoch=2, key=1, **config):
    params = _params()
    return checkpoint.save_run(folder, epoch, params=params, opt_state=optimizer.init(params),
                               key=jax.random.key(key), history={"train_loss": [0.5] * epoch},
                               config=_config(optimizer, **config))


def _resume(folder, optimizer, mode=True, key=1, **config):
    params = _params()
    return checkpoint.resume(folder, mode, params=params, opt_state=optimizer.init(params),
                             key=jax.random.key(key), config=_config(optimizer, **config))


def test_resume_with_another_learning_rate_is_refused_naming_it(tmp_path):
    _save_run(tmp_path, optax.sgd(0.001))
    with pytest.raises(checkpoint.CheckpointError) as err:
        _resume(tmp_path, optax.sgd(0.5))
    message = str(err.value)
    assert "checkpoint of epoch 2" in message and str(tmp_path) in message
    assert "optimizer/" in message
    assert "step_size=-0.001 but this run has optimizer/" in message
    assert message.count("but this run has") == 1  # only the learning rate differs
    assert "resume='force'" in message
    epoch, state = _resume(tmp_path, optax.sgd(0.001))  # the same settings resume
    assert epoch == 2 and state["history"]["train_loss"] == [0.5, 0.5]


def test_resume_names_every_difference(tmp_path):
    _save_run(tmp_path, optax.adam(0.01))
    with pytest.raises(checkpoint.CheckpointError) as err:
        _resume(tmp_path, optax.adam(0.01, b1=0.8), batch_size=32,
                loss=train.supervised_loss(mlp.apply, squared_loss), seed=0)
    message = str(err.value)
    assert "batch_size=24 but this run has batch_size=32" in message
    assert ("loss/loss=jaxhw.nn.losses.cross_entropy but this run has "
            "loss/loss=jaxhw.nn.losses.squared_loss") in message
    assert "=0.9 but this run has optimizer/" in message and message.endswith(
        "resume='force' to continue that run with these settings")
    assert "seed is not recorded in the checkpoint (this run has seed=0)" in message


def test_resume_force_continues_with_a_warning_naming_the_differences(tmp_path):
    _save_run(tmp_path, optax.sgd(0.001))
    with pytest.warns(RuntimeWarning, match=r"resume='force'.*step_size=-0.001 but this run "
                                            r"has \S*step_size=-0.5"):
        epoch, state = _resume(tmp_path, optax.sgd(0.5), mode="force")
    assert epoch == 2
    chex.assert_trees_all_equal(state["params"], _params())
    with pytest.raises(checkpoint.CheckpointError, match="different PRNG key"):
        _resume(tmp_path, optax.sgd(0.001), key=2)
    with pytest.warns(RuntimeWarning, match="different PRNG key"):
        _resume(tmp_path, optax.sgd(0.001), mode="force", key=2)
    with pytest.raises(checkpoint.CheckpointError, match="opt_state/0/count is missing.*its "
                                                         "settings differ too: optimizer/"):
        _resume(tmp_path, optax.adam(0.001), mode="force")  # a shape can never be forced
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _resume(tmp_path / "empty", optax.sgd(0.001), mode="force")


def test_config_round_trips_and_must_be_json_able(tmp_path):
    _save_run(tmp_path, optax.sgd(0.1), hidden=(16, 8))
    epoch, stored = checkpoint.latest(tmp_path)
    assert stored["meta"]["config"] == json.loads(json.dumps(_config(optax.sgd(0.1),
                                                                     hidden=[16, 8])))
    with pytest.raises(ValueError, match="config must be JSON-able .*fingerprint.describe"):
        _save_run(tmp_path, optax.sgd(0.1), loss_fn=cross_entropy)


# ----------------------------------------------------------------------------- arguments
def _fit(tmp_path, **kw):
    """fit on a tiny problem with a board that records epochs (none must run on bad input)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)

    class Board:
        def __init__(self):
            self.points = []

        def draw(self, x, y, label, every_n=1):
            self.points.append(x)

    board = Board()
    with pytest.raises(ValueError) as err:
        train.fit(LOSS, _params(), optax.sgd(0.1), (X, y), epochs=2, batch_size=8,
                  key=jax.random.key(1), progress=False, board=board, **kw)
    assert not board.points
    assert not list(tmp_path.iterdir())  # nothing written
    return str(err.value)


def test_empty_or_non_path_checkpoint_dir_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where an empty path would write
    assert "checkpoint_dir must name a folder, got an empty string" in _fit(
        tmp_path, checkpoint_dir="")
    assert "checkpoint_dir must be a folder path (str or pathlib.Path), got int" in _fit(
        tmp_path, checkpoint_dir=5)
    with pytest.raises(ValueError, match="empty string"):
        _save_run("", optax.sgd(0.1))
    with pytest.raises(ValueError, match="empty string"):
        with checkpoint.lock(""):
            pass
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("mode", ["yes", "true", 1, None])
def test_bad_resume_value_is_refused_even_without_checkpoint_dir(tmp_path, mode):
    message = _fit(tmp_path, resume=mode)
    assert "resume must be False, True or 'auto', or 'force'" in message
    assert f"got {mode!r}" in message


@pytest.mark.parametrize("mode", [True, "auto", "force"])
def test_resume_without_checkpoint_dir_is_refused(tmp_path, mode):
    assert f"resume={mode!r} needs a checkpoint_dir" in _fit(tmp_path, resume=mode)


# ----------------------------------------------------------------------------- two processes
def _start(code: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, procs: list[subprocess.Popen], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        for proc in procs:
            assert proc.poll() is None, f"child exited early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {path.name} in time"
        time.sleep(0.01)


def test_a_save_older_than_the_folders_newest_is_refused_and_deletes_nothing(tmp_path):
    # save_run outside `lock` (fit always holds it): a second writer's older epoch is refused,
    # and the newer epochs it found stay whole.
    _save_run(tmp_path, optax.sgd(0.1), epoch=7)
    with pytest.raises(checkpoint.CheckpointError, match=r"holds epoch 7, not older than epoch "
                                                         r"3 to save now: another run writes"):
        _save_run(tmp_path, optax.sgd(0.1), epoch=3)
    assert checkpoint.latest(tmp_path)[0] == 7


# A run: holds the folder's lock and writes a checkpoint every 50 ms until it is killed.
RUN = """
import sys, time
from pathlib import Path
import numpy as np
from jaxhw import checkpoint
import jax
folder, sync = Path(sys.argv[1]), Path(sys.argv[2])
try:
    with checkpoint.lock(folder) as held:
        (sync / "locked").touch()
        for epoch in range(1, 100_000):
            checkpoint.save_run(held, epoch, params={"w": np.full(1000, epoch, np.float32)},
                                opt_state=(), key=jax.random.key(0), history={}, config={})
            time.sleep(0.05)
except checkpoint.CheckpointError as err:
    print("refused:", err)
"""


def test_a_second_run_on_a_locked_folder_is_refused_and_a_dead_holder_frees_it(tmp_path):
    folder, sync = tmp_path / "ckpt", tmp_path / "sync"
    sync.mkdir()
    first = _start(RUN, folder, sync)
    try:
        _wait_for(sync / "locked", [first])
        second = _start(RUN, folder, sync)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        assert out.startswith(f"refused: checkpoint_dir {folder} is in use by another run (pid "
                              f"{first.pid} on ")
        assert "give this run another folder" in out
        with pytest.raises(checkpoint.CheckpointError, match=f"pid {first.pid} on"):
            with checkpoint.lock(folder):  # this process is a third contender
                pass
        assert first.poll() is None  # the first run goes on, unharmed
        deadline = time.monotonic() + 120
        while not any(p.name.startswith("epoch_") for p in folder.iterdir()):
            assert first.poll() is None and time.monotonic() < deadline, first.poll()
            time.sleep(0.01)
    finally:
        first.kill()  # SIGKILL: no cleanup runs, the kernel drops the flock
        first.wait()
    epoch, stored = checkpoint.latest(folder)
    np.testing.assert_array_equal(stored["state"]["params", "w"],
                                  np.full(1000, epoch, np.float32))
    with checkpoint.lock(folder) as held:  # a dead holder is no obstacle
        assert held.path == folder
        assert (folder / ".lock").read_text() == f"pid {os.getpid()} on {os.uname().nodename}\n"
    assert (folder / ".lock").read_text() == ""  # released


def test_one_process_cannot_lock_a_folder_twice(tmp_path):
    with checkpoint.lock(tmp_path / "ckpt"):
        with pytest.raises(checkpoint.CheckpointError, match="in use by another run"):
            with checkpoint.lock(tmp_path / "ckpt"):
                pass
    with checkpoint.lock(tmp_path / "ckpt"):  # released on leaving
        pass
    with checkpoint.lock(None) as held, checkpoint.lock(None):  # no folder: nothing to hold
        assert held is None
