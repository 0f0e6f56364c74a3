"""Checkpoints through Orbax, as `fit` uses them: a killed run resumes bit for bit, a damaged
newest checkpoint falls back to the one before, a folder holds one run, other settings are
refused, and every kind of state `fit` trains (NNX, Linen, dicts, numpy or Python floats,
optax states with typed PRNG keys) comes back as it was."""

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

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


def steps(folder) -> list[int]:
    """The epochs saved in `folder`, read from the names (opening an Orbax manager on a folder
    that another process writes would make a second writer)."""
    return [epoch for epoch, _ in checkpoint.list_checkpoints(folder)]


def _fit(epochs=EPOCHS, optimizer=OPTIMIZER, **kw):
    loss, params, tr, va, base = problem()
    return train.fit(loss, params, optimizer, tr, va, epochs=epochs, **{**base, **kw})


@pytest.fixture(scope="module")
def uninterrupted():
    return _fit()


def _assert_same_run(got, want):
    chex.assert_trees_all_equal(got[0], want[0])  # bitwise
    for name in ("epoch", "train_loss", "batch_loss", "val_loss", "val_acc"):
        np.testing.assert_array_equal(got[1][name], want[1][name])
        assert got[1][name].dtype == want[1][name].dtype, name


def test_sigkill_then_resume_is_bitwise_equal(tmp_path, uninterrupted):
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(Path(__file__).parent)), str(ckpt)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(steps(ckpt)) < 2 and child.poll() is None:
        assert time.monotonic() < deadline, "the child wrote no checkpoints in time"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, f"child exited by itself: {out}\n{err}"
    done = steps(ckpt)[-1]
    assert 2 <= done < EPOCHS and "finished" not in out

    resumed = _fit(checkpoint_dir=ckpt, resume=True)
    _assert_same_run(resumed, uninterrupted)
    assert resumed[1]["epoch_seconds"].shape == (EPOCHS,)
    assert steps(ckpt) == [EPOCHS - 2, EPOCHS - 1, EPOCHS]
    assert [p.name for p in ckpt.iterdir() if "tmp" in p.name] == []  # Orbax's temporaries


def _array_files(step: Path) -> list[Path]:
    """The files that hold array bytes in a checkpoint (not metadata)."""
    return [p for p in (step / checkpoint.ITEM).rglob("*")
            if p.is_file() and not p.name.startswith((".", "_")) and p.name != "commit_success.txt"]


