"""`python -m cnnlab` (used by `torchrun -m cnnlab`)."""

import sys

from cnnlab.cli import main

sys.exit(main())
