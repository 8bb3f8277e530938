"""``python -m ctibridge``: the same commands as the ``ctibridge`` script."""

import sys

from ctibridge.cli import main

sys.exit(main())
