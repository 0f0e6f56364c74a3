# %% [markdown]
# # 3.1 Linear Regression
#
# *Dive into Deep Learning*, section 3.1, in JAX. Linear regression predicts
# ŷ = wᵀx + b, measures the error with the squared loss ½(ŷ − y)², and fits w and b by
# minibatch stochastic gradient descent (section 3.4 does it). The code of the section makes
# two points: adding vectors in one vectorized operation is far faster than a Python loop, and
# the squared loss belongs with normally distributed noise.
#
# Each code cell that prints a value starts with `# reference:` and what the PyTorch notebook
# this project reproduces printed there; the output under the cell is this notebook's.

# %% tags=["parameters"]
quick = False  # smoke run: vectors of 1000 instead of 10000 elements
seed = 0  # PRNG seed (nothing here is random)
out_dir = "results/3.1"  # where normal.png and metrics.json go

# %%
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxhw import notebook
from jaxhw.board import plot
from jaxhw.vectorization import best_time, jit_add, loop_add

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)

# %% [markdown]
# ## Vectorization for speed
# Two vectors of ones, added one element at a time in a Python loop, then with one `+`.

# %%
n = 1000 if run.quick else 10000
a = jnp.ones(n)
b = jnp.ones(n)

# %% [markdown]
# The book writes `c[i] = a[i] + b[i]` into `c` in place. JAX arrays are immutable, so
# `loop_add` (in `jaxhw/vectorization.py`) writes `c = c.at[i].set(a[i] + b[i])`: one small
# jitted call per element, which donates `c` so that XLA may update its buffer in place. JAX
# runs operations asynchronously, so each timing waits for its result (`block_until_ready`).

# %%
# reference: '0.11298 sec' (PyTorch, n = 10000, on the reference's machine)
t = time.perf_counter()
c = jax.block_until_ready(loop_add(a, b))
loop_s = time.perf_counter() - t
f"{loop_s:.5f} sec"

# %% [markdown]
# The first `a + b` compiles XLA's addition for this shape. The book times a PyTorch kernel
# that needs no compiling, so here too the time is that of an already compiled call: the
# fastest of 20.

# %%
# reference: '0.00000 sec'
d = a + b
vectorized_s = best_time(lambda: a + b, repeat=20)
f"{vectorized_s:.5f} sec"

# %% [markdown]
# Beyond the reference: `jax.jit` of the same addition is also one compiled call, so for a
# single operation it gains nothing; it pays when a function of many operations becomes one
# program (as every training epoch in jaxhw does).

# %%
jit_s = best_time(lambda: jit_add(a, b), repeat=20)
print(f"jit: {jit_s:.5f} sec; loop / vectorized: {loop_s / vectorized_s:.0f}x")
bool((c == d).all() and (jit_add(a, b) == d).all())  # all three give 2 everywhere

# %% [markdown]
# ## The normal distribution and squared loss
# The normal density with mean μ and standard deviation σ is
# p(x) = exp(−(x − μ)² / (2σ²)) / √(2πσ²). Changing μ shifts the curve; a larger σ spreads it
# and lowers its peak. If the noise in y = wᵀx + b + ε is normal, maximizing the likelihood of
# the data is minimizing the squared loss.

# %%
def normal(x, mu, sigma):
    p = 1 / math.sqrt(2 * math.pi * sigma**2)
    return p * jnp.exp(-0.5 * (x - mu) ** 2 / sigma**2)


# %%
# reference: the same three curves, drawn by d2l.plot
# Use NumPy again for visualization
x = np.arange(-7, 7, 0.01)

# Mean and standard deviation pairs
params = [(0, 1), (0, 2), (3, 1)]
ax = plot(x, [normal(x, mu, sigma) for mu, sigma in params], xlabel="x", ylabel="p(x)",
          figsize=(4.5, 2.5), legend=[f"mean {mu}, std {sigma}" for mu, sigma in params])
run.show(ax.figure, "normal.png")

# %% [markdown]
# Each peak is 1/√(2πσ²): 0.3989 for σ = 1, half that for σ = 2.

# %%
peaks = [float(np.max(normal(x, mu, sigma))) for mu, sigma in params]
peaks

# %% [markdown]
# ## Results
# `metrics.json` keeps the sizes, times and peaks (tests/test_template_sections.py).

# %%
run.save_metrics({
    "n": n,
    "loop_s": loop_s,
    "vectorized_s": vectorized_s,
    "jit_s": jit_s,
    "loop_over_vectorized": loop_s / vectorized_s,
    "vectorized_over_jit": vectorized_s / jit_s,
    "normal_pdf_max": peaks,
})
