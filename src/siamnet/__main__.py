"""``python -m siamnet`` (and ``torchrun -m siamnet train ...``) runs the command line."""

import sys

from .cli import main

sys.exit(main())
