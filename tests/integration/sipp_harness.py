"""Small, typed helpers to drive SIPp (3.6.x) from the LabPBX integration tests.

Everything here talks to 127.0.0.1 only.  Every sipp process is started in
its own session (own process group), with stdin on /dev/null, and is stopped
by PID (SIGTERM, then SIGKILL) and reaped by :meth:`Sipp.stop`; the context
manager form guarantees that.

Scenario files live in ``tests/sipp`` (see :func:`scenario_path`).  They write
one line per interesting event with ``<log>`` actions; with ``-trace_logs``
sipp writes them to ``<workdir>/<name>_logs.log`` as they happen (readable
while sipp runs):

    RURI <user> <request-uri> <call-id>    UAS: an INVITE arrived
    CANCEL <user> <call-id>                 UAS: a CANCEL arrived
    BYE <call-id>                           UAS: a BYE arrived
    SILENT_TIMEOUT <call-id>                uas_silent: gave up waiting
    RESPONSE <code> <call-id>               UAC: a 1xx to the INVITE
    FINAL <code> <call-id>                  UAC: the final response to the INVITE
    CANCEL_OK <call-id>                     UAC: the 200 to its CANCEL
    BYE_OK <call-id>                        UAC: the 200 to its BYE

sipp exit codes (``sipp -h`` and observed with 3.6.1):

    0    all calls successful (also: stopped by SIGTERM/SIGINT/SIGUSR1 while
         no call had failed, even with zero calls processed)
    1    at least one call failed
    97   exit on internal command, e.g. ``-timeout`` reached *without*
         ``-timeout_error``
    99   normal exit without calls processed (documented; not seen in practice:
         an idle server stopped by a signal exits 0)
    255  fatal error (``-1``): bad scenario/option, or ``-timeout`` reached
         with ``-timeout_error``
    254  fatal error binding a socket (``-2``)
    <0   (Popen) killed by that signal, e.g. -9 after the SIGKILL fallback
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"
SIPP_DIR = Path(__file__).resolve().parent.parent / "sipp"

# Exit codes, see the module docstring.
EXIT_OK = 0
EXIT_CALLS_FAILED = 1
EXIT_INTERNAL_COMMAND = 97
EXIT_NO_CALLS = 99
EXIT_FATAL = 255
EXIT_BIND_ERROR = 254


class SippError(RuntimeError):
    """sipp could not be started, or misbehaved in a way the harness noticed."""


class RegistrationError(RuntimeError):
    """The registrar did not answer a REGISTER with 200 in time."""


# --------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------


def sipp_binary() -> str | None:
    """Path of the sipp executable, or None if it is not installed."""
    return shutil.which("sipp")


def scenario_path(name: str) -> Path:
    """Absolute path of a scenario in tests/sipp (``"uac_call"`` or ``"uac_call.xml"``)."""
    file_name = name if name.endswith(".xml") else f"{name}.xml"
    path = SIPP_DIR / file_name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is truthy or ``timeout`` seconds have passed.

    Returns True if the predicate became truthy, False on timeout.  The
    predicate is always evaluated at least once, and once more at the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bool(predicate())
        time.sleep(min(interval, remaining))


_reserved_ports: set[int] = set()
_reserved_lock = threading.Lock()


def free_udp_port(host: str = LOOPBACK) -> int:
    """A UDP port on ``host`` that is free right now.

    The kernel picks it (bind to port 0); the socket is then closed, so the
    port is only *probably* still free when the caller binds it.  To make two
    calls in the same test process never hand out the same port, every port
    returned is remembered and never returned again (ports come from the
    ephemeral range, which is large enough for a test session).
    """
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        with _reserved_lock:
            if port in _reserved_ports:
                continue
            _reserved_ports.add(port)
        return port
    raise OSError("could not find a free UDP port")


def free_udp_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct free UDP ports (see :func:`free_udp_port`)."""
    return [free_udp_port(host) for _ in range(count)]


