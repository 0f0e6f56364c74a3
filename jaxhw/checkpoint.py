"""Checkpoints of a training run (beyond the book), written by Orbax.

`fit(..., checkpoint_dir=D)` saves after every epoch what `resume` needs to continue the run:
params, optimizer state, the history so far, the run's PRNG key and its settings. Orbax
(`orbax.checkpoint.CheckpointManager`, the checkpointer Flax recommends) writes them: one
folder per epoch (`D/epoch_000003/`), written under a temporary name and renamed when whole,
so a run killed at any moment leaves its earlier epochs whole; the newest `keep` are kept; on
several processes every process calls `save` and Orbax coordinates them (process 0 writes the
replicated values). Arrays are stored as their bytes (TensorStore), read back without running
code (no pickle).

What Orbax does not do stays here (docs/DESIGN.md says why for each):
- one run per folder: `lock` holds an `flock` on `D/.lock` for the whole run. Orbax has no
  lock, and two managers on one folder prune and clean up each other's epochs;
- a SHA-256 digest of every checkpoint's values and settings: Orbax keeps no checksum, and a
  flipped byte in an array's file restores silently different values. A checkpoint that does
  not load or does not match its digest is skipped for the one before, with a warning;
- the run's settings (`fingerprint.describe` of the loss and optimizer, batch size, ...),
  compared by `resume`, which names each difference and refuses unless `resume="force"`;
- the stored structure checked against the run's params and optimizer state by key path
  (dtypes as `fit` trains them: numpy float64 and Python floats train as float32), and read
  back into the run's own structures, so an `nnx.State` resumes as a State. Typed PRNG keys
  are stored as their key data and wrapped again.

Orbax is imported on first use (0.2 s of CPU): a run without checkpoints never pays it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxhw import fingerprint
from jaxhw.files import LockBusy, file_lock

LOCK_NAME = ".lock"
STEP_PREFIX = "epoch"
FORMAT = "jaxhw-checkpoint-v2"  # v1: one Flax msgpack file per epoch (epoch_NNNNNN.msgpack)
ITEM = "state"
_STEP_NAME = re.compile(rf"^{STEP_PREFIX}_(\d{{6,}})$")  # Orbax's temporaries end otherwise


class CheckpointError(ValueError):
    """A checkpoint that cannot be used for this run; the message says what differs."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint that is truncated or corrupted (it does not load, or its digest differs)."""


# ----------------------------------------------------------------------------- folder & lock
def checked_folder(directory: Any) -> Path:
    """`directory` as a Path, or a ValueError if it is empty, not a path, or not a folder."""
    if isinstance(directory, Folder):
        return directory.path
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


def step_path(directory: Any, epoch: int) -> Path:
    """The folder of the checkpoint taken after `epoch` finished epochs."""
    return checked_folder(directory) / f"{STEP_PREFIX}_{epoch:06d}"


def list_checkpoints(directory: Any) -> list[tuple[int, Path]]:
    """(epoch, folder) of every checkpoint in `directory`, oldest first; [] if none. Read from
    the folders' names, without Orbax: safe on a folder another run is writing."""
    folder = checked_folder(directory)
    if not folder.is_dir():
        return []
    found = [(int(m[1]), p) for p in folder.iterdir() if (m := _STEP_NAME.match(p.name))]
    return sorted(found)


