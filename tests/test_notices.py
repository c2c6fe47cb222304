"""labpbx.notices: the third-party notice from installed metadata, and the licence statement."""

from __future__ import annotations

from pathlib import Path

from labpbx.notices import (
    BINARY_LICENCE,
    Component,
    licenses_dir,
    load_notice,
    main,
    native_components,
    notice_text,
    runtime_distributions,
    runtime_requirements,
)


def test_extras_are_not_runtime_requirements() -> None:
    assert runtime_requirements(['lark<2,>=1.1', 'uvloop<1; sys_platform != "win32"',
                                 'pytest<10; extra == "test"', 'numpy;extra=="numpy"']) == [
        "lark", "uvloop"]


def test_the_runtime_closure_has_the_gpl_and_lgpl_components() -> None:
    found = {c.name.lower().replace("_", "-"): c for c in runtime_distributions()}
    assert "pjsua2-python" in found and "GPL-2.0-or-later" in found["pjsua2-python"].licence
    assert "pyside6-essentials" in found and "LGPL-3.0" in found["pyside6-essentials"].licence
    assert "shiboken6" in found and "lark" in found
    assert "pytest" not in found and "mypy" not in found  # test extras are not shipped


def test_notice_text_says_what_the_package_is_under() -> None:
    text = notice_text([Component("lark", "1.3", "MIT", "https://x")], native_components(),
                       python_version="3.11.7")
    assert "GPL-3.0-or-later" in text and BINARY_LICENCE == "GPL-3.0-or-later"
    assert "  lark 1.3: MIT  <https://x>" in text
    assert "CPython 3.11.7: PSF-2.0" in text and "pjproject (pjsip): GPL-2.0-or-later" in text
    assert "run from source" in notice_text([], [], bundled=False)


def test_from_source_the_notice_is_generated_and_the_texts_are_in_the_tree(tmp_path: Path) -> None:
    text, bundled = load_notice()
    assert not bundled and "pjsua2-python" in text
    folder = licenses_dir()
    assert folder is not None
    assert {p.name for p in folder.glob("*.txt")} >= {"GPL-2.0.txt", "GPL-3.0.txt", "LGPL-3.0.txt"}
    assert main([str(tmp_path / "n.txt")]) == 0
    assert "third-party notices" in (tmp_path / "n.txt").read_text(encoding="utf-8")
