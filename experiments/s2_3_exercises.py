# %% [markdown]
# # 2.3 Exercises: Linear Algebra
#
# The exercises at the end of d2l section 2.3, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# Exercises 10 and 11 time large matrix products: their memory and FLOP counts come from XLA's
# own analysis of the compiled program at the book's sizes (nothing is allocated for that), and
# the timings run at the sizes said before each timing (smaller in quick mode).

# %% tags=["parameters"]
quick = False  # smoke run: exercise 10 times 2^10 x 2^12 x 2^5 x 2^9 matrices, 11 uses 2^12
seed = 0  # PRNG seed for the random matrices
out_dir = "results/2.3-exercises"  # where metrics.json goes

# %%
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

from jaxhw import notebook
from jaxhw.vectorization import best_time

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
rng = np.random.default_rng(run.seed)  # random matrices (no compile per shape, unlike jax.random)


def normal(*shape):
    """A float32 JAX array of standard normal draws from the notebook's generator."""
    return jnp.asarray(rng.standard_normal(shape, dtype=np.float32))


# %% [markdown]
# ### Exercise 1 — prove that the transpose of the transpose is the matrix itself
#
# <details><summary>Answer</summary>
#
# Let $\mathbf{A} \in \mathbb{R}^{m \times n}$ and $\mathbf{B} = \mathbf{A}^\top$, so
# $\mathbf{B} \in \mathbb{R}^{n \times m}$ with $b_{ij} = a_{ji}$. Then
# $\mathbf{B}^\top \in \mathbb{R}^{m \times n}$ has entries
#
# $$(\mathbf{B}^\top)_{ij} = b_{ji} = a_{ij}$$
#
# for every $i$ and $j$: same shape, same entries, so $(\mathbf{A}^\top)^\top = \mathbf{A}$.
#
# </details>

# %% [markdown]
# Check on a random 3 × 5 matrix: a transpose only moves entries, so the equality is exact.

# %%
A = normal(3, 5)
double_transpose_equal = bool(jnp.array_equal(A.T.T, A))
print("(A^T)^T == A exactly:", double_transpose_equal, "; shapes:", A.shape, A.T.shape)
answers["1"] = {"equal": double_transpose_equal, "shape": A.T.T.shape}

# %% [markdown]
# ### Exercise 2 — show that sum and transposition commute
#
# <details><summary>Answer</summary>
#
# Let $\mathbf{A}, \mathbf{B} \in \mathbb{R}^{m \times n}$ (a sum needs equal shapes). Both
# sides are $n \times m$, and entry by entry
#
# $$((\mathbf{A} + \mathbf{B})^\top)_{ij} = (\mathbf{A} + \mathbf{B})_{ji} = a_{ji} + b_{ji}$$
#
# $$(\mathbf{A}^\top + \mathbf{B}^\top)_{ij} = (\mathbf{A}^\top)_{ij} + (\mathbf{B}^\top)_{ij}$$
#
# $$(\mathbf{A}^\top)_{ij} + (\mathbf{B}^\top)_{ij} = a_{ji} + b_{ji}$$
#
# so $\mathbf{A}^\top + \mathbf{B}^\top = (\mathbf{A} + \mathbf{B})^\top$.
#
# </details>

# %% [markdown]
# Check: both sides add the same two floats at every position, so they agree exactly.

# %%
B = normal(3, 5)
sum_transpose_equal = bool(jnp.array_equal(A.T + B.T, (A + B).T))
print("A^T + B^T == (A + B)^T exactly:", sum_transpose_equal)
answers["2"] = {"equal": sum_transpose_equal}

# %% [markdown]
# ### Exercise 3 — is A + Aᵀ always symmetric? Prove it from exercises 1 and 2 alone
#
# <details><summary>Answer</summary>
#
# Yes, for every square $\mathbf{A}$ (for a non-square one the sum is not defined). By
# exercise 2,
#
# $$(\mathbf{A} + \mathbf{A}^\top)^\top = \mathbf{A}^\top + (\mathbf{A}^\top)^\top$$
#
# by exercise 1 the right side is $\mathbf{A}^\top + \mathbf{A}$, and since matrix addition
# commutes (entrywise it is addition of numbers) that is $\mathbf{A} + \mathbf{A}^\top$:
#
# $$(\mathbf{A} + \mathbf{A}^\top)^\top = \mathbf{A} + \mathbf{A}^\top$$
#
# A matrix equal to its transpose is symmetric.
#
# </details>

