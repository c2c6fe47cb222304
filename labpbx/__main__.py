"""``python -m labpbx`` — the same as the ``labpbx`` command."""

import sys

from labpbx.cli import main

sys.exit(main())
