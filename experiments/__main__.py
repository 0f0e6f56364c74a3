"""`python -m experiments list | all | SECTION... [--out DIR] [--quick] [--seed N]
[--checkpoint-dir DIR]`."""

import sys

from experiments.runner import cli

sys.exit(cli())
