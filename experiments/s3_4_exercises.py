# %% [markdown]
# # 3.4 Exercises: Linear Regression Implementation from Scratch
#
# The exercises at the end of d2l section 3.4, answered in JAX. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# Unless an exercise says otherwise the data are the section's: 1000 training and 1000
# validation examples of y = Xw + b + noise with w = [2, −3.4], b = 4.2, noise 0.01, and every
# training run goes through `jaxhw.train.fit` or `jaxhw.sweep.fit_many`.

# %% tags=["parameters"]
quick = False  # smoke run (every run here is small: the same in both modes)
seed = 0  # PRNG seed of the data, the initial parameters and the minibatch orders
out_dir = "results/3.4-exercises"  # where the figures and metrics.json go

# %%
import math
import textwrap
import warnings

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from jaxhw import notebook, optim, sweep, train
from jaxhw.board import plot
from jaxhw.data.synthetic import synthetic_regression
from jaxhw.models import linear, mlp, softmax_regression
from jaxhw.nn.losses import absolute_loss, squared_loss

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number
data_key, fit_key, ohm_key, planck_key, seeds_key, noisy_key = jax.random.split(
    jax.random.key(run.seed), 6)  # data and minibatch orders
rng = np.random.default_rng(run.seed)  # initial weights and fixed orders, drawn in numpy
# Arrays are made by jitted functions or numpy and kept as numpy on the host: every JAX
# operation run eagerly on a new shape costs a compile.
make_data = jax.jit(synthetic_regression, static_argnames=("num_train", "num_val"))

TRUE_W, TRUE_B = np.array([2.0, -3.4], np.float32), 4.2
LR, BATCH_SIZE = 0.03, 32  # the section's settings (it trains for 3 epochs)
train_data, val_data = jax.device_get(make_data(data_key, TRUE_W, TRUE_B, num_train=1000,
                                                num_val=1000, noise=0.01))
loss = train.supervised_loss(linear.apply, squared_loss)  # the section's model and loss


def errors(params, batch):
    """|w - w_true| and |b - b_true| as metrics (they read only the params, not the batch)."""
    return {"w_error": jnp.linalg.norm(params["w"][:, 0] - TRUE_W),
            "b_error": jnp.abs(params["b"][0] - TRUE_B)}


