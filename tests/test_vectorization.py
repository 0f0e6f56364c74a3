import chex
import jax.numpy as jnp
import numpy as np

from jaxhw import vectorization as vec


def test_three_additions_agree():
    a, b = jnp.arange(50.0), jnp.full(50, 2.0)
    for fn in (vec.loop_add, vec.vector_add, vec.jit_add):
        c = fn(a, b)
        chex.assert_shape(c, (50,))
        chex.assert_type(c, jnp.float32)
        np.testing.assert_array_equal(c, np.arange(50.0) + 2)
    np.testing.assert_array_equal(a, np.arange(50.0))  # the inputs are not consumed


def test_normal_pdf_matches_closed_form():
    x = jnp.array([-1.0, 0.0, 3.0])
    np.testing.assert_allclose(vec.normal_pdf(x, 0.0, 1.0),
                               np.exp(-np.array([1.0, 0.0, 9.0]) / 2) / np.sqrt(2 * np.pi),
                               rtol=1e-6)
    np.testing.assert_allclose(vec.normal_pdf(jnp.array(3.0), 3.0, 2.0),
                               1 / np.sqrt(8 * np.pi), rtol=1e-6)


def test_time_additions_reports_positive_times():
    times = vec.time_additions(100)
    assert set(times) == {"loop_s", "vectorized_s", "jit_s"}
    assert all(t > 0 for t in times.values())


def test_best_time_makes_its_warmup_calls_untimed_first():
    calls = []
    seconds = vec.best_time(lambda: calls.append(1) or jnp.zeros(3), repeat=3, warmup=2)
    assert len(calls) == 5 and np.isfinite(seconds) and seconds >= 0  # 2 untimed, 3 timed
