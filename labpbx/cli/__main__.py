"""``python -m labpbx.cli`` — the same as the ``labpbx`` command."""

import sys

from labpbx.cli import main

sys.exit(main())
