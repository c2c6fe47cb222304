"""Changing the running proxy's routing script: apply edited text, revert to the start script.

``Lab`` (labpbx.lab.supervisor) inherits ``ScriptCommands``; this module owns no lab state but
``ScriptFiles`` (created by ``Lab.__init__``) and the attributes declared below, which ``Lab`` owns.

Rules of this module:
- A broken script never reaches the proxy: ``apply_script`` checks the text first with the
  proxy's loader and defines (labpbx.lab.script_text) and raises ScriptRefused (component "lab")
  before anything is written.
- Then it writes the text as the lab's working script, ``<data dir>/scripts/applied.cfg``
  (atomically: a temporary file in the same directory, fsync, ``os.replace``; assets/ is never
  written), and tells the proxy to reload from that file. If the proxy refuses it anyway, the
  working file gets its previous content back and ScriptRefused (component "proxy") carries the
  proxy's own diagnostic; the proxy keeps the script it was running.
- Reloading swaps the proxy's routes between two datagrams: calls and transactions in flight go
  on (labpbx.proxy.service.ProxyService.reload_script says what changes and what does not).
- Once applied, the working file is ``LabConfig.script_path`` of the running lab (as
  ``set_timers`` updates the timers there): a proxy the lab starts again (a crash restart,
  ``restart_proxy``) loads the applied script, and so does ``reload_script``.
- A new lab starts with its ``LabConfig.script_path`` (else the default script), never with a
  working file an earlier lab left behind: a class starts from a known script, and a script worth
  keeping is saved to a file of its own (the editor's Save as…) and opened or passed with
  ``labpbx lab --script``. ``revert_script`` goes back to that start script and removes the
  working file.
- Apply and revert run one at a time, under the lab's admin lock (start/stop/set_timers/restart
  take it too). The ``*_async`` forms run them on a short-lived worker thread and return a
  Future at once; ``stop()`` joins those workers (``_join_script_workers``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from labpbx.events import ComponentEvent, Event
from labpbx.lab.config import HOST, LabConfig, LabError
from labpbx.lab.script_text import RunningScript, ScriptDiagnostic, ScriptRefused, check_script_text
from labpbx.paths import asset_path

PROXY = "proxy"
DEFAULT_SCRIPT = ("scripts", "default.cfg")  # the proxy's default (labpbx.proxy.service)
WORKING_SCRIPT = ("scripts", "applied.cfg")  # in the lab's data dir
RELOAD_TIMEOUT = 5.0
WORKER_JOIN = 10.0

T = TypeVar("T")


class ScriptFiles:
    """What the lab keeps about its script: the one it started with, and the apply workers."""

    def __init__(self, origin: Path | None) -> None:
        self.origin = origin  # LabConfig.script_path at construction (None = the default)
        self.workers: set[threading.Thread] = set()
        self.lock = threading.Lock()  # guards workers


class ScriptCommands:
    config: LabConfig
    data_dir: Path
    media_port: int
    mwi_port: int
    _admin: threading.Lock
    _state: str
    _scripts: ScriptFiles

    if TYPE_CHECKING:
        def _command(self, name: str, payload: dict[str, Any],
                     timeout: float = ...) -> ComponentEvent: ...

        def _refuse_external(self, what: str) -> None: ...

        def _refuse_in_callback(self, what: str) -> None: ...

        def _emit(self, event: Event) -> None: ...

    # ============================================================== queries

    def script_defines(self) -> dict[str, str]:
        """The #!define overrides the lab's proxy loads its script with (its media server and
        MWI notifier); empty before the lab has picked its ports."""
        defines: dict[str, str] = {}
        if self.media_port:
            defines["MEDIA_SERVER"] = f'"sip:{HOST}:{self.media_port}"'
        if self.mwi_port:
            defines["MWI_SERVER"] = f'"sip:{HOST}:{self.mwi_port}"'
        return defines

    def working_script_path(self) -> Path:
        """Where ``apply_script`` writes the lab's working script."""
        return self.data_dir.joinpath(*WORKING_SCRIPT)

    def start_script_path(self) -> Path:
        """The script this lab started with: ``LabConfig.script_path``, else the default."""
        return self._scripts.origin or asset_path(*DEFAULT_SCRIPT)

    def script_text(self) -> RunningScript:
        """The script the proxy runs (or will run, before start): its text and file.

        Reads the file now; LabError when it cannot be read."""
        path = self.config.script_path or asset_path(*DEFAULT_SCRIPT)
        return RunningScript(_read(path), path, path == self.working_script_path(),
                             self.script_defines())

    def check_script(self, text: str) -> tuple[ScriptDiagnostic, ...]:
        """What would stop the proxy from loading ``text``: () when nothing."""
        return check_script_text(text, str(self.working_script_path()),
                                 defines=self.script_defines())

    # ============================================================== apply / revert

    def apply_script(self, text: str, timeout: float = RELOAD_TIMEOUT) -> RunningScript:
        """Check ``text``, make it the working script and have the proxy run it.

        ScriptRefused (with diagnostics) when the check or the proxy refuses it: the running
        script stays. LabError when the lab is not running or the proxy does not answer."""
        self._refuse_external("apply a script")
        self._refuse_in_callback("apply_script()")
        return self._apply(text, timeout)

    def apply_script_async(self, text: str) -> Future[RunningScript]:
        """``apply_script`` on a worker thread: returns at once."""
        self._refuse_external("apply a script")
        return self._in_worker(lambda: self._apply(text, RELOAD_TIMEOUT))

    def revert_script(self, timeout: float = RELOAD_TIMEOUT) -> RunningScript:
        """Have the proxy run the script the lab started with again; remove the working file."""
        self._refuse_external("revert the script")
        self._refuse_in_callback("revert_script()")
        return self._revert(timeout)

    def revert_script_async(self) -> Future[RunningScript]:
        """``revert_script`` on a worker thread: returns at once."""
        self._refuse_external("revert the script")
        return self._in_worker(lambda: self._revert(RELOAD_TIMEOUT))

    def _apply(self, text: str, timeout: float) -> RunningScript:
        working = self.working_script_path()
        defines = self.script_defines()
        found = check_script_text(text, str(working), defines=defines)
        if found:
            raise ScriptRefused(f"script not applied, the running one stays: {found[0]}", found)
        with self._admin:
            self._require_running()
            previous = _read_or_none(working)
            try:
                write_atomically(working, text)
            except OSError as exc:
                raise LabError(f"cannot write the working script {working}: {exc}") from exc
            try:
                message = self._reload(working, timeout)
            except LabError:
                _restore(working, previous)
                raise
            self.config = replace(self.config, script_path=working)
        self._emit(ComponentEvent(time.time(), PROXY, status="script", detail=message,
                                  extra={"path": str(working), "applied": True}))
        return RunningScript(text, working, True, defines, message)

    def _revert(self, timeout: float) -> RunningScript:
        with self._admin:
            self._require_running()
            path = self.start_script_path()
            text = _read(path)
            message = self._reload(path, timeout)
            self.config = replace(self.config, script_path=self._scripts.origin)
            with contextlib.suppress(OSError):
                self.working_script_path().unlink(missing_ok=True)
        self._emit(ComponentEvent(time.time(), PROXY, status="script", detail=message,
                                  extra={"path": str(path), "applied": False}))
        return RunningScript(text, path, False, self.script_defines(), message)

    def _reload(self, path: Path, timeout: float) -> str:
        """Have the proxy load ``path``: its message, or ScriptRefused with its diagnostic."""
        ack = self._command(PROXY, {"cmd": "reload", "path": str(path)}, timeout)
        message = str(ack.extra.get("message", ack.detail))
        if not ack.extra.get("reloaded"):
            error = ack.extra.get("error")
            found = (ScriptDiagnostic.from_dict(error),) if isinstance(error, dict) else ()
            raise ScriptRefused(message, found, PROXY)
        return message

    def _require_running(self) -> None:
        if self._state != "running":
            raise LabError(f"the lab is {self._state}: the script cannot change now")

    # ============================================================== workers

    def _in_worker(self, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        files = self._scripts

        def run() -> None:
            try:
                future.set_result(work())
            except Exception as exc:  # every failure goes to the future, never lost
                future.set_exception(exc)
            finally:
                with files.lock:
                    files.workers.discard(threading.current_thread())

        worker = threading.Thread(target=run, name="lab-script", daemon=True)
        with files.lock:
            files.workers.add(worker)
        worker.start()
        return future

    def _join_script_workers(self) -> None:
        """Wait for apply/revert workers (after ``stop()`` they fail fast: the lab is down)."""
        with self._scripts.lock:
            workers = list(self._scripts.workers)
        for worker in workers:
            worker.join(WORKER_JOIN)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a reader sees the old file or the new, never
    half of one: write a temporary file next to it, flush it to disk, rename it over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"cannot read the script {path}: {exc}") from exc


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _restore(path: Path, previous: str | None) -> None:
    """Put the working file back as it was (None: there was none)."""
    with contextlib.suppress(OSError):
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            write_atomically(path, previous)
