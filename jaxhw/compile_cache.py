"""JAX's persistent compilation cache, switched on explicitly (never on import)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def default_dir() -> Path:
    """The cache folder: $JAXHW_CACHE_DIR, else JAX's own setting, else ~/.cache/jaxhw/xla.

    JAX's own setting is $JAX_COMPILATION_CACHE_DIR, or `jax_compilation_cache_dir` set in code.
    """
    chosen = os.environ.get("JAXHW_CACHE_DIR") or _jax_setting()
    return Path(chosen) if chosen else Path.home() / ".cache" / "jaxhw" / "xla"


def _jax_setting() -> str | None:
    """JAX's cache folder setting, read without importing JAX (the runner never needs it)."""
    jax = sys.modules.get("jax")
    if jax is not None:
        return jax.config.jax_compilation_cache_dir
    return os.environ.get("JAX_COMPILATION_CACHE_DIR")


def enable(path: str | Path | None = None, min_compile_seconds: float = 0.0) -> Path:
    """Keep compiled XLA programs in `path` so a new process reuses them instead of compiling.

    Programs that took less than `min_compile_seconds` to compile are not stored (default: all:
    even the small eager ops around a fit each cost a compile worth skipping).
    """
    import jax

    target = Path(path) if path is not None else default_dir()
    target.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(target))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
    return target


def environ(path: str | Path | None = None, min_compile_seconds: float = 0.0) -> dict[str, str]:
    """The environment variables that switch the same cache on in a child process (a kernel)."""
    target = Path(path) if path is not None else default_dir()
    target.mkdir(parents=True, exist_ok=True)
    return {"JAX_COMPILATION_CACHE_DIR": str(target),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(min_compile_seconds)}
