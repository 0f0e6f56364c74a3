"""`program_key`: what a function or optimizer computes, as a hashable key for its compiled program.

`jax.jit` compares static arguments with `==`, which for functions means identity: each
`optax.sgd(0.1)` or `supervised_loss(...)` built anew is a new static argument, and the epoch
compiles again although it would compute the same thing. Two objects compute the same thing
when they run the same code on the same values, so `program_key` is built from exactly that:
a function's code object, the values it captured (closure cells, default arguments) and the
values of the module globals its code names, each keyed the same way, recursively; containers
by their type and items; numbers, strings and arrays by value (type included: 1, 1.0 and True
differ). Anything else (a class instance, a module, a jitted function) is keyed by identity:
the same object gives the same key, and two objects never share a key by accident. Equal keys
therefore trace to the same program; a key that cannot tell two equal things apart only costs
a compile. docs/DESIGN.md says why this and not `jaxhw.fingerprint.describe` (a description
for checkpoints, lossy by design: names, not code).
"""

from __future__ import annotations

import functools
import hashlib
import types
from collections.abc import Hashable, Iterator
from typing import Any

import jax
import numpy as np

MAX_DEPTH = 48  # optax's inject_hyperparams(adam) with its globals nests about 20 levels


class Identity:
    """`obj` compared by identity, for a key (the key keeps `obj` alive, so its id is unique)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def program_key(obj: Any) -> Hashable:
    """A hashable key of what `obj` computes: equal keys mean the same code on the same values."""
    return _key(obj, MAX_DEPTH, set(), {})


def _key(obj: Any, depth: int, open_: set[int], done: dict[int, Hashable]) -> Hashable:
    """`obj`'s key; `open_` holds the objects being keyed (a cycle), `done` those keyed."""
    if obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
        return type(obj), obj
    if isinstance(obj, np.ndarray | np.generic | jax.Array):
        return _array(obj)
    if id(obj) in done:
        return done[id(obj)]
    if id(obj) in open_ or depth <= 0:  # a cycle (a function naming itself) or very deep
        return Identity(obj)
    open_.add(id(obj))
    done[id(obj)] = key = _compound(obj, lambda v: _key(v, depth - 1, open_, done))
    open_.discard(id(obj))
    return key


def _compound(obj: Any, inner: Any) -> Hashable:
    """The key of a container, function, method or partial from its parts' keys (`inner`);
    any other object by identity."""
    if isinstance(obj, tuple | list):
        return type(obj), tuple(inner(v) for v in obj)
    if isinstance(obj, dict):
        return type(obj), tuple((inner(k), inner(v)) for k, v in obj.items())
    if isinstance(obj, types.FunctionType):
        return ("function", obj.__code__, Identity(obj.__globals__),
                tuple(inner(_cell(c)) for c in obj.__closure__ or ()),
                inner(obj.__defaults__), inner(obj.__kwdefaults__),
                tuple((name, inner(obj.__globals__[name])) for name in _global_names(obj)))
    if isinstance(obj, types.MethodType):
        return "method", inner(obj.__func__), inner(obj.__self__)
    if isinstance(obj, functools.partial):
        return "partial", inner(obj.func), inner(obj.args), inner(obj.keywords)
    return Identity(obj)


def _cell(cell: types.CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not yet filled (a variable assigned after the function)
        return Identity(cell)


def _global_names(fn: types.FunctionType) -> list[str]:
    """The names `fn`'s code (and the code nested in it: lambdas, comprehensions) reads from
    its module's globals, in a fixed order. Builtins (len, isinstance) are not among them."""
    return sorted({n for code in _codes(fn.__code__) for n in code.co_names
                   if n in fn.__globals__})


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _array(x: Any) -> Hashable:
    """An array by dtype, shape and the SHA-256 of its bytes (a PRNG key by its key data)."""
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        return "prng_key", str(jax.random.key_impl(x)), _array(jax.random.key_data(x))
    weak = bool(getattr(x, "weak_type", False))  # a jax scalar from a Python number
    x = np.asarray(x)
    if x.dtype.kind == "O":  # its bytes are pointers
        return Identity(x)
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    return "array", str(x.dtype), x.shape, weak, digest