# %% [markdown]
# Check on a random 4 × 4 matrix: entry $(i, j)$ is $a_{ij} + a_{ji}$ and entry $(j, i)$ is
# $a_{ji} + a_{ij}$, and float addition commutes, so the check is exact. A 3 × 5 matrix has no
# such sum: its shape and its transpose's do not broadcast.

# %%
S = normal(4, 4)
symmetric = bool(jnp.array_equal(S + S.T, (S + S.T).T))
try:
    A + A.T
except TypeError as err:
    non_square_error = f"TypeError: {err}"
print("A + A^T symmetric (4 x 4):", symmetric)
print("3 x 5:", non_square_error)
answers["3"] = {"symmetric": symmetric, "non_square_error": non_square_error}

# %% [markdown]
# ### Exercise 4 — what is `len(X)` for the section's `X` of shape (2, 3, 4)?
#
# Write your answer down before running the cell.

# %%
X = jnp.arange(24).reshape(2, 3, 4)
print("len(X) =", len(X), "; X.shape =", X.shape)
answers["4"] = {"len": len(X), "shape": X.shape}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Without running code: `len` of an array counts its elements along the first axis, so 2. The
# cell agrees: `len(X)` is 2, the length of the first axis of the (2, 3, 4) array.
#
# </details>

# %% [markdown]
# ### Exercise 5 — does `len(X)` always give the length of one axis? Which one?

# %%
shapes = [(5,), (2, 3), (4, 1, 2), (0, 3), (1, 7, 2, 2)]
lengths = {str(shape): len(jnp.zeros(shape)) for shape in shapes}
print("len by shape:", lengths)
print("always shape[0]:", all(len(jnp.zeros(s)) == s[0] for s in shapes))
try:
    len(jnp.array(3.0))
except TypeError as err:
    scalar_error = f"TypeError: {err}"
print("0-d array:", scalar_error)
answers["5"] = {"lengths": lengths,
                "always_first_axis": all(len(jnp.zeros(s)) == s[0] for s in shapes),
                "scalar_error": scalar_error}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Yes, for every array with at least one axis: `len(X)` is `X.shape[0]`, the length of axis 0
# (also when it is 0, as for the (0, 3) array). A 0-d array has no axis, and `len` raises the
# `TypeError` above; `X.shape` and `X.size` work for every array.
#
# </details>

# %% [markdown]
# ### Exercise 6 — run `A / A.sum(axis=1)`: what happens, and why?
#
# The section's `A` is `arange(6)` as a (2, 3) float32 matrix.

# %%
A = jnp.arange(6, dtype=jnp.float32).reshape(2, 3)
print("A.sum(axis=1) has shape", A.sum(axis=1).shape)
try:
    A / A.sum(axis=1)
except ValueError as err:
    divide_error = f"ValueError: {err}"
print("A / A.sum(axis=1):", divide_error)
row_normalized = A / A.sum(axis=1, keepdims=True)
print("A / A.sum(axis=1, keepdims=True) =\n", row_normalized,
      "\nrow sums:", row_normalized.sum(axis=1))

# %% [markdown]
# The same with a square (3, 3) matrix, whose shape does broadcast with (3,):

# %%
A3 = jnp.arange(9, dtype=jnp.float32).reshape(3, 3) + 1
silent = A3 / A3.sum(axis=1)
intended = A3 / A3.sum(axis=1, keepdims=True)
print("row sums of A3 / A3.sum(axis=1):", silent.sum(axis=1))
print("row sums with keepdims=True:     ", intended.sum(axis=1))
print("divides column j by row sum j:",
      bool(jnp.allclose(silent, A3 / A3.sum(axis=1)[None, :])))
answers["6"] = {"error": divide_error, "keepdims_row_sums": row_normalized.sum(axis=1),
                "square_silent_row_sums": silent.sum(axis=1),
                "square_keepdims_row_sums": intended.sum(axis=1)}

# %% [markdown]
# <details><summary>Answer</summary>
#
# It fails: `A.sum(axis=1)` has shape (2,), and broadcasting aligns it with the *last* axis of
# the (2, 3) `A`, where 2 meets 3 (the `ValueError` above). The intent, dividing each row by its
# sum, needs the sums as a column, (2, 1): `A.sum(axis=1, keepdims=True)`, after which every row
# sums to 1. For a square matrix the wrong version runs without an error and divides each
# *column* $j$ by the sum of row $j$: its rows do not sum to 1 (printed above). `keepdims=True`
# is the safe habit.
#
# </details>

