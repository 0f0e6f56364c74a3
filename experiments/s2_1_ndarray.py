# %% [markdown]
# # 2.1 Data Manipulation
#
# *Dive into Deep Learning*, section 2.1, in JAX: creating arrays, indexing and slicing, the
# elementwise operations, broadcasting, memory, and conversion to NumPy and Python. JAX arrays
# behave like NumPy arrays, with two differences that shape everything after: they are
# **immutable** (an update makes a new array, `X.at[i].set(v)`), and randomness takes an
# **explicit key** (the same key always gives the same numbers).
#
# Each code cell that mirrors a cell of the PyTorch notebook this project reproduces starts with
# `# reference:` and what that notebook printed; the output under the cell is this notebook's.
# Where the two differ, the text above the cell says why. Throughout, JAX prints `Array(...,
# dtype=...)` where PyTorch prints `tensor(...)`, and its integers are `int32` where PyTorch's are
# `int64` (JAX keeps 64-bit types off unless asked, `jax_enable_x64`).

# %% tags=["parameters"]
quick = False  # smoke run (this section has nothing to shrink)
seed = 0  # PRNG seed for the random draws
out_dir = "results/2.1"  # where metrics.json goes

# %%
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxhw import notebook

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
metrics = {}  # values kept for metrics.json before a later cell reuses their names

# %% [markdown]
# ## Getting started
# `arange(12)` as float32, its number of elements (`size`, PyTorch's `numel()`) and its shape.

# %%
# reference: tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11.])
x = jnp.arange(12, dtype=jnp.float32)
metrics.update(arange=x, size=x.size, shape=x.shape)
x

# %%
# reference: 12
x.size

# %%
# reference: torch.Size([12])
x.shape

# %% [markdown]
# `reshape` keeps the elements and changes the shape; one axis may be given as -1 and is then
# inferred from the others.

# %%
# reference: tensor([[ 0.,  1.,  2.,  3.], [ 4.,  5.,  6.,  7.], [ 8.,  9., 10., 11.]])
X = x.reshape(3, 4)
metrics["reshape_3x4"] = X
X

# %%
# reference: torch.Size([3, 4])
X.shape

# %%
# reference: tensor([[ 0.,  1.,  2.,  3.], [ 4.,  5.,  6.,  7.], [ 8.,  9., 10., 11.]])
Y = x.reshape(3, -1)
metrics["reshape_3x_1_equal"] = bool(jnp.array_equal(Y, X))
Y

# %%
# reference: torch.Size([3, 4])
Y.shape

# %%
# reference: tensor([[[0., 0., 0., 0.], [0., 0., 0., 0.], [0., 0., 0., 0.]],
#                    [[0., 0., 0., 0.], [0., 0., 0., 0.], [0., 0., 0., 0.]]])
metrics.update(zeros_sum=jnp.zeros((2, 3, 4)).sum(), ones_sum=jnp.ones((2, 3, 4)).sum(),
               zeros_ones_shape=jnp.ones((2, 3, 4)).shape)
jnp.zeros((2, 3, 4))

# %%
# reference: tensor([[[1., 1., 1., 1.], [1., 1., 1., 1.], [1., 1., 1., 1.]],
#                    [[1., 1., 1., 1.], [1., 1., 1., 1.], [1., 1., 1., 1.]]])
jnp.ones((2, 3, 4))

# %% [markdown]
# Random numbers need a key. PyTorch's `randn` draws from a hidden global generator, so two
# calls give two draws; in JAX each draw takes its own key, split from the seed's. The numbers
# differ from the reference's (another generator, another seed); what carries over is the
# standard normal distribution they come from.

# %%
# reference: tensor([[ 0.7569, -0.8846,  1.2242,  1.1496],
#                    [ 2.4280, -0.9975, -0.7236, -0.2734],
#                    [ 2.3999,  0.1009, -0.6625,  0.0480]])
key = jax.random.key(run.seed)
key, draw_key = jax.random.split(key)
first = jax.random.normal(draw_key, (3, 4))
first

# %%
# reference: tensor([[ 0.0846,  0.0951,  0.5754,  0.1748],
#                    [-0.6192,  1.2792,  0.5654, -2.6387],
#                    [-0.2107, -1.1680, -1.1574,  0.2013]])
key, draw_key = jax.random.split(key)
second = jax.random.normal(draw_key, (3, 4))
metrics.update(normal_shape=second.shape,
               normal_split_keys_differ=not bool(jnp.array_equal(first, second)))
