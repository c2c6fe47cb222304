"""Fixtures for the store tests: a fresh lab file in tmp_path for every test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The package is not installed in the test venv; make the repository importable here and in the
# spawned worker processes (multiprocessing passes sys.path on to them).
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labpbx.store.db import LabStore  # noqa: E402


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "lab" / "lab.json"


@pytest.fixture
def store(db_file: Path) -> LabStore:
    return LabStore(db_file, lock_timeout=5.0)
