# %% [markdown]
# # 2.3 Linear Algebra
#
# *Dive into Deep Learning*, section 2.3, in JAX: scalars, vectors, matrices and tensors, the
# reductions `sum` and `mean`, dot, matrix-vector and matrix-matrix products, and norms. Each is
# one `jax.numpy` call named as in PyTorch.
#
# Each code cell starts with `# reference:` and what the PyTorch notebook this project
# reproduces printed for that cell; the output under the cell is this notebook's. The numbers
# agree. The form differs (`Array(..., dtype=...)` for `tensor(...)`), and JAX's integers are
# `int32` where PyTorch's are `int64`: JAX keeps 64-bit types off unless asked
# (`jax_enable_x64`).

# %% tags=["parameters"]
quick = False  # smoke run (this section has nothing to shrink)
seed = 0  # PRNG seed (nothing here is random)
out_dir = "results/2.3"  # where metrics.json goes

# %%
import jax.numpy as jnp

from jaxhw import notebook

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
metrics = {}  # values kept for metrics.json before a later cell reuses their names

# %% [markdown]
# ## Scalars
# A scalar is a tensor with one element; the arithmetic operators work elementwise.

# %%
# reference: (tensor(5.), tensor(6.), tensor(1.5000), tensor(9.))
x = jnp.array(3.0)
y = jnp.array(2.0)
metrics["scalar_ops"] = jnp.stack([x + y, x * y, x / y, x**y])

x + y, x * y, x / y, x**y

# %% [markdown]
# ## Vectors
# A vector is a one-axis tensor; its elements are indexed from 0, and its length is its shape.

# %%
# reference: tensor([0, 1, 2])
x = jnp.arange(3)
metrics.update(vector=x, vector_2=x[2], vector_len=len(x), vector_shape=x.shape)
x

# %%
# reference: tensor(2)
x[2]

# %%
# reference: 3
len(x)

# %%
# reference: torch.Size([3])
x.shape

# %% [markdown]
# ## Matrices
# A matrix has two axes; `A.T` swaps them. A symmetric matrix equals its transpose.

# %%
# reference: tensor([[0, 1], [2, 3], [4, 5]])
A = jnp.arange(6).reshape(3, 2)
metrics.update(A=A, A_T=A.T)
A

# %%
# reference: tensor([[0, 2, 4], [1, 3, 5]])
A.T

# %%
# reference: tensor([[True, True, True], [True, True, True], [True, True, True]])
A = jnp.array([[1, 2, 3], [2, 0, 4], [3, 4, 5]])
metrics["B_symmetric"] = bool((A == A.T).all())
A == A.T

# %% [markdown]
# ## Tensors
# Tensors have any number of axes; a (2, 3, 4) tensor is two 3x4 matrices.

# %%
# reference: tensor([[[ 0,  1,  2,  3], [ 4,  5,  6,  7], [ 8,  9, 10, 11]],
#                    [[12, 13, 14, 15], [16, 17, 18, 19], [20, 21, 22, 23]]])
jnp.arange(24).reshape(2, 3, 4)

# %% [markdown]
# ## Basic properties of tensor arithmetic
# The book copies `A` with `A.clone()` so that changing `B` cannot change `A`. JAX arrays are
# immutable, so `B = A` would already be safe; `A.copy()` still makes a new buffer, shown by
# the two buffer addresses differing. Elementwise `A * B` is the Hadamard product.

# %%
# reference: (tensor([[0., 1., 2.], [3., 4., 5.]]), tensor([[ 0.,  2.,  4.], [ 6.,  8., 10.]]))
A = jnp.arange(6, dtype=jnp.float32).reshape(2, 3)
B = A.copy()
metrics["copy_new_buffer"] = B.unsafe_buffer_pointer() != A.unsafe_buffer_pointer()
metrics.update(A_plus_B=A + B, hadamard=A * B)
A, A + B

# %%
# reference: tensor([[ 0.,  1.,  4.], [ 9., 16., 25.]])
A * B

# %%
# reference: (tensor([[[ 2,  3,  4,  5], [ 6,  7,  8,  9], [10, 11, 12, 13]],
#                     [[14, 15, 16, 17], [18, 19, 20, 21], [22, 23, 24, 25]]]),
#             torch.Size([2, 3, 4]))
a = 2
X = jnp.arange(24).reshape(2, 3, 4)
a + X, (a * X).shape

# %% [markdown]
# ## Reduction
# `sum` over all elements gives a scalar; over one axis, that axis disappears; over both axes
# of a matrix, the same as the full sum. `mean` is the sum divided by the count.

# %%
# reference: (tensor([0., 1., 2.]), tensor(3.))
x = jnp.arange(3, dtype=jnp.float32)
x, x.sum()

