"""How ``labpbx call`` reaches a running ``labpbx lab``: a state file and a loopback control port.

Rules of this module:
- The running lab writes ``<data>/lab-state.json`` (pid, addresses, component pids, the control
  port and a random token; mode 0600, replaced atomically) and removes it when it stops. A file
  whose pid is not alive is stale: "no lab is running", whatever it says.
- The control server listens on TCP 127.0.0.1 (port chosen by the OS) and speaks one JSON line
  per request and one per answer: ``{"token": …, "cmd": "call", "from": "1000", "to": "1001"}``
  → ``{"ok": true, "leg": "1000-3"}`` or ``{"ok": false, "error": "…"}``. The token (only in the
  0600 state file) keeps other local users from driving someone else's lab.
- Commands: call, hangup (leg or ext), answer, reject, policy, reload, status. Each maps to one
  ``Lab`` method; a LabPbxError becomes ``{"ok": false, "error": str(exc)}``.
- The client raises ``NoLabRunning`` (one clear sentence) when there is no state file, the pid is
  gone, or nothing answers on the port.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socketserver
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from labpbx.errors import LabPbxError
from labpbx.lab.config import HOST, LabError

STATE_FILENAME = "lab-state.json"
CLIENT_TIMEOUT = 10.0
MAX_REQUEST = 64 * 1024


class NoLabRunning(LabError):
    """``labpbx call`` found no running lab in the data directory."""


class LabLike(Protocol):
    """What the control server needs from the supervisor (labpbx.lab.supervisor.Lab)."""

    def call(self, from_ext: str, to: str, timeout: float = ...) -> str: ...
    def hangup(self, leg: str) -> None: ...
    def hangup_ext(self, ext: str) -> int: ...
    def answer(self, leg: str) -> None: ...
    def reject(self, leg: str, code: int = ...) -> None: ...
    def set_policy(self, ext: str, policy: Any, ring_time: float = ...) -> None: ...
    def reload_script(self) -> str: ...
    def set_timers(self, fr_timeout: float | None = ..., fr_inv_timeout: float | None = ...,
                   timeout: float = ...) -> None: ...
    def status(self) -> dict[str, Any]: ...


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILENAME


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 on POSIX; OpenProcess on Windows)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # type: ignore[attr-defined]
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_state(data_dir: Path, state: Mapping[str, Any]) -> Path:
    """Write the state file atomically, readable by this user only."""
    path = state_path(data_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(dict(state), out, indent=2)
    os.replace(tmp, path)
    return path


def read_state(data_dir: Path) -> dict[str, Any]:
    """The state of the lab running in ``data_dir``; NoLabRunning when there is none."""
    path = state_path(data_dir)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoLabRunning(f"no lab is running in {data_dir} (start one with `labpbx lab`)") \
            from None
    except (OSError, ValueError) as exc:
        raise NoLabRunning(f"the lab state file {path} cannot be read: {exc}") from None
    if not isinstance(state, dict) or not pid_alive(int(state.get("pid", 0))):
        raise NoLabRunning(f"no lab is running in {data_dir} (the state file is stale; start "
                           "one with `labpbx lab`)")
    return state


def remove_state(data_dir: Path) -> None:
    """Remove the state file if it is this process's."""
    path = state_path(data_dir)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


def running_lab_pid(data_dir: Path) -> int | None:
    """The pid of a live lab in ``data_dir`` (None when there is none or it is stale)."""
    try:
        return int(read_state(data_dir)["pid"])
    except (NoLabRunning, KeyError, ValueError):
        return None


def execute(lab: LabLike, request: Mapping[str, Any]) -> dict[str, Any]:
    """Carry out one control request (already authenticated). Pure dispatch, no I/O of its own."""
    cmd = request.get("cmd")
    try:
        if cmd == "call":
            return {"ok": True, "leg": lab.call(str(request["from"]), str(request["to"]))}
        if cmd == "hangup":
            if "leg" in request:
                lab.hangup(str(request["leg"]))
                return {"ok": True}
            return {"ok": True, "count": lab.hangup_ext(str(request["ext"]))}
        if cmd == "answer":
            lab.answer(str(request["leg"]))
            return {"ok": True}
        if cmd == "reject":
            lab.reject(str(request["leg"]), int(request.get("code", 486)))
            return {"ok": True}
        if cmd == "policy":
            lab.set_policy(str(request["ext"]), str(request["policy"]),
                           float(request.get("ring_time", 3.0)))
            return {"ok": True}
        if cmd == "reload":
            return {"ok": True, "message": lab.reload_script()}
        if cmd == "timers":
            lab.set_timers(_optional_seconds(request.get("fr_timeout")),
                           _optional_seconds(request.get("fr_inv_timeout")))
            return {"ok": True, "status": lab.status()}
        if cmd == "status":
            return {"ok": True, "status": lab.status()}
    except KeyError as exc:
        return {"ok": False, "error": f"{cmd}: missing {exc.args[0]!r}"}
    except (LabPbxError, ValueError, TypeError) as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": False, "error": f"unknown command {cmd!r}"}


def _optional_seconds(value: Any) -> float | None:
    return None if value is None else float(value)


class _Handler(socketserver.StreamRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        self.connection.settimeout(CLIENT_TIMEOUT)
        try:
            line = self.rfile.readline(MAX_REQUEST)
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
        except (OSError, ValueError):
            self._answer({"ok": False, "error": "bad request: one JSON object per line"})
            return
        if not secrets.compare_digest(str(request.get("token", "")), self.server.token):
            self._answer({"ok": False, "error": "wrong token (is this your lab?)"})
            return
        self._answer(execute(self.server.lab, request))

    def _answer(self, answer: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            self.wfile.write((json.dumps(answer, default=str) + "\n").encode("utf-8"))


class ControlServer(socketserver.ThreadingTCPServer):
    """The lab's control port on 127.0.0.1 (start with ``start()``, end with ``close()``)."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, lab: LabLike, token: str | None = None) -> None:
        super().__init__((HOST, 0), _Handler)
        self.lab = lab
        self.token = token or secrets.token_hex(16)
        self.port = int(self.server_address[1])
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="lab-control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5.0)
            self._thread = None
        self.server_close()


def request(data_dir: Path, payload: Mapping[str, Any],
            timeout: float = CLIENT_TIMEOUT) -> dict[str, Any]:
    """Send one command to the lab running in ``data_dir``; its JSON answer.

    NoLabRunning when there is no lab; LabError when the answer is not readable.
    """
    import socket

    state = read_state(data_dir)
    port = int(state.get("control_port", 0))
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            message = {**payload, "token": state.get("token", "")}
            sock.sendall((json.dumps(message) + "\n").encode("utf-8"))
            reader = sock.makefile("rb")
            line = reader.readline(MAX_REQUEST)
    except OSError as exc:
        raise NoLabRunning(f"the lab in {data_dir} does not answer on 127.0.0.1:{port} "
                           f"({exc.strerror or exc})") from None
    try:
        answer = json.loads(line)
    except ValueError:
        raise LabError("the lab sent an unreadable answer") from None
    if not isinstance(answer, dict):
        raise LabError("the lab sent an unreadable answer")
    return answer


def lab_state(lab_pid: int, control: ControlServer, status: Mapping[str, Any]) -> dict[str, Any]:
    """The state file's content for a running lab."""
    return {"pid": lab_pid, "control_port": control.port, "token": control.token,
            "started": time.time(), **{k: status[k] for k in
                                       ("proxy", "voicemail", "pids", "extensions", "data")
                                       if k in status}}
