"""Checkpoints of a training run (beyond the book): one file per epoch, written atomically.

A checkpoint holds params, optimizer state, the number of finished epochs, the run's PRNG key,
the history so far and the run's configuration, in Flax's msgpack serialization
(`flax.serialization`): arrays are stored as their raw bytes, so a round trip is bitwise exact,
and loading runs no code (no pickle). Any pytree is stored as nested dicts keyed by its key
path (`state_dict`): dict keys, tuple indices, NamedTuple fields (optax states), and for an
`nnx.State` its layers, parameters and each Variable's `value`; it is read back into the
structure of the run's own params and optimizer state (`from_state_dict`).

A file is `MAGIC`, the SHA-256 of the payload, then the payload; a truncated or corrupted file
fails that digest and is skipped with a warning for the one before it. Files are written to a
temporary name in the same folder, fsynced and renamed (`os.replace`): a run killed mid-write
leaves the previous files whole.

One run per folder: `lock` holds an exclusive `flock` on `<folder>/.lock` for the whole run,
and a second run asking for the folder meanwhile gets a CheckpointError naming the holder's pid
(two runs writing one folder would prune and resume each other's epochs). flock rather than a
pid file because the kernel releases it when its process dies, even by SIGKILL: a crashed run
leaves nothing to clean up, and no pid can be mistaken for a live one. A writer deletes only
its own temporary files, and those whose writer is gone (`files.abandoned_temporaries`).

The configuration (a nested JSON-able mapping: `fingerprint.describe` of the loss and the
optimizer, batch size, ...) is stored as JSON text; `resume` refuses a checkpoint written with
different settings, naming each difference, unless told `resume="force"`.

Why not orbax-checkpoint: its strength is sharded, asynchronous writes of models far larger
than one host's memory. d2l's models are megabytes; one synchronous file per epoch keeps the
format readable (`msgpack_restore` gives plain dicts of numpy arrays) and needs no threads
that a SIGKILL could interrupt. Params are replicated, so on several hosts process 0 writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax import Array

from jaxhw.files import abandoned_temporaries, write_atomic


def _serialization() -> Any:
    """flax.serialization, imported on first use: importing flax takes ~0.25 s, which a run
    without checkpoints should not pay."""
    from flax import serialization

    return serialization

MAGIC = b"jaxhw-checkpoint-v1\n"
_DIGEST_SIZE = 32
_NAME = re.compile(r"^epoch_(\d+)\.msgpack$")
LOCK_NAME = ".lock"


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


def checked_folder(directory: Any) -> Path:
    """`directory` as a Path, or a ValueError if it is empty, not a path, or not a folder."""
    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError("checkpoint_dir must be a folder path (str or pathlib.Path), got "
                         f"{type(directory).__name__}")
    if not str(directory).strip():
        raise ValueError("checkpoint_dir must name a folder, got an empty string (for the "
                         "current folder pass '.')")
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"checkpoint_dir {directory} is a file; expected a folder (it is "
                         "created if missing)")
    return folder


@contextlib.contextmanager
def lock(directory: str | Path | None) -> Iterator[Path | None]:
    """Hold `directory` for one run (created if missing); yields it as a Path (None: no folder,
    nothing held, yields None).

    While it is held, a second `lock` of the same folder, from any process or this one, raises
    CheckpointError naming the folder and the holder's pid. The kernel releases the lock when
    the holder exits or dies. On several hosts only process 0 locks, as only it writes.
    """
    import fcntl  # POSIX only; imported here so that the module loads everywhere

    if directory is None:
        yield None
        return
    folder = checked_folder(directory)
    if jax.process_index() != 0:
        yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 256, 0).decode(errors="replace").strip() or "just starting"
            raise CheckpointError(f"checkpoint_dir {folder} is in use by another run ({holder}); "
                                  "wait for it to finish, or give this run another folder"
                                  ) from None
        except OSError as err:  # e.g. ENOLCK from a network filesystem without locks
            raise CheckpointError(f"cannot lock checkpoint_dir {folder}: {err}; use a local "
                                  "folder") from err
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        try:
            yield folder
        finally:
            os.ftruncate(fd, 0)  # the file stays: deleting it would race with the next run
    finally:
        os.close(fd)  # releases the flock


def save(directory: str | Path, epoch: int, state: Mapping[str, Any], *, keep: int = 3) -> Path:
    """Write `state` (a pytree of arrays, numbers, strings) as the checkpoint after `epoch`.

    Keeps the newest `keep` checkpoints (at least 2, so a corrupt newest one has a fallback)
    and removes temporary files whose writer is gone. Returns the checkpoint's path.
    """
    folder = checked_folder(directory)
    path = checkpoint_path(folder, epoch)
    if jax.process_index() != 0:  # params are replicated: one writer is enough
        return path
    folder.mkdir(parents=True, exist_ok=True)
    payload = _serialization().msgpack_serialize(state_dict(jax.device_get(dict(state))))
    write_atomic(path, MAGIC + hashlib.sha256(payload).digest() + payload)
    for old_epoch, old in list_checkpoints(folder)[:-max(keep, 2)]:
        if old_epoch != epoch:
            old.unlink(missing_ok=True)
    for stale in abandoned_temporaries(folder):
        stale.unlink(missing_ok=True)
    return path


def load(path: str | Path) -> dict[str, Any]:
    """The state dict stored in one checkpoint file (numpy arrays, numbers, strings; a run's
    `config` decoded from its JSON text).

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
        state = _serialization().msgpack_restore(payload)
        if isinstance(state.get("config"), str):  # older checkpoints hold a dict of ints
            state["config"] = json.loads(state["config"])
    except Exception as err:  # the digest matched, so the writer stored something odd
        raise CorruptCheckpointError(f"{path} does not decode: {err}") from err
    return state


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


