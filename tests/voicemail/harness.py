"""Child processes for the voicemail tests: the real voicemail box and a pjsua2 caller.

Both speak JSON lines (commands on stdin, events on stdout). A reader thread keeps every event;
tests wait for the one they need with a timeout, never by sleeping. ``close()`` sends EOF, waits,
and kills by PID only if the child does not exit, so nothing outlives a test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CALLER = Path(__file__).resolve().parent / "caller.py"

Event = dict[str, Any]
Predicate = Callable[[Event], bool]


class JsonLineProcess:
    def __init__(self, args: Sequence[str], name: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.name = name
        self.proc = subprocess.Popen(
            list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, cwd=str(ROOT), start_new_session=True)
        self.events: list[Event] = []
        self.noise: list[str] = []
        self.stderr_lines: list[str] = []
        self._cond = threading.Condition()
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            try:
                event = json.loads(line) if line.startswith("{") else None
            except ValueError:
                event = None
            with self._cond:
                if isinstance(event, dict):
                    self.events.append(event)
                else:
                    self.noise.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip())

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def quit(self) -> None:
        """Ask for an orderly stop unless the process has already gone (a second quit in a
        test's cleanup must not fail on the closed pipe of a box that already exited)."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.send(cmd="quit")

    def find(self, predicate: Predicate) -> list[Event]:
        with self._cond:
            return [e for e in self.events if predicate(e)]

    def wait_for(self, predicate: Predicate, timeout: float = 10.0, count: int = 1) -> Event:
        """The ``count``-th event matching ``predicate`` (searching everything seen so far)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if predicate(e)]
                if len(found) >= count:
                    return found[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._readers[0]
                                      .is_alive()):
                    raise AssertionError(
                        f"{self.name}: no matching event within {timeout}s "
                        f"(exit {self.proc.poll()}); events:\n" + "\n".join(
                            json.dumps(e) for e in self.events[-30:])
                        + "\nstderr:\n" + "\n".join(self.stderr_lines[-20:]))
                self._cond.wait(min(remaining, 0.2))

    def close(self, timeout: float = 10.0) -> int:
        """EOF on stdin, then wait; kill by PID if it hangs. Returns the exit code."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        for reader in self._readers:
            reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode


class VoicemailProcess(JsonLineProcess):
    """``python -m labpbx.voicemail.process --json`` on 127.0.0.1, any free port."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        super().__init__([sys.executable, "-m", "labpbx.voicemail.process", "--json",
                          "--listen", "127.0.0.1:0", "--data", str(data_dir), *extra],
                         "voicemail")
        self.data_dir = data_dir
        self.ready = self.wait_for(lambda e: e.get("type") == "component"
                                   and e.get("status") in ("ready", "failed"))
        self.address = str(self.ready.get("address", ""))

    def uri(self, user: str) -> str:
        return f"sip:{user}@{self.address}"

    def voicemail(self, status: str, mailbox: str, timeout: float = 15.0,
                  count: int = 1) -> Event:
        return self.wait_for(lambda e: e.get("type") == "voicemail" and e["status"] == status
                             and e["mailbox"] == mailbox, timeout, count)


class CallerProcess(JsonLineProcess):
    def __init__(self, from_uri: str = "sip:1000@127.0.0.1") -> None:
        super().__init__([sys.executable, str(CALLER), "--from", from_uri], "caller")
        self.wait_for(lambda e: e.get("ev") == "ready")

    def call(self, leg: str, uri: str, *, headers: dict[str, str] | None = None,
             record: Path | None = None) -> None:
        self.send(cmd="call", id=leg, uri=uri, headers=headers or {},
                  record=str(record) if record else None)

    def state(self, leg: str, state: str, timeout: float = 10.0) -> Event:
        return self.wait_for(lambda e: e.get("ev") == "state" and e["id"] == leg
                             and e["state"] == state, timeout)

    def done(self, leg: str, timeout: float = 15.0) -> Event:
        return self.wait_for(lambda e: e.get("ev") == "done" and e["id"] == leg, timeout)
