"""The import rules of DESIGN.md / STYLE.md §6, checked on the source: pure layers stay pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "labpbx"

IO_MODULES = {"asyncio", "socket", "threading", "selectors", "subprocess", "multiprocessing",
              "pjsua2", "tinydb", "filelock", "PySide6", "sounddevice"}
PURE = [
    "labpbx/errors.py", "labpbx/clock.py", "labpbx/events.py",
    "labpbx/sip", "labpbx/script",
    "labpbx/proxy/config.py", "labpbx/proxy/registrar.py", "labpbx/proxy/tm.py",
    "labpbx/proxy/forwarding.py", "labpbx/proxy/context.py", "labpbx/proxy/pvars.py",
    "labpbx/proxy/builtins.py", "labpbx/proxy/engine.py", "labpbx/proxy/core.py",
    "labpbx/proxy/replies.py", "labpbx/proxy/services.py",
    "labpbx/store/records.py",
    "labpbx/phones/policy.py", "labpbx/phones/commands.py", "labpbx/phones/config.py",
    "labpbx/phones/legs.py", "labpbx/phones/pacing.py",
    "labpbx/voicemail/box.py", "labpbx/voicemail/mwi.py", "labpbx/phones/mwi.py",
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _files(entry: str) -> list[Path]:
    path = ROOT / entry
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("entry", PURE)
def test_pure_layers_do_no_io(entry: str) -> None:
    for file in _files(entry):
        bad = {m for m in _imports(file) if m.split(".")[0] in IO_MODULES}
        assert not bad, f"{file.relative_to(ROOT)} imports {sorted(bad)}"


def test_sip_layer_depends_on_nothing_above_it() -> None:
    for file in _files("labpbx/sip"):
        bad = {m for m in _imports(file)
               if m.startswith("labpbx.") and not m.startswith(("labpbx.sip", "labpbx.errors"))}
        assert not bad, f"{file.relative_to(ROOT)} imports {sorted(bad)}"


def test_script_layer_only_uses_sip_and_errors() -> None:
    allowed = ("labpbx.script", "labpbx.errors", "labpbx.sip")
    for file in _files("labpbx/script"):
        bad = {m for m in _imports(file) if m.startswith("labpbx.") and not m.startswith(allowed)}
        assert not bad, f"{file.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_store_imports_tinydb() -> None:
    for file in sorted(PACKAGE.rglob("*.py")):
        if "tinydb" in {m.split(".")[0] for m in _imports(file)}:
            assert file == PACKAGE / "store" / "db.py", file


def test_only_agent_and_media_modules_import_pjsua2() -> None:
    allowed = {PACKAGE / "phones" / "agent.py", PACKAGE / "voicemail" / "media.py"}
    for file in sorted(PACKAGE.rglob("*.py")):
        if "pjsua2" in {m.split(".")[0] for m in _imports(file)}:
            assert file in allowed, file


def test_nothing_in_labpbx_imports_qt_or_ui() -> None:
    for file in sorted(PACKAGE.rglob("*.py")):
        bad = {m for m in _imports(file) if m.split(".")[0] in {"PySide6", "ui"}}
        assert not bad, f"{file.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_window_uses_only_labpbx_public_api() -> None:
    """ui/ talks to the lab through labpbx.lab and its state, never to the protocol layers,
    the store, pjsua2 or the processes' internals (DESIGN.md)."""
    forbidden = ("pjsua2", "tinydb", "sounddevice", "labpbx.sip", "labpbx.proxy",
                 "labpbx.transport", "labpbx.store", "labpbx.lab.supervisor",
                 "labpbx.lab.children", "labpbx.lab.dispatcher", "labpbx.lab.acks")
    for file in sorted((ROOT / "ui").rglob("*.py")):
        bad = {m for m in _imports(file) if m.startswith(forbidden)}
        assert not bad, f"{file.relative_to(ROOT)} imports {sorted(bad)}"
