"""One script per book section; `python -m experiments` runs them (see experiments/runner.py).

A section script is a module named `s<chapter>_<section>_<topic>.py` (or `sx_<topic>.py` for
what goes beyond the book) that defines
`SECTION = "3.4"`, `TITLE = "..."` and `main(out_dir, quick=False, seed=0) -> dict`.
"""