# %% [markdown]
# ### Exercise 7 — the distance between two points in Manhattan, in avenues and streets
#
# <details><summary>Answer</summary>
#
# In the street grid you move along avenues or along streets, never through a block. Going from
# avenue $a_1$, street $s_1$ to avenue $a_2$, street $s_2$ takes at least
# $|a_2 - a_1|$ avenue-blocks and $|s_2 - s_1|$ street-blocks, and any route without detours
# takes exactly that, in any order of turns. With block lengths $w_a$ (between avenues) and
# $w_s$ (between streets) the distance is the weighted $\ell_1$ norm
#
# $$d = w_a |a_2 - a_1| + w_s |s_2 - s_1|$$
#
# not the straight-line $\ell_2$ distance, which it never undercuts. Travelling diagonally is
# not possible on the grid (the exception is Broadway, which cuts across it); a bird, or the
# $\ell_2$ norm, does go diagonally.
#
# </details>

# %% [markdown]
# For a displacement of 3 avenue-blocks and 4 street-blocks, in blocks:

# %%
move = jnp.array([3.0, 4.0])
l1, l2 = jnp.linalg.norm(move, ord=1), jnp.linalg.norm(move)
print(f"l1 (walking): {l1}, l2 (straight line): {l2}")
answers["7"] = {"l1": l1, "l2": l2}

# %% [markdown]
# ### Exercise 8 — the shapes of the sums of a (2, 3, 4) array along axes 0, 1 and 2

# %%
sum_shapes = {axis: X.sum(axis=axis).shape for axis in range(3)}
keepdims_shapes = {axis: X.sum(axis=axis, keepdims=True).shape for axis in range(3)}
print("sum shapes:", sum_shapes)
print("with keepdims=True:", keepdims_shapes)
answers["8"] = {"sum_shapes": {str(k): v for k, v in sum_shapes.items()},
                "keepdims_shapes": {str(k): v for k, v in keepdims_shapes.items()}}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Summing along an axis removes it: axis 0 gives (3, 4), axis 1 gives (2, 4), axis 2 gives
# (2, 3). With `keepdims=True` the axis stays with length 1: (1, 3, 4), (2, 1, 4), (2, 3, 1).
#
# </details>

# %% [markdown]
# ### Exercise 9 — `linalg.norm` of an array with three or more axes: what does it compute?

# %%
T = normal(2, 3, 4)
T4 = normal(2, 3, 4, 5)
flat = {"3 axes": (jnp.linalg.norm(T), jnp.sqrt(jnp.sum(T**2))),
        "4 axes": (jnp.linalg.norm(T4), jnp.sqrt(jnp.sum(T4**2)))}
for name, (norm, by_hand) in flat.items():
    print(f"{name}: norm {norm:.6f}, sqrt(sum of squares) {by_hand:.6f}")
per_matrix = jnp.linalg.norm(T, axis=(1, 2))
print("axis=(1, 2): one Frobenius norm per (3, 4) matrix:", per_matrix)
try:
    jnp.linalg.norm(T, ord=2)
except ValueError as err:
    ord_error = f"ValueError: {err}"
print(textwrap.fill(f"ord=2 without axis: {ord_error}", 100))

# %% [markdown]
# Both sides are float32 sums of 24 and 120 squares; their rounding differs by at most a few
# float32 epsilons (2⁻²³ ≈ 1.2e-7) relative.

# %%
rel_diffs = [float(jnp.abs(n - h) / h) for n, h in flat.values()]
per_matrix_by_hand = jnp.sqrt(jnp.sum(T**2, axis=(1, 2)))
print("relative differences:", rel_diffs)
answers["9"] = {"relative_differences": rel_diffs,
                "per_matrix_norm": per_matrix, "per_matrix_by_hand": per_matrix_by_hand,
                "ord_error": ord_error}

# %% [markdown]
# <details><summary>Answer</summary>
#
# With no `ord` and no `axis`, `jnp.linalg.norm` flattens the array, whatever its number of
# axes, and returns the $\ell_2$ norm of all its entries, $\sqrt{\sum x^2}$ (the Frobenius norm
# for a matrix): it agreed with the square root of the sum of squares to the relative
# differences printed. `axis` with one or two axes gives vector or matrix norms along them
# (`axis=(1, 2)`: one Frobenius norm per matrix of the stack). A specific `ord` needs one or two
# axes: on three it raises the `ValueError` above. (PyTorch's `torch.linalg.norm` behaves the
# same way.)
#
# </details>

