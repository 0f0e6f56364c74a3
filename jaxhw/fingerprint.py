"""A JSON description of a function or an optimizer, to tell two training runs apart.

`describe(optax.sgd(0.5))` differs from `describe(optax.sgd(0.001))`: optax builds a transform
as a NamedTuple of closures, and the hyperparameters live in those closures' cells. So a
function is described by its module and qualified name and, recursively, the values its
closure holds (and its default arguments); a NamedTuple or dataclass by its type and fields;
numbers, strings and containers as themselves; arrays by shape, dtype and SHA-256 of their
bytes. Anything else gives only its type's name. Nothing here depends on addresses or `id`s,
so equal settings give equal descriptions in any process. Only public introspection is used
(`__closure__`, `__code__.co_freevars`, `__defaults__`, `functools.partial`, `__wrapped__`).

Not seen: a function's body (an edited function keeps its name; hashing bytecode would
instead change with every Python release), and values a function reads from globals. Names
include library-internal modules (`optax._src...`), so an upgrade that moves them changes the
description; a resume then names the change and `resume="force"` continues.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import types
from typing import Any

import jax
import numpy as np

MAX_DEPTH = 24  # optax's inject_hyperparams(adam) nests 10 levels; a closure rarely goes deeper


def describe(obj: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON-able description of `obj` (a function, optimizer, number, container, array)."""
    return _describe(obj, max_depth, frozenset())


def _name(obj: Any) -> str:
    """`module.qualname` of a function or type."""
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _describe(obj: Any, depth: int, seen: frozenset[int]) -> Any:
    if isinstance(obj, enum.Enum):
        return f"{_name(type(obj))}.{obj.name}"
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.ndarray, np.generic, jax.Array)):
        return _array(obj)
    if depth <= 0:
        return {"type": _name(type(obj)), "note": "nested too deep to describe"}
    if id(obj) in seen:  # a container or closure that reaches itself
        return {"type": _name(type(obj)), "note": "cycle"}
    seen, depth = seen | {id(obj)}, depth - 1

    def inner(value: Any) -> Any:
        return _describe(value, depth, seen)

    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a NamedTuple: GradientTransformation
        return {"type": _name(type(obj)),
                "fields": {f: inner(getattr(obj, f)) for f in obj._fields}}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"type": _name(type(obj)),
                "fields": {f.name: inner(getattr(obj, f.name, None))
                           for f in dataclasses.fields(obj)}}
    if isinstance(obj, (tuple, list)):
        return [inner(v) for v in obj]
    if isinstance(obj, dict):
        return {_key(k): inner(v) for k, v in sorted(obj.items(), key=lambda kv: _key(kv[0]))}
    if isinstance(obj, functools.partial):
        return {"partial": inner(obj.func), "args": inner(obj.args),
                "keywords": inner(obj.keywords)}
    if isinstance(obj, types.MethodType):
        return {"method": inner(obj.__func__), "self": inner(obj.__self__)}
    if isinstance(obj, types.FunctionType):
        return _function(obj, inner)
    if isinstance(obj, types.ModuleType):
        return {"module": obj.__name__}
    if isinstance(obj, type):
        return {"type": _name(obj)}
    if callable(obj) and hasattr(obj, "__wrapped__"):  # jax.jit, functools.cache and the like
        return {"wrapper": _name(type(obj)), "wrapped": inner(obj.__wrapped__)}
    return {"type": _name(type(obj))}


def _function(fn: types.FunctionType, inner: Any) -> dict[str, Any]:
    """A function's name, the values its closure captured and its default arguments."""
    out: dict[str, Any] = {"function": _name(fn)}
    if fn.__closure__:
        cells = {}
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__, strict=True):
            try:
                cells[name] = inner(cell.cell_contents)
            except ValueError:  # a cell not yet filled (a variable assigned later)
                cells[name] = {"note": "empty cell"}
        out["closure"] = cells
    if fn.__defaults__:
        out["defaults"] = inner(fn.__defaults__)
    if fn.__kwdefaults__:
        out["kwdefaults"] = inner(fn.__kwdefaults__)
    return out


def _key(key: Any) -> str:
    """A dict key as a string: itself if a string, else its description as JSON."""
    return key if isinstance(key, str) else json.dumps(describe(key), sort_keys=True)


def _array(x: Any) -> Any:
    """A scalar as a Python number; an array as shape, dtype and the SHA-256 of its bytes."""
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        return {"prng_key": str(jax.random.key_impl(x)), "data": _array(jax.random.key_data(x))}
    x = np.asarray(x)
    if x.ndim == 0 and x.dtype.kind in "biuf":
        return x.item()
    if x.dtype.kind == "O":  # its bytes are pointers, different in every process
        return {"shape": list(x.shape), "dtype": "object"}
    data = np.ascontiguousarray(x)
    return {"shape": list(x.shape), "dtype": str(x.dtype),
            "sha256": hashlib.sha256(data.tobytes()).hexdigest()}