def fit_many_noted(*args, **kwargs):
    """`sweep.fit_many`, and its warnings as short notes (which models diverged, in which epoch,
    the first advice) instead of the full text: (result, notes)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sweep.fit_many(*args, **kwargs)
    notes = []
    for warning in caught:
        message = str(warning.message)
        head, _, causes = message.partition(". Likely causes, most likely first: ")
        if " training diverged in epoch " not in head:
            notes.append(f"warning: {message}")
            continue
        models, _, rest = head.partition(": training diverged in epoch ")
        advice = causes.split("; or ")[0].split("): ")[-1]
        notes.append(f"fit_many warned: {models} diverged in epoch {rest.split()[0]}; its advice: "
                     f"{advice}")
    return result, notes


# %% [markdown]
# ### Exercise 1 — initial weights of zero, or of variance 1000
#
# Eight random starts of each kind, all 24 models in one `fit_many` call with the same
# minibatch order and the section's SGD (lr 0.03, batch 32): w = 0; the book's
# w ~ N(0, 0.01²); and w ~ N(0, 1000), a standard deviation of √1000 ≈ 31.6 (the book's 0.01
# is a standard deviation, so "variance 1000 rather than 0.01" compares a variance with a
# standard deviation; the cell takes variance 1000 at its word). b starts at 0 in all of them.
# 10 epochs, where the section trains 3; the medians over the eight starts are printed.

# %%
init_sigmas = {"w = 0": 0.0, "σ = 0.01 (the book)": 0.01, "σ = √1000": math.sqrt(1000)}
num_starts = 8
draws = rng.standard_normal((num_starts, 2, 1))
stack = {"w": np.concatenate([s * draws for s in init_sigmas.values()]).astype(np.float32),
         "b": np.zeros((3 * num_starts, 1), np.float32)}
inits = sweep.fit_many(loss, stack, optim.sgd(LR), train_data, val_data, key=fit_key,
                       epochs=10, batch_size=BATCH_SIZE, metrics=errors, progress=False)


def per_init(values):
    """Median over the eight starts of each kind: (24, ...) -> (3, ...)."""
    return np.median(np.reshape(values, (3, num_starts, *np.shape(values)[1:])), axis=1)


initial_error = per_init(np.linalg.norm(stack["w"][..., 0] - TRUE_W, axis=1))
answers["1"] = {"initial_w_error": initial_error,
                "first_batch_loss": per_init(inits.history["batch_loss"][:, 0, 0]),
                "w_error_epoch3": per_init(inits.history["val_w_error"][:, 2]),
                "w_error_epoch10": per_init(inits.history["val_w_error"][:, -1]),
                "b_error_epoch10": per_init(inits.history["val_b_error"][:, -1]),
                "val_loss": per_init(inits.history["val_loss"])}
for i, name in enumerate(init_sigmas):
    print(f"{name:>19}: |w error| at the start {initial_error[i]:6.2f}, after 3 epochs "
          f"{answers['1']['w_error_epoch3'][i]:.4f}, after 10 "
          f"{answers['1']['w_error_epoch10'][i]:.5f}; first minibatch loss "
          f"{answers['1']['first_batch_loss'][i]:.1f}")
extra_steps = math.log(initial_error[2] / initial_error[0]) / LR
print(f"a factor (1 - lr) per step: the large starts need ln({initial_error[2]:.1f} / "
      f"{initial_error[0]:.2f}) / 0.03 = {extra_steps:.0f} more steps, "
      f"{extra_steps / 32:.1f} epochs of 32")
answers["1"]["predicted_extra_epochs"] = extra_steps / 32

# %%
ax = plot(np.arange(1, 11), list(answers["1"]["val_loss"]), "epoch",
          "validation loss (median of 8)", legend=list(init_sigmas), yscale="log",
          figsize=(4.5, 2.8), title="initial weights, lr 0.03, batch 32")
ax.axvline(3, color="k", ls=":", lw=1)  # where the section stops
run.show(ax.figure, "ex1_init.png")

# %% [markdown]
# Why zero is harmless here, and where it is not: the gradient of the loss at w = 0, b = 0
# (full batch), and the gradients of a small MLP (2 inputs, 4 ReLU hidden units, 1 output)
# whose weights all start at zero.

# %%
linear_zero = {"w": np.zeros((2, 1), np.float32), "b": np.zeros(1, np.float32)}
mlp_zero = {"W1": np.zeros((2, 4), np.float32), "b1": np.zeros(4, np.float32),  # mlp.init's
            "W2": np.zeros((4, 1), np.float32), "b2": np.zeros(1, np.float32)}  # with sigma 0
mlp_loss = train.supervised_loss(mlp.apply, squared_loss)
grad_at_zero, mlp_grads = jax.device_get(jax.jit(
    lambda data: (jax.grad(loss)(linear_zero, data), jax.grad(mlp_loss)(mlp_zero, data)))(
        train_data))
answers["1"].update({"grad_w_at_zero": grad_at_zero["w"][:, 0],
                     "grad_b_at_zero": float(grad_at_zero["b"][0]),
                     "zero_mlp_grad_norms": {k: float(np.linalg.norm(g))
                                             for k, g in mlp_grads.items()}})
print(f"linear model, gradient at 0: w {np.round(answers['1']['grad_w_at_zero'], 3)}, "
      f"b {answers['1']['grad_b_at_zero']:.3f}")
print(f"MLP from all-zero weights, gradient norms: "
      f"{ {k: round(v, 3) for k, v in answers['1']['zero_mlp_grad_norms'].items()} }")

# %% [markdown]
# <details><summary>Answer</summary>
#
# **Zero works.** The squared loss of a linear model is a convex quadratic in $(\mathbf{w}, b)$
# with a single minimum, and the gradient at zero, $-\frac{1}{n}\sum_i y_i (\mathbf{x}_i, 1)$,
# is not zero: printed above it is about $-(\mathbf{w}, b)$ of the truth, because the features
# are standard normal. Each weight multiplies its own input, so the weights get different
# gradients from the first step on and nothing needs breaking. The w = 0 runs end where the
# book's do. The symmetry problem belongs to hidden layers: in the MLP above every hidden
# unit computes the same thing from zero weights, and here every gradient but the output
# bias's is exactly zero (the hidden outputs are ReLU(0) = 0 and the output weights are 0), so
# SGD only ever learns a constant. With equal non-zero weights the hidden units would get equal
# gradients and stay copies of each other. Section 5.4 of the book comes back to this.
#
# **Variance 1000 works too, but slowly.** The first minibatch loss is tens of times larger
# (printed), and for this quadratic each SGD step shrinks the error by roughly a factor
# $1 - \eta = 0.97$ (the features have unit variance) whatever its size, so a start $k$ times
# further from the truth needs $\ln(k)/\eta$ more steps to get as close (printed: about two
# epochs). After the section's 3 epochs the large starts are still far off; after 10 they are
# within a few thousandths, the others at the noise level. Nothing breaks because the loss is
# a convex quadratic; with a larger learning rate, or features of larger scale, such a start
# can make the first steps diverge, and in deep networks weights that are too large or too
# small make the signal explode or vanish through the layers (the reason for the
# initialisations of section 5.4).
#
# </details>

# %% [markdown]
# ### Exercise 2 — Ohm's law: learn a resistance with automatic differentiation
#
# 1000 measurements of a resistor of 4.7 Ω: currents uniform in [0.1, 2] A, voltages
# V = R·I + noise of 0.05 V, drawn with `jax.random`. The model is the section's linear model
# with one input, V = R·I + V₀ (w = R, b = V₀, an offset that Ohm's law says is 0), trained
# with `fit` (SGD, batch 32, 40 epochs, the learning rate decaying from 0.3 by 0.9 per epoch
# so that the last steps are small); `jax.grad` of the loss gives the derivatives, as it does for w
# and b in the section. The least-squares line (in float64) is the reference.

# %%
R_TRUE = 4.7


@jax.jit
def ohm_measurements(key):
    """1000 (current (n, 1) in A, voltage (n, 1) in V) pairs of a resistor of R_TRUE ohms."""
    k_current, k_noise = jax.random.split(key)
    current = jax.random.uniform(k_current, (1000, 1), minval=0.1, maxval=2.0)
    return current, R_TRUE * current + 0.05 * jax.random.normal(k_noise, (1000, 1))


current, voltage = jax.device_get(ohm_measurements(ohm_key))
decaying = optax.sgd(optax.exponential_decay(0.3, transition_steps=32, decay_rate=0.9))
start = {"w": np.zeros((1, 1), np.float32), "b": np.zeros(1, np.float32)}  # zero: exercise 1
ohm = train.fit(loss, start, decaying, (current, voltage), key=fit_key, epochs=40,
                batch_size=BATCH_SIZE, progress=False)
R_fit, V0_fit = float(ohm.params["w"][0, 0]), float(ohm.params["b"][0])
R_ls, V0_ls = np.polyfit(current[:, 0].astype(np.float64), voltage[:, 0].astype(np.float64), 1)
answers["2"] = {"R_true": R_TRUE, "R_fit": R_fit, "V0_fit": V0_fit, "R_least_squares": R_ls,
                "V0_least_squares": V0_ls, "final_train_loss": float(ohm.history["train_loss"][-1])}
print(f"R: fitted {R_fit:.5f} Ω, least squares {R_ls:.5f} Ω, true {R_TRUE} Ω; offset V₀: "
      f"fitted {V0_fit:+.5f} V, least squares {V0_ls:+.5f} V")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Yes. Ohm's law $V = R I$ is a linear model with one weight, so the section's code applies
# unchanged: the loss $\frac{1}{2n}\sum_i (R I_i + V_0 - V_i)^2$, its gradient from
# `jax.grad`, and SGD. The fitted resistance agrees with the least-squares line to about
# 10⁻⁴ Ω and with the true 4.7 Ω to within what 1000 measurements with 0.05 V of noise can
# tell (a few thousandths), and the offset $V_0$ comes
# out near zero, which is Ohm's law itself: the data say the line passes through the origin
# (one could then drop $b$ and fit $V = R I$ alone). Automatic differentiation is not needed
# for a model this simple, whose gradient is one line by hand, but it is the same call for
# any model, including ones whose derivative nobody wants to write out, such as exercise 3.
#
# </details>

# %% [markdown]
# ### Exercise 3 — Planck's law: the temperature from spectral data
#
# The spectral radiance of a black body at 5000 K at 100 wavelengths from 0.2 to 3 µm, with
# 2 % multiplicative noise (drawn with `jax.random`), to be fitted by gradient descent on T.
# First the formula as the book writes it, in SI units and float32, JAX's default:

# %%
H, C, K_B = 6.62607015e-34, 2.99792458e8, 1.380649e-23  # Planck, light speed, Boltzmann (SI)
T_TRUE = 5000.0


def planck_si(wavelength, T):
    """B(lambda, T) in W / (m^2 sr m): wavelength in m, T in K."""
    return 2 * H * C**2 / wavelength**5 / jnp.expm1(H * C / (wavelength * K_B * T))


def si_loss(params, batch):
    """Mean squared error of the radiance itself, T in kelvin."""
    lam, B = batch
    return jnp.mean((planck_si(lam, params["T"]) - B) ** 2)


@jax.jit
def si_demo(key, params):
    """The data (radiance with 2 % noise), and the SI loss and its gradient at params."""
    radiance = planck_si(wavelengths, T_TRUE) * (1 + 0.02 * jax.random.normal(key, (100,)))
    return radiance, *jax.value_and_grad(si_loss)(params, (wavelengths, radiance))


wavelengths = np.linspace(0.2e-6, 3e-6, 100, dtype=np.float32)
si_params = {"T": np.float32(3000.0)}
radiance, si_value, si_grad = jax.device_get(si_demo(planck_key, si_params))
si_step = optax.apply_updates(si_params, optim.sgd(1e-20).update(si_grad, None)[0])
underflow = np.float32(0.2e-6 * K_B * 3000.0) ** 2  # (lambda k T)^2, in d/dT of 1/(lambda k T)
answers["3"] = {"si_loss": float(si_value), "si_grad": str(float(si_grad["T"])),
                "si_T_after_one_step": str(float(si_step["T"])),
                "lambda_k_T_squared_float32": float(underflow)}
print(f"SI units: loss {float(si_value):.3e} at T = 3000 K; dL/dT = {float(si_grad['T'])}; "
      f"T after one SGD step of lr 1e-20: {float(si_step['T'])}")
print(f"(λ k T)² at λ = 0.2 µm, T = 3000 K, in float32: {float(underflow)} "
      f"(exactly {(0.2e-6 * K_B * 3000.0) ** 2:.2e})")

# %% [markdown]
# The same law in units near 1: λ in µm, T in thousands of kelvin, B in W/(m²·sr·µm), and
# the loss on log B (so that every wavelength counts by its relative error, which is how the
# noise is made). With $u = hc/(\lambda k T)$, $\log B = \log c_1 - 5 \log \lambda - \log(e^u - 1)$,
# and $\log(e^u - 1) = u + \log(1 - e^{-u})$ never overflows. Fitted with `fit`: full-batch
# gradient descent (batch = all 100 wavelengths), lr 1, from T = 3000 K, 50 epochs.

# %%
C1 = 2 * H * C**2 * 1e24  # W um^4 / (m^2 sr): B in W/(m^2 sr um) for lambda in um
C2 = H * C / K_B * 1e3  # um kK: u = C2 / (lambda_um * T_kK)


def log_planck(wavelength_um, T_kK):
    """log B(lambda, T), B in W/(m^2 sr um): wavelength in um, T in thousands of kelvin."""
    u = C2 / (wavelength_um * T_kK)
    return jnp.log(C1) - 5 * jnp.log(wavelength_um) - (u + jnp.log(-jnp.expm1(-u)))


def log_planck_loss(params, batch):
    """Half the mean squared error of log B: relative errors, T in kK."""
    lam_um, log_B = batch
    return jnp.mean((log_planck(lam_um, params["T"]) - log_B) ** 2) / 2


scaled_data = (wavelengths * 1e6, np.log(radiance * 1e-6))  # um and log(W/(m^2 sr um))
planck = train.fit(log_planck_loss, {"T": jnp.float32(3.0)}, optim.sgd(1.0), scaled_data,
                   key=fit_key, epochs=50, batch_size=100, progress=False)
T_fit = 1000 * float(planck.params["T"])


@jax.jit
def planck_checks(T_kK):
    """The standard error of T in K (noise 0.02 over the root of the sum of the squared slopes
    d log B / dT), the largest difference of the log form from the SI form at 5000 K, and the
    fitted curve."""
    slopes = jax.vmap(jax.grad(log_planck, argnums=1), in_axes=(0, None))(scaled_data[0], T_kK)
    consistent = jnp.max(jnp.abs(log_planck(scaled_data[0], T_TRUE / 1000)
                                 - jnp.log(planck_si(wavelengths, T_TRUE) * 1e-6)))
    return (1000 * 0.02 / jnp.sqrt(jnp.sum(slopes**2)), consistent,
            jnp.exp(log_planck(scaled_data[0], T_kK)))


T_se, consistent, fitted_curve = jax.device_get(planck_checks(planck.params["T"]))
answers["3"].update({"T_true": T_TRUE, "T_fit": T_fit, "T_standard_error": float(T_se),
                     "loss_by_epoch": planck.history["train_loss"],
                     "log_form_vs_si_max_difference": float(consistent)})
print(f"fitted T = {T_fit:.1f} K (true {T_TRUE:.0f} K; standard error from the noise "
      f"{T_se:.1f} K);\nloss after epochs 1, 10, 50: "
      f"{np.array2string(planck.history['train_loss'][[0, 9, 49]], precision=6)}")
print(f"log form against log of the SI form at 5000 K: largest difference {consistent:.1e}")

# %%
fig, ax = plt.subplots(figsize=(4.5, 2.8), layout="constrained")
ax.plot(wavelengths * 1e6, radiance * 1e-6, ".", ms=3, label="data (2 % noise)")
ax.plot(wavelengths * 1e6, fitted_curve, "-", label=f"fit, T = {T_fit:.0f} K")
ax.set(xlabel="wavelength (µm)", ylabel="B (W / (m² sr µm))", title="Planck's law fitted")
ax.legend(loc="upper right")
ax.grid(alpha=0.3)
run.show(fig, "ex3_planck.png")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Yes, but not as the formula is written in SI units. There, in float32, the gradient with
# respect to T is $-\infty$ (printed above) and one SGD step of any size sends T to infinity:
# differentiating $u = hc/(\lambda k T)$ in $T$ divides by $(\lambda k T)^2 \approx 10^{-51}$,
# which underflows to 0 in float32 (its smallest positive number is about $10^{-45}$). Even
# without that, a loss of about $10^{25}$ (printed) leaves no natural size for a learning
# rate and little room below float32's largest number, about $3 \cdot 10^{38}$, for its
# squares and gradients. Scaling fixes both: measure λ in µm and T in
# thousands of kelvin so that the parameter and $u$ are numbers near 1, and fit $\log B$ (the
# noise is relative, and the loss is then of order 1, with every wavelength counting). Gradient
# descent on T then converges within the 50 epochs (the printed losses level off at the
# noise, 0.02²/2 = 2·10⁻⁴) to the printed temperature, within a few standard errors of the
# true 5000 K. The same holds for any physical model fitted in float32:
# choose units in which the parameters and intermediate values are of order one.
#
# </details>

# %% [markdown]
# ### Exercise 4 — second derivatives of the loss: problems, fixes, and a use
#
# On the section's data and model, with (w₁, w₂, b) as one vector θ: the Hessian of the
# full-batch squared loss by `jax.hessian`, against the formula
# $\frac{1}{n}\tilde{\mathbf{X}}^\top\tilde{\mathbf{X}}$ with
# $\tilde{\mathbf{X}} = [\mathbf{X}, \mathbf{1}]$;
# a Hessian-vector product without the Hessian; one Newton step from θ = 0; and the Hessian
# of the absolute loss.

# %%
def as_params(theta):
    """(w1, w2, b) -> the linear model's params."""
    return {"w": theta[:2, None], "b": theta[2:]}


