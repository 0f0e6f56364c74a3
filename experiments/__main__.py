"""`python -m experiments list | all | SECTION... [--out DIR] [--quick] [--seed N] ...`

The same as the `jaxhw-run` console script, over this folder's sections from any directory.
"""

import sys

from experiments.runner import cli

sys.exit(cli())
