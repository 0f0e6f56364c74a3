"""Checkpoints never lose or silently mix runs (issue 15): one writer per folder, temporary
files removed only by their owner or once their writer is gone, a resume refused when the
run's settings differ, and bad `checkpoint_dir` / `resume` arguments refused up front."""

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

from jaxhw import checkpoint, files, train
from jaxhw.fingerprint import describe
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
    assert describe(object()) == {"type": "builtins.object"}  # no address in it


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


def test_checkpoint_of_an_older_jaxhw_gives_a_clear_message(tmp_path):
    # What save_run wrote before configs were recorded: a config of two ints.
    params, optimizer = _params(), optax.sgd(0.001)
    checkpoint.save(tmp_path, 2, {"params": params, "opt_state": optimizer.init(params),
                                  "key": checkpoint.key_state(jax.random.key(1)),
                                  "history": {"train_loss": np.ones(2)},
                                  "config": {"batch_size": 24, "num_train": 163}})
    with pytest.raises(checkpoint.CheckpointError) as err:
        _resume(tmp_path, optimizer)
    message = str(err.value)
    assert ("optimizer is not recorded in the checkpoint (this run has optimizer="
            "optax._src.base.GradientTransformationExtraArgs)") in message
    assert "loss is not recorded" in message and "older jaxhw" in message
    assert "batch_size" not in message.split("(an older")[0]  # equal: not a difference
    with pytest.warns(RuntimeWarning, match="optimizer is not recorded"):
        assert _resume(tmp_path, optimizer, mode="force")[0] == 2


def test_config_round_trips_and_must_be_json_able(tmp_path):
    _save_run(tmp_path, optax.sgd(0.1), hidden=(16, 8))
    epoch, state = checkpoint.latest(tmp_path)
    assert state["config"] == json.loads(json.dumps(_config(optax.sgd(0.1), hidden=[16, 8])))
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
        checkpoint.save("", 1, {"x": np.zeros(2)})
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


# ----------------------------------------------------------------------------- temporary files
def _dead_pid() -> int:
    """The pid of a process that has exited (pids are reused only after wrapping around)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_temporary_names_are_unique_and_carry_pid_and_host():
    a, b = files.temporary_path("/x/epoch_1.msgpack"), files.temporary_path("/x/epoch_1.msgpack")
    assert a != b and a.parent == Path("/x")
    assert a.name.startswith(f".epoch_1.msgpack.tmp-{os.getpid()}-")
    assert a.name.endswith(files._host())


def test_save_removes_only_temporaries_whose_writer_is_gone(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead, host = _dead_pid(), files._host()
        keep = [f".epoch_000002.msgpack.tmp-{live.pid}",  # older jaxhw, writer still running
                f".epoch_000002.msgpack.tmp-{live.pid}-0123abcd-{host}",
                f".epoch_000002.msgpack.tmp-{dead}-0123abcd-another-host"]  # can't tell: keep
        gone = [f".epoch_000002.msgpack.tmp-{dead}", f".epoch_000002.msgpack.tmp-{dead}-"
                f"89abcdef-{host}", f".metrics.json.tmp-{dead}-0123abcd-{host}"]
        for name in keep + gone:
            (tmp_path / name).write_bytes(b"half a checkpoint")
        assert files.abandoned_temporaries(tmp_path) == sorted(tmp_path / n for n in gone)
        checkpoint.save(tmp_path, 1, {"x": np.zeros(3)})
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + [
            "epoch_000001.msgpack"])
    finally:
        live.kill()
        live.wait()


# ----------------------------------------------------------------------------- two processes
# Each writer waits for the "go" file, so that both write at the same time.
WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from jaxhw import checkpoint
folder, sync, first = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
state = {"w": np.arange(250_000, dtype=np.float32) + first}
(sync / f"ready-{first}").touch()
while not (sync / "go").exists():
    time.sleep(0.002)
for epoch in range(first, first + 40):
    checkpoint.save(folder, epoch, state)
print("finished")
"""


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


def test_two_processes_saving_into_one_folder_both_finish(tmp_path):
    folder, sync = tmp_path / "ckpt", tmp_path / "sync"
    sync.mkdir()
    writers = [_start(WRITER, folder, sync, first) for first in (1, 1001)]
    try:
        for first in (1, 1001):
            _wait_for(sync / f"ready-{first}", writers)
        (sync / "go").touch()
        results = [w.communicate(timeout=240) for w in writers]
    finally:
        for w in writers:
            w.kill()
            w.wait()
    for w, (out, err) in zip(writers, results, strict=True):
        assert w.returncode == 0 and out.strip() == "finished", err
    saved = checkpoint.list_checkpoints(folder)
    assert [e for e, _ in saved][-3:] == [1038, 1039, 1040]
    for epoch, path in saved:
        first = 1 if epoch < 1001 else 1001
        np.testing.assert_array_equal(checkpoint.load(path)["w"],
                                      np.arange(250_000, dtype=np.float32) + first)
    assert [p.name for p in folder.iterdir() if ".tmp-" in p.name] == []


# A run: holds the folder's lock and writes a checkpoint every 50 ms until it is killed.
RUN = """
import sys, time
from pathlib import Path
import numpy as np
from jaxhw import checkpoint
folder, sync = Path(sys.argv[1]), Path(sys.argv[2])
try:
    with checkpoint.lock(folder):
        (sync / "locked").touch()
        for epoch in range(1, 100_000):
            checkpoint.save(folder, epoch, {"w": np.full(1000, epoch, np.float32)})
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
        saved = len(checkpoint.list_checkpoints(folder))
    finally:
        first.kill()  # SIGKILL: no cleanup runs, the kernel drops the flock
        first.wait()
    assert saved >= 1
    epoch, state = checkpoint.latest(folder)
    np.testing.assert_array_equal(state["w"], np.full(1000, epoch, np.float32))
    with checkpoint.lock(folder) as held:  # a dead holder is no obstacle
        assert held == folder
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
