import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import chex
import jax
import numpy as np
import optax
import pytest

from jaxhw import checkpoint, train
from jaxhw.models import concise_mlp, mlp
from jaxhw.nn.losses import cross_entropy

EPOCHS = 6
OPTIMIZER = optax.adam(0.01)  # stateful, so resuming must restore the moments and the count

# The child trains the problem below with a checkpoint per epoch; its board sleeps once per
# epoch, so that the parent can SIGKILL it between (or during) checkpoint writes.
CHILD = """
import sys, time
sys.path.insert(0, {tests!r})
from test_checkpoint import EPOCHS, OPTIMIZER, problem
from jaxhw import train

class SlowBoard:
    def draw(self, x, y, label, every_n=1):
        if label == "val_loss":
            time.sleep(0.4)

loss, params, tr, va, kw = problem()
train.fit(loss, params, OPTIMIZER, tr, va, epochs=EPOCHS, checkpoint_dir=sys.argv[1],
          board=SlowBoard(), **kw)
print("finished")
"""


def problem(num_hiddens: int = 16):
    """A tiny 3-class MLP problem: loss, params, train (163, a partial batch), val, fit kwargs."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(203, 6)).astype(np.float32)
    y = ((X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0)).astype(np.int32)
    loss = train.supervised_loss(mlp.apply, cross_entropy)
    kw = {"batch_size": 24, "key": jax.random.key(1), "progress": False,
          "metrics": train.classification_metrics(mlp.apply)}
    params = mlp.init(jax.random.key(0), 6, num_hiddens, 3, sigma=0.3)
    return loss, params, (X[:163], y[:163]), (X[163:], y[163:]), kw


def _fit(epochs=EPOCHS, **kw):
    loss, params, tr, va, base = problem()
    return train.fit(loss, params, OPTIMIZER, tr, va, epochs=epochs, **{**base, **kw})


@pytest.fixture(scope="module")
def uninterrupted():
    return _fit()


def _assert_same_run(got, want):
    chex.assert_trees_all_equal(got[0], want[0])  # bitwise
    for name in ("train_loss", "batch_loss", "val_loss", "val_acc"):
        np.testing.assert_array_equal(got[1][name], want[1][name])


def test_sigkill_then_resume_is_bitwise_equal(tmp_path, uninterrupted):
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(Path(__file__).parent)), str(ckpt)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(checkpoint.list_checkpoints(ckpt)) < 2 and child.poll() is None:
        assert time.monotonic() < deadline, "the child wrote no checkpoints in time"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, f"child exited by itself: {out}\n{err}"
    done = checkpoint.list_checkpoints(ckpt)[-1][0]
    assert 2 <= done < EPOCHS and "finished" not in out

    resumed = _fit(checkpoint_dir=ckpt, resume=True)
    _assert_same_run(resumed, uninterrupted)
    assert resumed[1]["epoch_seconds"].shape == (EPOCHS,)
    assert [e for e, _ in checkpoint.list_checkpoints(ckpt)] == [EPOCHS - 2, EPOCHS - 1, EPOCHS]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_latest_checkpoint_warns_and_uses_the_previous(tmp_path, uninterrupted, damage):
    _fit(epochs=EPOCHS - 1, checkpoint_dir=tmp_path)
    latest = checkpoint.checkpoint_path(tmp_path, EPOCHS - 1)
    data = bytearray(latest.read_bytes())
    if damage == "truncate":
        latest.write_bytes(data[: len(data) // 2])
    else:
        data[-10] ^= 0xFF
        latest.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match=r"epoch_000005.msgpack is truncated or corrupted.*"
                                            r"resuming from epoch_000004.msgpack \(epoch 4\)"):
        resumed = _fit(checkpoint_dir=tmp_path, resume=True)
    _assert_same_run(resumed, uninterrupted)


def test_every_checkpoint_corrupt_is_an_error(tmp_path):
    params = problem()[1]
    _save(tmp_path, params, epoch=1)
    checkpoint.checkpoint_path(tmp_path, 1).write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CorruptCheckpointError, match="no readable checkpoint.*bad "
                                                                "header"):
        _fit(checkpoint_dir=tmp_path, resume=True)


def test_no_checkpoint_is_an_error_unless_auto(tmp_path, uninterrupted):
    with pytest.raises(FileNotFoundError, match="no checkpoint in .* to resume from; pass "
                                                "resume='auto'"):
        _fit(checkpoint_dir=tmp_path / "empty", resume=True)
    fresh = _fit(checkpoint_dir=tmp_path / "auto", resume="auto")
    _assert_same_run(fresh, uninterrupted)
    again = _fit(checkpoint_dir=tmp_path / "auto", resume="auto")  # finished: nothing to train
    _assert_same_run(again, uninterrupted)
    with pytest.raises(checkpoint.CheckpointError, match=r"already holds checkpoints \(up to "
                                                         "epoch 6\\); pass resume=True"):
        _fit(checkpoint_dir=tmp_path / "auto")
    with pytest.raises(ValueError, match="is at epoch 6, past epochs=3"):
        _fit(epochs=3, checkpoint_dir=tmp_path / "auto", resume=True)


class _EpochCounter:
    """A stand-in ProgressBoard that only records that an epoch fed it."""

    def __init__(self) -> None:
        self.points = []

    def draw(self, x, y, label, every_n=1):
        self.points.append((x, label))


def test_checkpoint_dir_that_is_a_file_is_refused_before_training(tmp_path):
    (tmp_path / "ckpt").write_text("not a folder")
    board = _EpochCounter()
    with pytest.raises(ValueError, match="checkpoint_dir .*ckpt is a file; expected a folder"):
        _fit(checkpoint_dir=tmp_path / "ckpt", board=board)
    assert not board.points  # no epoch ran


def _save(folder, params, epoch=1, **overrides):
    state = {"params": params, "opt_state": OPTIMIZER.init(params), "key": jax.random.key(1),
             "history": {"train_loss": [1.0] * epoch}, "config": {"batch_size": 24,
                                                                "num_train": 163}}
    return checkpoint.save_run(folder, epoch, **{**state, **overrides})


def test_checkpoint_of_a_different_model_shape_names_the_mismatch(tmp_path):
    _save(tmp_path, mlp.init(jax.random.key(0), 6, 32, 3))
    with pytest.raises(checkpoint.CheckpointError, match=r"params/W1 has shape \(6, 32\) in the "
                                                         r"checkpoint but \(6, 16\) in this run"):
        _fit(checkpoint_dir=tmp_path, resume=True)


def test_checkpoint_of_another_run_is_an_error(tmp_path):
    params = problem()[1]
    _save(tmp_path / "key", params, key=jax.random.key(2))
    with pytest.raises(checkpoint.CheckpointError, match="different PRNG key"):
        _fit(checkpoint_dir=tmp_path / "key", resume=True)
    _save(tmp_path / "batch", params, config={"batch_size": 32, "num_train": 163})
    with pytest.raises(checkpoint.CheckpointError, match="batch_size=32 but this run has "
                                                         "batch_size=24"):
        _fit(checkpoint_dir=tmp_path / "batch", resume=True)
    _save(tmp_path / "opt", params, opt_state=optax.sgd(0.1).init(params))
    with pytest.raises(checkpoint.CheckpointError, match="opt_state/0/count is missing"):
        _fit(checkpoint_dir=tmp_path / "opt", resume=True)
    with pytest.raises(ValueError, match="resume must be False, True or 'auto'"):
        _fit(checkpoint_dir=tmp_path / "opt", resume="yes")


def test_save_is_atomic_keeps_three_and_round_trips_bitwise(tmp_path):
    params = problem()[1]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # a pid that has exited
    (tmp_path / f".epoch_000009.msgpack.tmp-{int(dead.stdout)}").write_bytes(
        b"left by a killed writer")
    for epoch in range(1, 6):
        _save(tmp_path, params, epoch=epoch)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "epoch_000003.msgpack", "epoch_000004.msgpack", "epoch_000005.msgpack"]
    epoch, state = checkpoint.latest(tmp_path)
    assert epoch == 5 and state["config"] == {"batch_size": 24, "num_train": 163}
    chex.assert_trees_all_equal(state["params"], jax.device_get(params))
    assert checkpoint.load(checkpoint.checkpoint_path(tmp_path, 5)).keys() == state.keys()


def test_nnx_params_checkpoint_and_resume_bit_for_bit(tmp_path):
    # The NNX concise MLP's params are an nnx.State: stored by their key paths, read back into
    # the run's own State, so the resumed run equals the uninterrupted one.
    _, _, tr, va, kw = problem()
    loss = train.supervised_loss(concise_mlp.apply, cross_entropy)
    kw = {**kw, "metrics": train.classification_metrics(concise_mlp.apply)}
    params = concise_mlp.init(jax.random.key(0), 6, 16, 3)
    whole = train.fit(loss, params, OPTIMIZER, tr, va, epochs=4, **kw)
    train.fit(loss, params, OPTIMIZER, tr, va, epochs=2, checkpoint_dir=tmp_path, **kw)
    stored = checkpoint.load(checkpoint.checkpoint_path(tmp_path, 2))["params"]
    assert jax.tree.map(np.shape, stored) == {"hidden": {"kernel": {"value": (6, 16)},
                                                         "bias": {"value": (16,)}},
                                              "output": {"kernel": {"value": (16, 3)},
                                                         "bias": {"value": (3,)}}}
    resumed = train.fit(loss, params, OPTIMIZER, tr, va, epochs=4, checkpoint_dir=tmp_path,
                        resume=True, **kw)
    assert type(resumed.params) is type(params)
    _assert_same_run(resumed, whole)
    np.testing.assert_array_equal(resumed.history["epoch"], [0, 1, 2, 3])
    with pytest.raises(checkpoint.CheckpointError, match=r"params/hidden/kernel/value has shape "
                                                         r"\(6, 16\) in the checkpoint but "
                                                         r"\(6, 8\) in this run"):
        train.fit(loss, concise_mlp.init(jax.random.key(0), 6, 8, 3), OPTIMIZER, tr, va,
                  epochs=4, checkpoint_dir=tmp_path, resume=True, **kw)


def test_a_checkpoint_without_epoch_indices_resumes_with_them(tmp_path, uninterrupted):
    # Checkpoints written before history held "epoch": the indices are those before its epoch.
    _fit(epochs=4, checkpoint_dir=tmp_path)
    path = checkpoint.checkpoint_path(tmp_path, 4)
    state = checkpoint.load(path)
    del state["history"]["epoch"]
    state["config"] = checkpoint.config_json(state["config"])  # stored as JSON text
    path.unlink()
    checkpoint.save(tmp_path, 4, state)
    resumed = _fit(checkpoint_dir=tmp_path, resume=True)
    _assert_same_run(resumed, uninterrupted)
    np.testing.assert_array_equal(resumed.history["epoch"], np.arange(EPOCHS))


def test_training_without_checkpoints_does_not_import_flax():
    # Importing flax costs 0.2-0.4 s of every fresh process; `checkpoint` imports it on first use,
    # the NNX concise MLP on import. A scratch model's whole fit needs none of it.
    code = ("import sys\n"
            "import jax, numpy as np\n"
            "from jaxhw import checkpoint, optim, train\n"
            "from jaxhw.data import fashion_mnist\n"
            "from jaxhw.models import softmax_regression as m\n"
            "from jaxhw.nn.losses import cross_entropy\n"
            "X, y = np.zeros((8, 784), np.float32), np.arange(8, dtype=np.int32)\n"
            "train.fit(train.supervised_loss(m.apply, cross_entropy), m.init(jax.random.key(0)),"
            " optim.sgd(0.1), (X, y), (X, y), epochs=1, batch_size=4, key=jax.random.key(1),"
            " progress=False)\n"
            "assert 'flax' not in sys.modules, 'flax was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_resume_with_another_learning_rate_is_refused_unless_forced(tmp_path):
    # Issue 15: a lr 0.5 run resumed a lr 0.001 run's checkpoints with no word.
    loss, params, tr, va, kw = problem()
    train.fit(loss, params, optax.sgd(0.001), tr, va, epochs=2, checkpoint_dir=tmp_path, **kw)
    with pytest.raises(checkpoint.CheckpointError, match=r"optimizer.*0\.001.*0\.5.*resume="
                                                         "'force'"):
        train.fit(loss, params, optax.sgd(0.5), tr, va, epochs=3, checkpoint_dir=tmp_path,
                  resume=True, **kw)
    with pytest.warns(RuntimeWarning, match=r"optimizer"):
        _, hist, _ = train.fit(loss, params, optax.sgd(0.5), tr, va, epochs=3,
                               checkpoint_dir=tmp_path, resume="force", **kw)
    assert hist["train_loss"].shape == (3,)


# Two fits given one checkpoint_dir: the second is refused while the first holds the folder.
# The first run's board waits after its first epoch until the file argv[2] exists.
PAIR = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_checkpoint import OPTIMIZER, problem
from jaxhw import checkpoint, train

class WaitingBoard:
    def draw(self, x, y, label, every_n=1):
        while label == "val_loss" and not Path(sys.argv[2]).exists():
            time.sleep(0.02)

loss, params, tr, va, kw = problem()
try:
    train.fit(loss, params, OPTIMIZER, tr, va, epochs=4, checkpoint_dir=sys.argv[1],
              board=WaitingBoard(), **kw)
    print("finished")
except checkpoint.CheckpointError as err:
    print("refused:", err)
"""


def test_a_second_fit_on_a_folder_in_use_is_refused_and_the_first_finishes(tmp_path):
    code = PAIR.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    release = tmp_path / "release"
    folder = tmp_path / "ckpt"
    first = subprocess.Popen([sys.executable, "-c", code, str(folder), str(release)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not checkpoint.list_checkpoints(folder):  # the first run holds the folder now
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = subprocess.run([sys.executable, "-c", code, str(folder), str(tmp_path)],
                                env=env, capture_output=True, text=True, timeout=300)
    finally:
        release.touch()
    out, err = first.communicate(timeout=300)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"refused: checkpoint_dir {folder} is in use by another "
                                    f"run (pid {first.pid} on ")
    assert first.returncode == 0 and out.strip() == "finished", err
    assert [epoch for epoch, _ in checkpoint.list_checkpoints(folder)][-1] == 4
