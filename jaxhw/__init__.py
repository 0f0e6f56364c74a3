"""jaxhw: Dive into Deep Learning chapters 2-5 as pure JAX functions."""

__version__ = "0.1.0"
