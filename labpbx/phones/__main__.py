"""``python -m labpbx.phones …``: the phone process without the labpbx CLI."""

from __future__ import annotations

import sys

from labpbx.phones.process import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
