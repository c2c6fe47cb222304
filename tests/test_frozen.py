"""labpbx.frozen: how the program re-runs itself and what outside programs get, frozen or not
(the frozen branches are pure functions of their arguments, so they are tested from source)."""

from __future__ import annotations

import sys
from pathlib import Path

from labpbx.frozen import child_creationflags, outside_environment, restore_library_path, self_command
from labpbx.lab.children import labpbx_command


def test_from_source_children_run_the_module() -> None:
    assert self_command("phone", "--json", frozen=False, executable="/py") == [
        "/py", "-m", "labpbx.cli", "phone", "--json"]
    assert labpbx_command("proxy") == [sys.executable, "-m", "labpbx.cli", "proxy"]


def test_frozen_children_rerun_the_executable(tmp_path: Path) -> None:
    exe = str(tmp_path / "labpbx")
    assert self_command("voicemail", frozen=True, executable=exe, platform="linux") == [exe, "voicemail"]
    # Windows: the console twin when it is there (the windowed exe has no stdio), else itself.
    windowed = str(tmp_path / "labpbx.exe")
    assert self_command("phone", frozen=True, executable=windowed, platform="win32") == [windowed, "phone"]
    (tmp_path / "labpbx-cli.exe").write_bytes(b"")
    assert self_command("phone", frozen=True, executable=windowed, platform="win32") == [
        str(tmp_path / "labpbx-cli.exe"), "phone"]


def test_creation_flags_only_for_frozen_windows() -> None:
    assert child_creationflags(frozen=False, platform="win32") == 0
    assert child_creationflags(frozen=True, platform="linux") == 0
    assert child_creationflags(frozen=True, platform="win32") == 0x08000000


def test_outside_programs_get_the_users_library_path() -> None:
    env = {"LD_LIBRARY_PATH": "/opt/labpbx/_internal:/usr/local/lib",
           "LD_LIBRARY_PATH_ORIG": "/usr/local/lib", "HOME": "/h"}
    assert outside_environment(env, frozen=True) == {"LD_LIBRARY_PATH": "/usr/local/lib", "HOME": "/h"}
    # The user had none: the bootloader saved none, and the bundle's path goes away.
    assert outside_environment({"LD_LIBRARY_PATH": "/opt/labpbx/_internal"}, frozen=True) == {}
    assert outside_environment(env, frozen=False) == env


def test_restore_changes_nothing_from_source() -> None:
    env = {"LD_LIBRARY_PATH": "/x", "LD_LIBRARY_PATH_ORIG": "/y"}
    restore_library_path(env)
    assert env == {"LD_LIBRARY_PATH": "/x", "LD_LIBRARY_PATH_ORIG": "/y"}
