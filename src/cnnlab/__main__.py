"""`python -m cnnlab` (used by `torchrun -m cnnlab`)."""

from cnnlab.cli import run

run()
