"""A JSON description of a function or an optimizer, to tell two training runs apart.

`describe(optax.sgd(0.5))` differs from `describe(optax.sgd(0.001))`: optax builds a transform
as a NamedTuple of closures, and the hyperparameters live in those closures' cells. So a
function is described by its module and qualified name and, recursively, the values its
closure holds (and its default arguments); a NamedTuple or dataclass by its type and fields;
numbers, strings and containers as themselves; arrays by shape, dtype and SHA-256 of their
bytes; any other object by its type and its attributes (`vars(obj)` and `__slots__`: what
pickle would save), so that `optax.MultiSteps`, which keeps its optimizer in an attribute, is
seen whole. An object without attributes to read (a C extension's, such as a PyTreeDef) is
described by its `repr` when that shows more than a memory address, else by its type's name
alone, marked `"note": "not looked inside"`; `undescribed` lists those, so that a resume can
say that a change in them would go unnoticed. Nothing here depends on addresses or `id`s, so
equal settings give equal descriptions in any process. Only public introspection is used
(`__closure__`, `__code__.co_freevars`, `__defaults__`, `functools.partial`, `__wrapped__`,
`vars`, `__slots__`).

`differences` compares two descriptions and names each setting that differs (a checkpoint's
run against the run resuming it).

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
import re
import types
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

MAX_DEPTH = 24  # optax's inject_hyperparams(adam) nests 10 levels; a closure rarely goes deeper
HIDDEN = "not looked inside"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")  # a memory address, as default reprs print it
TOO_DEEP = "nested too deep to describe"


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
    if isinstance(obj, np.dtype):
        return {"dtype": str(obj)}
    if isinstance(obj, types.BuiltinFunctionType):  # len, operator.add, a C method
        return {"function": _name(obj)}
    if depth <= 0:
        return {"type": _name(type(obj)), "note": TOO_DEEP}
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
    attributes = _attributes(obj)
    if attributes is None:
        text = repr(obj)
        if _ADDRESS.search(text):  # the default repr: nothing but the type and an address
            return {"type": _name(type(obj)), "note": HIDDEN}
        return {"type": _name(type(obj)), "repr": text}
    return {"type": _name(type(obj)),
            "attributes": {k: inner(v) for k, v in sorted(attributes.items())}}


def _attributes(obj: Any) -> dict[str, Any] | None:
    """An object's attributes (`vars(obj)` and its `__slots__`), or None when it has neither."""
    found = dict(vars(obj)) if hasattr(obj, "__dict__") else None
    slots = [name for cls in type(obj).__mro__ for name in getattr(cls, "__slots__", ())
             if isinstance(getattr(cls, "__slots__", ()), tuple | list)]
    for name in slots:
        if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
            found = {} if found is None else found
            found[name] = getattr(obj, name)
    return found


def undescribed(description: Any, path: tuple[str, ...] = ()) -> list[str]:
    """What in a `describe` result could not be looked inside: 'type (at path)' for each
    object without attributes to read, or nested too deep; [] when everything was seen."""
    if isinstance(description, dict):
        if description.get("note") in (HIDDEN, TOO_DEEP):
            return [f"{description['type']} (at {_setting(path)})"]
        return [found for k, v in description.items()
                for found in undescribed(v, (*path, str(k)))]
    if isinstance(description, list):
        return [found for i, v in enumerate(description)
                for found in undescribed(v, (*path, str(i)))]
    return []


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


def brief(value: Any, width: int = 60) -> str:
    """A described value for a message: a function or type by its name, else short JSON."""
    if isinstance(value, Mapping) and isinstance(value.get("function", value.get("type")), str):
        return value.get("function", value.get("type"))
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[:width - 3] + "..."


def _setting(path: tuple[str, ...]) -> str:
    """A setting's name for a message: its key path, less `describe`'s wrappers."""
    return "/".join(p for p in path
                    if p not in ("fields", "closure", "attributes")) or "config"


def differences(stored: Any, mine: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Each setting that differs between two descriptions (two runs' configurations), as
    'path=stored but this run has path=mine'. A different function or type is one difference,
    not one per captured value."""
    name = _setting(path)
    if isinstance(stored, Mapping) and isinstance(mine, Mapping):
        for tag in ("function", "type"):
            if stored.get(tag) != mine.get(tag):
                return [f"{name}={brief(stored)} but this run has {name}={brief(mine)}"]
        found = []
        for k in sorted(stored.keys() | mine.keys()):
            if k in stored and k in mine:
                found += differences(stored[k], mine[k], (*path, k))
                continue
            sub = _setting((*path, k))
            found.append(f"{sub}={brief(stored[k])} is in the checkpoint but not in this run"
                         if k in stored else
                         f"{sub} is not recorded in the checkpoint (this run has "
                         f"{sub}={brief(mine[k])})")
        return found
    if isinstance(stored, list) and isinstance(mine, list) and len(stored) == len(mine):
        return [d for i, (s, m) in enumerate(zip(stored, mine, strict=True))
                for d in differences(s, m, (*path, str(i)))]
    if json.dumps(stored, sort_keys=True) != json.dumps(mine, sort_keys=True):  # NaN == NaN
        return [f"{name}={brief(stored)} but this run has {name}={brief(mine)}"]
    return []
