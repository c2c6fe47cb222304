"""Run the proxy: load the script, open the store, bind UDP, print xlog lines, stop on a signal.

This is the only proxy module that does I/O. ``ProxyService`` can be used from a test (start/stop in
an event loop) or through ``labpbx proxy`` (``run_proxy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from labpbx.errors import ConfigError, LabPbxError, StoreError
from labpbx.events import Event, ProblemEvent, XlogEvent
from labpbx.paths import asset_path
from labpbx.proxy.collector import CollectorPolicy, IdleCollector
from labpbx.proxy.config import ProxyConfig, parse_hostport
from labpbx.proxy.engine import Proxy
from labpbx.proxy.forwarding import resolve_host
from labpbx.proxy.overload import OverloadConfig
from labpbx.proxy.registrar import Binding
from labpbx.script.loader import Script, load_script
from labpbx.store.db import LabStore
from labpbx.store.records import LocationRow
from labpbx.transport.udp import UdpEndpoint, open_udp

DEFAULT_SCRIPT = "scripts/default.cfg"
Addr = tuple[str, int]


@dataclass
class ProxyOptions:
    listen: tuple[str, int] | None = None  # None: the script's listen=, else 127.0.0.1:5060
    media: tuple[str, int] | None = None
    mwi: tuple[str, int] | None = None  # the voicemail box's subscription server (MWI_SERVER)
    fr_timeout: float | None = None
    fr_inv_timeout: float | None = None
    script_path: Path | None = None
    db_path: Path | None = None
    defines: dict[str, str] = field(default_factory=dict)
    trace_sip: bool = False
    allow_non_loopback: bool = False
    # process-wide garbage-collector policy for low tail latency (labpbx.proxy.collector)
    tune_gc: bool = True
    overload: OverloadConfig | None = None  # None: the defaults of labpbx.proxy.overload


def load_proxy_script(options: ProxyOptions) -> tuple[Script, Path]:
    path = options.script_path or asset_path(DEFAULT_SCRIPT)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabPbxError(f"cannot read script {path}: {exc.strerror or exc}") from exc
    defines = dict(options.defines)
    if options.media is not None:
        defines["MEDIA_SERVER"] = f'"sip:{options.media[0]}:{options.media[1]}"'
    if options.mwi is not None:
        defines["MWI_SERVER"] = f'"sip:{options.mwi[0]}:{options.mwi[1]}"'
    return load_script(text, str(path), defines=defines), path


def build_config(options: ProxyOptions, script: Script) -> ProxyConfig:
    listen = options.listen
    script_listen = script.globals.get("listen")
    if listen is None:
        # like OpenSIPS: the script's listen= unless the command line says otherwise
        listen = parse_hostport(str(script_listen)) if script_listen else ("127.0.0.1", 5060)
    aliases: list[Addr] = []
    alias_names: list[tuple[str, int | None]] = []
    alias = script.globals.get("alias")
    if isinstance(alias, str) and alias:
        text = alias[4:] if alias.lower().startswith(("udp:", "tcp:")) else alias
        host, _, port_text = text.partition(":")
        port = int(port_text) if port_text.isdigit() else None
        if resolve_host(host) is not None:
            aliases.append((resolve_host(host) or host, port or 5060))
        else:
            alias_names.append((host.lower(), port))
    config = ProxyConfig(listen=listen, aliases=tuple(aliases), alias_names=tuple(alias_names),
                         allow_non_loopback=options.allow_non_loopback)
    config = config.with_modparams(script.modparams)
    log_level = script.globals.get("log_level")
    if isinstance(log_level, int):
        config = replace(config, log_level=log_level)
    if options.fr_timeout is not None:
        config = replace(config, fr_timeout=options.fr_timeout)
    if options.fr_inv_timeout is not None:
        config = replace(config, fr_inv_timeout=options.fr_inv_timeout)
    if options.overload is not None:
        config = replace(config, overload=options.overload)
    return config


class ProxyService:
    """The proxy engine bound to a UDP socket in the running asyncio loop."""

    def __init__(self, options: ProxyOptions, sink: Callable[[Event], None] | None, *,
                 trace: bool = True) -> None:
        self.options = options
        self.sink = sink
        self.script, self.script_path = load_proxy_script(options)
        self.reload_error: LabPbxError | None = None  # why the last reload_script refused
        self.config = build_config(options, self.script)
        self.store = LabStore(options.db_path) if options.db_path is not None else None
        if self.store is not None:
            self.store.check()
        self.engine = Proxy(self.config, self.script, preferences=self.store, sink=sink,
                            trace_sip=options.trace_sip, trace_decisions=trace,
                            location_listener=self._persist_location if self.store else None)
        self.endpoint: UdpEndpoint | None = None
        self._collector_policy = CollectorPolicy()
        self._idle_collector = IdleCollector()
        self._gc_timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        if self.store is not None:
            with contextlib.suppress(StoreError):
                self.store.location_clear()  # bindings of an earlier run are stale (usrloc db_mode 0)
        self.endpoint = await open_udp(self.engine, self.config.listen, self._internal_error)
        if self.options.tune_gc:
            self._collector_policy.apply()
            self._gc_timer = asyncio.get_running_loop().call_later(
                self._idle_collector.idle_seconds, self._gc_tick)

    def _gc_tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._idle_collector.due(now, self.engine.stats["received"]):
            self._collector_policy.full_collection()
            self._idle_collector.collected(loop.time())
        self._gc_timer = loop.call_later(self._idle_collector.idle_seconds, self._gc_tick)

    def _internal_error(self, where: str, exc: Exception) -> None:
        detail = "".join(traceback.format_exception(exc))
        self.engine.problem("error", f"internal error while handling a {where} event: {exc!r}", detail)

    def stop(self) -> None:
        if self._gc_timer is not None:
            self._gc_timer.cancel()
            self._gc_timer = None
        self._collector_policy.restore()
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None

    def reload_script(self, path: Path | None = None) -> str:
        """Load the script file again (or ``path``, which then becomes the script file); on
        error keep the running script and its file, say why and keep the error in
        ``reload_error``. Only the routes change: modparams and globals (timers, listen) stay
        as they were at start (restart the proxy for those). Transactions in flight keep
        going; a route they armed (t_on_failure …) is looked up by name in the new script when
        it fires, and one the new script lacks is reported as a script error."""
        options = self.options if path is None else replace(self.options, script_path=path)
        try:
            script, loaded = load_proxy_script(options)
        except LabPbxError as exc:
            self.reload_error = exc
            return f"script not reloaded, the running one stays: {exc}"
        self.reload_error = None
        self.options, self.script_path = options, loaded
        self.script = script
        self.engine.script = script
        return f"script reloaded from {self.script_path}"

    def set_timers(self, fr_timeout: float | None = None, fr_inv_timeout: float | None = None) -> str:
        """Change the tm timers while running (None = keep). Calls in progress go on: the new
        values apply to every timer armed from now on (a new branch, the next provisional's
        restart), as a per-transaction ``$T_fr_inv_timeout`` still overrides them."""
        for name, value in (("fr_timeout", fr_timeout), ("fr_inv_timeout", fr_inv_timeout)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be more than 0 seconds, not {value!r}")
        self.config = replace(
            self.config,
            fr_timeout=self.config.fr_timeout if fr_timeout is None else fr_timeout,
            fr_inv_timeout=self.config.fr_inv_timeout if fr_inv_timeout is None else fr_inv_timeout)
        self.engine.config = self.config
        return (f"timers set: fr_timeout={self.config.fr_timeout:g}s, "
                f"fr_inv_timeout={self.config.fr_inv_timeout:g}s")

    def _persist_location(self, aor: str, bindings: list[Binding]) -> None:
        assert self.store is not None
        offset = time.time() - time.monotonic()  # engine time is time.monotonic() (transport.udp)
        username, _, domain = aor.partition("@")
        domain = domain or self.config.listen[0]
        rows = [LocationRow(username=username, domain=domain, contact=b.contact,
                            received=f"sip:{b.received[0]}:{b.received[1]}",
                            expires_at=b.expires_at + offset, q=b.q, callid=b.call_id,
                            cseq=b.cseq, user_agent=b.user_agent,
                            socket=f"udp:{self.config.listen[0]}:{self.config.listen[1]}")
                for b in bindings]
        try:
            self.store.location_save(username, domain, rows)
        except (StoreError, ValueError) as exc:
            self.engine.problem("warning", f"location not saved to the lab database: {exc}")


class ConsolePrinter:
    """Prints xlog lines as OpenSIPS 2.x does on stderr (``Mon dd hh:mm:ss [pid] text``) and,
    optionally, every event as a JSON line.

    OpenSIPS' xlog adds no newline (SEMANTICS.md §0.6): a script text without one would run into
    the next line, so the console ends such a line itself; the JSON event keeps the exact text.

    ``buffered``: inside a running event loop, lines are collected and written with one write and
    one flush per loop iteration (``call_soon``) instead of a write and a flush system call each,
    so a busy proxy does not make one blocking stdout write per call (``labpbx proxy`` uses it; the
    owner must call ``flush()`` before the loop ends). Outside a loop every line is written at once.
    """

    def __init__(self, out: IO[str], events_out: IO[str] | None, pid: int | None = None, *,
                 buffered: bool = False) -> None:
        self.out = out
        self.events_out = events_out
        self.pid = pid or os.getpid()
        self.buffered = buffered
        self._pending_out: list[str] = []
        self._pending_events: list[str] = []
        self._flush_scheduled = False

    def __call__(self, event: Event) -> None:
        if self.events_out is not None:
            self._emit(self._pending_events, event.to_json() + "\n")
        if isinstance(event, XlogEvent):
            stamp = time.strftime("%b %d %H:%M:%S", time.localtime(event.time))
            text = event.text if event.text.endswith("\n") else event.text + "\n"
            self._emit(self._pending_out, f"{stamp} [{self.pid}] {text}")
        elif isinstance(event, ProblemEvent):
            stamp = time.strftime("%b %d %H:%M:%S", time.localtime(event.time))
            tag = "ERROR" if event.severity == "error" else "WARNING"
            self._emit(self._pending_out, f"{stamp} [{self.pid}] {tag}:labpbx: {event.message}\n")

    def _emit(self, pending: list[str], line: str) -> None:
        pending.append(line)
        if self._flush_scheduled:
            return
        if self.buffered:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:
                self._flush_scheduled = True
                loop.call_soon(self.flush)
                return
        self.flush()

    def flush(self) -> None:
        """Write out every collected line."""
        self._flush_scheduled = False
        for pending, stream in ((self._pending_events, self.events_out),
                                (self._pending_out, self.out)):
            if pending and stream is not None:
                text = "".join(pending)
                pending.clear()
                stream.write(text)
                stream.flush()


async def serve(options: ProxyOptions, printer: ConsolePrinter,
                ready: Callable[[ProxyService], None] | None = None) -> int:
    service = ProxyService(options, printer, trace=printer.events_out is not None)
    await service.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    def reload() -> None:
        printer.flush()
        printer.out.write(service.reload_script() + "\n")
        printer.out.flush()

    with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
        loop.add_signal_handler(signal.SIGHUP, reload)
    if ready is not None:
        ready(service)
    try:
        await stop.wait()
    finally:
        service.stop()
        printer.flush()
    return 0


def _run(main: Coroutine[Any, Any, int]) -> int:
    """uvloop when installed (Linux/macOS): it halves the event loop's share of each datagram."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run_proxy(options: ProxyOptions, *, events_path: str | None = None) -> int:
    """``labpbx proxy``: foreground until SIGINT/SIGTERM. Returns the exit code."""
    events_out: IO[str] | None = None
    out: IO[str] = sys.stdout
    if events_path == "-":
        events_out, out = sys.stdout, sys.stderr
    elif events_path:
        events_out = open(events_path, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    printer = ConsolePrinter(out, events_out, buffered=True)

    def announce(service: ProxyService) -> None:
        c = service.config
        media = service.script.defines.get("MEDIA_SERVER", "(not defined)")
        out.write(f"LabPBX proxy listening on udp:{c.listen[0]}:{c.listen[1]} — script "
                  f"{service.script_path}, fr_timeout={c.fr_timeout:g}s, "
                  f"fr_inv_timeout={c.fr_inv_timeout:g}s, media server {media}\n")
        out.flush()

    try:
        return _run(serve(options, printer, announce))
    finally:
        if events_out is not None and events_out is not sys.stdout:
            events_out.close()
