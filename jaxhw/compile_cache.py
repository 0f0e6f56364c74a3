"""JAX's persistent compilation cache, switched on explicitly (never on import)."""

from __future__ import annotations

import os
from pathlib import Path

import jax


def default_dir() -> Path:
    """The cache folder: $JAXHW_CACHE_DIR, else JAX's own setting, else ~/.cache/jaxhw/xla.

    JAX's own setting is $JAX_COMPILATION_CACHE_DIR, or `jax_compilation_cache_dir` set in code.
    """
    chosen = os.environ.get("JAXHW_CACHE_DIR") or jax.config.jax_compilation_cache_dir
    return Path(chosen) if chosen else Path.home() / ".cache" / "jaxhw" / "xla"


def enable(path: str | Path | None = None, min_compile_seconds: float = 0.0) -> Path:
    """Keep compiled XLA programs in `path` so a new process reuses them instead of compiling.

    Programs that took less than `min_compile_seconds` to compile are not stored (default: all:
    even the small eager ops around a fit each cost a compile worth skipping).
    """
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
