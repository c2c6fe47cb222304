"""Where the lab keeps its files, and where the shipped assets are. The one place that knows."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import platformdirs

from labpbx.frozen import bundle_root

DB_FILENAME = "lab.json"


def default_data_dir() -> Path:
    """Per-user data directory; LABPBX_DATA overrides it (tests, portable installs)."""
    override = os.environ.get("LABPBX_DATA")
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("labpbx", appauthor=False))


def db_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME


def assets_root() -> Path:
    """The assets/ directory: next to a frozen executable, at the top of a source tree (a checkout
    or an editable install), or where a wheel installed it (<prefix>/share/labpbx/assets)."""
    frozen_root = bundle_root()
    if frozen_root is not None:
        return frozen_root / "assets"
    source = Path(__file__).resolve().parent.parent / "assets"
    if source.is_dir():
        return source
    return Path(sysconfig.get_path("data"), "share", "labpbx", "assets")


def asset_path(*parts: str) -> Path:
    """A file under assets/ (see assets_root)."""
    return assets_root().joinpath(*parts)
