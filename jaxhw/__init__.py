"""jaxhw: Dive into Deep Learning chapters 2-5 as pure JAX functions."""

import atexit
import gc

__version__ = "0.1.0"

# At exit Python's garbage collector walks every object still alive, and after `import jax`
# there are so many that this takes ~0.5 s, a sixth of a short training run's process. They
# are about to be freed anyway, so they are frozen (ignored by the collector) first. Only
# unreachable reference cycles still alive at exit go uncollected, and Python never promised
# to finalize those.
atexit.register(gc.freeze)
