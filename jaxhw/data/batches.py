"""Device-resident datasets: checks, keyed per-epoch orders, minibatches.

A dataset is any pytree of arrays sharing the leading (example) axis, e.g. `(X, y)`. Inside
it, a list or tuple of Python numbers (or of such lists, row by row) counts as one array and is
converted as `np.asarray` converts it (`as_arrays`): `([[0.1, 0.2], [0.3, 0.4]], [0, 1])` is
X (2, 2) and y (2,).

A dataset split over a mesh's "data" axis (`from_process_shares`: each process passes only its
own examples) is shuffled shard by shard: shard s visits its own examples in the order drawn
from `fold_in(key, s)`, and a minibatch takes `batch_size / D` examples from each of the D
shards (`shard_orders`, `split_shard_batches`, `take_local`), so no example leaves its device.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

Dataset = Any  # a pytree of arrays with a common leading axis
DATA_AXIS = "data"  # the mesh axis that minibatches and a dataset's shares are split over


def _is_number_list(x: Any) -> bool:
    """A (nested) list or tuple of Python numbers, e.g. [[0.1, 0.2], [0.3, 0.4]] or [0, 1]."""
    if not isinstance(x, list | tuple) or hasattr(x, "_fields") or not x:  # not a NamedTuple
        return False
    return all(isinstance(v, numbers.Number) or _is_number_list(v) for v in x)


def as_arrays(data: Dataset, name: str = "data") -> Dataset:
    """`data` with each list or tuple of numbers inside it converted by `np.asarray` (`data`
    itself stays the container, e.g. the pair); ValueError naming `name` for a ragged one."""

    def convert(path: Any, x: Any) -> Any:
        if not _is_number_list(x):
            return x
        try:
            return np.asarray(x)
        except ValueError:
            raise ValueError(f"{array_name(data, name, path)} is a list of rows of different "
                             "lengths; give every example the same number of values") from None

    return jax.tree_util.tree_map_with_path(
        convert, data, is_leaf=lambda x: x is not data and _is_number_list(x))


def array_name(data: Dataset, name: str, path: Any) -> str:
    """A name for the array at key `path` of `data`: "train X" or "train y" in a pair (X, y),
    else `name` and the path ("train['X']")."""
    if isinstance(data, tuple | list) and len(data) == 2 and len(path) == 1:
        return f"{name} {'Xy'[path[0].idx]}"
    return f"{name}{jax.tree_util.keystr(path)}"


def array_names(data: Dataset, name: str = "data") -> list[str]:
    """`array_name` of each array of `data`, in leaf order."""
    return [array_name(data, name, path)
            for path, _ in jax.tree_util.tree_flatten_with_path(data)[0]]


def num_examples(data: Dataset, name: str = "data") -> int:
    """Length of the common leading axis; ValueError naming `name` when leaves disagree."""
    leaves = jax.tree.leaves(data)
    if not leaves:
        raise ValueError(f"{name} holds no arrays; expected e.g. a pair (X, y)")
    shapes = [np.shape(leaf) for leaf in leaves]
    scalars = [n for n, s in zip(array_names(data, name), shapes, strict=True) if not s]
    if scalars:
        more = f" and {len(scalars) - 1} more" if len(scalars) > 1 else ""
        raise ValueError(f"{name}: every array needs a leading example axis; {scalars[0]} is a "
                         f"single value{more} (expected e.g. a pair of arrays (X, y))")
    lengths = {s[0] for s in shapes}
    if len(lengths) != 1:
        raise ValueError(f"{name}: arrays have different lengths {[s[0] for s in shapes]} "
                         "along the example axis (e.g. X and y must have the same length)")
    return lengths.pop()


def to_device(data: Dataset, name: str = "data", sharding: Any = None) -> Dataset:
    """Check `data` and put a copy of every array on the device (or `sharding`), dtypes kept.

    Arrays already on a device are kept as they are. Host arrays are copied first: on a CPU,
    `jax.device_put` may share a numpy array's memory, and the caller's array must not change
    the training data.
    """
    num_examples(data, name)

    def place(a: Any) -> Any:
        return a if isinstance(a, jax.Array) else host_copy(a, name)

    return jax.device_put(jax.tree.map(place, data), sharding)


def host_copy(a: Any, name: str = "data") -> np.ndarray:
    """A numpy copy of `a`; ValueError naming `name` unless it holds numbers or booleans."""
    a = np.array(a)
    if not (a.dtype == np.bool_ or jnp.issubdtype(a.dtype, jnp.number)):  # bfloat16 too
        raise ValueError(f"{name}: arrays must hold numbers or booleans, got dtype {a.dtype}")
    return a


def from_process_shares(share: Dataset, mesh: Mesh, name: str = "train") -> Dataset:
    """This process's share of a dataset as global arrays split over `mesh`'s "data" axis
    (`jax.make_array_from_process_local_data`), to pass to `fit(..., mesh=mesh)`.

    Every process calls it with its own examples, the same number in each (e.g.
    `fashion_mnist.load("train", process_index=jax.process_index(),
    process_count=jax.process_count(), drop_remainder=True)`); they stay on this process's
    devices, an equal block on each of its shards of the "data" axis. The global dataset is
    the shares in the mesh's order of devices (process order for a mesh over `jax.devices()`).
    A copy is placed: the caller's arrays may change afterwards. ValueError naming `name`
    when the shares differ in size or do not split equally over the shards.
    """
    share = as_arrays(share, name)
    n = num_examples(share, name)
    shares = _shares_per_process(n)
    if len(set(shares)) > 1:
        sizes = ", ".join(f"process {i}: {k}" for i, k in enumerate(shares))
        raise ValueError(f"{name}: the processes hold shares of different sizes ({sizes} "
                         "examples); every process must pass the same number of examples "
                         "(e.g. fashion_mnist.load(..., drop_remainder=True))")
    local = local_shards(mesh)
    if n % local:
        raise ValueError(f"{name} holds {n} examples in this process, which its {local} "
                         f"shard(s) of the mesh's {DATA_AXIS!r} axis cannot split equally; pass "
                         f"a multiple of {local} (e.g. {n - n % local}: drop {n % local})")
    sharding = NamedSharding(auto_mesh(mesh), PartitionSpec(DATA_AXIS))
    return jax.tree.map(lambda a: jax.make_array_from_process_local_data(
        sharding, host_copy(a, name)), share)


def _shares_per_process(n: int) -> list[int]:
    """Each process's number of examples (one collective when there are several)."""
    return per_process(np.int32(n)).ravel().tolist()


