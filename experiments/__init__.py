"""One script per book section; `python -m experiments` runs them (see experiments/runner.py).

A section script is a module named `s<chapter>_<section>_<topic>.py` that defines
`SECTION = "3.4"`, `TITLE = "..."` and `main(out_dir, quick=False, seed=0) -> dict`.
"""
