import json
import os
import re
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
import json, re, tempfile
import jax, numpy as np, optax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec
from jaxhw import checkpoint, fit_checks, sweep, train
from jaxhw.data import batches
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
# the partial one of 19 (5, padded), and the 40 validation rows (10 per device). The epoch of
# the 4-device fit above, lowered from the arguments fit gives it: XLA's program is reused.
auto = fit_checks.data_mesh(mesh, 24)
replicated = NamedSharding(auto, PartitionSpec())
state = train.device_copy(train.canonical((params, opt.init(params))), replicated)
val = batches.to_device((X[163:], y[163:]), "val", replicated)


def compiled_epoch(train_data, per_shard=False):
    settings = train.Settings(loss, opt, kw["metrics"], 24, 40, NamedSharding(
        auto, PartitionSpec("data")), per_shard=per_shard)
    return train.epoch_program(settings).lower(*state, train_data, val, jax.random.key(1),
                                               0).compile().as_text()


hlo = compiled_epoch(batches.to_device((X[:163], y[:163]), "train", replicated))
out["dot_shapes"] = sorted(set(re.findall(r"= (f32\[[\d,]+\])\S* dot\(", hlo)))

# Training data split over the 4 devices (issue 20): 160 examples, 40 per shard; each shard
# shuffles its own, and a batch of 24 takes 6 from each: 6 full batches and one of 4 x 4 = 16.
shares = batches.from_process_shares((X[:160], y[:160]), mesh)
ckpt = tempfile.mkdtemp()
sh, sh_hist, _ = train.fit(loss, params, opt, shares, (X[163:], y[163:]), mesh=mesh,
                           checkpoint_dir=ckpt, **kw)
# Two stacked models over the same shares (fit_many goes through fit): each as the lone fit.
many = sweep.fit_many(loss, sweep.replicate(params, 2), opt, shares, (X[163:], y[163:]),
                      mesh=mesh, **kw)
perm = jax.jit(batches.epoch_permutation, static_argnums=1)


# The contract spelled out: shard s holds examples [s n / D, (s + 1) n / D) and visits them
# in the order epoch_permutation(fold_in(fold_in(key, epoch), s), n / D); batch j is the j-th
# batch_size / D of each shard's order, shard after shard.
def by_hand(epoch, shards=4, n=160, batch_size=24):
    key = jax.random.fold_in(jax.random.key(1), epoch)
    n_local, per_shard = n // shards, batch_size // shards
    orders = [s * n_local + np.asarray(perm(jax.random.fold_in(key, s), n_local))
              for s in range(shards)]
    return [np.concatenate([o[i:i + per_shard] for o in orders])
            for i in range(0, n_local, per_shard)]


# The reference run: the same steps on one device, on the batches by_hand gives.
step = jax.jit(lambda p, s, b: train.train_step(loss, optax.with_extra_args_support(opt), p,
                                                s, b))
ref, ref_state, ref_losses = params, opt.init(params), []
for e in range(3):
    for idx in by_hand(e):
        ref, ref_state, value = step(ref, ref_state, (X[idx], y[idx]))
        ref_losses.append(float(value))


