"""JAX's persistent compilation cache, switched on explicitly (never on import)."""

from __future__ import annotations

import os
from pathlib import Path

import jax


def default_dir() -> Path:
    """$JAXHW_CACHE_DIR, else ~/.cache/jaxhw/xla."""
    return Path(os.environ.get("JAXHW_CACHE_DIR") or Path.home() / ".cache" / "jaxhw" / "xla")


def enable(path: str | Path | None = None, min_compile_seconds: float = 0.0) -> Path:
    """Keep compiled XLA programs in `path` so a new process reuses them instead of compiling.

    Programs that took less than `min_compile_seconds` to compile are not stored (default: all,
    since even the small eager ops around a fit each cost a compile of 50-100 ms here).
    """
    target = Path(path) if path is not None else default_dir()
    target.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(target))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
    return target