# %%
# reference: (torch.Size([2, 3]), tensor(15.))
A.shape, A.sum()

# %%
# reference: (torch.Size([2, 3]), torch.Size([3]))
A.shape, A.sum(axis=0).shape

# %%
# reference: (torch.Size([2, 3]), torch.Size([2]))
A.shape, A.sum(axis=1).shape

# %%
# reference: tensor(True)
A.sum(axis=[0, 1]) == A.sum()  # same as A.sum()

# %%
# reference: (tensor(2.5000), tensor(2.5000))
A.mean(), A.sum() / A.size

# %%
# reference: (tensor([1.5000, 2.5000, 3.5000]), tensor([1.5000, 2.5000, 3.5000]))
A.mean(axis=0), A.sum(axis=0) / A.shape[0]

# %% [markdown]
# ## Non-reduction sum
# `keepdims=True` keeps the summed axis with length 1, so `A / sum_A` broadcasts row by row;
# `cumsum` accumulates along an axis without removing it.

# %%
# reference: (tensor([[ 3.], [12.]]), torch.Size([2, 1]))
sum_A = A.sum(axis=1, keepdims=True)
sum_A, sum_A.shape

# %%
# reference: tensor([[0.0000, 0.3333, 0.6667], [0.2500, 0.3333, 0.4167]])
A / sum_A

# %%
# reference: tensor([[0., 1., 2.], [3., 5., 7.]])
A.cumsum(axis=0)

# %% [markdown]
# ## Dot products
# The sum of elementwise products: `jnp.dot(x, y)`, or `jnp.sum(x * y)`.

# %%
# reference: (tensor([0., 1., 2.]), tensor([1., 1., 1.]), tensor(3.))
y = jnp.ones(3, dtype=jnp.float32)
x, y, jnp.dot(x, y)

# %%
# reference: tensor(3.)
jnp.sum(x * y)

# %% [markdown]
# ## Matrix-vector and matrix-matrix products
# PyTorch's `torch.mv` and `torch.mm` are both `jnp.dot` (or `@`) here.

# %%
# reference: (torch.Size([2, 3]), torch.Size([3]), tensor([ 5., 14.]), tensor([ 5., 14.]))
A.shape, x.shape, jnp.dot(A, x), A @ x

# %%
# reference: (tensor([[ 3.,  3.,  3.,  3.], [12., 12., 12., 12.]]),
#             tensor([[ 3.,  3.,  3.,  3.], [12., 12., 12., 12.]]))
B = jnp.ones((3, 4))
jnp.dot(A, B), A @ B

# %% [markdown]
# ## Norms
# The L2 norm is the square root of the sum of squares, the L1 norm the sum of absolute values;
# for a matrix, `jnp.linalg.norm` gives the Frobenius norm (here sqrt(36)).

# %%
# reference: tensor(5.)
u = jnp.array([3.0, -4.0])
jnp.linalg.norm(u)

# %%
# reference: tensor(7.)
jnp.abs(u).sum()

# %%
# reference: tensor(6.)
jnp.linalg.norm(jnp.ones((4, 9)))

# %% [markdown]
# ## Results
# `metrics.json` keeps every value above for the tests (tests/test_template_sections.py).

# %%
run.save_metrics({
    **metrics,
    "tensor_shape": X.shape,
    "scalar_plus_tensor": a + X,
    "scalar_times_tensor_shape": (a * X).shape,
    "x_sum": x.sum(),
    "A_sum": A.sum(),
    "A_sum_axis0": A.sum(axis=0), "A_sum_axis0_shape": A.sum(axis=0).shape,
    "A_sum_axis1": A.sum(axis=1), "A_sum_axis1_shape": A.sum(axis=1).shape,
    "A_sum_axis01": A.sum(axis=(0, 1)),
    "A_mean": A.mean(), "A_mean_by_sum": A.sum() / A.size,
    "A_mean_axis0": A.mean(axis=0), "A_mean_axis0_by_sum": A.sum(axis=0) / A.shape[0],
    "sum_A_keepdims": sum_A, "sum_A_keepdims_shape": sum_A.shape,
    "A_div_sum_A": A / sum_A,
    "A_cumsum_axis0": A.cumsum(axis=0),
    "dot": jnp.dot(x, y), "dot_by_sum": jnp.sum(x * y),
    "matvec": jnp.dot(A, x), "matvec_by_matmul": A @ x,
    "matmul": A @ B,
    "l2": jnp.linalg.norm(u),
    "l1": jnp.abs(u).sum(),
    "frobenius": jnp.linalg.norm(jnp.ones((4, 9))),
})