def _damage(step: Path, how: str) -> None:
    if how in ("truncate", "flip"):  # the largest array file: the first layer's weights
        target = max(_array_files(step), key=lambda p: p.stat().st_size)
        data = bytearray(target.read_bytes())
        if how == "truncate":
            target.write_bytes(data[: len(data) // 2])
        else:  # Orbax restores this without a word: only the digest sees it
            data[len(data) // 2] ^= 0x01
            target.write_bytes(bytes(data))
    elif how == "edit_settings":  # the stored batch size, in Orbax's metadata JSON
        target = step / checkpoint.ITEM / "_METADATA"
        text = target.read_text()
        assert '"batch_size": 24' in text
        target.write_text(text.replace('"batch_size": 24', '"batch_size": 25'))
    elif how == "delete_metadata":
        (step / checkpoint.ITEM / "_METADATA").unlink()
    else:  # "empty": every file gone, the folder left
        for p in sorted(step.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()


@pytest.mark.parametrize("how", ["truncate", "flip", "edit_settings", "delete_metadata",
                                 "empty"])
# Reading a truncated array file, TensorStore calls back into Orbax's event loop after Orbax
# closed it; Python reports "Event loop is closed" as an unraisable exception. Nothing is lost.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_corrupt_latest_checkpoint_warns_and_uses_the_previous(tmp_path, uninterrupted, how):
    _fit(epochs=EPOCHS - 1, checkpoint_dir=tmp_path)
    _damage(checkpoint.step_path(tmp_path, EPOCHS - 1), how)
    with pytest.warns(RuntimeWarning, match=r"epoch_000005 .*resuming from epoch_000004 "
                                            r"\(epoch 4\) instead"):
        resumed = _fit(checkpoint_dir=tmp_path, resume=True)
    _assert_same_run(resumed, uninterrupted)
    assert steps(tmp_path) == [EPOCHS - 2, EPOCHS - 1, EPOCHS]  # epoch 5 written again
    epoch, stored = checkpoint.latest(tmp_path)
    assert epoch == EPOCHS and stored["meta"]["config"]["batch_size"] == 24


def test_damaged_step_metadata_alone_loses_nothing(tmp_path, uninterrupted):
    # Orbax's per-step _CHECKPOINT_METADATA holds times, not values: when it is damaged, Orbax
    # logs an error and the values, whole by their digest, still resume.
    _fit(epochs=EPOCHS - 1, checkpoint_dir=tmp_path)
    (checkpoint.step_path(tmp_path, EPOCHS - 1) / "_CHECKPOINT_METADATA").write_text("{no json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumed = _fit(checkpoint_dir=tmp_path, resume=True)
    _assert_same_run(resumed, uninterrupted)


def test_every_checkpoint_corrupt_is_an_error(tmp_path):
    _fit(epochs=2, checkpoint_dir=tmp_path)
    for epoch in steps(tmp_path):
        _damage(checkpoint.step_path(tmp_path, epoch), "flip")
    with pytest.raises(checkpoint.CorruptCheckpointError, match=r"no readable checkpoint.*"
                                                                r"epoch_000002 is truncated or "
                                                                r"corrupted.*epoch_000001"):
        _fit(checkpoint_dir=tmp_path, resume=True)


def test_no_checkpoint_is_an_error_unless_auto(tmp_path, uninterrupted):
    with pytest.raises(FileNotFoundError, match="no checkpoint in .* to resume from; pass "
                                                "resume='auto'"):
        _fit(checkpoint_dir=tmp_path / "empty", resume=True)
    fresh = _fit(checkpoint_dir=tmp_path / "auto", resume="auto")
    _assert_same_run(fresh, uninterrupted)
    with pytest.warns(RuntimeWarning, match="nothing is left to train"):
        again = _fit(checkpoint_dir=tmp_path / "auto", resume="auto")  # finished already
    _assert_same_run(again, uninterrupted)
    with pytest.raises(checkpoint.CheckpointError, match=r"already holds checkpoints \(up to "
                                                         "epoch 6\\); pass resume=True"):
        _fit(checkpoint_dir=tmp_path / "auto")
    with pytest.raises(ValueError, match="is at epoch 6, past epochs=3 .*pass an epochs above 6"):
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


def test_save_keeps_three_and_round_trips_bitwise(tmp_path):
    params = problem()[1]
    for epoch in range(1, 6):
        assert _save(tmp_path, params, epoch=epoch) == tmp_path / f"epoch_{epoch:06d}"
    assert steps(tmp_path) == [3, 4, 5]
    epoch, stored = checkpoint.latest(tmp_path)
    assert epoch == 5 and stored["meta"]["config"] == {"batch_size": 24, "num_train": 163}
    for name, value in jax.device_get(params).items():
        np.testing.assert_array_equal(stored["state"]["params", name], value)
        assert stored["state"]["params", name].dtype == value.dtype
    np.testing.assert_array_equal(stored["state"]["history", "train_loss"], np.ones(5))


def test_temporary_folders_go_only_with_the_lock_held(tmp_path):
    # What a killed Orbax write leaves: <step>.orbax-checkpoint-tmp. A reader without the lock
    # must leave it (it may be another run's write in progress); the folder's next run removes
    # it, and it is never taken for a checkpoint.
    _fit(epochs=2, checkpoint_dir=tmp_path)
    left = tmp_path / "epoch_000003.orbax-checkpoint-tmp"
    (left / checkpoint.ITEM).mkdir(parents=True)
    (left / checkpoint.ITEM / "0").write_bytes(b"half a checkpoint")
    assert checkpoint.latest(tmp_path)[0] == 2 and left.exists()
    resumed = _fit(epochs=3, checkpoint_dir=tmp_path, resume=True)
    assert not left.exists() and steps(tmp_path) == [1, 2, 3]
    np.testing.assert_array_equal(resumed.history["epoch"], [0, 1, 2])


def test_nnx_params_checkpoint_and_resume_bit_for_bit(tmp_path):
    # The NNX concise MLP's params are an nnx.State: stored by their key paths, read back into
    # the run's own State, so the resumed run equals the uninterrupted one.
    _, _, tr, va, kw = problem()
    loss = train.supervised_loss(concise_mlp.apply, cross_entropy)
    kw = {**kw, "metrics": train.classification_metrics(concise_mlp.apply)}
    params = concise_mlp.init(jax.random.key(0), 6, 16, 3)
    whole = train.fit(loss, params, OPTIMIZER, tr, va, epochs=4, **kw)
    train.fit(loss, params, OPTIMIZER, tr, va, epochs=2, checkpoint_dir=tmp_path, **kw)
    stored = checkpoint.load(tmp_path, 2)["state"]
    assert {p[1:]: v.shape for p, v in stored.items() if p[0] == "params"} == {
        ("hidden", "kernel", "value"): (6, 16), ("hidden", "bias", "value"): (16,),
        ("output", "kernel", "value"): (16, 3), ("output", "bias", "value"): (3,)}
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


def test_checkpoints_of_the_msgpack_jaxhw_are_refused_by_name(tmp_path):
    # The jaxhw before Orbax wrote epoch_NNNNNN.msgpack files: named, not mixed with.
    (tmp_path / "epoch_000003.msgpack").write_bytes(b"jaxhw-checkpoint-v1\n")
    for resume in (False, True, "auto", "force"):
        with pytest.raises(checkpoint.CheckpointError, match=r"epoch_000003.msgpack: Flax "
                                                             r"msgpack files.*another folder"):
            _fit(epochs=1, checkpoint_dir=tmp_path, resume=resume)
    assert steps(tmp_path) == []


def test_training_without_checkpoints_imports_neither_orbax_nor_flax():
    # Importing orbax costs ~0.25 s of CPU and flax 0.2-0.4 s in every fresh process:
    # `checkpoint` imports Orbax on first use, the NNX concise MLP imports flax. A scratch
    # model's whole fit needs neither.
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
            "assert 'flax' not in sys.modules, 'flax was imported'\n"
            "assert 'orbax' not in sys.modules, 'orbax was imported'\n")
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


# ----------------------------------------------------------------------------- what fit trains
# Issue 21: a checkpoint holds whatever `fit` can train, and resumes it bit for bit.
class _NNXMLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden, self.out = nnx.Linear(6, 16, rngs=rngs), nnx.Linear(16, 3, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.relu(self.hidden(x)))


def _state_kind(kind):
    """(apply, params) of one kind of params `fit` takes."""
    if kind == "nnx":
        graphdef, params = nnx.split(_NNXMLP(nnx.Rngs(0)))
        return (lambda p, X: nnx.merge(graphdef, p)(X)), params
    if kind == "linen":
        dense = nn.Sequential([nn.Dense(16), nn.relu, nn.Dense(3)])
        return dense.apply, dense.init(jax.random.key(0), jnp.ones((1, 6)))
    params = mlp.init(jax.random.key(0), 6, 16, 3, sigma=0.3)
    return mlp.apply, jax.tree.map(lambda a: np.asarray(a, np.float64), params)  # "numpy"


@pytest.mark.parametrize(("kind", "noise"), [("nnx", False), ("linen", True), ("numpy", True)])
def test_every_kind_of_state_resumes_bit_for_bit(tmp_path, kind, noise):
    # numpy float64 params train as float32: before, their own checkpoint was refused
    # ("float32 in the checkpoint but float64 in this run"), even with resume="force".
    # optax.add_noise keeps a typed PRNG key in its state: before, the first save raised
    # "JAX array with PRNGKey dtype cannot be converted to a NumPy array".
    apply, params = _state_kind(kind)
    optimizer = (optax.chain(optax.add_noise(0.01, 0.55, 0), optax.sgd(0.1)) if noise
                 else OPTIMIZER)
    _, _, tr, va, kw = problem()
    kw["metrics"] = train.classification_metrics(apply)
    loss = train.supervised_loss(apply, cross_entropy)
    whole = train.fit(loss, params, optimizer, tr, va, epochs=3, **kw)
    train.fit(loss, params, optimizer, tr, va, epochs=2, checkpoint_dir=tmp_path, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning, no force needed
        resumed = train.fit(loss, params, optimizer, tr, va, epochs=3, checkpoint_dir=tmp_path,
                            resume=True, **kw)
    _assert_same_run(resumed, whole)
    chex.assert_trees_all_equal(resumed.opt_state, whole.opt_state)  # the noise key too
    assert jax.tree.structure(resumed.params) == jax.tree.structure(whole.params)
    assert jax.tree.structure(resumed.opt_state) == jax.tree.structure(whole.opt_state)


def test_python_float_params_resume_their_own_checkpoint(tmp_path):
    # Params written as Python floats train as float32, so their checkpoint holds float32.
    # Before: "params/w has dtype float32 in the checkpoint but float64 in this run", even
    # with resume="force".
    trained = {"w": jnp.float32(1.5), "b": jnp.float32(-0.25)}
    optimizer = optax.sgd(0.1)
    checkpoint.save_run(tmp_path, 2, params=trained, opt_state=optimizer.init(trained),
                        key=jax.random.key(1), history={"train_loss": [1.0, 0.5]},
                        config={"batch_size": 8})
    start = {"w": 0.0, "b": 0.0}
    epoch, state = checkpoint.resume(tmp_path, True, params=start,
                                     opt_state=optimizer.init(start), key=jax.random.key(1),
                                     config={"batch_size": 8})
    assert epoch == 2
    chex.assert_trees_all_equal(state["params"], trained)
    chex.assert_type(state["params"]["w"], jnp.float32)
    assert isinstance(state["params"]["w"], jax.Array)


def test_resume_with_nothing_left_to_train_says_so_and_returns_jax_arrays(tmp_path):
    # A learner who trained 3 epochs and asks resume=True, epochs=3 means "3 more"; epochs is
    # the total (Keras), so fit says that nothing is left and how to ask for 3 more. Before:
    # the old model came back silently, its params as numpy arrays.
    first = _fit(epochs=3, checkpoint_dir=tmp_path)
    with pytest.warns(RuntimeWarning, match=r"at epoch 3 already, and epochs=3: nothing is left "
                                            r"to train.*to train 3 more, pass epochs=6"):
        again = _fit(epochs=3, checkpoint_dir=tmp_path, resume=True)
    _assert_same_run(again, first)
    for leaf in jax.tree.leaves((again.params, again.opt_state)):
        assert isinstance(leaf, jax.Array), type(leaf)
    more = _fit(epochs=6, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(more.history["epoch"], np.arange(6))


def _multi_steps(learning_rate, weight_decay):
    """An optimizer that keeps its settings in an object's attributes, not in closures."""
    return optax.MultiSteps(optax.adamw(learning_rate, weight_decay=weight_decay),
                            every_k_schedule=2).gradient_transformation()


def test_settings_kept_in_an_objects_attributes_are_compared(tmp_path):
    # optax.MultiSteps keeps its inner optimizer in attributes; fingerprint.describe recorded
    # only its type name, so another weight decay resumed silently.
    _fit(epochs=2, optimizer=_multi_steps(0.01, 1e-4), checkpoint_dir=tmp_path)
    with pytest.raises(checkpoint.CheckpointError, match=r"optimizer/init/self/_opt/\S*"
                                                         r"weight_decay=0.0001 but this run has "
                                                         r"\S*weight_decay=0.001"):
        _fit(epochs=3, optimizer=_multi_steps(0.01, 1e-3), checkpoint_dir=tmp_path, resume=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit(epochs=3, optimizer=_multi_steps(0.01, 1e-4), checkpoint_dir=tmp_path, resume=True)


def _with_hidden_setting():
    """sgd(0.1) whose init also holds an object without attributes to read (a C iterator)."""
    hidden, sgd = iter([0.1]), optax.sgd(0.1)

    def init(params):
        assert hidden is not None
        return sgd.init(params)

    return optax.GradientTransformation(init, sgd.update)


def test_settings_that_cannot_be_looked_inside_give_a_warning_on_resume(tmp_path):
    # Recorded as such ("not looked inside"), and every resume says that a change in them
    # would go unnoticed. Before: described by type name alone, silently equal.
    _fit(epochs=2, optimizer=_with_hidden_setting(), checkpoint_dir=tmp_path)
    stored = checkpoint.latest(tmp_path)[1]["meta"]["config"]["optimizer"]
    assert stored["fields"]["init"]["closure"]["hidden"] == {"type": "builtins.list_iterator",
                                                             "note": "not looked inside"}
    with pytest.warns(RuntimeWarning, match=r"cannot look inside \(builtins.list_iterator \(at "
                                            r"optimizer/init/hidden\)\), so a "
                                            r"change in them since the checkpoint would go "
                                            r"unnoticed"):
        _fit(epochs=3, optimizer=_with_hidden_setting(), checkpoint_dir=tmp_path, resume=True)


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
        while not steps(folder):  # the first run holds the folder now
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
    assert steps(folder)[-1] == 4
