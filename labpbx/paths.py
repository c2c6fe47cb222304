"""Where the lab keeps its files, and where the shipped assets are. The one place that knows."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

DB_FILENAME = "lab.json"


def default_data_dir() -> Path:
    """Per-user data directory; LABPBX_DATA overrides it (tests, portable installs)."""
    override = os.environ.get("LABPBX_DATA")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("labpbx", appauthor=False))


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME


def asset_path(*parts: str) -> Path:
    """A file under assets/: next to the frozen executable, or at the source tree's top."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    root = Path(frozen_root) if frozen_root else Path(__file__).resolve().parent.parent
    return root.joinpath("assets", *parts)