def udp_port_bound(port: int, host: str = LOOPBACK) -> bool:
    """True if some socket is bound to UDP ``host:port`` (or to the wildcard).

    Reads /proc/net/udp so that checking never races with the process that is
    about to bind the port.  Falls back to a bind probe if /proc is missing.
    """
    proc = Path("/proc/net/udp")
    if proc.exists():
        wanted_port = f"{port:04X}"
        wanted_hosts = {_proc_ipv4(host), "00000000"}
        for line in proc.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) < 2:
                continue
            addr, _, hex_port = fields[1].partition(":")
            if hex_port == wanted_port and addr in wanted_hosts:
                return True
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _proc_ipv4(host: str) -> str:
    """127.0.0.1 -> '0100007F' (the little-endian hex form used by /proc/net/udp)."""
    return socket.inet_aton(host)[::-1].hex().upper()


# --------------------------------------------------------------------------
# sipp process wrapper
# --------------------------------------------------------------------------

_RURI_RE = re.compile(r"^RURI (\S*) (\S+)(?: (\S+))?$")
_CODE_RE = re.compile(r"^(RESPONSE|FINAL) (\d{3})(?: (\S+))?$")
_CANCEL_RE = re.compile(r"^CANCEL (\S*)(?: (\S+))?$")
_MSG_SEP_RE = re.compile(r"^-{20,} ", re.MULTILINE)
_name_counter = itertools.count(1)


@dataclass(frozen=True)
class RuriEntry:
    """One ``RURI`` log line: an INVITE received by a UAS scenario."""

    user: str
    uri: str
    call_id: str


@dataclass(frozen=True)
class TracedMessage:
    """One SIP message from the ``-trace_msg`` file (CRLF line ends, no trailing CRLF)."""

    direction: str  # "sent" or "received"
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\r\n", 1)[0]

    def headers(self, name: str) -> list[str]:
        """Values of every ``name`` header line (case-insensitive, long form only)."""
        head = self.text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
        prefix = name.lower() + ":"
        return [h[len(prefix) :].strip() for h in head if h.lower().startswith(prefix)]


