"""One process of tests/test_multiprocess.py: `fit` over a mesh of every process's devices.

`python tests/multiprocess_worker.py PROCESS_ID NUM_PROCESSES PORT DEVICES PARAMS OUT
[CHECKPOINT_DIR BUSY_DIR]`: with NUM_PROCESSES > 1 it joins the others through
`jax.distributed.initialize` (coordinator at and bound to 127.0.0.1:PORT, CPU collectives by
gloo), each process with DEVICES CPU devices. It trains the MLP from the params in PARAMS
(.npz) on the same 800 random images in every process (today's `fit`: replicated data), 3
epochs, batch 100, one mesh over all devices. With CHECKPOINT_DIR, every process checkpoints: 2
epochs, then the same processes resume to 3. BUSY_DIR is a folder that the test holds the lock
of: `checkpoint.lock` must refuse it in every process, process 0's error shared with the
others. Process 0 writes the params, the history (less epoch_seconds) and what the lock said to
OUT.
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
    from jaxhw.models import mlp
    from jaxhw.nn.losses import cross_entropy

    refused = ""
    if busy_dir is not None:
        try:
            with checkpoint.lock(busy_dir):
                pass
        except checkpoint.CheckpointError as err:
            refused = str(err)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(1000, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, 1000).astype(np.int32)
    with np.load(params_file) as f:
        params = {k: f[k] for k in f.files}
    mesh = jax.make_mesh((jax.device_count(),), ("data",))
    kw = {"batch_size": 100, "key": jax.random.key(1), "mesh": mesh, "progress": False,
          "metrics": train.classification_metrics(mlp.apply)}
    loss, optimizer = train.supervised_loss(mlp.apply, cross_entropy), optax.sgd(0.1)
    if checkpoint_dir is not None:
        train.fit(loss, params, optimizer, (X[:800], y[:800]), (X[800:], y[800:]), epochs=2,
                  checkpoint_dir=checkpoint_dir, **kw)
        kw.update(checkpoint_dir=checkpoint_dir, resume=True)
    result = train.fit(loss, params, optimizer, (X[:800], y[:800]), (X[800:], y[800:]),
                       epochs=3, **kw)
    if process_id == 0:
        trained = {k: np.asarray(v.addressable_data(0)) for k, v in result.params.items()}
        history = {f"history_{k}": v for k, v in result.history.items() if k != "epoch_seconds"}
        np.savez(out, **trained, **history, refused=np.array(refused))
    if num_processes > 1:
        jax.distributed.shutdown()
    print(f"process {process_id} of {num_processes}: {jax.local_device_count()} of "
          f"{jax.device_count()} devices, {time.perf_counter() - start:.1f} s wall, "
          f"{time.process_time():.1f} s CPU", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
