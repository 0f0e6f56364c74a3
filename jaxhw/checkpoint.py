"""Checkpoints of a training run (beyond the book): one file per epoch, written atomically.

A checkpoint holds params, optimizer state, the number of finished epochs, the run's PRNG key,
the history so far and the run's shape (batch size, training examples), in Flax's msgpack
serialization (`flax.serialization`): arrays are stored as their raw bytes, so a round trip is
bitwise exact, and loading runs no code (no pickle). A file is `MAGIC`, the SHA-256 of the
payload, then the payload; a truncated or corrupted file fails that digest and is skipped with
a warning for the one before it. Files are written to a temporary name in the same folder,
fsynced and renamed (`os.replace`): a run killed mid-write leaves the previous files whole.

Why not orbax-checkpoint: its strength is sharded, asynchronous writes of models far larger
than one host's memory. d2l's models are megabytes; one synchronous file per epoch keeps the
format readable (`msgpack_restore` gives plain dicts of numpy arrays) and needs no threads
that a SIGKILL could interrupt. Params are replicated, so on several hosts process 0 writes.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax import Array

from jaxhw.files import write_atomic


def _flax() -> tuple[Any, Any]:
    """flax's (serialization, traverse_util), imported on first use: importing flax takes
    ~0.25 s, which a run without checkpoints should not pay."""
    from flax import serialization, traverse_util

    return serialization, traverse_util

MAGIC = b"jaxhw-checkpoint-v1\n"
_DIGEST_SIZE = 32
_NAME = re.compile(r"^epoch_(\d+)\.msgpack$")
_TMP = re.compile(r"^\.epoch_\d+\.msgpack\.tmp-\d+$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run; the message says what differs."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file that is truncated or corrupted (its digest or format is wrong)."""


def checkpoint_path(directory: str | Path, epoch: int) -> Path:
    """The file of the checkpoint taken after `epoch` finished epochs."""
    return Path(directory) / f"epoch_{epoch:06d}.msgpack"


