import os
import subprocess
import sys

import jax
import pytest

from jaxhw import compile_cache


@pytest.fixture
def jax_cache_setting():
    """Restore JAX's cache settings after a test changes them."""
    before = (jax.config.jax_compilation_cache_dir,
              jax.config.jax_persistent_cache_min_compile_time_secs)
    yield
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


def test_enable_sets_the_cache_dir(tmp_path, monkeypatch, jax_cache_setting):
    monkeypatch.setenv("JAXHW_CACHE_DIR", str(tmp_path / "c"))
    assert compile_cache.default_dir() == tmp_path / "c"
    path = compile_cache.enable()
    assert path.is_dir() and jax.config.jax_compilation_cache_dir == str(path)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0


def test_a_cache_dir_set_for_jax_is_kept(tmp_path, monkeypatch, jax_cache_setting):
    monkeypatch.delenv("JAXHW_CACHE_DIR", raising=False)
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "set-in-code"))
    assert compile_cache.enable() == tmp_path / "set-in-code"
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "set-in-code")


def test_jax_compilation_cache_dir_from_the_environment_is_kept(tmp_path):
    # JAX reads $JAX_COMPILATION_CACHE_DIR when it is imported, so this needs a fresh process.
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "env")}
    env.pop("JAXHW_CACHE_DIR", None)
    code = "from jaxhw import compile_cache; print(compile_cache.enable())"
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True, timeout=300).stdout.strip()
    assert shown == str(tmp_path / "env")


def test_environ_hands_the_same_cache_to_a_child_process(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXHW_CACHE_DIR", str(tmp_path / "c"))
    assert compile_cache.environ() == {"JAX_COMPILATION_CACHE_DIR": str(tmp_path / "c"),
                                       "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.0"}
    assert (tmp_path / "c").is_dir()


def test_the_runner_starts_without_importing_jax():
    # The runner only hands the cache folder to its kernels; importing JAX for that cost ~2 s
    # of every `python -m experiments` start.
    code = "import sys, jaxhw.runner; print('jax' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, timeout=300).stdout.strip()
    assert shown == "False"
