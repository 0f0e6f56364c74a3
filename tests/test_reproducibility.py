import os
import subprocess
import sys

import numpy as np

# One training run in a fresh process: an MLP with Adam on 4200 shuffled examples with
# validation metrics; it saves every param and metric to an .npz.
CHILD = r"""
import sys
import jax, numpy as np, optax
from jaxhw import train
from jaxhw.models import mlp
from jaxhw.nn.losses import cross_entropy

seed, out = int(sys.argv[1]), sys.argv[2]
init_key, data_key, fit_key = jax.random.split(jax.random.key(seed), 3)
X = np.asarray(jax.random.normal(data_key, (4500, 8)))
y = ((X[:, 0] > 0).astype(np.int32) + (X[:, 1] * X[:, 2] > 0)).astype(np.int32)
params, hist, _ = train.fit(
    train.supervised_loss(mlp.apply, cross_entropy), mlp.init(init_key, 8, 32, 3, sigma=0.3),
    optax.adam(0.01), (X[:4200], y[:4200]), (X[4200:], y[4200:]), epochs=2, batch_size=64,
    key=fit_key, metrics=train.classification_metrics(mlp.apply), progress=False)
hist.pop("epoch_seconds")
np.savez(out, **{f"param_{k}": v for k, v in params.items()}, **hist)
"""


def test_two_processes_with_the_same_seed_give_identical_bits(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    outs = [tmp_path / f"run{i}.npz" for i in range(2)]
    children = [subprocess.Popen([sys.executable, "-c", CHILD, "3", str(out)], env=env,
                                 stderr=subprocess.PIPE, text=True) for out in outs]
    for child in children:
        _, err = child.communicate(timeout=600)
        assert child.returncode == 0, err
    a, b = (np.load(out) for out in outs)
    assert sorted(a.files) == sorted(b.files) == [
        "batch_loss", "epoch", "param_W1", "param_W2", "param_b1", "param_b2", "train_loss",
        "val_acc", "val_loss"]
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)  # bitwise, not close
        assert a[name].dtype == b[name].dtype
    assert a["batch_loss"].shape == (2, 66)  # 65 full batches of 64 and a partial one of 40
    assert a["val_acc"][-1] > 0.7