class Folder:
    """A checkpoint folder opened for saving and restoring: Orbax's CheckpointManager over it,
    made on first use. `owner`: this run holds the folder's lock, so the temporary folders
    of killed writes are removed (nobody else can be writing them).

    A save is written in the background while the next epoch runs (Orbax's asynchronous
    checkpointing); the next save and `close` wait for it to be whole.
    """

    def __init__(self, path: Path, *, keep: int = 3, owner: bool = False) -> None:
        self.path, self.keep, self.owner = path, max(keep, 2), owner  # 2: a fallback remains
        self.corrupt: set[int] = set()  # epochs that `latest` skipped
        self._manager: Any = None

    @property
    def manager(self) -> Any:
        """The CheckpointManager. Making it is a collective on several processes: every
        process must get here at the same point of the run."""
        if self._manager is None:
            import orbax.checkpoint as ocp

            logging.getLogger("absl").addFilter(_MERGE_WARNING)  # until `close`
            self._manager = ocp.CheckpointManager(  # the settings: docs/DESIGN.md, measured
                self.path, item_handlers={ITEM: ocp.PyTreeCheckpointHandler(use_ocdbt=False)},
                options=ocp.CheckpointManagerOptions(
                    max_to_keep=self.keep, step_prefix=STEP_PREFIX, step_format_fixed_length=6,
                    cleanup_tmp_directories=self.owner, enable_async_checkpointing=True,
                    enable_background_delete=True, save_root_metadata=False,
                    enable_should_save_is_saving_in_progress_check=False))
        return self._manager

    def steps(self) -> list[int]:
        """The epochs saved here, oldest first."""
        return sorted(self.manager.all_steps())

    def save(self, epoch: int, tree: Any, meta: Mapping[str, Any]) -> Path:
        """Write `tree` (nested dicts of numpy arrays) and `meta` (JSON) as epoch's checkpoint.

        Orbax saves no epoch at or before its newest one: corrupt ones that a resume skipped
        go first; any other is a CheckpointError (another run writes this folder).
        """
        import orbax.checkpoint as ocp

        later = [s for s in self.steps() if s >= epoch]
        if later and set(later) <= self.corrupt:
            self._remove(later)
        elif later:
            raise CheckpointError(f"checkpoint_dir {self.path} holds epoch {later[-1]}, not "
                                  f"older than epoch {epoch} to save now: another run writes "
                                  "this folder (fit holds its lock; save_run outside it does not)")
        item = ocp.args.PyTreeSave(tree, custom_metadata=dict(meta))
        if not self.manager.save(epoch, args=ocp.args.Composite(**{ITEM: item})):
            raise CheckpointError(f"Orbax did not save epoch {epoch} in {self.path}")
        return step_path(self.path, epoch)

    def _remove(self, epochs: list[int]) -> None:
        """Delete these epochs' folders now, each renamed out of the step names first (a kill
        mid-delete leaves no half step). Not `manager.delete`: its background deletion races
        with saving the same epoch again."""
        self.manager.wait_until_finished()
        if jax.process_index() == 0:
            for epoch in epochs:
                step = step_path(self.path, epoch)
                aside = step.with_name(f".corrupt-{step.name}-{os.getpid()}")
                os.replace(step, aside)
                shutil.rmtree(aside)
        self.corrupt -= set(epochs)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(f"jaxhw checkpoint remove {epochs}")
        self.manager.reload()

    def close(self) -> None:
        """Wait for Orbax's background work (the last save, deleting old epochs), then let the
        manager go."""
        if self._manager is not None:
            try:
                self._manager.wait_until_finished()
                self._manager.close()
            finally:
                self._manager = None
                logging.getLogger("absl").removeFilter(_MERGE_WARNING)