def _key_name(entry: Any) -> str:
    """One step of a pytree key path as a name: a dict key, an index or a field's name."""
    for attribute in ("key", "idx", "name"):  # DictKey, SequenceKey, GetAttrKey
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return str(entry)


def state_dict(tree: Any) -> Any:
    """`tree` as nested dicts keyed by the names of its key paths, down to its leaves (an
    empty node, such as optax's EmptyState, as {}; None as None)."""
    if tree is None:
        return None
    children, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: x is not tree)
    if len(children) == 1 and children[0][0] == ():  # a leaf
        return tree
    return {_key_name(path[0]): state_dict(child) for path, child in children}


def _leaves(tree: Any) -> dict[str, Any]:
    """Every leaf of a pytree (or of a state dict) by its path "a/b/c"."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {"/".join(_key_name(k) for k in path): leaf for path, leaf in flat}


def from_state_dict(template: Any, stored: Any) -> Any:
    """`stored` (nested dicts, as `state_dict` gives them) in the structure of `template`."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = []
    for path, _ in flat:
        node = stored
        for entry in path:
            node = node[_key_name(entry)]
        leaves.append(node)
    return jax.tree.unflatten(treedef, leaves)


def _dtype(leaf: Any) -> np.dtype:
    return np.dtype(leaf.dtype) if hasattr(leaf, "dtype") else np.asarray(leaf).dtype


def check_matches(name: str, stored: Any, template: Any) -> None:
    """CheckpointError naming every path whose presence, shape or dtype differs."""
    want, got = _leaves(template), _leaves(stored)
    problems = [f"{name}/{p} is missing from the checkpoint" for p in want if p not in got]
    problems += [f"{name}/{p} is in the checkpoint but not in this run" for p in got
                 if p not in want]
    for p in want.keys() & got.keys():
        w, g = want[p], got[p]
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


