"""Start the real `labpbx proxy` as a child process on loopback, and stop it by PID."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

Addr = tuple[str, int]


class ProxyProcess:
    def __init__(self, data_dir: Path, listen: Addr, media: Addr, *, fr_timeout: float = 2.0,
                 fr_inv_timeout: float = 3.0, script: Path | None = None,
                 extra: list[str] | None = None, trace: bool = True) -> None:
        self.events_path = data_dir / "events.jsonl"
        self.listen = listen
        args = [sys.executable, "-m", "labpbx.cli", "--data", str(data_dir), "proxy",
                "--listen", f"{listen[0]}:{listen[1]}", "--media", f"{media[0]}:{media[1]}",
                "--fr-timeout", str(fr_timeout), "--fr-inv-timeout", str(fr_inv_timeout)]
        if trace:
            args += ["--events", str(self.events_path), "--trace-sip"]
        if script is not None:
            args += ["--script", str(script)]
        args += extra or []
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env,
                                     start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_ready(self, timeout: float = 10.0) -> None:
        self.wait_for_line(lambda line: "listening on" in line, timeout)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
                raise TimeoutError(f"proxy output did not match in {timeout}s; output so far:\n"
                                   f"{''.join(self.output)}\n{err}")
            try:
                line = self.lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    err = self.proc.stderr.read() if self.proc.stderr else ""
                    raise RuntimeError(f"proxy exited with {self.proc.returncode}: {err}") from None
                continue
            if predicate(line):
                return line

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        out = []
        for line in self.events_path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if kind is None or event.get("type") == kind:
                out.append(event)
        return out

    def stop(self, timeout: float = 5.0) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        self._reader.join(timeout)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