def full_loss(theta):
    return loss(as_params(theta), train_data)


def full_absolute_loss(theta):
    return train.supervised_loss(linear.apply, absolute_loss)(as_params(theta), train_data)


@jax.jit
def second_order(theta, v):
    """The Hessian, a Hessian-vector product (forward over reverse), one Newton step, and the
    absolute loss's Hessian, all at theta."""
    hessian = jax.hessian(full_loss)(theta)
    hvp = jax.jvp(jax.grad(full_loss), (theta,), (v,))[1]
    newton = theta - jnp.linalg.solve(hessian, jax.grad(full_loss)(theta))
    return hessian, hvp, newton, jax.hessian(full_absolute_loss)(theta)


v = np.array([1.0, -1.0, 0.5], np.float32)
hessian, hvp, newton, abs_hessian = jax.device_get(second_order(np.zeros(3, np.float32), v))
X_tilde = np.column_stack([train_data[0], np.ones(1000)]).astype(np.float64)
formula = X_tilde.T @ X_tilde / 1000
lstsq = np.linalg.lstsq(X_tilde, train_data[1][:, 0].astype(np.float64), rcond=None)[0]
after_newton = float(np.mean((X_tilde @ newton - train_data[1][:, 0]) ** 2) / 2)
answers["4"] = {
    "hessian": hessian, "hessian_vs_formula": float(np.max(np.abs(hessian - formula))),
    "hvp_vs_hessian_times_v": float(np.max(np.abs(hvp - hessian @ v))),
    "newton_step": newton, "least_squares": lstsq,
    "newton_vs_least_squares": float(np.max(np.abs(newton - lstsq))),
    "loss_after_newton": after_newton,
    "absolute_loss_hessian_max": float(np.max(np.abs(abs_hessian))),
    "largest_eigenvalue": float(np.linalg.eigvalsh(hessian).max())}
