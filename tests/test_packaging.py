"""The wheel carries what an installed LabPBX needs: every shipped asset and the script grammar.

A non-editable install has no source tree to fall back on, so an asset missing from
pyproject's data-files only shows up on a user's machine; this builds the real wheel and compares.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Build helpers that are not needed at run time.
NOT_SHIPPED = {"greetings/make_greetings.sh"}


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    [wheel] = out.glob("labpbx-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.mark.timeout(300)
def test_every_asset_is_in_the_wheel(wheel_names: set[str]) -> None:
    assets = ROOT / "assets"
    expected = {p.relative_to(assets).as_posix() for p in assets.rglob("*") if p.is_file()}
    expected -= NOT_SHIPPED
    prefix = next(n.split("/share/")[0] for n in wheel_names if "/share/labpbx/assets/" in n)
    shipped = {n.removeprefix(f"{prefix}/share/labpbx/assets/") for n in wheel_names
               if n.startswith(f"{prefix}/share/labpbx/assets/")}
    assert "scripts/default.cfg" in expected
    assert shipped == expected


@pytest.mark.timeout(300)
def test_grammar_and_packages_are_in_the_wheel(wheel_names: set[str]) -> None:
    assert "labpbx/script/grammar.lark" in wheel_names
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "labpbx").rglob("*.py")}
    assert sources <= wheel_names
