"""Two processes on this machine train as one process with two devices, bit for bit, with the
whole training set in every process and with each process holding only its share, and
checkpoint and resume through Orbax together (issue 20).

pytest starts three workers (tests/multiprocess_worker.py) at once: two processes of one run,
joined by `jax.distributed.initialize` (coordinator on 127.0.0.1 at a free port, gloo CPU
collectives, one CPU device each), and a reference process with two CPU devices. Both runs
train the MLP 3 epochs with `mesh=` over all their devices, twice: every process holding the
whole dataset ("rep"), and each process holding half of it ("sh": `from_process_shares`; the
reference holds both halves, one on each device). Either way the mesh's "data" axis has two
shards, and the contract of a split training set is that the result depends on the number of
shards alone (each shard shuffles its own examples), not on how they are spread over
processes. The two-process run checkpoints every epoch (every process saves), stops after 2
epochs and resumes to 3 in the same processes. Last, a nan in the second process's share is
refused in both processes, each saying where it is.

Why bit for bit: both runs split each minibatch over the same 2-device "data" axis, so each
device computes the same partial gradient, and the all-reduce adds two numbers; a + b is
exactly b + a in IEEE arithmetic, whichever implementation (XLA in one process, gloo across
two) adds them. With 4 devices (2 x 2 against 1 x 4) the four partial sums associate
differently and the params differ by about 1e-9 after 3 epochs, so each process has one.

Each worker runs in a process group of its own; a failure or the deadline kills every group
and shows each worker's last output.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from jaxhw import checkpoint

WORKER = Path(__file__).with_name("multiprocess_worker.py")
DEADLINE_S = 240  # whole launches take ~15 s here; CI's machine is ~2.5x slower


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list, log: Path) -> subprocess.Popen:
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    with open(log, "w") as out:  # a file, not a pipe: a chatty worker never blocks on it
        return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own group, killed as one


def _finish(workers: list[subprocess.Popen], logs: list[Path]) -> None:
    """Wait until every worker exits 0; on a failure or the deadline, kill every group and
    fail showing each one's last output."""
    deadline = time.monotonic() + DEADLINE_S
    try:
        while any(w.poll() is None for w in workers):
            failed = [w for w in workers if w.poll() not in (None, 0)]
            assert not failed and time.monotonic() < deadline, "a worker failed or hung"
            time.sleep(0.05)
        assert all(w.returncode == 0 for w in workers), "a worker failed"
    except BaseException:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
        for w, log in zip(workers, logs, strict=True):
            print(f"--- {log.name} (rc {w.wait()}):\n{log.read_text()[-3000:]}",
                  file=sys.stderr)
        raise


def _params(path: Path) -> Path:
    """The MLP's starting params (784-32-10), made with numpy: nothing to compile here."""
    rng = np.random.default_rng(0)
    np.savez(path, W1=rng.normal(0, 0.01, (784, 32)).astype(np.float32),
             b1=np.zeros(32, np.float32), W2=rng.normal(0, 0.01, (32, 10)).astype(np.float32),
             b2=np.zeros(10, np.float32))
    return path


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def test_two_processes_train_and_resume_as_one_process_with_two_devices(tmp_path):
    params, ckpt, busy = _params(tmp_path / "params.npz"), tmp_path / "ckpt", tmp_path / "busy"
    port = _free_port()
    with checkpoint.lock(busy):  # held here: both processes must be refused it
        started = time.perf_counter()
        logs = [tmp_path / f"worker-{name}.log" for name in ("2x1-0", "2x1-1", "1x2")]
        workers = [_start([i, 2, port, 1, params, tmp_path / "two", ckpt, busy], logs[i])
                   for i in (0, 1)]
        workers.append(_start([0, 1, 0, 2, params, tmp_path / "one"], logs[2]))
        _finish(workers, logs)
    print(f"three workers in {time.perf_counter() - started:.1f} s wall; gloo's TCP pairs use "
          f"{socket.gethostbyname(socket.gethostname())}, the address of this host's name")
    print("".join(log.read_text().splitlines(keepends=True)[-1] for log in logs))
    two_run, second, one_run = (_load(tmp_path / name) for name in
                                ("two-0.npz", "two-1.npz", "one-0.npz"))
    refused = f"checkpoint_dir {busy} is in use by another run (pid {os.getpid()} on "
    assert str(two_run.pop("refused")).startswith(refused)
    assert str(second.pop("refused")) == (f"process 0 could not lock checkpoint_dir {busy} "
                                          "(its error says why)")
    nan = ("train X holds 1 non-finite value(s) (nan or inf) in 1 example(s){}, the first at "
           "index 417; fix or drop those examples before training")
    assert str(one_run.pop("nan")) == nan.format("")
    assert str(second.pop("nan")) == nan.format(" (in process 1's share)")
    assert str(two_run.pop("nan")) == ("train holds non-finite values in the share of "
                                       "process(es) [1] (the error there names it)")
    sizes = ("train: the processes hold shares of different sizes (process 0: 400, process 1: "
             "401 examples); every process must pass the same number of examples (e.g. "
             "fashion_mnist.load(..., drop_remainder=True))")
    assert str(two_run.pop("sizes")) == str(second.pop("sizes")) == sizes
    whole = str(two_run.pop("whole"))  # a share passed as it is, each process its own half
    assert whole == str(second.pop("whole"))
    assert re.fullmatch(r"train differs between the processes \(examples and CRC-32 in each: "
                        r"\[\(400, \d+\), \(400, \d+\)\]\); fit over a mesh of several "
                        r"processes takes train either the same in every process or split over "
                        r"the mesh: each process's share placed by "
                        r"batches.from_process_shares\(share, mesh\)", whole), whole
    assert two_run.keys() == second.keys() == one_run.keys() >= {
        f"{run}_{name}" for run in ("rep", "sh")
        for name in ("W1", "b2", "history_batch_loss", "history_val_acc")}
    for name in one_run:  # bit for bit: see the module's docstring
        np.testing.assert_array_equal(two_run[name], one_run[name], err_msg=name)
        np.testing.assert_array_equal(second[name], one_run[name], err_msg=name)
    np.testing.assert_array_equal(two_run["sh_history_epoch"], [0, 1, 2])
    # The shards' own orders are other batches than the whole set's one order.
    assert not np.array_equal(one_run["sh_history_batch_loss"], one_run["rep_history_batch_loss"])
    for run in ("rep", "sh"):  # each checkpoint holds its run's final state
        epoch, stored = checkpoint.latest(ckpt / run)
        assert epoch == 3 and sorted(p.name for p in (ckpt / run).iterdir()
                                     if p.name.startswith("epoch_")) == [
            "epoch_000001", "epoch_000002", "epoch_000003"]
        np.testing.assert_array_equal(stored["state"]["params", "W1"], one_run[f"{run}_W1"])
        assert stored["meta"]["config"].get("data_shards") == (2 if run == "sh" else None)