print(f"Hessian:\n{np.round(hessian, 4)}\nlargest difference from XᵀX/n: "
      f"{answers['4']['hessian_vs_formula']:.1e}; HVP against H v: "
      f"{answers['4']['hvp_vs_hessian_times_v']:.1e}")
print(f"one Newton step from 0: {np.round(newton, 5)}; least squares: {np.round(lstsq, 5)};\n"
      f"loss after it {after_newton:.3e} (the noise alone gives 0.01²/2 = 5e-05)")
print(f"largest eigenvalue {answers['4']['largest_eigenvalue']:.3f}, so gradient descent is "
      f"stable below lr 2 / {answers['4']['largest_eigenvalue']:.3f} = "
      f"{2 / answers['4']['largest_eigenvalue']:.2f}")
print(f"largest entry of the absolute loss's Hessian: {answers['4']['absolute_loss_hessian_max']}")

# %% [markdown]
# What a full Hessian costs for the book's models (parameter counts from `jax.eval_shape` of
# their `init`, nothing allocated):

# %%
shapes = {"linear regression (3.4)": jax.eval_shape(lambda k: linear.init(k, 2), data_key),
          "softmax regression (4.4)": jax.eval_shape(softmax_regression.init, data_key),
          "MLP 784-256-10 (5.2)": jax.eval_shape(mlp.init, data_key)}
hessian_cost = {}
for name, tree in shapes.items():
    d = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))
    hessian_cost[name] = {"params": d, "hessian_entries": d * d, "float32_bytes": 4 * d * d}
    print(f"{name:>25}: {d:>7} parameters, Hessian {d * d:.2e} entries = "
          f"{4 * d * d / 2**30:.3g} GiB in float32")
answers["4"]["hessian_cost"] = hessian_cost