second

# %% [markdown]
# Beyond the reference: the same key gives the same numbers, every time.

# %%
again = jax.random.normal(draw_key, (3, 4))
metrics["normal_same_key_equal"] = bool(jnp.array_equal(again, second))
jnp.array_equal(again, second)

# %% [markdown]
# The book also builds an array from nested Python lists (the reference skips this cell).

# %%
metrics["from_list"] = jnp.array([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
metrics["from_list"]

# %% [markdown]
# ## Indexing and slicing
# Reading works as in NumPy: `-1` is the last row, `1:3` the rows 1 and 2.

# %%
# reference: (tensor([ 8.,  9., 10., 11.]), tensor([[ 4.,  5.,  6.,  7.], [ 8.,  9., 10., 11.]]))
metrics.update(last_row=X[-1], rows_1_3=X[1:3])
X[-1], X[1:3]

# %% [markdown]
# Writing does not: JAX arrays are immutable, so the book's `X[1, 2] = 17` raises `TypeError`.

# %%
try:
    X[1, 2] = 17
except TypeError as err:
    metrics["item_assignment_error"] = f"TypeError: {str(err).splitlines()[0]}"
    print(metrics["item_assignment_error"])

# %% [markdown]
# The functional update `X.at[1, 2].set(17)` returns a new array and leaves `X` as it was;
# binding the name `X` to the result gives the reference's printout.

# %%
# reference: tensor([[ 0.,  1.,  2.,  3.], [ 4.,  5., 17.,  7.], [ 8.,  9., 10., 11.]])
X_before = X
X = X.at[1, 2].set(17)
metrics["at_set_17"] = X
metrics["X_unchanged_by_at"] = bool(jnp.array_equal(X_before, jnp.arange(12.0).reshape(3, 4)))
X

# %% [markdown]
# The book then writes 12 into the first two rows, `X[:2, :] = 12`. (The reference's code line
# reads `X[:, 2] = 12`, but the output it shows is that of the book's `X[:2, :] = 12`.)

# %%
# reference: tensor([[12., 12., 12., 12.], [12., 12., 12., 12.], [ 8.,  9., 10., 11.]])
X = X.at[:2, :].set(12)
metrics["at_set_12"] = X
X

# %% [markdown]
# ## Operations
# Unary operators apply to each element. **Here the values differ from the reference's, on
# purpose.** In PyTorch `X = x.reshape(3, 4)` is a *view* of `x`'s memory, so the two writes
# above also changed `x`: the reference's `x` held eight 12s and then 8, 9, 10, 11 when it took
# `exp(x)` (e¹² = 162754.8). JAX has no views and no writes: `x` is still 0, ..., 11, and `exp(x)`
# is e⁰, ..., e¹¹.

# %%
# reference: tensor([162754.7969, 162754.7969, 162754.7969, 162754.7969, 162754.7969,
#                    162754.7969, 162754.7969, 162754.7969,  2980.9580,  8103.0840,
#                    22026.4648,  59874.1406])
metrics["exp"] = jnp.exp(x)
jnp.exp(x)

# %% [markdown]
# The reference's values are `exp` of what PyTorch's `x` held after the writes, which is our
# updated `X` flattened:

# %%
# reference: (as above) tensor([162754.7969, ..., 2980.9580, 8103.0840, 22026.4648, 59874.1406])
metrics["exp_of_written_X"] = jnp.exp(X.reshape(-1))
jnp.exp(X.reshape(-1))

# %% [markdown]
# The binary operators work elementwise on arrays of the same shape; an integer `y` is promoted
# to `x`'s float32. (The reference runs this cell twice, with the same output.)

# %%
# reference: (tensor([ 3.,  4.,  6., 10.]), tensor([-1.,  0.,  2.,  6.]),
#             tensor([ 2.,  4.,  8., 16.]), tensor([0.5000, 1.0000, 2.0000, 4.0000]),
#             tensor([ 1.,  4., 16., 64.]))
x = jnp.array([1.0, 2, 4, 8])
y = jnp.array([2, 2, 2, 2])
metrics.update(add=x + y, sub=x - y, mul=x * y, div=x / y, pow=x**y)
x + y, x - y, x * y, x / y, x**y

# %% [markdown]
# Concatenation stacks along an existing axis: rows (axis 0) or columns (axis 1).

# %%
# reference: (tensor([[ 0.,  1.,  2.,  3.], [ 4.,  5.,  6.,  7.], [ 8.,  9., 10., 11.],
#                     [ 2.,  1.,  4.,  3.], [ 1.,  2.,  3.,  4.], [ 4.,  3.,  2.,  1.]]),
#             tensor([[ 0.,  1.,  2.,  3.,  2.,  1.,  4.,  3.],
#                     [ 4.,  5.,  6.,  7.,  1.,  2.,  3.,  4.],
#                     [ 8.,  9., 10., 11.,  4.,  3.,  2.,  1.]]))
X = jnp.arange(12, dtype=jnp.float32).reshape((3, 4))
Y = jnp.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
metrics.update(concat_axis0=jnp.concatenate((X, Y), axis=0),
               concat_axis1=jnp.concatenate((X, Y), axis=1))
jnp.concatenate((X, Y), axis=0), jnp.concatenate((X, Y), axis=1)

# %%
# reference: tensor([[False,  True, False,  True], [False, False, False, False],
#                    [False, False, False, False]])
metrics["X_eq_Y"] = X == Y
X == Y

# %%
# reference: tensor(66.)
metrics["X_sum"] = X.sum()
X.sum()

# %% [markdown]
# ## Broadcasting
# Axes of length 1 stretch to match: a (3, 1) array plus a (1, 2) array is (3, 2).

# %%
# reference: (tensor([[0], [1], [2]]), tensor([[0, 1]]))
a = jnp.arange(3).reshape((3, 1))
b = jnp.arange(2).reshape((1, 2))
a, b

# %%
# reference: tensor([[0, 1], [1, 2], [2, 3]])
metrics["broadcast_3x1_1x2"] = a + b
a + b

# %% [markdown]
# ## Saving memory
# `Y = Y + X` makes a new array and binds the name `Y` to it, in both libraries.

# %%
# reference: False
before = id(Y)
Y = Y + X
metrics["rebind_same_id"] = id(Y) == before
id(Y) == before

# %% [markdown]
# The book then writes the sum into a preallocated `Z` with `Z[:] = X + Y`, keeping `Z`'s
# memory: the reference prints the same `id` twice. **Here the ids differ, on purpose:** a JAX
# array cannot be written, so `Z.at[:].set(X + Y)` is a new array, and `Z` names it. (An `id`
# is a memory address: its digits differ between runs and machines.)

# %%
# reference: id(Z): 2702656993936
#            id(Z): 2702656993936
Z = jnp.zeros_like(Y)
print("id(Z):", id(Z))
before = id(Z)
Z = Z.at[:].set(X + Y)
print("id(Z):", id(Z))
metrics["at_set_same_id"] = id(Z) == before

# %% [markdown]
# Beyond the reference, JAX's way to reuse memory: *donation*. `jax.jit(f, donate_argnums=0)`
# lets XLA write the output into argument 0's buffer. The donated array is then consumed:
# `is_deleted()` is true and any use raises `RuntimeError`.

# %%
Z = jnp.zeros_like(Y)
z_buffer = Z.unsafe_buffer_pointer()
add_into = jax.jit(lambda z, u, v: z.at[:].set(u + v), donate_argnums=0)
new_Z = add_into(Z, X, Y)
metrics["donated_input_deleted"] = Z.is_deleted()
metrics["donated_buffer_reused"] = new_Z.unsafe_buffer_pointer() == z_buffer
metrics["donated_result_correct"] = bool(jnp.array_equal(new_Z, X + Y))
try:
    Z + 1
except RuntimeError as err:
    metrics["donated_access_error"] = f"RuntimeError: {err}"
print(f"Z deleted: {metrics['donated_input_deleted']}; its buffer reused: "
      f"{metrics['donated_buffer_reused']}; using Z: {metrics['donated_access_error']}")

# %% [markdown]
# XLA takes a donation only when an output can take over the buffer (same shape and dtype); a
# sum cannot, so JAX warns and the input survives.

# %%
V = jnp.ones((3, 4))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    total = jax.jit(lambda v: v.sum(), donate_argnums=0)(V)
metrics["unusable_donation_warning"] = next(
    (str(w.message).splitlines()[0] for w in caught if "donated" in str(w.message)), None)
metrics["unusable_donation_input_deleted"] = V.is_deleted()
metrics["unusable_donation_result"] = total
print(f"warning: {metrics['unusable_donation_warning']} V deleted: {V.is_deleted()}")

# %% [markdown]
# In PyTorch `X += Y` adds in place, so `X` keeps its `id`: the reference prints `True`. **Here
# it prints `False`, on purpose:** a JAX array has no in-place add, so Python runs
# `X = X + Y`, a new array. The values are the same as PyTorch's.

# %%
# reference: True
before = id(X)
X += Y
metrics["augmented_same_id"] = id(X) == before
id(X) == before

# %% [markdown]
# ## Conversion to other Python objects
# `np.asarray` gives a NumPy array (read-only: on CPU it may share the JAX buffer, which must
# not change), and `jnp.asarray` makes a JAX array of it again.

# %%
# reference: (numpy.ndarray, torch.Tensor)
A = np.asarray(X)
B = jnp.asarray(A)
metrics.update(numpy_is_ndarray=isinstance(A, np.ndarray),
               numpy_writeable=bool(A.flags.writeable), jax_is_array=isinstance(B, jax.Array),
               numpy_round_trip_equal=bool(jnp.array_equal(B, X)))
type(A), type(B)

# %% [markdown]
# `.item()` works on any one-element array, but `float()` and `int()` want a 0-d array in JAX:
# the book's `float(a)` of the one-element vector `a` is a `TypeError` here, so we take its
# element `a[0]` first.

# %%
a = jnp.array([3.5])
try:
    float(a)
except TypeError as err:
    metrics["float_of_1d_error"] = f"TypeError: {err}"
    print(metrics["float_of_1d_error"])

# %%
# reference: (tensor([3.5000]), 3.5, 3.5, 3)
metrics.update(item=a.item(), float=float(a[0]), int=int(a[0]))
a, a.item(), float(a[0]), int(a[0])

# %% [markdown]
# ## Exercises
# The reference ends with the book's two exercises. First, `X < Y` and `X > Y` in place of
# `X == Y`. By now `Y = Y + X` and `X += Y` have made `X` equal 2·X₀ + Y₀ and `Y` equal
# X₀ + Y₀ (X₀, Y₀ the arrays of the concatenation cell), so `X < Y` wherever X₀ < 0 (nowhere)
# and `X > Y` wherever X₀ > 0 (everywhere but the first element). The values match the
# reference's: immutability changed which object `X` names, not the numbers it holds.

# %%
# reference: (tensor([[False, False, False, False], [False, False, False, False],
#                     [False, False, False, False]]),
#             tensor([[False,  True,  True,  True], [ True,  True,  True,  True],
#                     [ True,  True,  True,  True]]))
metrics.update(X_lt_Y=X < Y, X_gt_Y=X > Y)
X < Y, X > Y

# %% [markdown]
# Second, broadcasting over three axes: the one-element `a` stretches over every axis of a
# (3, 4, 5) array, and the int32 `c` is promoted to float32.

# %%
# reference: tensor([[[ 3.5000,  4.5000,  5.5000,  6.5000,  7.5000],
#                     [ 8.5000,  9.5000, 10.5000, 11.5000, 12.5000],
#                     [13.5000, 14.5000, 15.5000, 16.5000, 17.5000],
#                     [18.5000, 19.5000, 20.5000, 21.5000, 22.5000]],
#
#                    [[23.5000, 24.5000, 25.5000, 26.5000, 27.5000],
#                     [28.5000, 29.5000, 30.5000, 31.5000, 32.5000],
#                     [33.5000, 34.5000, 35.5000, 36.5000, 37.5000],
#                     [38.5000, 39.5000, 40.5000, 41.5000, 42.5000]],
#
#                    [[43.5000, 44.5000, 45.5000, 46.5000, 47.5000],
#                     [48.5000, 49.5000, 50.5000, 51.5000, 52.5000],
#                     [53.5000, 54.5000, 55.5000, 56.5000, 57.5000],
#                     [58.5000, 59.5000, 60.5000, 61.5000, 62.5000]]])
c = jnp.arange(60).reshape((3, 4, 5))
metrics.update(a_plus_c=a + c, broadcast_1_345_shape=(a + c).shape,
               broadcast_1_345_equal=bool(jnp.array_equal(a + c, c + 3.5)))
a + c

# %% [markdown]
# ## Results
# `metrics.json` keeps the values above for the tests (tests/test_sections_ch2.py).

# %%
run.save_metrics(metrics)
