"""Running from a frozen bundle (PyInstaller onedir) or from source: the one place that knows.

Rules of this module:
- Everything that differs between a frozen LabPBX and a source/wheel one is decided here, from
  ``sys.frozen`` and ``sys._MEIPASS`` (set by PyInstaller's bootloader), and nowhere else:
  how the program re-runs itself for a child (``self_command``), where the bundle's data files
  are (``bundle_root``, used by labpbx.paths), and the environment handed to outside programs.
- Frozen, the executable *is* the ``labpbx`` command: a child is ``[executable, subcommand, …]``.
  From source it is ``[python, -m, labpbx.cli, …]`` (console-script launchers are not relocatable).
- Windows: the windowed ``labpbx.exe`` has no console (``sys.stdout`` is None) and a console
  child started from it would open a console window. Children therefore run the console build
  ``labpbx-cli.exe`` beside it (its stdio are the supervisor's pipes) with CREATE_NO_WINDOW.
- Linux: PyInstaller's bootloader puts the bundle first on ``LD_LIBRARY_PATH`` and keeps the
  user's value in ``LD_LIBRARY_PATH_ORIG``. An outside program (xdg-open, a browser, a file
  manager) must not load the bundle's Qt or OpenSSL: ``restore_library_path`` puts the user's
  value back in this process's environment, which every later child inherits. The process itself
  is unaffected (the dynamic loader reads the variable once, at start), and our own children are
  the bundle's executable, whose bootloader sets the variable again.
- Pure functions of their arguments where possible (the ``frozen``/``platform`` parameters), so
  the frozen branches are tested from source.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

CONSOLE_EXE = "labpbx-cli.exe"  # Windows: the console build of the same bundle
LIBRARY_PATH_VARS = ("LD_LIBRARY_PATH", "LIBPATH")  # Linux / AIX, as PyInstaller saves them


def is_frozen() -> bool:
    """Whether this process runs from a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def bundle_root() -> Path | None:
    """The bundle's data directory (``_internal`` of a onedir build); None from source."""
    root = getattr(sys, "_MEIPASS", None)
    return Path(root) if root else None


def self_command(*args: str, frozen: bool | None = None, executable: str | None = None,
                 platform: str | None = None) -> list[str]:
    """The command line that runs ``labpbx <args>`` with this program (frozen or not)."""
    frozen = is_frozen() if frozen is None else frozen
    executable = sys.executable if executable is None else executable
    platform = sys.platform if platform is None else platform
    if not frozen:
        return [executable, "-m", "labpbx.cli", *args]
    if platform == "win32":
        console = Path(executable).with_name(CONSOLE_EXE)
        if console.is_file():
            return [str(console), *args]
    return [executable, *args]


def child_creationflags(frozen: bool | None = None, platform: str | None = None) -> int:
    """Extra Windows creation flags for a child (0 elsewhere): no console window for the console
    build started from the windowed one."""
    frozen = is_frozen() if frozen is None else frozen
    platform = sys.platform if platform is None else platform
    if frozen and platform == "win32":
        return int(getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000))
    return 0


def outside_environment(env: Mapping[str, str], frozen: bool | None = None) -> dict[str, str]:
    """``env`` as an outside program must get it: frozen, the library path the user had before
    the bootloader changed it (none when the bootloader saved none: it saves only a value that
    existed); from source, ``env`` unchanged."""
    result = dict(env)
    if not (is_frozen() if frozen is None else frozen):
        return result
    for name in LIBRARY_PATH_VARS:
        original = result.pop(f"{name}_ORIG", None)
        if original is not None:
            result[name] = original
        else:
            result.pop(name, None)
    return result


def restore_library_path(env: MutableMapping[str, str] | None = None) -> None:
    """Frozen: put the user's library path back in ``env`` (default: this process's)."""
    if not is_frozen():
        return
    target = os.environ if env is None else env
    restored = outside_environment(target, frozen=True)
    for name in [k for k in target if k not in restored]:
        del target[name]
    target.update(restored)