# %% [markdown]
# ### Exercise 10 — (AB)C or A(BC): does the order change memory and speed?
#
# The book's sizes: $\mathbf{A}$ is $2^{10} \times 2^{16}$, $\mathbf{B}$ is
# $2^{16} \times 2^{5}$, $\mathbf{C}$ is $2^{5} \times 2^{14}$. A product of an $m \times n$ and
# an $n \times p$ matrix takes $2mnp$ floating-point operations (a multiply and an add per term)
# and makes an $m \times p$ result. First the cost at the book's sizes, from that formula and
# from XLA's analysis of the compiled programs (`cost_analysis`, `memory_analysis`: it compiles
# for float32 inputs of these shapes, without allocating them).

# %%
def chain_flops(m, n, k, p):
    """FLOPs of (AB)C and A(BC) for A (m, n), B (n, k), C (k, p)."""
    return {"(AB)C": 2 * m * n * k + 2 * m * k * p, "A(BC)": 2 * n * k * p + 2 * m * n * p}


def left_first(A, B, C):
    """(AB)C."""
    return (A @ B) @ C


def right_first(A, B, C):
    """A(BC)."""
    return A @ (B @ C)


def compiled_chains(m, n, k, p):
    """Both orders compiled for float32 A (m, n), B (n, k), C (k, p); nothing allocated."""
    shapes = [jax.ShapeDtypeStruct(s, jnp.float32) for s in [(m, n), (n, k), (k, p)]]
    return {"(AB)C": jax.jit(left_first).lower(*shapes).compile(),
            "A(BC)": jax.jit(right_first).lower(*shapes).compile()}


# %%
BOOK = (2**10, 2**16, 2**5, 2**14)
MiB = 2**20
book_flops = chain_flops(*BOOK)
book_compiled = compiled_chains(*BOOK)
book_xla_flops = {k: c.cost_analysis()["flops"] for k, c in book_compiled.items()}
book_temp_mib = {k: c.memory_analysis().temp_size_in_bytes / MiB
                 for k, c in book_compiled.items()}
inputs_mib = book_compiled["(AB)C"].memory_analysis().argument_size_in_bytes / MiB
for order in book_flops:
    print(f"{order}: {book_flops[order] / 1e9:8.1f} GFLOP (XLA counts "
          f"{book_xla_flops[order] / 1e9:.1f}), intermediate {book_temp_mib[order]:7.3f} MiB")
print(f"inputs {inputs_mib:.0f} MiB, result {BOOK[0] * BOOK[3] * 4 / MiB:.0f} MiB; FLOP ratio "
      f"A(BC) / (AB)C = {book_flops['A(BC)'] / book_flops['(AB)C']:.0f}")
book_shapes = [jax.ShapeDtypeStruct(s, jnp.float32) for s in [BOOK[:2], BOOK[1:3], BOOK[2:]]]
multi_dot_flops = jax.jit(lambda *abc: jnp.linalg.multi_dot(abc)).lower(
    *book_shapes).compile().cost_analysis()["flops"]
print(f"jnp.linalg.multi_dot([A, B, C]) compiles to {multi_dot_flops / 1e9:.1f} GFLOP")

# %% [markdown]
# At the book's sizes $\mathbf{A}(\mathbf{B}\mathbf{C})$ takes about 2.3 TFLOP and a 4 GiB
# intermediate: seconds to minutes on two CPU cores, depending on the machine and its load
# (the estimate from the measured speed is printed below), more than this notebook's time
# budget. So the timing below keeps
# $\mathbf{A}$ and $\mathbf{B}$ at the book's sizes and narrows $\mathbf{C}$ to
# $2^{5} \times 2^{12}$, the widest that fits (quick mode shrinks $n$ to $2^{12}$ and $p$ to
# $2^{9}$). The FLOP ratio then is smaller than at the book's sizes, but the order of the two
# is the same. The cheap order is timed best of
# 5 calls, the expensive one once (it takes seconds).

# %%
timed = (2**10, 2**12, 2**5, 2**9) if run.quick else (2**10, 2**16, 2**5, 2**12)
m, n, k, p = timed
A, B, C = normal(m, n), normal(n, k), normal(k, p)
timed_compiled = compiled_chains(*timed)
timed_flops = chain_flops(*timed)
seconds = {order: best_time(lambda c=c: c(A, B, C), repeat=repeat)
           for (order, c), repeat in zip(timed_compiled.items(), [5, 1], strict=True)}