class Sipp:
    """One sipp process running one scenario from tests/sipp.

    ``remote_port`` set: sipp is a client and sends its first message to
    127.0.0.1:remote_port.  ``remote_port`` None: sipp is a server and waits.

    Files written to ``workdir`` (prefix = ``name``):
    ``<name>_logs.log`` (``<log>`` actions), ``<name>_messages.log``
    (``-trace_msg``), ``<name>_errors.log`` (``-trace_err``),
    ``<name>_screen.log`` (final statistics screen), ``<name>_stat.csv``
    (``-trace_stat``, if asked), ``<name>.stdout``/``<name>.stderr``.

    Safety nets so that sipp can never hang forever: ``-timeout`` (overall,
    whole seconds, rounded up: sipp 3.6.1 truncates sub-second values and
    treats 0 as "no timeout") and ``-recv_timeout`` (per expected message).
    With ``timeout_error`` the global timeout makes sipp exit 255 instead of 97.
    Keep ``recv_timeout_ms`` above the proxy's no-answer timer for scenarios
    that wait through it (uac_call on a no-answer forward, uas_ring, uas_silent).

    Options map to sipp flags: ``calls`` -m (None: run until stopped),
    ``rate`` -r, ``rate_period_ms`` -rp, ``max_concurrent`` -l, ``service``
    -s (Request-URI user of the uac_* scenarios), ``keys`` -key k v (e.g.
    ``{"caller": "1000"}``), ``sets`` -set v x, ``duration_ms`` -d (the
    scenarios' <pause/>: hold time, ring time, time before CANCEL).
    Always added: -i/-mi 127.0.0.1 -bind_local, -p local_port, control
    socket -ci 127.0.0.1 -cp <free port> (sipp's default is 0.0.0.0:8888),
    -nostdin, and the trace files above.
    """

    def __init__(
        self,
        scenario: str | Path,
        *,
        workdir: Path,
        local_port: int | None = None,
        remote_port: int | None = None,
        name: str | None = None,
        calls: int | None = 1,
        rate: float | None = None,
        rate_period_ms: int | None = None,
        max_concurrent: int | None = None,
        service: str | None = None,
        keys: Mapping[str, str | int] | None = None,
        sets: Mapping[str, str | int] | None = None,
        duration_ms: int | None = None,
        timeout: float = 15.0,
        timeout_error: bool = True,
        recv_timeout_ms: int | None = 8000,
        trace_msg: bool = True,
        trace_stat: bool = False,
        extra_args: Sequence[str] = (),
        binary: str | None = None,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Path) else scenario_path(scenario)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name or f"{self.scenario.stem}_{next(_name_counter)}"
        self.local_port = local_port if local_port is not None else free_udp_port()
        self.remote_port = remote_port
        self.control_port = free_udp_port()
        self.timeout = timeout
        binary = binary or sipp_binary()
        if binary is None:
            raise SippError("sipp is not installed")

        self.log_file = self.workdir / f"{self.name}_logs.log"
        self.message_file = self.workdir / f"{self.name}_messages.log"
        self.error_file = self.workdir / f"{self.name}_errors.log"
        self.screen_file = self.workdir / f"{self.name}_screen.log"
        self.stat_file = self.workdir / f"{self.name}_stat.csv"
        self.stdout_file = self.workdir / f"{self.name}.stdout"
        self.stderr_file = self.workdir / f"{self.name}.stderr"

        args: list[str] = [binary]
        if remote_port is not None:
            args.append(f"{LOOPBACK}:{remote_port}")
        args += ["-sf", str(self.scenario)]
        args += ["-i", LOOPBACK, "-mi", LOOPBACK, "-bind_local", "-t", "u1"]
        args += ["-p", str(self.local_port)]
        args += ["-ci", LOOPBACK, "-cp", str(self.control_port)]
        args += ["-nostdin"]
        if calls is not None:
            args += ["-m", str(calls)]
        if rate is not None:
            args += ["-r", _num(rate)]
        if rate_period_ms is not None:
            args += ["-rp", f"{rate_period_ms}ms"]
        if max_concurrent is not None:
            args += ["-l", str(max_concurrent)]
        if service is not None:
            args += ["-s", service]
        for key, value in (keys or {}).items():
            args += ["-key", key, str(value)]
        for var, value in (sets or {}).items():
            args += ["-set", var, str(value)]
        if duration_ms is not None:
            args += ["-d", f"{duration_ms}ms"]
        if timeout > 0:
            args += ["-timeout", f"{max(1, math.ceil(timeout))}s"]
            if timeout_error:
                args.append("-timeout_error")
        if recv_timeout_ms is not None:
            args += ["-recv_timeout", f"{recv_timeout_ms}ms"]
        args += ["-trace_logs", "-log_file", str(self.log_file)]
        args += ["-trace_err", "-error_file", str(self.error_file)]
        args += ["-trace_screen", "-screen_file", str(self.screen_file)]
        if trace_msg:
            args += ["-trace_msg", "-message_file", str(self.message_file)]
        if trace_stat:
            args += ["-trace_stat", "-stf", str(self.stat_file)]
        args += list(extra_args)
        self.args: list[str] = args
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self, wait_ready: bool = True, ready_timeout: float = 3.0) -> Self:
        """Start sipp.  With ``wait_ready`` wait until its SIP port is bound."""
        if self._proc is not None:
            raise SippError(f"{self.name} already started")
        with open(self.stdout_file, "wb") as out, open(self.stderr_file, "wb") as err:
            self._proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,
                start_new_session=True,
            )
        if wait_ready and not self.wait_ready(ready_timeout):
            self.stop()
            raise SippError(f"{self.name}: sipp did not bind port {self.local_port}: {self.describe()}")
        return self

    def wait_ready(self, timeout: float = 3.0) -> bool:
        """Wait until the SIP port is bound; False if sipp exited or time ran out."""
        wait_until(lambda: not self.running or udp_port_bound(self.local_port), timeout)
        return self.running and udp_port_bound(self.local_port)

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise SippError(f"{self.name} not started")
        return self._proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for sipp to exit and return its exit code.

        Raises ``subprocess.TimeoutExpired`` if it is still running after
        ``timeout`` seconds (default: the sipp ``-timeout`` plus 5 s).
        """
        if timeout is None:
            timeout = self.timeout + 5.0
        return self.proc.wait(timeout=timeout)

    def soft_stop(self) -> None:
        """SIGUSR1: no new calls, exit when the running calls are finished."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGUSR1)

    def stop(self, grace: float = 2.0) -> int | None:
        """Stop sipp by PID: SIGTERM, then SIGKILL after ``grace`` s; always reaps.

        Returns the exit code (None if never started).  sipp 3.6.1 exits
        promptly on SIGTERM and flushes its trace files.
        """
        if self._proc is None:
            return None
        proc = self._proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace)
        return proc.returncode

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- results -----------------------------------------------------------

    def log_lines(self) -> list[str]:
        """Lines written by the scenario's ``<log>`` actions, in order."""
        return _read_lines(self.log_file)

    def wait_for_log(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until ``predicate(self.log_lines())`` is true."""
        return wait_until(lambda: predicate(self.log_lines()), timeout)

    def events(self, kind: str) -> list[list[str]]:
        """Fields after the tag of every log line tagged ``kind`` (e.g. ``"BYE"``)."""
        return [line.split()[1:] for line in self.log_lines() if line.split()[0] == kind]

    def ruri_entries(self) -> list[RuriEntry]:
        """Every INVITE a UAS scenario received (``RURI`` log lines)."""
        out: list[RuriEntry] = []
        for line in self.log_lines():
            m = _RURI_RE.match(line)
            if m:
                out.append(RuriEntry(m.group(1), m.group(2), m.group(3) or ""))
        return out

    def ruris(self) -> list[str]:
        """Request-URI *users* of the INVITEs received (e.g. ``["b1001"]``)."""
        return [entry.user for entry in self.ruri_entries()]

    def final_codes(self) -> list[int]:
        """Final INVITE response codes a UAC scenario received (``FINAL`` lines)."""
        return self._codes("FINAL")

    def provisional_codes(self) -> list[int]:
        """1xx codes a UAC scenario received (``RESPONSE`` lines)."""
        return self._codes("RESPONSE")

    def cancels(self) -> list[str]:
        """Request-URI users of the CANCELs a UAS scenario received."""
        out = []
        for line in self.log_lines():
            m = _CANCEL_RE.match(line)
            if m:
                out.append(m.group(1))
        return out

    def _codes(self, kind: str) -> list[int]:
        out = []
        for line in self.log_lines():
            m = _CODE_RE.match(line)
            if m and m.group(1) == kind:
                out.append(int(m.group(2)))
        return out

    def messages(self) -> list[TracedMessage]:
        """SIP messages sent/received, parsed from the ``-trace_msg`` file."""
        raw = _read_text(self.message_file)
        out: list[TracedMessage] = []
        for block in _MSG_SEP_RE.split(raw)[1:]:
            header, _, body = block.partition("\n\n")
            lines = body.replace("\r\n", "\n").rstrip("\n").split("\n")
            if lines and lines[0]:
                direction = "sent" if " sent " in header else "received"
                out.append(TracedMessage(direction, "\r\n".join(lines)))
        return out

    def errors(self) -> str:
        """Contents of the ``-trace_err`` file ('' if none)."""
        return _read_text(self.error_file)

    def stat_rows(self) -> list[dict[str, str]]:
        """Rows of the ``-trace_stat`` CSV (``;`` separated) as dicts."""
        lines = _read_lines(self.stat_file)
        if len(lines) < 2:
            return []
        header = lines[0].split(";")
        return [dict(zip(header, row.split(";"), strict=False)) for row in lines[1:]]

    def describe(self) -> str:
        """Human readable summary for assertion messages."""
        parts = [
            f"sipp {self.name} rc={self.returncode}",
            "cmd: " + " ".join(self.args),
            "stderr: " + _read_text(self.stderr_file)[-2000:],
            "errors: " + self.errors()[-2000:],
            "log: " + "\n".join(self.log_lines()[-40:]),
        ]
        return "\n".join(parts)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _read_lines(path: Path) -> list[str]:
    return [line.rstrip("\r") for line in _read_text(path).splitlines() if line.strip()]


@contextlib.contextmanager
def started(*procs: Sipp) -> Iterator[tuple[Sipp, ...]]:
    """Start several sipp processes in order; stop all of them on exit."""
    started: list[Sipp] = []
    try:
        for proc in procs:
            proc.start()
            started.append(proc)
        yield procs
    finally:
        for proc in reversed(started):
            proc.stop()


# --------------------------------------------------------------------------
# REGISTER from Python
# --------------------------------------------------------------------------

_STATUS_RE = re.compile(r"^SIP/2\.0 (\d{3})")


def build_register(
    *,
    registrar_port: int,
    user: str,
    contact_port: int,
    expires: int,
    local_port: int,
    call_id: str,
    branch: str,
    cseq: int = 1,
    from_tag: str = "labpbxreg",
) -> bytes:
    """A REGISTER for sip:user@127.0.0.1 with Contact <sip:user@127.0.0.1:contact_port>."""
    lines = [
        f"REGISTER sip:{LOOPBACK}:{registrar_port} SIP/2.0",
        f"Via: SIP/2.0/UDP {LOOPBACK}:{local_port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:{user}@{LOOPBACK}>;tag={from_tag}",
        f"To: <sip:{user}@{LOOPBACK}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:{user}@{LOOPBACK}:{contact_port}>",
        f"Expires: {expires}",
        "User-Agent: LabPBX-test-harness",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def register_contact(
    proxy_port: int,
    user: str,
    contact_port: int,
    expires: int = 3600,
    timeout: float = 3.0,
) -> None:
    """REGISTER ``user`` at the proxy on 127.0.0.1:proxy_port and wait for the 200.

    Sent from a fresh UDP socket bound to 127.0.0.1; retransmitted like a
    non-INVITE client transaction (T1 = 500 ms, doubling, capped at 4 s) until
    ``timeout``.  1xx responses are skipped; any other final response, or
    none in time, raises :class:`RegistrationError`.
    """
    call_id = f"{uuid.uuid4().hex}@{LOOPBACK}"
    branch = f"z9hG4bK{uuid.uuid4().hex[:16]}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        local_port = int(sock.getsockname()[1])
        request = build_register(
            registrar_port=proxy_port,
            user=user,
            contact_port=contact_port,
            expires=expires,
            local_port=local_port,
            call_id=call_id,
            branch=branch,
        )
        deadline = time.monotonic() + timeout
        interval = 0.5
        next_send = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise RegistrationError(f"no final response to REGISTER {user} from 127.0.0.1:{proxy_port}")
            if now >= next_send:
                sock.sendto(request, (LOOPBACK, proxy_port))
                next_send = now + interval
                interval = min(interval * 2, 4.0)
            sock.settimeout(max(0.001, min(next_send, deadline) - now))
            try:
                data, _addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            text = data.decode("utf-8", "replace")
            m = _STATUS_RE.match(text)
            if not m or call_id not in text or branch not in text:
                continue  # not a response to this REGISTER
            code = int(m.group(1))
            if code < 200:
                continue
            if code == 200:
                return
            status_line = text.split("\r\n", 1)[0]
            raise RegistrationError(f"REGISTER {user}: {status_line}")
