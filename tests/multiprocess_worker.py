"""One process of tests/test_multiprocess.py: `fit` over a mesh of every process's devices.

`python tests/multiprocess_worker.py PROCESS_ID NUM_PROCESSES PORT DEVICES PARAMS OUT
[CHECKPOINT_DIR BUSY_DIR]`: with NUM_PROCESSES > 1 it joins the others through
`jax.distributed.initialize` (coordinator at and bound to 127.0.0.1:PORT, CPU collectives by
gloo), each process with DEVICES CPU devices. It trains the MLP from the params in PARAMS
(.npz) on 800 random images, 3 epochs, batch 100, one mesh over all devices, twice:
- "rep": every process passes the whole training set (replicated data);
- "sh": each process passes only its share (`fashion_mnist.process_share`: process i of c
  holds examples [i * 800 / c, (i + 1) * 800 / c)), placed by `batches.from_process_shares`;
  each of the mesh's data shards then shuffles its own examples. The validation set is split
  the same way (fit gathers it: it is measured whole).
With CHECKPOINT_DIR, every process checkpoints both runs (in CHECKPOINT_DIR/rep and /sh): 2
epochs, then the same processes resume to 3. BUSY_DIR is a folder that the test holds the lock
of: `checkpoint.lock` must refuse it in every process, process 0's error shared with the
others. Last, float images with a nan in example 417 (the second half's) must be refused in
every process, and with several processes so must shares of different sizes and a share
passed as it is (numpy arrays).
Each process writes its params, history (less epoch_seconds) and the errors it met to
OUT-<process id>.npz.
"""

import sys
import time


def main(argv: list[str]) -> None:
    start = time.perf_counter()
    process_id, num_processes, port, devices = (int(a) for a in argv[:4])
    params_file, out = argv[4], argv[5]
    checkpoint_dir, busy_dir = (argv[6], argv[7]) if len(argv) > 6 else (None, None)
    import jax

    jax.config.update("jax_platforms", "cpu")
    jax.config.update("jax_num_cpu_devices", devices)
    if num_processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}",
                                   coordinator_bind_address=f"127.0.0.1:{port}",  # not [::]
                                   num_processes=num_processes, process_id=process_id,
                                   initialization_timeout=60, heartbeat_timeout_seconds=30,
                                   shutdown_timeout_seconds=60)
    import numpy as np
    import optax

    from jaxhw import checkpoint, train
    from jaxhw.data import batches
    from jaxhw.data.fashion_mnist import process_share
    from jaxhw.models import mlp
    from jaxhw.nn.losses import cross_entropy

    found = {}
    if busy_dir is not None:
        try:
            with checkpoint.lock(busy_dir):
                pass
        except checkpoint.CheckpointError as err:
            found["refused"] = str(err)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(1000, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, 1000).astype(np.int32)
    train_data, val_data = (X[:800], y[:800]), (X[800:], y[800:])
    mine = process_share(800, jax.process_index(), jax.process_count(), drop_remainder=True)
    val_mine = process_share(200, jax.process_index(), jax.process_count(), drop_remainder=True)
    with np.load(params_file) as f:
        params = {k: f[k] for k in f.files}
    mesh = jax.make_mesh((jax.device_count(),), ("data",))
    kw = {"batch_size": 100, "key": jax.random.key(1), "mesh": mesh, "progress": False,
          "metrics": train.classification_metrics(mlp.apply)}
    loss, optimizer = train.supervised_loss(mlp.apply, cross_entropy), optax.sgd(0.1)
    for run in ("rep", "sh"):
        data, val = train_data, val_data
        if run == "sh":
            data = batches.from_process_shares((X[:800][mine], y[:800][mine]), mesh)
            val = batches.from_process_shares((X[800:][val_mine], y[800:][val_mine]), mesh, "val")
        run_kw = dict(kw)
        if checkpoint_dir is not None:
            run_kw["checkpoint_dir"] = f"{checkpoint_dir}/{run}"
            train.fit(loss, params, optimizer, data, val, epochs=2, **run_kw)
            run_kw["resume"] = True
        result = train.fit(loss, params, optimizer, data, val, epochs=3, **run_kw)
        found.update({f"{run}_{k}": np.asarray(v.addressable_data(0))
                      for k, v in result.params.items()})
        found.update({f"{run}_history_{k}": v for k, v in result.history.items()
                      if k != "epoch_seconds"})
    floats = X[:800].astype(np.float32) / 255
    floats[417, 3, 4, 0] = np.nan  # in the second half: the second process's share
    try:
        train.fit(loss, params, optimizer, batches.from_process_shares(
            (floats[mine], y[:800][mine]), mesh), epochs=1, **kw)
    except ValueError as err:
        found["nan"] = str(err)
    if num_processes > 1:  # shares of 400 and 401 examples
        try:
            batches.from_process_shares((X[:400 + process_id], y[:400 + process_id]), mesh)
        except ValueError as err:
            found["sizes"] = str(err)
    if num_processes > 1:  # a share passed as it is: not the same data in every process
        try:
            train.fit(loss, params, optimizer, (X[:800][mine], y[:800][mine]), epochs=1, **kw)
        except ValueError as err:
            found["whole"] = str(err)
    np.savez(f"{out}-{process_id}.npz", **found)
    if num_processes > 1:
        jax.distributed.shutdown()
    print(f"process {process_id} of {num_processes}: {jax.local_device_count()} of "
          f"{jax.device_count()} devices, {time.perf_counter() - start:.1f} s wall, "
          f"{time.process_time():.1f} s CPU", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