def per_process(value: np.ndarray) -> np.ndarray:
    """`value` (a numpy array or scalar) of every process, stacked in process order: one
    collective when there are several processes (JAX's `multihost_utils.process_allgather`)."""
    value = np.asarray(value)
    if jax.process_count() == 1:
        return value[None]
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(value)).reshape(-1, *value.shape)


def auto_mesh(mesh: Mesh) -> Mesh:
    """`mesh` with every axis `AxisType.Auto`: the compiler places the collectives (as `fit`
    uses it; `jax.make_mesh` builds Explicit axes)."""
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def local_shards(mesh: Mesh) -> int:
    """How many positions of `mesh`'s "data" axis hold a device of this process."""
    if DATA_AXIS not in mesh.axis_names:
        raise ValueError(f"mesh has axes {mesh.axis_names}; datasets are split over an axis "
                         f"named {DATA_AXIS!r}, e.g. jax.make_mesh((jax.device_count(),), "
                         "('data',))")
    devices = np.moveaxis(mesh.devices, mesh.axis_names.index(DATA_AXIS), 0)
    here = jax.process_index()
    return sum(any(d.process_index == here for d in row)
               for row in devices.reshape(len(devices), -1))


def _mix32(x: Array) -> Array:
    """A 32-bit integer hash (lowbias32): every input bit flips about half the output bits."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _fold_words(words: Array) -> Array:
    """One 32-bit word that depends on every word of `words` (a key's data past its first)."""
    folded = words[0]
    for word in words[1:]:
        folded = _mix32(folded) ^ word
    return folded


def shuffle_rounds(n: int) -> int:
    """Rounds of the swap-or-not shuffle for `n` examples: 2 ceil(log2 n) + 8 (40 for 60000)."""
    return 2 * max(n - 1, 1).bit_length() + 8


def epoch_permutation(key: Array, n: int) -> Array:
    """A random order of `n` examples drawn from `key` (int32, (n,)): a swap-or-not shuffle.

    Each round r pairs every x with its partner K_r - x (mod n) and swaps the pair when a hash
    of (max of the pair, round seed) says so: a bijection on [0, n) by construction, for any n.
    It stands in for `jax.random.permutation(key, n)`: elementwise work instead of sorts
    (docs/DESIGN.md says why and what it saves). The round constants are hashed from every word
    of the key's data, so any key implementation (threefry's 2 words, rbg's 4) works.
    """
    words = jax.random.key_data(key).reshape(-1).astype(jnp.uint32)
    tail = _fold_words(words[1:])  # threefry's second word itself; rbg's three, mixed
    rounds = shuffle_rounds(n)
    r = jnp.arange(rounds, dtype=jnp.uint32)
    offsets = _mix32(words[0] ^ _mix32(r * jnp.uint32(0x9E3779B9) + tail))
    seeds = _mix32(offsets ^ jnp.uint32(0x85EBCA6B) ^ tail)
    size = jnp.uint32(n)
    offsets = offsets % size

    def swap_or_not(i, x):
        k = offsets[i]
        partner = jnp.where(x <= k, k - x, k + size - x)
        swap = (_mix32(jnp.maximum(x, partner) ^ seeds[i]) >> 31) == 1
        return jnp.where(swap, partner, x)

    order = jax.lax.fori_loop(0, rounds, swap_or_not, jnp.arange(n, dtype=jnp.uint32))
    return order.astype(jnp.int32)


def split_batches(order: Array, batch_size: int) -> tuple[Array, Array]:
    """Full batches `(n // b, b)` of indices from `order`, and the last partial batch `(n % b,)`."""
    full = order.shape[0] // batch_size
    return order[: full * batch_size].reshape(full, batch_size), order[full * batch_size:]


def take(data: Dataset, idx: Array, sharding: Any = None) -> Dataset:
    """The examples at `idx` from every array of `data` (a gather on the device), split over
    `sharding`'s devices when one is given."""
    return split(jax.tree.map(lambda a: a[idx], data), sharding)


def shard_orders(key: Array, num_shards: int, n_local: int) -> Array:
    """(num_shards, n_local) int32: row s is data shard s's own examples (indices into the
    shard) in the order drawn from `fold_in(key, s)`."""
    return jax.vmap(lambda s: epoch_permutation(jax.random.fold_in(key, s), n_local))(
        jnp.arange(num_shards))


def split_shard_batches(orders: Array, batch_size: int) -> tuple[Array, Array]:
    """Full batches `(steps, D, b / D)` of the D shards' `orders` (D, n_local), each taking its
    shard's next b / D, and the last partial batch `(D, n_local % (b / D))`."""
    num_shards, n_local = orders.shape
    per_shard = batch_size // num_shards
    steps = n_local // per_shard
    full = orders[:, : steps * per_shard].reshape(num_shards, steps, per_shard)
    return full.transpose(1, 0, 2), orders[:, steps * per_shard:]


def take_local(data: Dataset, idx: Array, mesh: Mesh) -> Dataset:
    """Shard s's examples at its own indices `idx[s]` (idx: (D, k)): a batch (D * k, ...) split
    over `mesh`'s "data" axis, shard s's k examples on shard s. Each device gathers from its
    own rows (`jax.shard_map`), so no example moves between devices."""
    def gather(local: Dataset, i: Array) -> Dataset:
        return jax.tree.map(lambda a: a[i[0]], local)

    spec = PartitionSpec(DATA_AXIS)
    return jax.shard_map(gather, mesh=mesh, in_specs=(spec, spec), out_specs=spec)(data, idx)


def split(batch: Dataset, sharding: Any = None) -> Dataset:
    """`batch` split along its examples over `sharding`'s devices (inside jit); as it is
    without one."""
    return batch if sharding is None else jax.lax.with_sharding_constraint(batch, sharding)


def reshape_batches(data: Dataset, batch_size: int) -> tuple[Dataset, Dataset]:
    """In-order full batches `(n // b, b, ...)` of `data` and the remainder `(n % b, ...)`."""
    n = num_examples(data)
    full = n // batch_size

    def head(a):
        return a[: full * batch_size].reshape(full, batch_size, *a.shape[1:])

    return jax.tree.map(head, data), jax.tree.map(lambda a: a[full * batch_size:], data)