# %% [markdown]
# <details><summary>Answer</summary>
#
# Problems. (1) **Size and time**: the Hessian has $d^2$ entries for $d$ parameters and costs
# about $d$ gradient evaluations (one per column); trivial for the 3 parameters here, 0.23 GiB
# for softmax regression, 154 GiB for the small MLP (the table above). (2) **Non-smooth
# losses and activations**: the absolute loss (and ReLU) is piecewise linear, so its second
# derivative is 0 wherever it exists (the zero Hessian printed above) and undefined at the
# kinks: it carries no curvature information, and Newton's method cannot use it. (3) In
# PyTorch, the graph of the first derivative must itself be recorded (`create_graph=True`),
# which costs memory, and `backward()` accumulates into `.grad`; in JAX second derivatives are
# just composed transformations (`jax.hessian` is `jacfwd(jacrev(f))`), with nothing to
# remember, but the cost is the same.
#
# Fixes: never form the Hessian, use Hessian-vector products (`jvp` of `grad`, about twice a
# gradient's cost, exact: checked above) inside conjugate gradients or to measure curvature
# along a direction; approximate it (its diagonal, Gauss–Newton / Fisher matrices, quasi-Newton
# methods such as L-BFGS that build curvature from gradients); for non-smooth losses use a
# smooth surrogate (Huber, exercise 8.3; softplus for ReLU).
#
# What they buy: for this quadratic loss the Hessian
# $\frac{1}{n}\tilde{\mathbf{X}}^\top\tilde{\mathbf{X}}$ is constant, and one Newton step
# $\theta - H^{-1}\nabla L(\theta)$ from anywhere lands on the least-squares solution: above,
# from θ = 0, it equals `lstsq` to float32 rounding, where SGD needed epochs. The Hessian's
# eigenvalues also give the largest stable learning rate of gradient descent, $2/\lambda_{\max}$
# (printed; exercise 6 sees SGD diverge at 2).
#
# </details>

# %% [markdown]
# ### Exercise 5 — why the loss reshapes y
#
# The section's loss is `(y_hat - y.reshape(y_hat.shape)) ** 2 / 2`. Without the `reshape`,
# with labels of shape (n,) (as many datasets store them) and predictions of shape (n, 1):

# %%
def unreshaped_squared_loss(y_hat, y):
    """The section's loss without the reshape: a bug when y is (n,) and y_hat is (n, 1)."""
    return jnp.mean((y_hat - y) ** 2 / 2)


flat_train = (train_data[0], train_data[1][:, 0])  # y: (1000,)
trained = jax.tree.map(lambda leaf: leaf[num_starts], inits.params)  # ex. 1's, the book's init
y_hat = jnp.asarray(train_data[0] @ trained["w"] + trained["b"])  # (1000, 1), as linear.apply
y = jnp.asarray(flat_train[1])  # (1000,)
difference_shape = list((y_hat - y).shape)
with_reshape = jax.jit(loss)  # jaxhw's squared_loss reshapes y
without_reshape = jax.jit(train.supervised_loss(linear.apply, unreshaped_squared_loss))
right, wrong = (float(f(trained, flat_train)) for f in (with_reshape, without_reshape))
try:
    squared_loss(y_hat, y[:999])
    size_error = None
except ValueError as err:
    size_error = str(err)
print(f"y_hat {list(y_hat.shape)} - y {list(flat_train[1].shape)} -> {difference_shape}")
print(f"loss of the trained model: with reshape {right:.3e}, without {wrong:.3f} "
      f"(var(y) = {np.var(flat_train[1]):.3f})")
print("jaxhw's squared_loss with 999 labels for 1000 predictions:")
print(textwrap.fill(f"ValueError: {size_error}", 100, initial_indent="  ",
                    subsequent_indent="  "))

# %% [markdown]
# Which parameters the unreshaped loss prefers: the trained model above, or a constant that
# predicts the mean of y everywhere (w = 0, b = mean(y))?

# %%
constant = {"w": np.zeros((2, 1), np.float32), "b": np.mean(flat_train[1], keepdims=True)}
at_trained, at_constant = wrong, float(without_reshape(constant, flat_train))
answers["5"] = {"difference_shape": difference_shape, "loss_with_reshape": right,
                "loss_without_reshape": wrong, "var_y": float(np.var(flat_train[1])),
                "size_mismatch_error": size_error,
                "unreshaped_at_trained": at_trained, "unreshaped_at_constant": at_constant}
print(f"unreshaped loss: at the trained w, b {at_trained:.3f}; at w = 0, b = mean(y) = "
      f"{float(constant['b'][0]):.3f}: {at_constant:.3f}")

# %% [markdown]
# <details><summary>Answer</summary>
#
# Broadcasting. `y_hat` is (n, 1); if `y` is (n,), `y_hat - y` does not fail but broadcasts
# to (n, n): every prediction minus every label. Its mean is
# $$\frac{1}{2n^2}\sum_{i,j}(\hat{y}_i - y_j)^2
# = \frac{1}{2n}\sum_i(\hat{y}_i - \bar{y})^2 + \frac{1}{2}\operatorname{var}(y),$$
# which for a model that predicts every label exactly is $\operatorname{var}(y)$, not the
# noise level (printed above: the well-trained model scores 16 instead of 5e-05), and whose
# minimum is at $\hat{y}_i = \bar{y}$ for all $i$, with value $\operatorname{var}(y)/2$:
# the constant model $\mathbf{w} = 0$, $b = \bar{y}$ scores half what the right parameters
# score (printed), so SGD on this loss learns a constant. No error, no warning; only the
# numbers are wrong. The `reshape` makes the two shapes equal, so the subtraction is
# elementwise whatever shape the labels come in. (In the section `y` is already (n, 1), so
# there the reshape is a guard.) jaxhw's `squared_loss` reshapes as the book does and refuses
# labels whose size does not match the predictions, with the error printed above, rather than
# broadcasting them.
#
# </details>

# %% [markdown]
# ### Exercise 6 — learning rates, and more epochs
#
# Seven learning rates in one compiled `fit_many` call (`optax.inject_hyperparams(optax.sgd)`
# with `learning_rates=`), all from the same initial parameters and the same minibatch order,
# 30 epochs; the validation loss after each epoch. The floor is the noise: 0.01²/2 = 5·10⁻⁵.

# %%
learning_rates = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 2.0]
book_start = {"w": 0.01 * draws[0].astype(np.float32), "b": np.zeros(1, np.float32)}  # ex. 1's
grid, grid_notes = fit_many_noted(
    loss, sweep.replicate(book_start, len(learning_rates)),
    optax.inject_hyperparams(optax.sgd)(learning_rate=0.1), train_data, val_data, key=fit_key,
    learning_rates=learning_rates, epochs=30, batch_size=BATCH_SIZE, progress=False)
for note in grid_notes:
    print(textwrap.fill(note, 100, subsequent_indent="  "))

