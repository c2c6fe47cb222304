"""The frozen program's entry point (PyInstaller runs this file as ``labpbx``).

It is the ``labpbx`` command line, with the window handed in directly: a bundle has no
installed-distribution metadata, so the ``labpbx.gui`` entry point the source install uses is not
there. The window's module is imported only when the window opens, so the children that re-run
this executable (``labpbx proxy|phone|voicemail``) never load Qt. Before anything else the
library path the user had is put back (labpbx.frozen), so outside programs do not load the
bundle's libraries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def gui(options: argparse.Namespace, data_dir: Path) -> int:
    from ui.app import run

    return run(options, data_dir)


def main() -> int:
    from labpbx.cli import main as cli_main
    from labpbx.frozen import restore_library_path

    restore_library_path()
    return cli_main(gui=gui)


if __name__ == "__main__":
    sys.exit(main())
