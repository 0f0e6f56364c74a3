# %% [markdown]
# # 3.1 Linear regression: vectorization for speed, and the normal distribution
# Adding two length-10000 vectors one element at a time (JAX arrays are immutable, so each step
# is `c.at[i].set(...)`, a new array), in one vectorized op, and as a jitted function.

# %%
from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from experiments.runner import run_as_script
from jaxhw.board import plot, save_figure
from jaxhw.vectorization import normal_pdf, time_additions

SECTION = "3.1"
TITLE = "Linear regression: vectorization and the normal distribution"


# %%
def main(out_dir: Path, quick: bool = False, seed: int = 0) -> dict:
    out_dir = Path(out_dir)
    n = 1000 if quick else 10000
    times = time_additions(n)
    for name, seconds in times.items():
        print(f"{name:>13}: {seconds * 1e3:9.3f} ms")

    # %% The normal distribution for (mu, sigma) = (0, 1), (0, 2), (3, 1).
    x = jnp.arange(-7, 7, 0.01)
    params = [(0, 1), (0, 2), (3, 1)]
    ax = plot(x, [normal_pdf(x, mu, sigma) for mu, sigma in params], xlabel="x",
              ylabel="p(x)", figsize=(4.5, 2.5),
              legend=[f"mean {mu}, std {sigma}" for mu, sigma in params])
    save_figure(ax.figure, out_dir / "normal.png")

    return {
        "n": n,
        **times,
        "loop_over_vectorized": times["loop_s"] / times["vectorized_s"],
        "vectorized_over_jit": times["vectorized_s"] / times["jit_s"],
        "normal_pdf_max": [float(np.max(normal_pdf(x, mu, s))) for mu, s in params],
    }


# %%
if __name__ == "__main__":
    run_as_script(SECTION)