# %%
val = grid.history["val_loss"]
floor = 2 * 0.01**2 / 2  # twice the noise floor
reached = [int(np.argmax(v <= floor)) + 1 if np.any(v <= floor) else None for v in val]
answers["6"] = {"learning_rates": learning_rates, "val_loss_epoch3": val[:, 2],
                "val_loss_epoch30": val[:, -1], "val_loss_last10_mean": val[:, -10:].mean(axis=1),
                "epochs_to_twice_noise_floor": reached,
                "diverged": [bool(not np.isfinite(v[-1]) or v[-1] > v[0]) for v in val]}
for lr, v, e in zip(learning_rates, val, reached, strict=True):
    print(f"lr {lr:<5}: val loss after 3 epochs {v[2]:.3e}, after 30 {v[-1]:.3e}, mean of "
          f"epochs 21-30 {v[-10:].mean():.4e}; first epoch below 1e-4: {e}")
ax = plot(np.arange(1, 31), [np.where(np.isfinite(v), v, np.nan) for v in val], "epoch",
          "validation loss", legend=[f"lr {lr}" for lr in learning_rates], yscale="log",
          figsize=(5, 3), fmts=("-", "--", "-.", ":"), title="SGD, batch 32")
ax.set_ylim(1e-5, 1e3)
run.show(ax.figure, "ex6_learning_rates.png")

# %% [markdown]
# <details><summary>Answer</summary>
#
# The larger the learning rate, the faster the loss drops, up to a limit. From 0.003 to 0.3
# each step up cuts the epochs needed to reach twice the noise floor (printed: from more than
# 30 at 0.003 to 1 at 0.3). At 1.0 it still converges but settles a little above the others
# (the mean of its last 10 epochs): each step overshoots and the minibatch noise keeps it
# jittering. At 2.0 it diverges (`fit_many` warns, printed), as exercise 4's curvature predicts:
# gradient descent on the full batch is stable below $2/\lambda_{\max} \approx 1.9$ (printed
# there), and SGD converged at 1.0 and diverged at 2.0, on either side of that bound.
#
# More epochs help only until the floor. For the small rates, which have not converged after
# the section's 3 epochs, 30 epochs lower the validation loss by orders of magnitude (0.003
# still has not arrived). Once a run reaches about $5 \cdot 10^{-5}$ the remaining error is
# the noise in the labels, which no amount of training removes; more epochs then change
# nothing but the jitter. So: a larger rate (below the stability limit) or more epochs, until
# the loss sits on the noise floor.
#
# </details>

# %% [markdown]
# ### Exercise 7 — a batch size that does not divide the number of examples
#
# The book's data loader gives the examples in slices of `batch_size`, so with 1000 examples
# and batch 32 it yields 31 batches of 32 and a last one of 8. What `fit` does, seen in its
# history: one `fit_many` call over 16 seeds, each with its own initial weights and
# minibatch order, batch 32, lr 0.1, 30 epochs (exercise 8 uses the same seeds).

# %%
num_seeds = 16
fit_keys = jax.random.split(seeds_key, num_seeds)  # one minibatch order per model
seed_stack = {"w": 0.01 * rng.standard_normal((num_seeds, 2, 1)).astype(np.float32),
              "b": np.zeros((num_seeds, 1), np.float32)}  # the book's init, one per model
sgd_01 = optim.sgd(0.1)
seed_runs = sweep.fit_many(loss, seed_stack, sgd_01, train_data, key=fit_keys, epochs=30,
                           batch_size=BATCH_SIZE, progress=False)
n_steps = int(seed_runs.history["batch_loss"].shape[-1])
# After epoch 3 the runs have converged: a minibatch loss is then the mean of noise^2 / 2 over
# its examples, whose relative spread is sqrt(2 / batch size).
settled = seed_runs.history["batch_loss"][:, 3:, :]
spread = {"full_batches_of_32": float(np.std(settled[..., :-1]) / np.mean(settled[..., :-1])),
          "last_batch_of_8": float(np.std(settled[..., -1]) / np.mean(settled[..., -1]))}
answers["7"] = {"steps_per_epoch": n_steps, "last_batch_size": 1000 - 32 * (n_steps - 1),
                "drop_last_steps": 1000 // 32, "relative_spread": spread,
                "last_batch_samples": int(settled[..., -1].size),
                "spread_ratio": spread["last_batch_of_8"] / spread["full_batches_of_32"]}
print(f"history['batch_loss'] {list(seed_runs.history['batch_loss'].shape)} (models, epochs, "
      f"steps):\n{n_steps} steps per epoch = ceil(1000 / 32), the last on "
      f"{answers['7']['last_batch_size']} examples; drop_last would take {1000 // 32} steps on "
      f"{32 * (1000 // 32)} examples")
print(f"relative spread of the converged minibatch losses:\n  batches of 32 "
      f"{spread['full_batches_of_32']:.3f} (√(2/32) = 0.250), the last batch of 8 "
      f"{spread['last_batch_of_8']:.3f} (√(2/8) = 0.500); ratio "
      f"{answers['7']['spread_ratio']:.2f}")

# %% [markdown]
# <details><summary>Answer</summary>
#
# The last batch is smaller: `data_iter` (the section's `get_dataloader`) slices
# `indices[i: i + batch_size]`, and the final slice holds the remainder, 8 examples here. `fit`
# does the same: `history["batch_loss"]` has $\lceil n / b \rceil = 32$ entries per epoch,
# the last one a step on the 8 examples left, so every example is used once per epoch. That step has
# the same learning rate, and its gradient is a mean over fewer examples, so it is as long as the
# others but noisier: the loss of the 8-example batch spreads about twice as much as a 32-example
# one (printed; $\sqrt{32/8} = 2$). In JAX a smaller batch has a new shape, and a jitted step
# compiles again for it; `fit` traces that one extra step once, inside the compiled epoch, so no
# epoch recompiles.
#
# The alternative, PyTorch's `drop_last=True`, would give 31 steps per epoch and leave 8
# examples out of each epoch (a different 8 each time, since the order is reshuffled), so all
# batches have one shape and the same noise; `fit` has no such option and always takes the
# last step. Either way the epoch's mean loss must weight the last batch by its size, as
# `fit`'s `train_loss` does.
#
# </details>