def list_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """(epoch, path) of every checkpoint file in `directory`, oldest first; [] if none."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def save(directory: str | Path, epoch: int, state: Mapping[str, Any], *, keep: int = 3) -> Path:
    """Write `state` (a pytree of arrays, numbers, strings) as the checkpoint after `epoch`.

    Keeps the newest `keep` checkpoints (at least 2, so a corrupt newest one has a fallback)
    and removes temporary files left by killed writers. Returns the checkpoint's path.
    """
    folder = Path(directory)
    path = checkpoint_path(folder, epoch)
    if jax.process_index() != 0:  # params are replicated: one writer is enough
        return path
    folder.mkdir(parents=True, exist_ok=True)
    serialization, _ = _flax()
    payload = serialization.msgpack_serialize(jax.device_get(serialization.to_state_dict(
        dict(state))))
    write_atomic(path, MAGIC + hashlib.sha256(payload).digest() + payload)
    for old_epoch, old in list_checkpoints(folder)[:-max(keep, 2)]:
        if old_epoch != epoch:
            old.unlink(missing_ok=True)
    for stale in folder.iterdir():
        if _TMP.match(stale.name) and not stale.name.endswith(f"-{os.getpid()}"):
            stale.unlink(missing_ok=True)
    return path


def load(path: str | Path) -> dict[str, Any]:
    """The state dict stored in one checkpoint file (numpy arrays, numbers, strings).

    Raises CorruptCheckpointError when the file is truncated, corrupted or not a checkpoint.
    """
    path = Path(path)
    data = path.read_bytes()
    head = len(MAGIC) + _DIGEST_SIZE
    if not data.startswith(MAGIC):
        raise CorruptCheckpointError(f"{path} is not a jaxhw checkpoint (bad header)")
    if len(data) < head:
        raise CorruptCheckpointError(f"{path} is truncated ({len(data)} bytes)")
    payload = data[head:]
    if hashlib.sha256(payload).digest() != data[len(MAGIC):head]:
        raise CorruptCheckpointError(f"{path} is truncated or corrupted (SHA-256 mismatch, "
                                     f"{len(data)} bytes)")
    try:
        return _flax()[0].msgpack_restore(payload)
    except Exception as err:  # the digest matched, so the writer stored something odd
        raise CorruptCheckpointError(f"{path} does not decode: {err}") from err


def latest(directory: str | Path) -> tuple[int, dict[str, Any]] | None:
    """(epoch, state dict) of the newest readable checkpoint, or None when there is none.

    A corrupt newer file gives a warning naming it and the older one used instead; if every
    file is corrupt, raises CorruptCheckpointError.
    """
    found = list_checkpoints(directory)
    bad = []
    for epoch, path in reversed(found):
        try:
            state = load(path)
        except (CorruptCheckpointError, OSError) as err:
            bad.append(str(err))
            continue
        if bad:
            warnings.warn(f"skipping corrupt checkpoint(s): {'; '.join(bad)}; resuming from "
                          f"{path.name} (epoch {epoch}) instead", RuntimeWarning, stacklevel=2)
        return epoch, state
    if bad:
        raise CorruptCheckpointError(f"no readable checkpoint in {directory}: "
                                     + "; ".join(bad))
    return None


def _flat(tree: Any) -> dict[str, Any]:
    """The leaves of a state dict keyed by their path "a/b/c" (empty nodes kept)."""
    if not isinstance(tree, Mapping):
        return {"": tree}
    return _flax()[1].flatten_dict(dict(tree), keep_empty_nodes=True, sep="/")


def _dtype(leaf: Any) -> np.dtype:
    return np.dtype(leaf.dtype) if hasattr(leaf, "dtype") else np.asarray(leaf).dtype


def check_matches(name: str, stored: Any, template: Any) -> None:
    """CheckpointError naming every path whose presence, shape or dtype differs."""
    want = _flat(_flax()[0].to_state_dict(template))
    got = _flat(stored)
    problems = [f"{name}/{p} is missing from the checkpoint" for p in want if p not in got]
    problems += [f"{name}/{p} is in the checkpoint but not in this run" for p in got
                 if p not in want]
    for p in want.keys() & got.keys():
        w, g = want[p], got[p]
        if isinstance(w, Mapping) or isinstance(g, Mapping):  # an empty node on either side
            if isinstance(w, Mapping) != isinstance(g, Mapping):
                problems.append(f"{name}/{p} has a different structure")
            continue
        w_shape, g_shape = np.shape(w), np.shape(g)
        if w_shape != g_shape:
            problems.append(f"{name}/{p} has shape {g_shape} in the checkpoint but {w_shape} in "
                            "this run")
        elif _dtype(w) != _dtype(g):
            problems.append(f"{name}/{p} has dtype {_dtype(g)} in the checkpoint but "
                            f"{_dtype(w)} in this run")
    if problems:
        raise CheckpointError("checkpoint does not match this run (a different model or "
                              "optimizer?): " + "; ".join(sorted(problems)))


def key_state(key: Array) -> dict[str, Any]:
    """A typed PRNG key as storable data: its uint32 words and implementation name."""
    return {"data": np.asarray(jax.random.key_data(key)), "impl": str(jax.random.key_impl(key))}


def save_run(directory: str | Path, epoch: int, *, params: Any, opt_state: Any, key: Array,
             history: Mapping[str, Any], config: Mapping[str, int], keep: int = 3) -> Path:
    """Checkpoint a run after `epoch` finished epochs: what `resume` needs to continue it."""
    return save(directory, epoch, {
        "params": params,
        "opt_state": opt_state,
        "key": key_state(key),
        "history": {k: np.asarray(v) for k, v in history.items()},
        "config": dict(config),
    }, keep=keep)


def resume(directory: str | Path, mode: bool | str, *, params: Any, opt_state: Any, key: Array,
           config: Mapping[str, int]) -> tuple[int, dict[str, Any]] | None:
    """The run state to continue from, checked against this run, or None for a fresh start.

    mode: False starts fresh (refusing a folder that already holds checkpoints), True requires
    a checkpoint, "auto" resumes when there is one. Returns (epoch, {"params", "opt_state",
    "history"}) with params and opt_state in the structures of the given ones.
    """
    if not (isinstance(mode, bool) or mode == "auto"):
        raise ValueError(f"resume must be False, True or 'auto', got {mode!r}")
    if mode is False:
        existing = list_checkpoints(directory)
        if existing:
            raise CheckpointError(
                f"checkpoint_dir {directory} already holds checkpoints (up to epoch "
                f"{existing[-1][0]}); pass resume=True or 'auto' to continue that run, or use "
                "an empty folder")
        return None
    found = latest(directory)
    if found is None:
        if mode == "auto":
            return None
        raise FileNotFoundError(f"no checkpoint in {directory} to resume from; pass "
                                "resume='auto' to start fresh when there is none")
    epoch, stored = found
    for field in ("params", "opt_state", "key", "history", "config"):
        if field not in stored:
            raise CheckpointError(f"checkpoint of epoch {epoch} in {directory} has no {field!r}")
    for name, value in config.items():
        if int(stored["config"].get(name, -1)) != int(value):
            raise CheckpointError(f"checkpoint was written with {name}={stored['config'].get(name)}"
                                  f" but this run has {name}={value}")
    mine = key_state(key)
    if stored["key"]["impl"] != mine["impl"] or not np.array_equal(stored["key"]["data"],
                                                                   mine["data"]):
        raise CheckpointError("checkpoint was written by a run with a different PRNG key (seed); "
                              "pass the same key or use another checkpoint_dir")
    check_matches("params", stored["params"], params)
    check_matches("opt_state", stored["opt_state"], opt_state)
    serialization, _ = _flax()
    return epoch, {
        "params": serialization.from_state_dict(params, stored["params"]),
        "opt_state": serialization.from_state_dict(opt_state, stored["opt_state"]),
        "history": {k: list(v) for k, v in stored["history"].items()},
    }


def start_state(directory: str | Path | None, mode: bool | str, epochs: int, *, params: Any,
                opt_state: Any, key: Array, config: Mapping[str, int]
                ) -> tuple[int, Any, Any, dict[str, list]]:
    """Where a training run starts: (first epoch, params, opt_state, history so far).

    Without `directory`, or when `resume` finds nothing to continue, epoch 0 and the given
    state; otherwise the checked checkpoint (see `resume`), which must not be past `epochs`.
    """
    history: dict[str, list] = {"train_loss": [], "batch_loss": [], "epoch_seconds": []}
    if directory is None:
        return 0, params, opt_state, history
    if Path(directory).exists() and not Path(directory).is_dir():  # before an epoch is spent
        raise ValueError(f"checkpoint_dir {directory} is a file; expected a folder (it is "
                         "created if missing)")
    resumed = resume(directory, mode, params=params, opt_state=opt_state, key=key, config=config)
    if resumed is None:
        return 0, params, opt_state, history
    epoch, state = resumed
    if epoch > epochs:
        raise ValueError(f"the checkpoint in {directory} is at epoch {epoch}, past "
                         f"epochs={epochs}")
    return epoch, state["params"], state["opt_state"], state["history"]
