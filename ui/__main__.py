"""``python -m ui`` — the ``labpbx`` command line; with no command it opens the window."""

import sys

from ui.app import main

sys.exit(main())
