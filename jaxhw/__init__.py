"""jaxhw: Dive into Deep Learning chapters 2-5 as pure JAX functions."""

import atexit
import gc

__version__ = "0.1.0"

# Python's cyclic garbage collector walks every tracked object in a full collection, and after
# `import jax` there are so many (~1 million) that each walk takes 0.1-0.2 s: one usually comes
# while the first model is traced, and one at exit. The objects alive now (jax's and optax's
# modules, typically) live as long as the process anyway, so they are frozen (left out of
# collections) now, and whatever else is alive at exit is frozen then. Reference counting frees
# them as before; only reference cycles among frozen objects are never collected. `gc.unfreeze()`
# undoes it. docs/DESIGN.md ("A fresh process") has the measurements.
gc.freeze()
atexit.register(gc.freeze)