class _MergeWarningFilter(logging.Filter):
    """Drops Orbax's "Skipping merge of OCDBT checkpoints" warning: orbax-checkpoint 0.12
    tries to merge OCDBT files after every save, also when OCDBT is off, and says so. Added
    to Orbax's logger ("absl") while a Folder's manager exists (a filter object is added
    once: Folders open at the same time share it, and the first one closed removes it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Skipping merge of OCDBT checkpoints" not in record.getMessage()


_MERGE_WARNING = _MergeWarningFilter()


@contextlib.contextmanager
def _opened(directory: Any) -> Iterator[Folder]:
    """`directory` as a Folder: itself if it is one, else one opened for this call."""
    if isinstance(directory, Folder):
        yield directory
        return
    folder = Folder(checked_folder(directory))
    try:
        yield folder
    finally:
        folder.close()


@contextlib.contextmanager
def lock(directory: str | Path | None, *, keep: int = 3) -> Iterator[Folder | None]:
    """Hold `directory` for one run (created if missing); yields it as a Folder to pass to
    `start_state` and `save_run` (None: no folder, nothing held, yields None).

    While it is held, a second `lock` of the same folder, from any process or this one, raises
    CheckpointError naming the folder and the holder's pid. The kernel releases the lock when
    the holder exits or dies. On several processes process 0 takes the lock and tells the
    others, so that all of them go on or all raise. The newest `keep` epochs are kept.
    """
    if directory is None:
        yield None
        return
    path = checked_folder(directory)
    with contextlib.ExitStack() as held:
        error = None
        if jax.process_index() == 0:
            try:
                path.mkdir(parents=True, exist_ok=True)
                held.enter_context(file_lock(path / LOCK_NAME, wait=False,
                                             holder=f"pid {os.getpid()} on {socket.gethostname()}"))
            except LockBusy as busy:
                error = CheckpointError(f"checkpoint_dir {path} is in use by another run "
                                        f"({busy.holder or 'just starting'}); wait for it to "
                                        "finish, or give this run another folder")
            except OSError as err:  # e.g. ENOLCK from a network filesystem without locks
                error = CheckpointError(f"cannot lock checkpoint_dir {path}: {err}; use a "
                                        "local folder")
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            locked = multihost_utils.broadcast_one_to_all(np.int32(error is None))
            if error is None and not locked:
                error = CheckpointError(f"process 0 could not lock checkpoint_dir {path} (its "
                                        "error says why)")
        if error is not None:
            raise error
        folder = Folder(path, keep=keep, owner=True)
        held.callback(folder.close)  # the last save is whole before the lock goes
        yield folder


# ----------------------------------------------------------------------------- trees & digest
def _key_name(entry: Any) -> str:
    """One step of a pytree key path as a name: a dict key, an index or a field's name."""
    for attribute in ("key", "idx", "name"):  # DictKey, SequenceKey, GetAttrKey
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return str(entry)


def leaves_by_path(tree: Any) -> dict[tuple[str, ...], Any]:
    """Every leaf of a pytree by its key path as names: dict keys, tuple indices, NamedTuple
    fields, and for an `nnx.State` its layers, parameters and each Variable's `value`."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {tuple(_key_name(k) for k in path): leaf for path, leaf in flat}


def _nested(leaves: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """Leaves by path as nested dicts (what Orbax stores, and gives back)."""
    out: dict[str, Any] = {}
    for path, leaf in leaves.items():
        node = out
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = leaf
    return out


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _host(leaf: Any) -> np.ndarray:
    """A leaf as a numpy array of its own: a typed key as its key data; an array replicated
    over several processes from this process's copy. A copy, because Orbax writes it while
    the next epoch runs, and a CPU array's numpy view would share a buffer that a later
    computation may be given (donated) to overwrite."""
    if _is_key(leaf):
        leaf = jax.random.key_data(leaf)
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        if not leaf.sharding.is_fully_replicated:
            raise ValueError("checkpoints hold replicated params and optimizer state; got an "
                             f"array sharded as {leaf.sharding}")
        leaf = leaf.addressable_data(0)
    return np.array(leaf, copy=True)


def digest(leaves: Mapping[tuple[str, ...], np.ndarray], meta: Mapping[str, Any]) -> str:
    """SHA-256 of the settings and of every leaf's path, dtype, shape and bytes."""
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for path in sorted(leaves):
        a = np.ascontiguousarray(leaves[path])
        h.update(f"{'/'.join(path)}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def key_state(key: Array) -> dict[str, Any]:
    """A typed PRNG key as JSON-able data: its uint32 words and implementation name."""
    return {"data": np.asarray(jax.random.key_data(key)).tolist(),
            "impl": str(jax.random.key_impl(key))}


def config_json(config: Mapping[str, Any]) -> str:
    """A run's configuration as JSON text; a ValueError if it is not JSON-able."""
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a mapping, got {type(config).__name__}")
    try:
        return json.dumps(dict(config), sort_keys=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config must be JSON-able (describe functions and optimizers with "
                         f"jaxhw.fingerprint.describe): {err}") from err


# ----------------------------------------------------------------------------- save & load
def save_run(directory: Folder | str | Path, epoch: int, *, params: Any, opt_state: Any,
             key: Array, history: Mapping[str, Any], config: Mapping[str, Any]) -> Path:
    """Checkpoint a run after `epoch` finished epochs: what `resume` needs to continue it.

    config: the run's settings as a nested JSON-able mapping, compared by `resume`. On several
    processes every process calls it. Returns the epoch's folder.
    """
    tree = leaves_by_path({"params": params, "opt_state": opt_state,
                           "history": {k: np.asarray(v) for k, v in history.items()}})
    meta = {"format": FORMAT, "config": json.loads(config_json(config)), "key": key_state(key),
            "keys": {"/".join(p): str(jax.random.key_impl(v)) for p, v in tree.items()
                     if _is_key(v)}}
    host = {path: _host(leaf) for path, leaf in tree.items()}
    meta["sha256"] = digest(host, meta)
    with _opened(directory) as folder:
        return folder.save(epoch, _nested(host), meta)


def load(directory: Folder | str | Path, epoch: int) -> dict[str, Any]:
    """The checkpoint of `epoch`, checked against its digest: {"state": {path: numpy array},
    "meta": {"config", "key", "keys", ...}}, paths as tuples ("params", "W").

    Raises CorruptCheckpointError when it does not load or does not match its digest.
    """
    import orbax.checkpoint as ocp

    with _opened(directory) as folder:
        name = f"{folder.path.name}/{step_path(folder.path, epoch).name}"
        try:
            stored = folder.manager.item_metadata(epoch)[ITEM]
            as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray),
                                    stored.tree)
            state = folder.manager.restore(epoch, args=ocp.args.Composite(
                **{ITEM: ocp.args.PyTreeRestore(restore_args=as_numpy)}))[ITEM]
            meta = dict(stored.custom_metadata)
        except Exception as err:  # Orbax and TensorStore raise many types for damaged files
            raise CorruptCheckpointError(f"{name} does not load ({type(err).__name__}: "
                                         f"{str(err)[:200]})") from err
    leaves = {path: np.asarray(leaf) for path, leaf in leaves_by_path(state).items()}
    written = meta.pop("sha256", None)
    if meta.get("format") != FORMAT:
        raise CorruptCheckpointError(f"{name} is not a jaxhw checkpoint (no {FORMAT!r} in its "
                                     "metadata)")
    if digest(leaves, meta) != written:
        raise CorruptCheckpointError(f"{name} is truncated or corrupted (SHA-256 mismatch)")
    return {"state": leaves, "meta": meta}