# %% [markdown]
# ## Exercises 8.1–8.3 — the absolute loss, an outlier, and a combined loss
#
# The section's notebook (`experiments/s3_4_linear_regression.py`) already compared the
# reference's L1 loss, summed over the minibatch, with L2 at the section's lr 0.03 and 3
# epochs; here all three losses below are means over the minibatch and get lr 0.1 and 10
# epochs, enough for each to converge, over the 16 seeds of exercise 7 (their initial weights
# and minibatch orders), each loss and dataset in one `fit_many` call. The third loss is the
# combination that exercise 8.3 derives, the Huber loss (`optax.losses.huber_loss`,
# threshold δ = 1).
#
# ### Exercise 8.1 — the absolute loss on regular data
# ### Exercise 8.2 — with an outlier, y₅ = 10000

# %%
def huber(y_hat, y, delta=1.0):
    """Mean Huber loss over the batch: squared within delta, absolute beyond (exercise 8.3)."""
    return jnp.mean(optax.losses.huber_loss(y_hat, jnp.reshape(y, jnp.shape(y_hat)), delta=delta))


outlier_y = train_data[1].copy()
outlier_y[5, 0] = 10000.0
datasets = {"clean": train_data, "y[5] = 10000": (train_data[0], outlier_y)}
losses = {"squared": loss, "absolute": train.supervised_loss(linear.apply, absolute_loss),
          "Huber (δ = 1)": train.supervised_loss(linear.apply, huber)}
robust = {}
for data_name, data in datasets.items():
    for loss_name, loss_fn in losses.items():
        fitted, notes = fit_many_noted(loss_fn, seed_stack, sgd_01, data, key=fit_keys,
                                       epochs=10, batch_size=BATCH_SIZE, progress=False)
        params = fitted.params
        w_err = np.linalg.norm(np.asarray(params["w"][..., 0]) - TRUE_W, axis=1)
        robust[f"{data_name}, {loss_name}"] = w_err
        print(f"{data_name:>12}, {loss_name:>13}: |w error| over {num_seeds} seeds: median "
              f"{np.median(w_err):.4f}, mean {w_err.mean():.4f}, max {w_err.max():.4f}")
        for note in notes:
            print(textwrap.fill(note, 100, initial_indent="    ", subsequent_indent="      "))
summary = {k: {"median": float(np.median(v)), "mean": float(v.mean()), "max": float(v.max())}
           for k, v in robust.items()}
answers["8.1"] = {k: summary[k] for k in summary if k.startswith("clean")}
answers["8.2"] = {k: summary[k] for k in summary if k.startswith("y[5]")}

# %%
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
names = list(robust)
ax.boxplot([robust[k] for k in names], orientation="horizontal")
ax.set_yticks(range(1, len(names) + 1), names)
ax.set(xscale="log", xlabel=f"|w error| after 10 epochs ({num_seeds} seeds)",
       title="lr 0.1, batch 32: which loss recovers w")
ax.grid(alpha=0.3)
run.show(fig, "ex8_losses.png")

# %% [markdown]
# <details><summary>Answer</summary>
#
# **8.1, regular data**: all three recover w. The squared and Huber losses end within about
# $10^{-3}$ (near the end every residual is far below δ = 1, so Huber *is* the squared loss
# there); the absolute loss ends further off, by a few hundredths, and varies more between
# seeds: its gradient $\operatorname{sign}(r)\,\mathbf{x}$ does not shrink near the optimum,
# so at a constant learning rate it keeps jumping around it (3.1's exercise 5.3).
#
# **8.2, one label set to 10000**: the squared loss breaks. The minibatch that holds the
# outlier has a gradient of about $10000/32 \cdot \mathbf{x}_5$, so one step at lr 0.1 moves
# w by about $31\,\mathbf{x}_5$, and the remaining steps of the epoch only partly undo it:
# where w ends depends on how late in the last epoch the outlier came (the wide spread of its
# row). `fit_many` warns about these runs (printed under their row): their training loss,
# dominated by the outlier's own $10000^2/2$, rose more than 10 times above the run's lowest
# level, and its advice, to look for bad examples first, is the right reading here. The
# absolute loss hardly notices: the outlier contributes $\pm \mathbf{x}_5/32$ like any other
# example, and its row is close to its clean row. Its minimiser moves only as a median does
# (3.1's exercise 1.3): by one rank, not by the outlier's size.
#
# </details>

# %% [markdown]
# ### Exercise 8.3 — a cheap loss that combines the best of both

# %% [markdown]
# <details><summary>Answer</summary>
#
# Keep the squared loss where the residual is small and the absolute loss where it is large,
# joined so that value and slope are continuous: the Huber loss with threshold $\delta$,
# $$l_\delta(r) = \frac{1}{2} r^2 \text{ if } |r| \le \delta,$$
# $$l_\delta(r) = \delta\left(|r| - \frac{\delta}{2}\right) \text{ otherwise.}$$
# At $|r| = \delta$ both pieces equal $\delta^2/2$ and both slopes equal $\delta$, so its
# derivative is
# $$l_\delta'(r) = \operatorname{clip}(r, -\delta, \delta),$$
# the squared loss's gradient with its size capped at $\delta$: an outlier pulls no harder
# than a residual of $\delta$, while near the optimum the gradient shrinks with the residual,
# so SGD settles. It costs one comparison per example. (Clipping each example's gradient,
# the hint's "avoid really large gradient values", is the same thing.) In the runs above it
# recovers w best with the outlier: its median error is the smallest of the three there, and
# on clean data it matches the squared loss. It needs a threshold δ that sits above the
# typical residual (the noise here is 0.01) and far below the outliers'.
#
# </details>
#
# The check: `jax.grad` of `optax.losses.huber_loss` against the clip on a grid through both
# joins, its values on either side of $r = 1$, and the comparison of the runs above.

# %%
@jax.jit
def huber_checks(r):
    """Largest |d huber / dr - clip(r)| over r, and the loss just below and above r = 1."""
    grads = jax.vmap(jax.grad(lambda ri: optax.losses.huber_loss(ri, 0.0, delta=1.0)))(r)
    near_join = optax.losses.huber_loss(jnp.array([1.0 - 1e-3, 1.0 + 1e-3]), 0.0, delta=1.0)
    return jnp.max(jnp.abs(grads - jnp.clip(r, -1.0, 1.0))), near_join


