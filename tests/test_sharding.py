import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from jax.sharding import Mesh

from jaxhw import optim, train
from jaxhw.models import linear
from jaxhw.nn.losses import squared_loss

# Runs with 4 fake CPU devices (the flag must be set before JAX starts, hence a subprocess):
# the same fit on 1 device and on a 4-device mesh, and the errors a bad mesh gives.
CHILD = r"""
import json, re
import jax, numpy as np, optax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec
from jaxhw import fit_checks, train
from jaxhw.models import concise_mlp, mlp
from jaxhw.nn.losses import cross_entropy

rng = np.random.default_rng(0)
X = rng.normal(size=(203, 6)).astype(np.float32)
y = ((X[:, 0] > 0).astype(np.int32) + (X[:, 1] > 0)).astype(np.int32)
loss = train.supervised_loss(mlp.apply, cross_entropy)
params = mlp.init(jax.random.key(0), 6, 16, 3, sigma=0.3)
opt = optax.adam(0.01)
kw = dict(epochs=3, batch_size=24, key=jax.random.key(1), progress=False,
          metrics=train.classification_metrics(mlp.apply))
# 163 training examples: 6 full batches of 24 (6 per device) and a partial one of 19
one, h1, _ = train.fit(loss, params, opt, (X[:163], y[:163]), (X[163:], y[163:]), **kw)
mesh = jax.make_mesh((4,), ("data",))  # Explicit axes by default: fit makes them Auto
four, h4, _ = train.fit(loss, params, opt, (X[:163], y[:163]), (X[163:], y[163:]), mesh=mesh,
                        **kw)
leaves = jax.tree.leaves(four)
HISTORY = ("train_loss", "batch_loss", "val_loss", "val_acc")
# The NNX concise MLP: its params, an nnx.State, replicated over the mesh as a dict would be.
nnx_loss = train.supervised_loss(concise_mlp.apply, cross_entropy)
nnx_params = concise_mlp.init(jax.random.key(0), 6, 16, 3)
nnx_kw = {**kw, "metrics": None}
nnx_one, _, _ = train.fit(nnx_loss, nnx_params, opt, (X[:163], y[:163]), **nnx_kw)
nnx_four, _, _ = train.fit(nnx_loss, nnx_params, opt, (X[:163], y[:163]), mesh=mesh, **nnx_kw)


def diff(a, b, keys=None):
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b)) if keys is None else (
        (a[k], b[k]) for k in keys)
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in pairs)


out = {
    "devices": jax.device_count(),
    "mesh_axis_types": str(mesh.axis_types),
    "param_diff": diff(one, four),
    "history_diff": diff(h1, h4, HISTORY),
    "replicated": all(a.sharding.is_fully_replicated and len(a.sharding.device_set) == 4
                      for a in leaves),
    "val_acc": h4["val_acc"].tolist(),
    "nnx_type": type(nnx_four).__name__,
    "nnx_diff": diff(nnx_one, nnx_four),
    "nnx_replicated": all(a.sharding.is_fully_replicated and len(a.sharding.device_set) == 4
                          for a in jax.tree.leaves(nnx_four)),
}
# The compiled epoch's matrix products, per device: 24-row training batches (6 per device),
# the partial one of 19 (5, padded), and the 40 validation rows (10 per device).
auto = fit_checks.data_mesh(mesh, 24)
replicated = NamedSharding(auto, PartitionSpec())
settings = train.Settings(loss, opt, None, 24, 40, NamedSharding(auto, PartitionSpec("data")))
args = jax.device_put((params, opt.init(params), (X[:163], y[:163]), (X[163:], y[163:])),
                      replicated)
hlo = train.epoch_program(settings).lower(*args, jax.random.key(1), 0).compile().as_text()
out["dot_shapes"] = sorted(set(re.findall(r"= (f32\[[\d,]+\])\S* dot\(", hlo)))
errors = {}
for name, bad_mesh, batch_size in [
        ("divide", mesh, 30),
        ("small", mesh, 3),
        ("axis", Mesh(np.array(jax.devices()), ("batch",), axis_types=(AxisType.Auto,)), 24)]:
    try:
        train.fit(loss, params, opt, (X, y), epochs=1, batch_size=batch_size,
                  key=jax.random.key(0), mesh=bad_mesh, progress=False)
    except ValueError as err:
        errors[name] = str(err)
out["errors"] = errors
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def four_devices():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_four_devices_train_like_one(four_devices):
    assert four_devices["devices"] == 4 and "Explicit" in four_devices["mesh_axis_types"]
    assert four_devices["param_diff"] < 1e-5
    assert four_devices["history_diff"] < 1e-5
    assert four_devices["replicated"]
    assert four_devices["val_acc"][-1] > 0.6


def test_nnx_params_train_on_four_devices_like_on_one(four_devices):
    assert four_devices["nnx_type"] == "State"
    assert four_devices["nnx_diff"] < 1e-5  # as the scratch MLP's: the sums' order differs
    assert four_devices["nnx_replicated"]


def test_validation_batches_are_split_over_the_devices_too(four_devices):
    # Issue 21: the validation dot ran whole (f32[40,16]) on every device.
    # The hidden layer's product X W1 (rows, 16): a quarter of each batch on each device.
    hidden = {s for s in four_devices["dot_shapes"] if s.endswith(",16]") and s != "f32[3,16]"}
    assert hidden == {"f32[6,16]", "f32[5,16]", "f32[10,16]"}, four_devices["dot_shapes"]


def test_mesh_not_dividing_the_batch_is_a_clear_error(four_devices):
    assert four_devices["errors"]["divide"] == (
        "batch_size (30) must be divisible by the mesh's 'data' axis (4 devices), so that each "
        "device takes an equal share; e.g. batch_size 28 or 32")
    assert four_devices["errors"]["small"].endswith("equal share; e.g. batch_size 4")
    assert "mesh has axes ('batch',); fit splits batches over an axis named 'data'" in (
        four_devices["errors"]["axis"])


def test_one_device_mesh_equals_no_mesh():
    data = (np.linspace(-1, 1, 40, dtype=np.float32)[:, None],
            np.linspace(0, 2, 40, dtype=np.float32)[:, None])
    loss = train.supervised_loss(linear.apply, squared_loss)
    params = linear.init(jax.random.key(0), 1)
    kw = {"epochs": 2, "batch_size": 8, "key": jax.random.key(1), "progress": False}
    plain, _, _ = train.fit(loss, params, optim.sgd(0.1), data, **kw)
    mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
    meshed, _, _ = train.fit(loss, params, optim.sgd(0.1), data, mesh=mesh, **kw)
    np.testing.assert_allclose(meshed["w"], plain["w"], atol=1e-6)
    with pytest.raises(ValueError, match="mesh must be a jax.sharding.Mesh, got str"):
        train.fit(loss, params, optim.sgd(0.1), data, mesh="data", **kw)
