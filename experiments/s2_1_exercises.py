# %% [markdown]
# # 2.1 Exercises: Data Manipulation
#
# The exercises at the end of d2l section 2.1, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# The JAX framing of section 2.1 carries over: arrays are immutable (an update is a new array,
# `X.at[i].set(v)`), and an operator never writes into its operands.

# %% tags=["parameters"]
quick = False  # smoke run (these exercises have nothing to shrink)
seed = 0  # PRNG seed for the random 3-D arrays of exercise 2
out_dir = "results/2.1-exercises"  # where metrics.json goes

# %%
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jaxhw import notebook

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number

# %% [markdown]
# ### Exercise 1 — replace `X == Y` by `X < Y` and `X > Y`: what kind of array comes out?
#
# The section's `X` is `arange(12)` as a (3, 4) float32 matrix and `Y` the book's (3, 4) matrix
# of small integers.

# %%
X = jnp.arange(12, dtype=jnp.float32).reshape(3, 4)
Y = jnp.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
less, equal, greater = X < Y, X == Y, X > Y
print("X < Y\n", less, "\nX > Y\n", greater, "\nX == Y\n", equal)
print("dtype:", less.dtype, " shape:", less.shape)

# %% [markdown]
# Does exactly one of the three relations hold at each position? The three boolean arrays,
# counted as integers and added; then the three relations at a NaN.

# %%
exactly_one = less.astype(jnp.int32) + equal.astype(jnp.int32) + greater.astype(jnp.int32)
X_nan = X.at[0, 0].set(jnp.nan)
nan_relations = [bool(r[0, 0]) for r in (X_nan < Y, X_nan == Y, X_nan > Y)]
print("exactly one relation holds everywhere:", bool(jnp.all(exactly_one == 1)))
print("with X[0, 0] = NaN, (<, ==, >) at [0, 0]:", nan_relations)

# %% [markdown]
# A comparison as a mask: `X[X > Y]` eagerly and under `jax.jit`, and `jnp.where(mask, X, Y)`,
# which keeps the shape.

# %%
masked = X[greater]
try:
    jax.jit(lambda X, Y: X[X > Y])(X, Y)
except jax.errors.NonConcreteBooleanIndexError as err:
    mask_jit_error = f"NonConcreteBooleanIndexError: {str(err).splitlines()[0]}"