grad_error, near_join = huber_checks(np.linspace(-3.0, 3.0, 601, dtype=np.float32))  # has ±1
medians = {k: v["median"] for k, v in answers["8.2"].items()}
answers["8.3"] = {"grad_vs_clip_max_error": float(grad_error),
                  "values_near_join": np.asarray(near_join),
                  "best_with_outlier": min(medians, key=medians.get),
                  "huber_over_absolute_median": medians["y[5] = 10000, Huber (δ = 1)"]
                  / medians["y[5] = 10000, absolute"]}
print(f"largest |d huber / dr - clip(r, -1, 1)| on [-3, 3]: {float(grad_error):.1e}")
print(f"values at r = 1 - 0.001 and 1 + 0.001: {np.round(near_join, 6)} (δ²/2 = 0.5, slope 1)")
print(f"with the outlier, smallest median |w error|: {answers['8.3']['best_with_outlier']}; "
      f"Huber / absolute: {answers['8.3']['huber_over_absolute_median']:.3f}")

# %% [markdown]
# ### Exercise 9 — why reshuffle, and an order that breaks SGD
#
# `fit` reshuffles the examples every epoch (a new order from `fold_in(key, epoch)`) and has
# no switch to turn it off, so the fixed orders are written out with the step `fit` itself
# takes, `train.train_step`, scanned over the minibatches. Data with noise 1 this time (with
# the section's noise of 0.01 every minibatch agrees on the same w and b, and the order hardly
# matters): four orders, lr 0.1, batch 32, 10 epochs, the same start.

# %%
noisy_train, noisy_val = jax.device_get(make_data(noisy_key, TRUE_W, TRUE_B, num_train=1000,
                                                  num_val=1000, noise=1.0))
step_sgd = optax.with_extra_args_support(sgd_01)  # train_step passes the loss value to it


@jax.jit
def fixed_order_fit(order):
    """SGD over the minibatches of noisy_train in the same `order` every epoch (the last
    batch holds the remainder, as in fit); returns (params, validation loss per epoch)."""
    X, y = jnp.asarray(noisy_train[0])[order], jnp.asarray(noisy_train[1])[order]
    full = (1000 // BATCH_SIZE) * BATCH_SIZE
    batches = (X[:full].reshape(-1, BATCH_SIZE, 2), y[:full].reshape(-1, BATCH_SIZE, 1))

    def step(carry, batch):
        params, opt_state, _ = train.train_step(loss, step_sgd, *carry, batch)
        return (params, opt_state), None

    def one_epoch(carry, _):
        carry, _ = jax.lax.scan(step, carry, batches)
        carry = step(carry, (X[full:], y[full:]))[0]
        return carry, loss(carry[0], noisy_val)

    (params, _), val_losses = jax.lax.scan(one_epoch, (book_start, step_sgd.init(book_start)), None,
                                           length=10)
    return params, val_losses


reshuffled = train.fit(loss, book_start, sgd_01, noisy_train, noisy_val, key=fit_key,
                       epochs=10, batch_size=BATCH_SIZE, progress=False)
noise = noisy_train[1][:, 0] - noisy_train[0] @ TRUE_W - TRUE_B
orders = {"fixed random order": rng.permutation(1000),
          "sorted by y": np.argsort(np.asarray(noisy_train[1][:, 0])),
          "sorted by the noise": np.argsort(noise)}
runs = {"reshuffled every epoch (fit)": (reshuffled.params, reshuffled.history["val_loss"])}
runs.update({name: fixed_order_fit(order) for name, order in orders.items()})
A = np.column_stack([noisy_train[0].astype(np.float64), np.ones(1000)])
least_squares = np.linalg.lstsq(A, noisy_train[1][:, 0].astype(np.float64), rcond=None)[0]
ls_val_loss = float(np.mean((noisy_val[0] @ least_squares[:2] + least_squares[2]
                             - noisy_val[1][:, 0]) ** 2) / 2)
answers["9"] = {"least_squares_val_loss": ls_val_loss}
for name, (params, val_losses) in runs.items():
    theta = np.append(np.asarray(params["w"][:, 0]), np.asarray(params["b"]))
    answers["9"][name] = {"distance_to_least_squares": float(np.linalg.norm(theta - least_squares)),
                          "val_loss": np.asarray(val_losses), "theta": theta}
    print(f"{name:>28}: (w, b) = {np.round(theta, 3)}, distance to the least-squares fit "
          f"{answers['9'][name]['distance_to_least_squares']:.3f}, validation loss "
          f"{float(val_losses[-1]):.3f}")
print(f"least squares: {np.round(least_squares, 3)}, validation loss {ls_val_loss:.3f} (the "
      f"noise alone gives about 1²/2 = 0.5)")

# %%
ax = plot(np.arange(1, 11), [np.asarray(v) for _, v in runs.values()], "epoch",
          "validation loss", legend=list(runs), figsize=(4.5, 2.8),
          title="minibatch order, lr 0.1, noise 1")
run.show(ax.figure, "ex9_order.png")

# %% [markdown]
# <details><summary>Answer</summary>
#
# SGD's argument is that each minibatch gradient is an unbiased estimate of the full
# gradient, with noise that averages out over steps. That holds when the minibatches are random
# samples of the data, which a fresh shuffle each epoch provides. An ordered dataset breaks it:
# sorted by y, consecutive minibatches pull consistently in one direction, and whatever the
# last minibatches of an epoch want, the parameters end up near. Since the order repeats, so
# does the bias: the runs do not converge to the least-squares fit but to a cycle around a
# wrong point, and more epochs do not help (their curves are flat). Sorting by the noise
# itself is the malicious version: the last minibatches hold the examples with the largest
# positive noise, so b ends far above its value and the validation loss stays well above the
# noise floor (printed above). Real data come sorted more often than one would think (by
# date, by price, by class: a classifier that sees all cats, then all dogs, forgets the cats).
# A fixed random order behaves like reshuffling here, since it is one random draw; reshuffling
# also removes the correlation between epochs that a fixed order keeps, so that no example is
# always seen last.
#
# </details>

# %%
run.save_metrics({"answers": answers})
