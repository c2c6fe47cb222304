"""The doctor's probes: ports and the data directory for real (loopback only), the child probes
through the real command line, and the fakes a test or the window can swap in."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from labpbx.doctor import Probes, Status, run_doctor
from labpbx.doctor.checks import NativeInfo, PortInfo, QtInfo
from labpbx.doctor.probes import has_display, probe_data_dir, probe_native, probe_port

ROOT = Path(__file__).resolve().parents[2]

FAKE = Probes(native=lambda: NativeInfo(pjsip="2.15.1", portaudio="PortAudio X"),
              qt=lambda: QtInfo(qt="6.9", pyside="6.9", platform="offscreen", display=False),
              lab_port=lambda: PortInfo(23000, "lab"))


def test_a_bound_port_is_reported_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert probe_port(port) != ""
        report = run_doctor(Path("/tmp"), port, replace(FAKE, data_dir=lambda _d: ""))
        assert report.get("ports").status is Status.FAIL
    assert probe_port(port) == ""


def test_data_dir_probe(tmp_path: Path) -> None:
    assert probe_data_dir(tmp_path / "new" / "dir") == ""
    assert list((tmp_path / "new" / "dir").iterdir()) == []  # the probe file is gone
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert probe_data_dir(blocker / "sub") != ""


def test_display_rules() -> None:
    assert has_display("win32", {}) and has_display("darwin", {})
    assert not has_display("linux", {})
    assert has_display("linux", {"WAYLAND_DISPLAY": "wayland-0"})


@pytest.mark.timeout(120)
def test_the_native_probe_child_loads_pjsua2_and_portaudio() -> None:
    info = probe_native()
    assert info.pjsip.startswith("2.15"), info
    assert info.portaudio.startswith("PortAudio") or info.portaudio_error


@pytest.mark.timeout(120)
def test_labpbx_doctor_json_from_source(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "labpbx.cli", "--data", str(tmp_path / "data"),
                           "doctor", "--port", "0", "--json"], capture_output=True, text=True,
                          timeout=100, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    data = json.loads(done.stdout)
    checks = {c["key"]: c for c in data["checks"]}
    assert set(checks) == {"versions", "pjsua2", "audio", "display", "ports", "data-dir"}
    assert checks["pjsua2"]["status"] == "ok"
    assert checks["display"]["status"] == "warn"  # no DISPLAY in this environment
    assert "Qt 6." in checks["versions"]["detail"]
    assert done.returncode == (1 if data["status"] == "fail" else 0)
