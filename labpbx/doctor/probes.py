"""How ``labpbx doctor`` finds the facts it reports (the I/O side of labpbx.doctor).

Rules of this module:
- pjsua2 and PortAudio are probed in a child process (``labpbx doctor --probe native``), the
  way the phones load them: a native library that crashes while loading takes the child down,
  never the doctor or the window, and a frozen bundle is checked as it really runs.
- Qt is probed in a child too (``labpbx gui --probe``, answered by the window's package, which
  labpbx never imports): Qt's X11 plugin aborts the whole process when it cannot start.
  The window itself passes its own, already running, Qt instead (``Probes.qt``).
- Ports are checked by binding them on 127.0.0.1 and closing at once (loopback only); the data
  directory by creating it and writing a small file that is removed again.
- Every probe returns a value and never raises: the report says what went wrong.
- ``Probes`` holds the probing functions so that tests (and the window) can replace any of them.
"""

from __future__ import annotations

import json
import os
import platform as platform_module
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labpbx import __version__
from labpbx.doctor.checks import Facts, NativeInfo, PortInfo, QtInfo
from labpbx.frozen import child_creationflags, is_frozen, self_command

HOST = "127.0.0.1"
PROBE_TIMEOUT = 60.0  # a cold first start of a frozen bundle on a busy machine takes seconds
PROBE_MARK = "LABPBX-PROBE "  # the line of a probe child's stdout that carries its JSON


def native_probe() -> dict[str, Any]:
    """Run in the probe child: load pjsua2 and PortAudio as the phones do; a JSON-able dict."""
    result: dict[str, Any] = {}
    try:
        from labpbx.phones.agent import pjsip_version

        result["pjsip"] = pjsip_version()
    except (ImportError, OSError, AttributeError, RuntimeError) as exc:
        result["pjsua2_error"] = f"{type(exc).__name__}: {exc}"
    from labpbx.phones.localaudio import audio_system

    audio = audio_system()
    result.update(portaudio=audio.portaudio, portaudio_error=audio.error,
                  devices=list(audio.devices), default_input=audio.default_input,
                  default_output=audio.default_output)
    return result


def print_probe(result: dict[str, Any]) -> None:
    """A probe child's answer: one marked JSON line (pjlib or Qt may print lines of their own)."""
    print(PROBE_MARK + json.dumps(result), flush=True)


def run_probe_child(args: Sequence[str], timeout: float = PROBE_TIMEOUT) -> dict[str, Any]:
    """Run ``labpbx <args>`` and return its marked JSON answer, or {"error": why}."""
    env = dict(os.environ)
    env.setdefault("PYTHONFAULTHANDLER", "1")
    if not is_frozen():  # the same code as this process, even from a checkout
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    try:
        done = subprocess.run(self_command(*args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env=env, errors="replace",
                              creationflags=child_creationflags())
    except subprocess.TimeoutExpired:
        return {"error": f"the probe did not answer within {timeout:g} s"}
    except OSError as exc:
        return {"error": f"the probe could not start: {exc}"}
    for line in done.stdout.splitlines():
        if line.startswith(PROBE_MARK):
            try:
                answer: dict[str, Any] = json.loads(line[len(PROBE_MARK):])
            except ValueError:
                break
            return answer
    tail = " | ".join(done.stderr.strip().splitlines()[-3:]) or "no output"
    return {"error": f"the probe ended with code {done.returncode}: {tail}"}


def probe_native() -> NativeInfo:
    answer = run_probe_child(["doctor", "--probe", "native"])
    if "error" in answer:
        return NativeInfo(pjsua2_error=str(answer["error"]), portaudio_error=str(answer["error"]))
    return NativeInfo(
        pjsip=str(answer.get("pjsip", "")), pjsua2_error=str(answer.get("pjsua2_error", "")),
        portaudio=str(answer.get("portaudio", "")),
        portaudio_error=str(answer.get("portaudio_error", "")),
        devices=tuple(str(d) for d in answer.get("devices", [])),
        default_input=str(answer.get("default_input", "")),
        default_output=str(answer.get("default_output", "")))


def has_display(platform: str | None = None, env: dict[str, str] | None = None) -> bool:
    """Whether a desktop session is there for a window (always on Windows and macOS)."""
    platform = sys.platform if platform is None else platform
    env = dict(os.environ) if env is None else env
    if platform in ("win32", "darwin"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def probe_qt() -> QtInfo:
    """Start Qt in a child: with the display's platform when there is one, else offscreen."""
    display = has_display() or bool(os.environ.get("QT_QPA_PLATFORM"))
    answer = run_probe_child(["gui", "--probe"])
    if "error" in answer and "qt" not in answer:
        return QtInfo(error=str(answer["error"]), display=display)
    return QtInfo(qt=str(answer.get("qt", "")), pyside=str(answer.get("pyside", "")),
                  platform=str(answer.get("platform", "")), error=str(answer.get("error", "")),
                  fix=str(answer.get("fix", "")), display=bool(answer.get("display", display)))


def probe_port(port: int) -> str:
    """"" when UDP ``port`` can be bound on 127.0.0.1 now (bound and closed at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return ""


def probe_free_lab_port() -> PortInfo:
    """One of the ports the lab picks for its voicemail box and notifier (labpbx.lab)."""
    from labpbx.lab.supervisor import LAB_PORTS, free_udp_port

    low, high = LAB_PORTS
    try:
        port = free_udp_port()
    except OSError as exc:
        return PortInfo(0, f"the lab's own ports {low}-{high}", exc.strerror or str(exc))
    error = probe_port(port)
    purpose = f"a free one of the lab's own ports {low}-{high}"
    if not low <= port <= high:
        error = error or f"none of {low}-{high} is free"
    return PortInfo(port, purpose, error)


def probe_data_dir(data_dir: Path) -> str:
    """"" when ``data_dir`` can be created and written; else why not."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-", delete=True) as handle:
            handle.write(b"ok")
            handle.flush()
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def probe_running_lab(data_dir: Path) -> int | None:
    from labpbx.lab.control import running_lab_pid

    try:
        return running_lab_pid(data_dir)
    except OSError:
        return None


@dataclass(frozen=True)
class Probes:
    native: Callable[[], NativeInfo] = probe_native
    qt: Callable[[], QtInfo] = probe_qt
    port: Callable[[int], str] = probe_port
    lab_port: Callable[[], PortInfo] = probe_free_lab_port
    data_dir: Callable[[Path], str] = probe_data_dir
    running_lab: Callable[[Path], int | None] = probe_running_lab


def gather(data_dir: Path, proxy_port: int = 5060, probes: Probes | None = None) -> Facts:
    """Every fact the report needs (runs two short child processes: seconds, not instant)."""
    probes = probes or Probes()
    ports = []
    if proxy_port:
        ports.append(PortInfo(proxy_port, "the proxy", probes.port(proxy_port)))
    ports.append(probes.lab_port())
    return Facts(
        labpbx=__version__, python=platform_module.python_version(), platform=sys.platform,
        frozen=is_frozen(), native=probes.native(), qt=probes.qt(), ports=tuple(ports),
        data_dir=data_dir, data_dir_error=probes.data_dir(data_dir),
        running_lab_pid=probes.running_lab(data_dir))
