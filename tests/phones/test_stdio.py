"""pjlib's start-up banner must not reach stdout, the event channel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import ctypes, os
from labpbx.phones.stdio import stdout_to_stderr
print("before", flush=True)
with stdout_to_stderr():
    ctypes.CDLL(None).printf(b"banner from C stdio\n")  # buffered, like pjlib's banner
    os.write(1, b"banner via fd 1\n")
print("after", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no C stdio to flush through ctypes")
def test_c_and_fd_writes_go_to_stderr_meanwhile() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, timeout=30,
                          check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.decode().split() == ["before", "after"]
    assert "banner from C stdio" in done.stderr.decode()
    assert "banner via fd 1" in done.stderr.decode()