# The example ids that each minibatch of an epoch takes from `ids` split over `on`.
def visited(ids, key, shards, on):
    orders = batches.shard_orders(key, shards, 160 // shards)
    full, last = batches.split_shard_batches(orders, 24)
    return (jax.lax.map(lambda i: batches.take_local(ids, i, on), full),
            batches.take_local(ids, last, on))


visited = jax.jit(visited, static_argnums=(2, 3))
auto2 = fit_checks.data_mesh(Mesh(np.array(jax.devices()[:2]), ("data",)), 24)
key0 = jax.random.fold_in(jax.random.key(1), 0)
orders = {}
for shards, on in ((4, auto), (2, auto2)):
    ids = batches.from_process_shares(np.arange(160, dtype=np.int32), on)
    full, last = visited(ids, key0, shards, on)
    orders[shards] = {"visited": np.asarray(full).tolist() + [np.asarray(last).tolist()],
                      "by_hand": [b.tolist() for b in by_hand(0, shards)]}
    if shards == 4:  # the training gather: no collective at all
        orders[shards]["collectives"] = re.findall(
            r"(all-reduce|all-gather|all-to-all|collective-permute|reduce-scatter)",
            visited.lower(ids, key0, shards, on).compile().as_text())
hlo = compiled_epoch(shares, per_shard=True)  # that fit's epoch
out["shares"] = {
    "param_diff": diff(sh, ref),
    "loss_diff": float(np.max(np.abs(sh_hist["batch_loss"].ravel() - np.array(ref_losses)))),
    "batch_loss_shape": list(sh_hist["batch_loss"].shape),
    "val_acc": sh_hist["val_acc"].tolist(),
    "replicated": all(a.sharding.is_fully_replicated and len(a.sharding.device_set) == 4
                      for a in jax.tree.leaves(sh)),
    "many_diff": max(diff(jax.tree.map(lambda a, i=i: a[i], many.params), sh) for i in (0, 1)),
    "many_loss_shape": list(many.history["batch_loss"].shape),
    "orders": orders,
    "collectives": re.findall(r"= (.*?) (all-reduce|all-gather|all-to-all|collective-permute|"
                              r"reduce-scatter)(?:-start)?\(", hlo),
}
shares2 = batches.from_process_shares((X[:160], y[:160]), auto2)
Xn = X[:160].copy()
Xn[97, 2] = np.nan
for name, call in [
        ("uneven", lambda: batches.from_process_shares((X[:163], y[:163]), mesh)),
        ("no_mesh", lambda: train.fit(loss, params, opt, shares, **{**kw, "epochs": 1})),
        ("other_mesh", lambda: train.fit(loss, params, opt, shares, mesh=auto2, **kw)),
        ("y_whole", lambda: train.fit(loss, params, opt, (shares[0], y[:160]), mesh=mesh, **kw)),
        ("nan", lambda: train.fit(loss, params, opt, batches.from_process_shares(
            (Xn, y[:160]), mesh), mesh=mesh, **kw)),
        ("other_shards", lambda: train.fit(loss, params, opt, shares2, (X[163:], y[163:]),
                                           mesh=auto2, checkpoint_dir=ckpt, resume=True, **kw))]:
    try:
        call()
    except (ValueError, checkpoint.CheckpointError) as err:
        out["shares"][name] = str(err)

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


# ----------------------------------------------------------------------------- split training data
def test_split_training_data_is_shuffled_shard_by_shard(four_devices):
    # Each shard visits its own examples (ids s*40 .. s*40+39 for 4 shards) in its own order;
    # every batch takes batch_size / D from each shard; every example once per epoch.
    orders = four_devices["shares"]["orders"]
    for shards, got in orders.items():
        assert got["visited"] == got["by_hand"], shards
        assert sorted(np.concatenate(got["visited"]).tolist()) == list(range(160))
        for batch in got["visited"]:
            per_shard = np.bincount(np.asarray(batch) // (160 // int(shards)))
            assert per_shard.tolist() == [len(batch) // int(shards)] * int(shards)
    assert [len(b) for b in orders["4"]["visited"]] == [24] * 6 + [16]  # 40 = 6 x 6 + 4
    assert orders["4"]["visited"] != orders["2"]["visited"]  # the result depends on D
    assert orders["4"]["collectives"] == []  # each device gathers from its own rows


def test_split_training_data_trains_as_the_steps_by_hand(four_devices):
    shares = four_devices["shares"]
    assert shares["batch_loss_shape"] == [3, 7]
    # The same steps on the same batches; only the order of the gradient sums differs (four
    # partial sums against one), as in test_four_devices_train_like_one: within 1e-5.
    assert shares["param_diff"] < 1e-5
    assert shares["loss_diff"] < 1e-5
    assert shares["replicated"]
    assert shares["val_acc"][-1] > 0.6
    # fit_many over the same shares: each of two models is the lone fit, up to the rounding of
    # vmapped products (as test_sweep's lone-fit comparisons): within 1e-5.
    assert shares["many_diff"] < 1e-5
    assert shares["many_loss_shape"] == [2, 3, 7]
    # Nothing moves but the gradients and the validation sums: every collective of the epoch
    # is an all-reduce of parameter-shaped arrays or scalars (a batch gathered across the
    # devices would add f32[24,6] and s32[24] all-reduces, the examples' and their indices').
    shapes = {shape for types, op in shares["collectives"]
              for shape in re.findall(r"[a-z]+\d*\[[\d,]*\]", types)}
    assert {op for _, op in shares["collectives"]} == {"all-reduce"}
    assert shapes <= {"f32[6,16]", "f32[16,6]", "f32[16]", "f32[16,3]", "f32[3,16]", "f32[3]",
                      "f32[]"}, shares["collectives"]


def test_split_training_data_errors_name_the_numbers_and_the_arrays(four_devices):
    shares = four_devices["shares"]
    assert shares["uneven"] == (
        "train holds 163 examples in this process, which its 4 shard(s) of the mesh's 'data' "
        "axis cannot split equally; pass a multiple of 4 (e.g. 160: drop 3)")
    assert shares["no_mesh"].startswith("train X is split over several devices; pass the mesh "
                                        "it is split over as mesh=")
    assert shares["other_mesh"].startswith("train X is placed as NamedSharding(")
    assert shares["y_whole"].startswith("train y is whole on every device while others are "
                                        "split; fit takes train either whole")
    assert shares["nan"] == ("train X holds 1 non-finite value(s) (nan or inf) in 1 example(s),"
                             " the first at index 97; fix or drop those examples before "
                             "training")
    # The number of shards decides the batches: a resume with another is refused.
    assert "data_shards=4 but this run has data_shards=2" in shares["other_shards"]