elementwise_max = jax.jit(lambda X, Y: jnp.where(X > Y, X, Y))(X, Y)
print("X[X > Y] =", masked)
print("under jit:", mask_jit_error)
print("jnp.where(X > Y, X, Y) =\n", elementwise_max)
answers["1"] = {
    "less": less, "greater": greater, "equal": equal, "dtype": str(less.dtype),
    "shape": less.shape, "exactly_one_holds": bool(jnp.all(exactly_one == 1)),
    "nan_relations": nan_relations, "masked_values": masked, "mask_jit_error": mask_jit_error,
    "where_equals_maximum": bool(jnp.array_equal(elementwise_max, jnp.maximum(X, Y))),
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# `X < Y` and `X > Y` compare elementwise, like `X == Y`: each gives a `bool` array of the
# operands' (broadcast) shape, here (3, 4), true where the relation holds for that pair of
# elements. For numbers, exactly one of `<`, `==`, `>` holds at each position (the printed check
# is `True`); a NaN breaks this, since every comparison with it is false. Used as a mask,
# `X[X > Y]` returns a vector whose length depends on the data, which `jax.jit` cannot compile
# (the error above); `jnp.where` keeps the shape and compiles.
#
# </details>

# %% [markdown]
# ### Exercise 2 — broadcasting with other shapes, e.g. 3-D arrays: is the result as expected?
#
# The rule: align the shapes on their last axis; two lengths are compatible when they are equal
# or one of them is 1 (a length-1 axis is repeated); a missing leading axis counts as length 1.
# We expect (2, 1, 4) + (1, 3, 1) to give (2, 3, 4) with `r[i, j, k] = a[i, 0, k] + b[0, j, 0]`,
# and check that against a plain triple loop.

# %%
key_a, key_b = jax.random.split(jax.random.key(run.seed))
a = jax.random.normal(key_a, (2, 1, 4))
b = jax.random.normal(key_b, (1, 3, 1))
r = a + b
a_np, b_np = np.asarray(a), np.asarray(b)
by_loop = np.empty((2, 3, 4), np.float32)
for i, j, k in itertools.product(range(2), range(3), range(4)):
    by_loop[i, j, k] = a_np[i, 0, k] + b_np[0, j, 0]
loop_equal = bool(np.array_equal(np.asarray(r), by_loop))
print("(2, 1, 4) + (1, 3, 1) ->", r.shape, "; equals the triple loop:", loop_equal)

# %% [markdown]
# A missing leading axis, (2, 3, 4) + (4,), and a pair that breaks the rule, (2, 3, 4) + (3, 2):

# %%
c = jnp.arange(24.0).reshape(2, 3, 4)
row = jnp.array([100.0, 200.0, 300.0, 400.0])
leading = c + row
print("(2, 3, 4) + (4,) ->", leading.shape, "; equals c + row[None, None, :]:",
      bool(jnp.array_equal(leading, c + row[None, None, :])))
try:
    c + jnp.ones((3, 2))
except ValueError as err:
    incompatible_error = f"ValueError: {err}"
print(incompatible_error)

# %% [markdown]
# Two places where JAX's immutability shows. In PyTorch, `a += b` writes into `a`, so the
# broadcast result must fit `a`'s shape: a (3, 1) `a` plus a (1, 2) `b` raises "output with
# shape [3, 1] doesn't match the broadcast shape [3, 2]". A JAX array has no in-place add:
# Python runs `a = a + b`, and the name `a` now holds a (3, 2) array. An update with
# `.at[...].set(v)` broadcasts `v` to the indexed slot, which must not grow.

# %%
a2 = jnp.arange(3.0).reshape(3, 1)
b2 = jnp.arange(2.0).reshape(1, 2)
shape_before = a2.shape
a2 += b2
print(f"a += b: a's shape {shape_before} -> {a2.shape}")
slot = jnp.zeros((2, 3, 4)).at[0].set(row)  # the (4,) row fills the (3, 4) slot, row by row
print("zeros((2, 3, 4)).at[0].set(row)[0] =\n", slot[0])
try:
    jnp.zeros((2, 3, 4)).at[0].set(jnp.ones((4, 3)))
except ValueError as err:
    at_set_error = f"ValueError: {err}"
print(at_set_error)
answers["2"] = {
    "shape_214_plus_131": r.shape, "equals_triple_loop": loop_equal,
    "shape_234_plus_4": leading.shape,
    "leading_axes_added": bool(jnp.array_equal(leading, c + row[None, None, :])),
    "incompatible_error": incompatible_error,
    "augmented_add_shapes": [shape_before, a2.shape],
    "at_set_broadcast_row": bool(jnp.array_equal(slot[0], jnp.tile(row, (3, 1)))),
    "at_set_untouched_zero": bool(jnp.all(slot[1] == 0)),
    "at_set_error": at_set_error,
}

# %% [markdown]
# <details><summary>Answer</summary>
#
# Yes: with three axes the rule works axis by axis, from the last. (2, 1, 4) + (1, 3, 1) gives
# (2, 3, 4), and every element equals the triple loop's `a[i, 0, k] + b[0, j, 0]` (the printed
# check is `True`). A shorter operand gains leading axes of length 1, so (2, 3, 4) + (4,) adds
# the vector to every row; (2, 3, 4) + (3, 2) is refused, since 4 and 2 differ and neither is 1.
# JAX adds one twist to what PyTorch shows: `a += b` cannot fail for lack of room in `a`, because
# it makes a new array, so `a` can silently change shape ((3, 1) to (3, 2) above). `.at[...]`
# updates broadcast the value into the slot and refuse one that does not fit.
#
# </details>

# %%
run.save_metrics({"answers": answers})