def latest(directory: Folder | str | Path) -> tuple[int, dict[str, Any]] | None:
    """(epoch, `load`'s dict) of the newest readable checkpoint, or None when there is none.

    A corrupt newer one gives a warning naming it and the older one used instead; if every one
    is corrupt, raises CorruptCheckpointError.
    """
    with _opened(directory) as folder:
        bad = []
        for epoch in reversed(folder.steps()):
            try:
                stored = load(folder, epoch)
            except CorruptCheckpointError as err:
                bad.append(str(err))
                folder.corrupt.add(epoch)
                continue
            if bad:
                warnings.warn(f"skipping corrupt checkpoint(s): {'; '.join(bad)}; resuming from "
                              f"{step_path(folder.path, epoch).name} (epoch {epoch}) instead",
                              RuntimeWarning, stacklevel=2)
            return epoch, stored
        if bad:
            raise CorruptCheckpointError(f"no readable checkpoint in {folder.path}: "
                                         + "; ".join(bad))
        return None


# ----------------------------------------------------------------------------- the run's state
def _canonical(leaf: Any) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) that `fit` trains `leaf` as: jax's canonical dtype (float64 arrays and
    Python floats are float32 unless x64 is on); a typed key as its key data."""
    if _is_key(leaf):
        data = jax.eval_shape(jax.random.key_data, leaf)
        return tuple(data.shape), np.dtype(data.dtype)
    dtype = leaf.dtype if hasattr(leaf, "dtype") else np.result_type(leaf)
    return tuple(np.shape(leaf)), np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def check_matches(name: str, stored: Mapping[tuple[str, ...], np.ndarray], template: Any
                  ) -> None:
    """CheckpointError naming every path under `name` whose presence, shape or dtype differs
    between the stored leaves and `template` (dtypes compared as `fit` trains them)."""
    want = {"/".join(p): _canonical(v) for p, v in leaves_by_path(template).items()}
    got = {"/".join(p[1:]): _canonical(v) for p, v in stored.items() if p[0] == name}
    problems = [f"{name}/{p} is missing from the checkpoint" for p in want if p not in got]
    problems += [f"{name}/{p} is in the checkpoint but not in this run" for p in got
                 if p not in want]
    for p in want.keys() & got.keys():
        (w_shape, w_dtype), (g_shape, g_dtype) = want[p], got[p]
        if w_shape != g_shape:
            problems.append(f"{name}/{p} has shape {g_shape} in the checkpoint but {w_shape} in "
                            "this run")
        elif w_dtype != g_dtype:
            problems.append(f"{name}/{p} has dtype {g_dtype} in the checkpoint but {w_dtype} "
                            "in this run")
    if problems:
        raise CheckpointError("checkpoint does not match this run (a different model or "
                              "optimizer?): " + "; ".join(sorted(problems)))


def _rebuilt(name: str, stored: Mapping[tuple[str, ...], np.ndarray], keys: Mapping[str, str],
             template: Any) -> Any:
    """The stored leaves under `name` in `template`'s structure, as jax arrays in the dtypes
    `fit` trains (typed keys wrapped again with the template's implementation)."""
    leaves = []
    for path, like in leaves_by_path(template).items():
        value = stored[(name, *path)]
        if _is_key(like):
            where, impl = "/".join((name, *path)), str(jax.random.key_impl(like))
            if keys.get(where) != impl:
                raise CheckpointError(f"{where} holds a PRNG key of another kind in the "
                                      f"checkpoint ({keys.get(where)}, not {impl})")
            leaves.append(jax.random.wrap_key_data(value, impl=jax.random.key_impl(like)))
        else:
            leaves.append(jnp.asarray(value, _canonical(like)[1]))
    return jax.tree.unflatten(jax.tree.structure(template), leaves)


def check_resume_mode(mode: Any) -> bool | str:
    """`mode` if it is a valid `resume` value, else a ValueError naming the allowed ones."""
    if not (isinstance(mode, bool) or (isinstance(mode, str) and mode in ("auto", "force"))):
        raise ValueError("resume must be False, True or 'auto', or 'force' to continue a "
                         f"checkpoint written with different settings; got {mode!r}")
    return mode


def _refuse_older_files(path: Path) -> None:
    """CheckpointError if `path` holds checkpoints of the jaxhw before Orbax (msgpack files)."""
    older = sorted(p.name for p in path.glob(f"{STEP_PREFIX}_*.msgpack")) if path.is_dir() else []
    if older:
        raise CheckpointError(
            f"checkpoint_dir {path} holds checkpoints of an older jaxhw ({', '.join(older)}: "
            "Flax msgpack files), which this jaxhw does not read (it writes Orbax folders, "
            "epoch_NNNNNN/); finish that run with the jaxhw that started it, or give this run "
            "another folder")


def _warn_undescribed(config: Mapping[str, Any], where: str) -> None:
    """A warning naming the settings `fingerprint.describe` could not look inside."""
    hidden = fingerprint.undescribed(config)
    if hidden:
        warnings.warn(f"resuming {where}: this run's settings hold objects jaxhw cannot look "
                      f"inside ({', '.join(hidden)}), so a change in them since the checkpoint "
                      "would go unnoticed; check them yourself", RuntimeWarning, stacklevel=3)


def resume(directory: Folder | str | Path, mode: bool | str, *, params: Any, opt_state: Any,
           key: Array, config: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The run state to continue from, checked against this run, or None for a fresh start.

    mode: False starts fresh (refusing a folder that already holds checkpoints), True requires
    a checkpoint, "auto" resumes when there is one, "force" is True that continues despite a
    different key or config (with a warning naming each difference; params and opt_state must
    still fit). Returns (epoch, {"params", "opt_state", "history"}) with params and opt_state
    as jax arrays in the structures of the given ones. A setting that `fingerprint.describe`
    cannot look inside gives a warning.
    """
    mode = check_resume_mode(mode)
    mine = json.loads(config_json(config))
    path = checked_folder(directory)
    _refuse_older_files(path)
    with _opened(directory) as folder:
        if mode is False:
            existing = folder.steps()
            if existing:
                raise CheckpointError(
                    f"checkpoint_dir {path} already holds checkpoints (up to epoch "
                    f"{existing[-1]}); pass resume=True or 'auto' to continue that run, or use "
                    "an empty folder")
            return None
        found = latest(folder)
    if found is None:
        if mode == "auto":
            return None
        raise FileNotFoundError(f"no checkpoint in {path} to resume from; pass "
                                "resume='auto' to start fresh when there is none")
    epoch, stored = found
    meta, state = stored["meta"], stored["state"]
    differences = fingerprint.differences(meta["config"], mine)
    my_key = key_state(key)
    if meta["key"] != my_key:
        differences.insert(0, "a different PRNG key (seed) wrote it: key="
                              f"{fingerprint.brief(meta['key']['data'])} but this run has "
                              f"key={fingerprint.brief(my_key['data'])}")
    try:  # a structure that differs can never be forced; the settings may say why it does
        check_matches("params", state, params)
        check_matches("opt_state", state, opt_state)
    except CheckpointError as err:
        if differences:
            raise CheckpointError(f"{err}; its settings differ too: {'; '.join(differences)}"
                                  ) from None
        raise
    where = f"the checkpoint of epoch {epoch} in {path}"
    if differences:
        message = f"{where} was written with other settings: " + "; ".join(differences)
        if mode != "force":
            raise CheckpointError(f"{message[0].upper()}{message[1:]}. Use another "
                                  "checkpoint_dir for this run, or pass resume='force' to "
                                  "continue that run with these settings")
        warnings.warn(f"resume='force': {message}", RuntimeWarning, stacklevel=2)
    _warn_undescribed(mine, where)
    history: dict[str, list] = {}
    for p, value in state.items():
        if p[0] == "history":
            history[p[1]] = list(value)
    return epoch, {"params": _rebuilt("params", state, meta["keys"], params),
                   "opt_state": _rebuilt("opt_state", state, meta["keys"], opt_state),
                   "history": history}


def start_state(directory: Folder | str | Path | None, mode: bool | str, epochs: int, *,
                params: Any, opt_state: Any, key: Array, config: Mapping[str, Any],
                initial_epoch: int = 0) -> tuple[int, Any, Any, dict[str, list]]:
    """Where a training run starts: (first epoch, params, opt_state, history so far).

    Without `directory`, or when `resume` finds nothing to continue, `initial_epoch` and the
    given state; otherwise the checked checkpoint (see `resume`), which must not be past
    `epochs` (the total, as in Keras), and a warning when it is at `epochs` already (nothing
    is left to train). Bad arguments fail here, before an epoch is spent. Call it with the
    Folder that `lock(directory)` yields, so that no other run writes the folder meanwhile.
    """
    mode = check_resume_mode(mode)
    history: dict[str, list] = {"epoch": [], "train_loss": [], "batch_loss": [],
                                "epoch_seconds": []}
    if directory is None:
        if mode is not False:
            raise ValueError(f"resume={mode!r} needs a checkpoint_dir to resume from; pass "
                             "checkpoint_dir, or leave resume=False")
        return initial_epoch, params, opt_state, history
    resumed = resume(directory, mode, params=params, opt_state=opt_state, key=key,
                     config=config)
    if resumed is None:
        return initial_epoch, params, opt_state, history
    epoch, state = resumed
    where = checked_folder(directory)
    if epoch > epochs:
        raise ValueError(f"the checkpoint in {where} is at epoch {epoch}, past epochs={epochs} "
                         "(epochs counts from the run's start, as in Keras: pass an epochs "
                         f"above {epoch} to train more)")
    if epoch == epochs:
        warnings.warn(f"the checkpoint in {where} is at epoch {epoch} already, and "
                      f"epochs={epochs}: nothing is left to train, so fit returns the "
                      "checkpoint's params and history. epochs counts from the run's start "
                      f"(as in Keras), not from the checkpoint: to train {epochs} more, pass "
                      f"epochs={epoch + epochs}", RuntimeWarning, stacklevel=3)
    return epoch, state["params"], state["opt_state"], state["history"]