timed_temp_mib = {k: c.memory_analysis().temp_size_in_bytes / MiB
                  for k, c in timed_compiled.items()}
for order in seconds:
    print(f"{order}: {seconds[order] * 1e3:8.1f} ms, {timed_flops[order] / 1e9:7.2f} GFLOP, "
          f"{timed_flops[order] / seconds[order] / 1e9:6.1f} GFLOP/s, intermediate "
          f"{timed_temp_mib[order]:.3f} MiB")
print(f"A(BC) / (AB)C: time {seconds['A(BC)'] / seconds['(AB)C']:.1f}x, "
      f"FLOPs {timed_flops['A(BC)'] / timed_flops['(AB)C']:.1f}x")
book_estimate_s = book_flops["A(BC)"] / (timed_flops["A(BC)"] / seconds["A(BC)"])
print(f"at this speed the book's A(BC) would take about {book_estimate_s:.0f} s")
left, right = (c(A, B, C) for c in timed_compiled.values())
max_rel_diff = float(jnp.max(jnp.abs(left - right)) / jnp.max(jnp.abs(left)))
print(f"both orders give the same matrix up to float32 rounding: largest difference "
      f"{max_rel_diff:.1e} of the largest entry")
answers["10"] = {
    "book_sizes": BOOK, "book_flops": book_flops, "book_xla_flops": book_xla_flops,
    "book_intermediate_mib": book_temp_mib, "book_inputs_mib": inputs_mib,
    "multi_dot_flops": multi_dot_flops,
    "timed_sizes": timed, "timed_flops": timed_flops, "timed_seconds": seconds,
    "timed_intermediate_mib": timed_temp_mib, "max_rel_diff": max_rel_diff,
    "book_estimate_seconds": book_estimate_s,
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Yes, a large difference in both. The product is the same matrix, but the work is not: with
# $\mathbf{A}$ ($m \times n$), $\mathbf{B}$ ($n \times k$), $\mathbf{C}$ ($k \times p$),
# $(\mathbf{A}\mathbf{B})\mathbf{C}$ costs $2mnk + 2mkp$ FLOPs and keeps an $m \times k$
# intermediate, while $\mathbf{A}(\mathbf{B}\mathbf{C})$ costs $2nkp + 2mnp$ and keeps an
# $n \times p$ one. With the narrow $k = 2^5$ in the middle, going through it first is cheap: at
# the book's sizes 5.4 GFLOP and a 128 KiB intermediate against 2268 GFLOP and a 4 GiB
# intermediate, a FLOP ratio of about 422 (XLA's own counts, printed, agree with the formula).
# The timed run shows the same order: the printed time ratio is large, of the order of the
# FLOP ratio (not equal to it: each product runs at its own GFLOP/s, printed, which depends
# on its shapes and on the machine). Rule: multiply a chain in the order that keeps the
# intermediates small (the matrix-chain ordering problem); `jnp.linalg.multi_dot` picks that
# order for you (its compiled FLOP count, printed, is that of $(\mathbf{A}\mathbf{B})\mathbf{C}$).
#
# </details>

# %% [markdown]
# ### Exercise 11 — AB or ACᵀ: which is faster, and what if C = Bᵀ shares B's memory?
#
# $\mathbf{B}$ is $2^{16} \times 2^{5}$ and $\mathbf{C}$ is $2^{5} \times 2^{16}$, so both
# products are $2^{10} \times 2^{5}$ with the same $2mnk$ FLOPs; they differ in how the second
# factor lies in memory. Row-major storage keeps a row contiguous: $\mathbf{A}\mathbf{B}$ walks
# down the columns of $\mathbf{B}$ (stride $2^5$ floats), $\mathbf{A}\mathbf{C}^\top$ along the
# rows of $\mathbf{C}$ (contiguous). $\mathbf{A}$ and $\mathbf{B}$ are exercise 10's, at the
# book's sizes (quick mode: $2^{12}$ in place of $2^{16}$).

# %%
n11 = n
C = normal(2**5, n11)
times_b = jax.jit(lambda A, B: A @ B)
times_c_transposed = jax.jit(lambda A, C: A @ C.T)
hlo_c_transposed = times_c_transposed.lower(A, C).compile().as_text()
seconds_11 = {"AB": best_time(lambda: times_b(A, B), repeat=5),
              "AC^T": best_time(lambda: times_c_transposed(A, C), repeat=5)}
print({k: f"{v * 1e3:.2f} ms" for k, v in seconds_11.items()},
      f"ratio AC^T / AB = {seconds_11['AC^T'] / seconds_11['AB']:.2f}")
print("the compiled A @ C.T has a transpose op:", "transpose(" in hlo_c_transposed)
print([line.strip()[:120] for line in hlo_c_transposed.splitlines() if " dot(" in line][0])

# %% [markdown]
# Now $\mathbf{C} = \mathbf{B}^\top$. PyTorch's `B.T` is a view (the same memory, strides
# swapped), so `C.T` is `B` again and $\mathbf{A}\mathbf{C}^\top$ reads $\mathbf{B}$'s memory
# exactly as $\mathbf{A}\mathbf{B}$ does. JAX has no views: outside `jit`, `B.T` is a new array
# with its own buffer (a copy, timed below); inside `jit`, XLA sees transpose(transpose(B)) and
# drops both, so `A @ (B.T).T` compiles to the same dot as `A @ B`.

# %%
C_from_B = B.T
copied = C_from_B.unsafe_buffer_pointer() != B.unsafe_buffer_pointer()
copy_seconds = best_time(lambda: B.T, repeat=5)
through_bt = jax.jit(lambda A, B: A @ B.T.T)
hlo_bt = through_bt.lower(A, B).compile().as_text()
same_product = bool(jnp.array_equal(through_bt(A, B), times_b(A, B)))
print(f"B.T has its own buffer: {copied}; copying it takes {copy_seconds * 1e3:.2f} ms")
print("jit(A @ B.T.T) has a transpose op:", "transpose(" in hlo_bt,
      "; equals jit(A @ B) exactly:", same_product)
answers["11"] = {
    "n": n11, "seconds": seconds_11, "transpose_in_hlo": "transpose(" in hlo_c_transposed,
    "transpose_view_copies": copied, "copy_seconds": copy_seconds,
    "double_transpose_in_hlo": "transpose(" in hlo_bt,
    "double_transpose_same_product": same_product,
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# The arithmetic is identical; any difference in speed comes from memory access. Under `jit`,
# XLA does not transpose $\mathbf{C}$ at all: the compiled program is one `dot` that contracts
# the second axes of both operands (printed above), and the matrix-multiply library reads
# $\mathbf{C}$ in its own order; the two times are printed above, and their ratio is the
# answer for this machine. In PyTorch `C = B.T` shares `B`'s memory, so $\mathbf{A}\mathbf{C}^\top$
# becomes $\mathbf{A}\mathbf{B}$ on the same bytes. In JAX an eager `B.T` copies (a new
# buffer, the printed milliseconds), while under `jit` the two transposes cancel and the program
# is the plain $\mathbf{A}\mathbf{B}$ (no transpose op, bit-identical result). Layout is the
# compiler's business in JAX, not a property of the array object.
#
# </details>

# %% [markdown]
# ### Exercise 12 — stack three 100 × 200 matrices into a tensor with three axes
#
# "Slice out the second coordinate of the third axis" means stacking along the third axis,
# `jnp.stack([A, B, C], axis=2)`.

# %%
A, B, C = normal(100, 200), normal(100, 200), normal(100, 200)
stacked = jnp.stack([A, B, C], axis=2)
recovered = stacked[:, :, 1]
print("shape:", stacked.shape, "; size:", stacked.size)
print("stacked[:, :, 1] == B:", bool(jnp.array_equal(recovered, B)))
print("stacking along axis 0 instead:", jnp.stack([A, B, C]).shape,
      "; its [1] == B:", bool(jnp.array_equal(jnp.stack([A, B, C])[1], B)))
answers["12"] = {"shape": stacked.shape, "size": stacked.size,
                 "recovered_equal": bool(jnp.array_equal(recovered, B)),
                 "axis0_shape": jnp.stack([A, B, C]).shape}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Stacked along a new third axis the tensor has shape (100, 200, 3), 60000 entries, and
# `stacked[:, :, 1]` is exactly $\mathbf{B}$ (checked above). `jnp.stack` puts the new axis
# where `axis` says; with the default `axis=0` the shape is (3, 100, 200) and $\mathbf{B}$ is
# `stacked[1]`.
#
# </details>

# %%
run.save_metrics({"answers": answers})
