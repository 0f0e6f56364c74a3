"""One notebook per book section, as a Jupytext percent script (docs/notebooks.md).

`python -m experiments` runs them (jaxhw.runner). This folder is not part of the jaxhw wheel.
"""
