import jax

from jaxhw import compile_cache


def test_enable_sets_the_cache_dir(tmp_path, monkeypatch):
    before = jax.config.jax_compilation_cache_dir
    try:
        monkeypatch.setenv("JAXHW_CACHE_DIR", str(tmp_path / "c"))
        assert compile_cache.default_dir() == tmp_path / "c"
        path = compile_cache.enable()
        assert path.is_dir() and jax.config.jax_compilation_cache_dir == str(path)
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
