"""The proxy as a lab child (``labpbx lab-proxy …``): ``labpbx proxy`` plus a stdin channel.

``labpbx proxy`` is a foreground program for a terminal: it does not read stdin, has no "ready"
event and answers SIGHUP with a line of text. The supervisor needs three more things, which this
wrapper adds around the same ProxyService without touching the proxy package:

Rules of this module:
- stdout carries JSON events only: every proxy event (``--trace-sip`` adds the SIP messages) plus
  ComponentEvent "starting" (pid), "ready" (address; extra: timers, script, media server),
  "failed" (detail: why, e.g. a script error with its position), "stopping", "stopped".
  Human-readable lines (xlog, problems, the banner) go to stderr.
- stdin carries commands, one JSON object per line, read by a thread that never touches the
  proxy; it hands each command to the event loop (``call_soon_threadsafe``):
      {"cmd": "reload", "id": …}  load the script file again; ack extra: reloaded (bool), message,
                                  and when refused, error: the Diagnostic (line, column, message …)
      {"cmd": "reload", "path": p, "id": …}  load ``p``, which becomes the script file (what a
                                  later reload or SIGHUP reads) only if it loads
      {"cmd": "status", "id": …}  ack extra: address, timers, script
      {"cmd": "set_timers", "fr_timeout": s, "fr_inv_timeout": s, "id": …}  change the tm timers
                                  of the running proxy (either may be left out); ack extra: timers
      {"cmd": "quit"}             orderly stop
  Every command gets one ComponentEvent "ack" (or "error") carrying its id, like the phones.
- EOF on stdin means the supervisor is gone (or wants us gone): stop. This is the proxy's
  parent-death signal (see labpbx.lab.children for why no PR_SET_PDEATHSIG).
- SIGTERM / SIGINT stop, SIGHUP reloads (POSIX), as for ``labpbx proxy``.
- Exit codes: 0 after an orderly stop, 1 when the proxy could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from labpbx import argtypes
from labpbx.errors import ConfigError, LabPbxError, ScriptError
from labpbx.events import ComponentEvent, Event, ProblemEvent, SipMessageEvent
from labpbx.paths import db_path
from labpbx.proxy.service import ConsolePrinter, ProxyOptions, ProxyService
from labpbx.script.diagnostics import diagnostic_of

COMPONENT = "proxy"
MAX_PENDING_EVENTS = 20_000  # queued event lines (~6 MB) before SIP trace events are dropped




def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labpbx lab-proxy",
        description="The lab proxy as a supervised child: JSON events on stdout, JSON commands "
                    "on stdin (reload, status, set_timers, quit); EOF on stdin stops it.")
    parser.add_argument("--listen", type=argtypes.hostport, required=True, metavar="HOST:PORT")
    parser.add_argument("--media", type=argtypes.hostport, default=None, metavar="HOST:PORT")
    parser.add_argument("--mwi", type=argtypes.hostport, default=None, metavar="HOST:PORT")
    parser.add_argument("--fr-timeout", type=argtypes.positive_seconds, default=None)
    parser.add_argument("--fr-inv-timeout", type=argtypes.positive_seconds, default=None)
    parser.add_argument("--script", type=Path, default=None)
    parser.add_argument("--trace-sip", action="store_true")
    return parser


class _Out:
    """Writes events as JSON lines. The event loop only queues a line; a writer thread writes
    them to the pipe, so the proxy's SIP never waits for the supervisor to read: a window
    that holds the reading process's GIL for a moment made the old flush-per-event writer
    block the loop, and calls failed at 200 calls/s (bench/bench_window.py).

    Bounded: while ``max_pending`` lines wait, new SIP trace events (SipMessageEvent) are not
    queued but counted, and one ProblemEvent says how many were dropped; decisions, xlog lines,
    command acks and status events are always kept (they are few and the lab needs them)."""

    def __init__(self, stream: IO[str], max_pending: int = MAX_PENDING_EVENTS) -> None:
        self.stream = stream
        self.max_pending = max_pending
        self._lines: collections.deque[str] = collections.deque()
        self._dropped = 0
        self._closed = False
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._write_loop, name="proxy-events",
                                        daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        with self._ready:
            if isinstance(event, SipMessageEvent) and len(self._lines) >= self.max_pending:
                self._dropped += 1
                return
            self._lines.append(event.to_json() + "\n")
            if len(self._lines) == 1:
                self._ready.notify()

    def _write_loop(self) -> None:
        while True:
            with self._ready:
                while not self._lines and not self._closed:
                    self._ready.wait()
                if not self._lines:
                    return
                lines = list(self._lines)
                self._lines.clear()
                dropped, self._dropped = self._dropped, 0
            if dropped:
                lines.append(ProblemEvent(
                    time.time(), COMPONENT, "warning",
                    f"{dropped} SIP trace events were not reported: the lab read the proxy's "
                    "events more slowly than the proxy made them (routing was not affected)"
                ).to_json() + "\n")
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):  # the supervisor is gone: EOF on stdin stops us
                with self._ready:
                    self._closed = True
                    self._lines.clear()
                return

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the writer (before the process exits)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(timeout)


def _read_commands(loop: asyncio.AbstractEventLoop, handle: Any) -> None:
    """stdin reader thread: hand each parsed line to the loop; EOF → quit."""
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                command = json.loads(line)
            except ValueError:
                command = {"cmd": "?", "text": line}
            if not isinstance(command, dict):
                command = {"cmd": "?", "text": line}
            loop.call_soon_threadsafe(handle, command)
    except (OSError, ValueError):
        pass
    with contextlib.suppress(RuntimeError):  # the loop has already closed
        loop.call_soon_threadsafe(handle, {"cmd": "quit", "why": "stdin closed"})


async def serve(options: ProxyOptions, out: _Out) -> int:
    printer = ConsolePrinter(sys.stderr, None)

    def sink(event: Event) -> None:
        out(event)
        printer(event)  # xlog and problems, human-readable, on stderr

    try:
        service = ProxyService(options, sink, trace=True)
        await service.start()
    except LabPbxError as exc:
        detail = str(exc)
        if isinstance(exc, ScriptError) and exc.context:
            detail += "\n" + exc.context
        out(ComponentEvent(time.time(), COMPONENT, status="failed", detail=detail))
        print(f"labpbx lab-proxy: {detail}", file=sys.stderr)
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    why: list[str] = []
    listen = service.config.listen
    address = f"{listen[0]}:{listen[1]}"

    def timers() -> dict[str, Any]:
        config = service.config  # set_timers replaces it
        return {"fr_timeout": config.fr_timeout, "fr_inv_timeout": config.fr_inv_timeout,
                "script": str(service.script_path),
                "media": str(service.script.defines.get("MEDIA_SERVER", ""))}

    def reload(path: Path | None = None) -> tuple[bool, str]:
        before = service.script
        message = service.reload_script(path)
        return service.script is not before, message

    def ack(command: dict[str, Any], status: str, detail: str, extra: dict[str, Any]) -> None:
        head: dict[str, Any] = {"cmd": str(command.get("cmd"))}
        if "id" in command:
            head["id"] = command["id"]
        out(ComponentEvent(time.time(), COMPONENT, status=status, detail=detail,
                           address=address, extra={**head, **extra}))

    def handle(command: dict[str, Any]) -> None:
        name = command.get("cmd")
        if name == "quit":
            why.append(str(command.get("why", "quit command")))
            stop.set()
            if "id" in command:
                ack(command, "ack", "quit", {})
        elif name == "reload":
            path = command.get("path")
            ok, message = reload(Path(path) if isinstance(path, str) and path else None)
            printer.out.write(message + "\n")
            extra: dict[str, Any] = {"reloaded": ok, "message": message}
            if not ok and service.reload_error is not None:
                extra["error"] = diagnostic_of(service.reload_error).to_dict()
            ack(command, "ack", message, extra)
        elif name == "set_timers":
            try:
                message = service.set_timers(_seconds(command.get("fr_timeout")),
                                             _seconds(command.get("fr_inv_timeout")))
            except (ConfigError, TypeError, ValueError) as exc:
                ack(command, "error", f"timers not changed: {exc}", {})
            else:
                printer.out.write(message + "\n")
                ack(command, "ack", message, timers())
        elif name == "status":
            ack(command, "ack", "status", {"address": address, **timers()})
        else:
            ack(command, "error", f"unknown command {name!r}", {})

    def on_signal(name: str) -> None:
        why.append(name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig.name)
    with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
        loop.add_signal_handler(signal.SIGHUP, lambda: printer.out.write(reload()[1] + "\n"))
    threading.Thread(target=_read_commands, args=(loop, handle), name="proxy-stdin",
                     daemon=True).start()
    out(ComponentEvent(time.time(), COMPONENT, status="ready", address=address,
                       extra={"pid": os.getpid(), **timers()}))
    print(f"LabPBX proxy listening on udp:{address} — script {service.script_path}, "
          f"fr_timeout={service.config.fr_timeout:g}s, fr_inv_timeout={service.config.fr_inv_timeout:g}s",
          file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        out(ComponentEvent(time.time(), COMPONENT, status="stopping",
                           detail=why[0] if why else "", address=address))
        service.stop()
        out(ComponentEvent(time.time(), COMPONENT, status="stopped", address=address))
    return 0


def main(argv: Sequence[str], data_dir: Path) -> int:
    """Run until quit / EOF / SIGTERM / SIGINT. Returns the exit code."""
    args = build_parser().parse_args(argv)
    out = _Out(sys.stdout)
    try:
        return _run(args, data_dir, out)
    finally:
        out.close()


def _run(args: argparse.Namespace, data_dir: Path, out: _Out) -> int:
    out(ComponentEvent(time.time(), COMPONENT, status="starting", extra={"pid": os.getpid()}))
    options = ProxyOptions(listen=args.listen, media=args.media, mwi=args.mwi,
                           fr_timeout=args.fr_timeout,
                           fr_inv_timeout=args.fr_inv_timeout, script_path=args.script,
                           db_path=db_path(data_dir), trace_sip=args.trace_sip)
    try:
        import uvloop  # the proxy's event loop of choice where it exists (labpbx.proxy.service)
    except ImportError:
        return asyncio.run(serve(options, out))
    return uvloop.run(serve(options, out))


def _seconds(value: Any) -> float | None:
    """A timer value from a JSON command: a number, or None when left out."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a timer must be a number of seconds, not {value!r}")
    return float(value)
