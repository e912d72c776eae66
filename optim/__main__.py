"""``python -m optim``: the ``rnla`` command (see :mod:`optim.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