def config_json(config: Mapping[str, Any]) -> str:
    """A run's configuration as JSON text; a ValueError if it is not JSON-able."""
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a mapping, got {type(config).__name__}")
    try:
        return json.dumps(dict(config), sort_keys=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config must be JSON-able (describe functions and optimizers with "
                         f"jaxhw.fingerprint.describe): {err}") from err


def save_run(directory: str | Path, epoch: int, *, params: Any, opt_state: Any, key: Array,
             history: Mapping[str, Any], config: Mapping[str, Any], keep: int = 3) -> Path:
    """Checkpoint a run after `epoch` finished epochs: what `resume` needs to continue it.

    config: the run's settings as a nested JSON-able mapping, compared by `resume`.
    """
    return save(directory, epoch, {
        "params": params,
        "opt_state": opt_state,
        "key": key_state(key),
        "history": {k: np.asarray(v) for k, v in history.items()},
        "config": config_json(config),
    }, keep=keep)


def _brief(value: Any, width: int = 60) -> str:
    """A described value for a message: a function or type by its name, else short JSON."""
    if isinstance(value, Mapping) and isinstance(value.get("function", value.get("type")), str):
        return value.get("function", value.get("type"))
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[:width - 3] + "..."


def _setting(path: tuple[str, ...]) -> str:
    """A setting's name for a message: its key path, less `fingerprint.describe`'s wrappers."""
    return "/".join(p for p in path if p not in ("fields", "closure")) or "config"


def _differences(stored: Any, mine: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Each setting that differs between two configurations, as 'path=stored but this run has
    path=mine'. A different function or type is one difference, not one per captured value."""
    name = _setting(path)
    if isinstance(stored, Mapping) and isinstance(mine, Mapping):
        for tag in ("function", "type"):
            if stored.get(tag) != mine.get(tag):
                return [f"{name}={_brief(stored)} but this run has {name}={_brief(mine)}"]
        found = []
        for k in sorted(stored.keys() | mine.keys()):
            if k in stored and k in mine:
                found += _differences(stored[k], mine[k], (*path, k))
                continue
            sub = _setting((*path, k))
            found.append(f"{sub}={_brief(stored[k])} is in the checkpoint but not in this run"
                         if k in stored else
                         f"{sub} is not recorded in the checkpoint (this run has "
                         f"{sub}={_brief(mine[k])})")
        return found
    if isinstance(stored, list) and isinstance(mine, list) and len(stored) == len(mine):
        return [d for i, (s, m) in enumerate(zip(stored, mine, strict=True))
                for d in _differences(s, m, (*path, str(i)))]
    if json.dumps(stored, sort_keys=True) != json.dumps(mine, sort_keys=True):  # NaN == NaN
        return [f"{name}={_brief(stored)} but this run has {name}={_brief(mine)}"]
    return []


def check_resume_mode(mode: Any) -> bool | str:
    """`mode` if it is a valid `resume` value, else a ValueError naming the allowed ones."""
    if not (isinstance(mode, bool) or (isinstance(mode, str) and mode in ("auto", "force"))):
        raise ValueError("resume must be False, True or 'auto', or 'force' to continue a "
                         f"checkpoint written with different settings; got {mode!r}")
    return mode


def resume(directory: str | Path, mode: bool | str, *, params: Any, opt_state: Any, key: Array,
           config: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The run state to continue from, checked against this run, or None for a fresh start.

    mode: False starts fresh (refusing a folder that already holds checkpoints), True requires
    a checkpoint, "auto" resumes when there is one, "force" is True that continues despite a
    different key or config (with a warning naming each difference; params and opt_state must
    still fit). Returns (epoch, {"params", "opt_state", "history"}) with params and opt_state
    in the structures of the given ones.
    """
    mode = check_resume_mode(mode)
    mine = json.loads(config_json(config))
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
    differences = _differences(stored["config"], mine)
    my_key = key_state(key)
    if stored["key"]["impl"] != my_key["impl"] or not np.array_equal(stored["key"]["data"],
                                                                     my_key["data"]):
        differences.insert(0, "a different PRNG key (seed) wrote it: key="
                              f"{_brief(np.asarray(stored['key']['data']).tolist())} but this "
                              f"run has key={_brief(my_key['data'].tolist())}")
    try:  # a structure that differs can never be forced; the settings may say why it does
        check_matches("params", stored["params"], params)
        check_matches("opt_state", stored["opt_state"], opt_state)
    except CheckpointError as err:
        if differences:
            raise CheckpointError(f"{err}; its settings differ too: {'; '.join(differences)}"
                                  ) from None
        raise
    if differences:
        message = (f"checkpoint of epoch {epoch} in {directory} was written with other settings: "
                   + "; ".join(differences))
        if (all(isinstance(v, int) for v in stored["config"].values())
                and any("not recorded in the checkpoint" in d for d in differences)):
            message += " (an older jaxhw recorded only the batch size and data size)"
        if mode != "force":
            raise CheckpointError(f"{message}. Use another checkpoint_dir for this run, or pass "
                                  "resume='force' to continue that run with these settings")
        warnings.warn(f"resume='force': {message}", RuntimeWarning, stacklevel=2)
    return epoch, {
        "params": from_state_dict(params, stored["params"]),
        "opt_state": from_state_dict(opt_state, stored["opt_state"]),
        "history": {k: list(v) for k, v in stored["history"].items()},
    }


def start_state(directory: str | Path | None, mode: bool | str, epochs: int, *, params: Any,
                opt_state: Any, key: Array, config: Mapping[str, Any], initial_epoch: int = 0
                ) -> tuple[int, Any, Any, dict[str, list]]:
    """Where a training run starts: (first epoch, params, opt_state, history so far).

    Without `directory`, or when `resume` finds nothing to continue, `initial_epoch` and the
    given state; otherwise the checked checkpoint (see `resume`), which must not be past
    `epochs`. Bad arguments fail here, before an epoch is spent. Call it inside
    `lock(directory)`, so that no other run writes the folder between this check and the
    run's last checkpoint.
    """
    mode = check_resume_mode(mode)
    history: dict[str, list] = {"epoch": [], "train_loss": [], "batch_loss": [],
                                "epoch_seconds": []}
    if directory is None:
        if mode is not False:
            raise ValueError(f"resume={mode!r} needs a checkpoint_dir to resume from; pass "
                             "checkpoint_dir, or leave resume=False")
        return initial_epoch, params, opt_state, history
    folder = checked_folder(directory)
    resumed = resume(folder, mode, params=params, opt_state=opt_state, key=key, config=config)
    if resumed is None:
        return initial_epoch, params, opt_state, history
    epoch, state = resumed
    if epoch > epochs:
        raise ValueError(f"the checkpoint in {directory} is at epoch {epoch}, past "
                         f"epochs={epochs}")
    stored = state["history"]
    if "epoch" not in stored:  # written before history held the epoch indices
        stored["epoch"] = list(range(epoch - len(stored["train_loss"]), epoch))
    return epoch, state["params"], state["opt_state"], stored
