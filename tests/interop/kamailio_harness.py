"""Kamailio 5.6 in front of LabPBX's user agents, all real processes on 127.0.0.1.

What runs (per test, in tmp_path):
  * ``kamailio -DD -E`` with tests/data/kamailio_tutorial.cfg on a free UDP port, in its own
    session (process group = its PID; it forks its UDP receivers and timers into that group);
    stderr (its log, xlog lines included) is read by a thread; ``sipdump`` writes every SIP
    message it receives or sends to text files in workdir/kamailio-sipdump (the tests read them).
  * ``labpbx voicemail`` (the media server) on another free port, indexing messages in the data
    dir's TinyDB, sending its message-waiting NOTIFYs through Kamailio;
  * ``labpbx phone`` processes (two extensions each at most) registered with Kamailio.

The LabPBX children are labpbx.lab.children.ChildProcess (own session, JSON event reader, stop by
EOF → SIGTERM → SIGKILL to its own group). Every wait polls a condition against a deadline.
``InteropStack.stop()`` stops the user agents (they un-REGISTER while Kamailio still runs), then
Kamailio, and checks that no process of any of those groups is left and the SIP ports are free.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    Event,
    RegistrationEvent,
    VoicemailEvent,
)
from labpbx.lab.children import ChildProcess, labpbx_command

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "data" / "kamailio_tutorial.cfg"
VOICEMAIL_NUMBER = "2345678"
DEBIAN_KAMAILIO = Path("/usr/sbin/kamailio")  # Debian's place; /usr/sbin is not on every PATH


class PortInUse(AssertionError):
    """A port picked as free was taken by someone else before our process could bind it."""


def kamailio_binary() -> str | None:
    """The kamailio executable: on PATH, else Debian's /usr/sbin/kamailio; None when missing."""
    found = shutil.which("kamailio")
    if found is None and DEBIAN_KAMAILIO.is_file() and os.access(DEBIAN_KAMAILIO, os.X_OK):
        found = str(DEBIAN_KAMAILIO)
    return found


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def udp_port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


# --- processes ----------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0], pgid is [2])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, waiting to be reaped) counts as gone."""
    stat = _stat_fields(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid`` (zombies excluded)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat_fields(int(entry.name))
            if stat is not None and int(stat[2]) == pgid and stat[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def _inet_sockets() -> dict[str, tuple[str, str, int]]:
    """inode → (proto, local IP, local port) of every IPv4/IPv6 UDP and TCP socket."""
    table: dict[str, tuple[str, str, int]] = {}
    for proto in ("udp", "udp6", "tcp", "tcp6", "raw", "raw6"):
        try:
            lines = Path(f"/proc/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, port = fields[1].partition(":")
            if len(address) == 8:  # IPv4, host byte order (little endian here)
                ip = socket.inet_ntoa(struct.pack("<I", int(address, 16)))
            else:
                ip = socket.inet_ntop(socket.AF_INET6, b"".join(
                    struct.pack("<I", int(address[i:i + 8], 16)) for i in range(0, 32, 8)))
            table[fields[9]] = (proto, ip, int(port, 16))
    return table


def inet_sockets_of(pids: Iterable[int]) -> set[tuple[str, str, int]]:
    """The network sockets (proto, local IP, port) the processes ``pids`` hold open."""
    table = _inet_sockets()
    found: set[tuple[str, str, int]] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in table:
                        found.add(table[target[8:-1]])
    return found


def process_group(pid: int) -> int | None:
    stat = _stat_fields(pid)
    return int(stat[2]) if stat is not None else None


def udp_port_holders(port: int) -> set[int]:
    """PIDs of the processes holding a UDP socket bound to ``port`` (any address)."""
    inodes = {inode for inode, (proto, _ip, bound) in _inet_sockets().items()
              if proto.startswith("udp") and bound == port}
    holders: set[int] = set()
    if not inodes:
        return holders
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        holders.add(int(entry.name))
    return holders


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; AssertionError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def assert_groups_gone(pgids: Iterable[int], timeout: float = 10.0) -> None:
    """Every process of every group (the leaders included) has ended within ``timeout``."""
    groups = list(pgids)

    def left() -> list[int]:
        return [p for g in groups for p in {g, *group_members(g)} if process_alive(p)]

    with contextlib.suppress(AssertionError):
        wait_until(lambda: not left(), timeout, "the processes to end")
    assert not left(), f"processes still running: {left()}"


# --- Kamailio -------------------------------------------------------------------------------------


def options_request(port: int, local_port: int, user: str | None, call_id: str) -> bytes:
    """An out-of-dialog OPTIONS to ``sip:[user@]127.0.0.1:port`` from ``127.0.0.1:local_port``."""
    target = f"sip:{user}@{HOST}:{port}" if user else f"sip:{HOST}:{port}"
    branch = "z9hG4bK" + secrets.token_hex(8)
    lines = [
        f"OPTIONS {target} SIP/2.0",
        f"Via: SIP/2.0/UDP {HOST}:{local_port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:interop@{HOST}:{local_port}>;tag={secrets.token_hex(4)}",
        f"To: <{target}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:interop@{HOST}:{local_port}>",
        "Accept: application/sdp",
        "Content-Length: 0",
        "", "",
    ]
    return "\r\n".join(lines).encode()


def sip_options(port: int, user: str | None = None, timeout: float = 2.0) -> tuple[int, str]:
    """Send OPTIONS through the proxy on ``port``; (final status, whole response) or (0, "").

    Retransmits every 0.25 s (UDP); provisional answers are skipped.
    """
    call_id = f"interop-{secrets.token_hex(6)}@{HOST}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        request = options_request(port, sock.getsockname()[1], user, call_id)
        deadline = time.monotonic() + timeout
        next_send = 0.0
        while (now := time.monotonic()) < deadline:
            if now >= next_send:
                sock.sendto(request, (HOST, port))
                next_send = now + 0.25
            sock.settimeout(max(0.01, min(next_send, deadline) - now))
            try:
                data = sock.recv(65535)
            except (TimeoutError, ConnectionRefusedError):
                continue
            text = data.decode("utf-8", "replace")
            match = re.match(r"SIP/2\.0 (\d{3})", text)
            if match and call_id in text and int(match.group(1)) >= 200:
                return int(match.group(1)), text
    return 0, ""


@dataclass(frozen=True, slots=True)
class SipDumpEntry:
    """One message of Kamailio's sipdump files: direction ("rcv"/"snd"), peer and text."""

    direction: str
    src: str
    dst: str
    text: str

    @property
    def start_line(self) -> str:
        return self.text.split("\r\n", 1)[0]

    @property
    def call_id(self) -> str:
        match = re.search(r"^(?:Call-ID|i)\s*:\s*(\S+)", self.text, re.MULTILINE | re.IGNORECASE)
        return match.group(1) if match else ""

    def header(self, name: str) -> list[str]:
        return [m.group(1).strip() for m in re.finditer(
            rf"^{re.escape(name)}\s*:(.*)$", self.text.split("\r\n\r\n", 1)[0],
            re.MULTILINE | re.IGNORECASE)]


# sipdump's text format (mode 1), per message: "====================\n", "name: value" meta lines
# (tag rcv|snd, srcip, srcport, dstip, dstport …), "~~~~~~~~~~~~~~~~~~~~\n", the message exactly as
# on the wire, "||||||||||||||||||||\n". A block without its end mark is still being written.
_DUMP_START = "====================\n"
_DUMP_BODY = "~~~~~~~~~~~~~~~~~~~~\n"
_DUMP_END = "||||||||||||||||||||"


def parse_sipdump(text: str) -> list[SipDumpEntry]:
    entries = []
    for block in text.split(_DUMP_START):
        head, sep, rest = block.partition(_DUMP_BODY)
        message, end, _ = rest.partition(_DUMP_END)
        if not sep or not end:
            continue
        meta = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
        src = f"{meta.get('srcip', '')}:{meta.get('srcport', '')}"
        dst = f"{meta.get('dstip', '')}:{meta.get('dstport', '')}"
        entries.append(SipDumpEntry(meta.get("tag", ""), src, dst, message))
    return entries


class Kamailio:
    """One Kamailio process group running the tutorial config on ``port``."""

    def __init__(self, workdir: Path, port: int, media_port: int, *, fr_inv_timer_ms: int,
                 fr_timer_ms: int = 5000, config: Path = CONFIG) -> None:
        binary = kamailio_binary()
        if binary is None:
            raise RuntimeError("kamailio is not installed")
        self.port = port
        self.media_port = media_port
        self.runtime = workdir / "kamailio-run"
        self.dumps = workdir / "kamailio-sipdump"
        self.runtime.mkdir(parents=True, exist_ok=True)
        self.dumps.mkdir(parents=True, exist_ok=True)
        self.argv = [
            binary, "-DD", "-E", "-f", str(config), "-Y", str(self.runtime), "-w", str(self.runtime),
            "-m", "64", "-M", "8", "-n", "2", "-T", "-S",
            "--substdef", f"!LISTEN_PORT!{port}!g", "--substdef", f"!MEDIA_PORT!{media_port}!g",
            "-A", f"FR_INV_TIMER={fr_inv_timer_ms}", "-A", f"FR_TIMER={fr_timer_ms}",
            "-A", "WITH_SIPDUMP", "-A", f'SIPDUMP_DIR="{self.dumps}"',
        ]
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_config(self) -> str:
        """``kamailio -c`` on the same command line: '' when fine, else its output."""
        result = subprocess.run([*self.argv, "-c"], capture_output=True, text=True, timeout=20,
                                check=False, cwd=self.runtime)
        output = result.stdout + result.stderr
        return "" if result.returncode == 0 and "config file ok" in output else output

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=self.runtime)
        self._reader = threading.Thread(target=self._read, name="kamailio-log", daemon=True)
        self._reader.start()
        self.wait_ready(timeout)

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            for raw in self.proc.stdout:
                with self._cond:
                    self._lines.append(raw.decode("utf-8", "replace").rstrip())
                    self._cond.notify_all()

    def wait_ready(self, timeout: float) -> None:
        """Until Kamailio answers an OPTIONS to itself (its receivers are up), or fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                if self._reader is not None:
                    self._reader.join(2.0)  # its last words are in the log
                error = PortInUse if "Address already in use" in self.log_tail() else AssertionError
                raise error(f"kamailio exited with {self.proc.returncode}:\n{self.log_tail()}")
            status, _ = sip_options(self.port, None, timeout=min(0.5, deadline - time.monotonic()))
            if status == 200:
                return
        raise AssertionError(f"kamailio did not answer OPTIONS within {timeout:g} s:\n"
                             f"{self.log_tail()}")

    def sockets(self) -> set[tuple[str, str, int]]:
        """The network sockets of every process of its group: (proto, local IP, port)."""
        return inet_sockets_of(group_members(self.pid))

    # --- its log ----------------------------------------------------------------------------

    def log(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    def log_mark(self) -> int:
        with self._cond:
            return len(self._lines)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log()[-lines:])

    def wait_log(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
        """The first log line (from index ``after``) that matches the regex ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[after:]:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no kamailio log line matching {pattern!r} within "
                                         f"{timeout:g} s; last lines:\n{self.log_tail()}")
                self._cond.wait(remaining)

    # --- its SIP trace (sipdump) ------------------------------------------------------------------

    def sip_trace(self) -> list[SipDumpEntry]:
        entries: list[SipDumpEntry] = []
        for path in sorted(self.dumps.glob("*.data")):
            with contextlib.suppress(OSError):
                entries += parse_sipdump(path.read_bytes().decode("utf-8", "replace"))
        return entries

    def wait_trace(self, predicate: Callable[[SipDumpEntry], bool], what: str,
                   timeout: float = 5.0) -> SipDumpEntry:
        """The first traced message that satisfies ``predicate`` (sipdump writes asynchronously)."""
        found: list[SipDumpEntry] = []

        def check() -> bool:
            found[:] = [e for e in self.sip_trace() if predicate(e)]
            return bool(found)

        wait_until(check, timeout, f"kamailio to trace {what}")
        return found[0]

    # --- stop -------------------------------------------------------------------------------------

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to its group, SIGKILL if it lingers; then no member of the group may be left."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None and not group_members(pgid):
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)
            with contextlib.suppress(AssertionError):
                wait_until(lambda: not group_members(pgid), wait, "kamailio's children to end")
        if self._reader is not None:
            self._reader.join(5.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        assert_groups_gone([pgid])


# --- LabPBX user agents -------------------------------------------------------------------------


class EventLog:
    """Every event of the LabPBX children, in arrival order, with waits on predicates."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._cond = threading.Condition()

    def add(self, event: Event) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self._events)

    def all(self, after: int = 0) -> list[Event]:
        with self._cond:
            return self._events[after:]

    def find(self, predicate: Callable[[Event], bool], after: int = 0) -> list[Event]:
        return [e for e in self.all(after) if predicate(e)]

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float, after: int = 0,
                 what: str = "an event") -> Event:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self._events[after:]:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    tail = "\n".join(e.to_json()[:300] for e in self._events[-25:])
                    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                                         f"last events:\n{tail}")
                self._cond.wait(remaining)


def component_status(name: str, *statuses: str) -> Callable[[Event], bool]:
    """Matches a ComponentEvent of ``name`` with one of ``statuses`` (ready, failed, ack …)."""
    def predicate(event: Event) -> bool:
        return (isinstance(event, ComponentEvent) and event.component == name
                and event.status in statuses)
    return predicate


def registration_answer(ext: str) -> Callable[[Event], bool]:
    """Matches the RegistrationEvent of ``ext`` that reports a registrar's answer (status > 0)."""
    def predicate(event: Event) -> bool:
        return isinstance(event, RegistrationEvent) and event.ext == ext and event.status != 0
    return predicate


@dataclass(slots=True)
class PhoneSpec:
    """One phone process: its extensions and their policies (``answer:1``, ``busy``, ``ring``…)."""

    exts: tuple[str, ...]
    policies: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return "phone-" + "-".join(self.exts)


DEFAULT_PHONES = (PhoneSpec(("1000", "1001")), PhoneSpec(("1002", "1003")), PhoneSpec(("1004",)))


class InteropStack:
    """Kamailio + the voicemail box + phone processes, on 127.0.0.1, in ``workdir``."""

    def __init__(self, workdir: Path, *, phones: Sequence[PhoneSpec] = DEFAULT_PHONES,
                 fr_inv_timer_ms: int = 3000, message_seconds: float = 2.5) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.phones = list(phones)
        self.fr_inv_timer_ms = fr_inv_timer_ms
        self.message_seconds = message_seconds
        self.events = EventLog()
        self.children: dict[str, ChildProcess] = {}
        self.pgids: list[int] = []  # every group ever started, checked by stop()
        self.ports: set[int] = set()  # every SIP port ever used, checked by stop()
        self.exits: collections.deque[str] = collections.deque()
        self._ids = itertools.count(1)
        self._pick_ports()

    def _pick_ports(self) -> None:
        self.kamailio_port = free_udp_port()
        self.media_port = free_udp_port()
        while self.media_port == self.kamailio_port:
            self.media_port = free_udp_port()
        self.ports |= {self.kamailio_port, self.media_port}
        self.kamailio = Kamailio(self.workdir, self.kamailio_port, self.media_port,
                                 fr_inv_timer_ms=self.fr_inv_timer_ms)

    # --- life -----------------------------------------------------------------------------------

    def start(self, timeout: float = 20.0, attempts: int = 3) -> None:
        """Start everything and wait until every extension has its REGISTER answered.

        The ports were free when picked, but another program may bind one in between (other
        test suites run on this machine too): then everything is stopped and started again on
        new ports, up to ``attempts`` times.
        """
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(timeout)
                return
            except PortInUse:
                if attempt == attempts:
                    raise
                self._stop_processes()
                self.events = EventLog()
                self.children = {}
                self._pick_ports()

    def _start_once(self, timeout: float) -> None:
        self.kamailio.start()
        self.pgids.append(self.kamailio.pid)
        self._spawn("voicemail", [
            "--data", str(self.data_dir), "voicemail", "--json",
            "--listen", f"{HOST}:{self.media_port}", "--voicemail-number", VOICEMAIL_NUMBER,
            "--max-length", f"{self.message_seconds:g}", "--language", "en",
            "--proxy", f"{HOST}:{self.kamailio_port}"])
        for spec in self.phones:
            args = ["phone", "--proxy", f"{HOST}:{self.kamailio_port}", "--json",
                    "--name", spec.name]
            for ext in spec.exts:
                args += ["--ext", ext]
                if ext in spec.policies:
                    args += ["--policy", f"{ext}={spec.policies[ext]}"]
            self._spawn(spec.name, args)
        deadline = time.monotonic() + timeout
        for name in self.children:
            self.events.wait_for(component_status(name, "ready", "failed"),
                                 max(0.1, deadline - time.monotonic()), what=f"{name} to be ready")
            failed = self.events.find(component_status(name, "failed"))
            if failed and isinstance(failed[0], ComponentEvent) \
                    and "Address already in use" in failed[0].detail:
                raise PortInUse(f"{name}: {failed[0].detail}")
            assert not failed, f"{name} failed to start: {failed[0]}\n" \
                               f"{self.children[name].stderr_tail()}"
        for ext in self.extensions:
            self.events.wait_for(registration_answer(ext), max(0.1, deadline - time.monotonic()),
                                 what=f"{ext}'s REGISTER answer")

    def _spawn(self, name: str, args: list[str]) -> None:
        child = ChildProcess(name, labpbx_command(*args),
                             on_event=lambda _c, e: self.events.add(e),
                             on_exit=lambda c: self.exits.append(f"{c.name} exit {c.returncode}"))
        self.children[name] = child
        self.pgids.append(child.pid)

    def _stop_processes(self) -> None:
        """User agents first (orderly: EOF on stdin; they un-REGISTER), then Kamailio."""
        deadline = time.monotonic() + 8.0
        for child in self.children.values():
            child.begin_stop()
        for child in self.children.values():
            child.finish_stop(deadline)
        for child in self.children.values():
            child.join()
        self.kamailio.stop()

    def stop(self) -> None:
        """Stop everything; then no process of any group it started may be left, and every SIP
        port it used must be free again (AssertionError otherwise)."""
        self._stop_processes()
        assert_groups_gone(self.pgids)
        # No socket is left either. A port may be free and then taken by another program (other
        # suites run here too): only a holder from one of our groups would be a leak.
        for port in sorted(self.ports):
            with contextlib.suppress(AssertionError):
                wait_until(functools.partial(udp_port_is_free, port), 2.0, f"UDP port {port}")
            ours = [pid for pid in udp_port_holders(port) if process_group(pid) in self.pgids]
            assert not ours, f"UDP port {port} still held by our processes {ours}"

    # --- who is where ---------------------------------------------------------------------------

    @property
    def extensions(self) -> list[str]:
        return [ext for spec in self.phones for ext in spec.exts]

    def phone_of(self, ext: str) -> str:
        return next(spec.name for spec in self.phones if ext in spec.exts)

    # --- commands -------------------------------------------------------------------------------

    def command(self, component: str, payload: Mapping[str, Any], timeout: float = 5.0
                ) -> ComponentEvent:
        """Send a JSON command; the phone's ack (AssertionError on an error answer)."""
        command_id = next(self._ids)
        mark = self.events.mark()
        self.children[component].send({**payload, "id": command_id})
        answer = self.events.wait_for(
            lambda e: isinstance(e, ComponentEvent) and e.component == component
            and e.status in ("ack", "error") and e.extra.get("id") == command_id,
            timeout, after=mark, what=f"{component}'s answer to {payload}")
        assert isinstance(answer, ComponentEvent)
        assert answer.status == "ack", f"{component} refused {payload}: {answer.detail}"
        return answer

    def call(self, caller: str, callee: str) -> str:
        """Place a call from ``caller`` to ``callee`` (an extension: via Kamailio); its leg id."""
        ack = self.command(self.phone_of(caller), {"cmd": "call", "ext": caller, "to": callee})
        return str(ack.extra["leg"])

    def hangup(self, leg: str) -> None:
        self.command(self.phone_of(leg.rpartition("-")[0]), {"cmd": "hangup", "leg": leg})

    def voicemail_status(self) -> dict[str, Any]:
        mark = self.events.mark()
        self.children["voicemail"].send({"cmd": "status"})
        event = self.events.wait_for(lambda e: isinstance(e, ComponentEvent)
                                     and e.component == "voicemail" and e.status == "status",
                                     5.0, after=mark, what="the voicemail box's status")
        assert isinstance(event, ComponentEvent)
        return dict(event.extra)

    # --- waits ----------------------------------------------------------------------------------

    def leg_state(self, leg: str, state: str, timeout: float = 10.0, after: int = 0
                  ) -> CallStateEvent:
        phone = self.phone_of(leg.rpartition("-")[0])
        event = self.events.wait_for(
            lambda e: isinstance(e, CallStateEvent) and e.component == phone and e.leg == leg
            and e.state == state, timeout, after=after, what=f"leg {leg} {state}")
        assert isinstance(event, CallStateEvent)
        return event

    def incoming(self, ext: str, call_id: str, state: str = "incoming", timeout: float = 10.0
                 ) -> CallStateEvent:
        """The callee side of the call ``call_id`` at ``ext`` reaching ``state``."""
        phone = self.phone_of(ext)
        event = self.events.wait_for(
            lambda e: isinstance(e, CallStateEvent) and e.component == phone and e.ext == ext
            and e.direction == "incoming" and e.call_id == call_id and e.state == state,
            timeout, what=f"{ext} {state} for {call_id}")
        assert isinstance(event, CallStateEvent)
        return event

    def voicemail_result(self, call_id: str, timeout: float = 25.0) -> VoicemailEvent:
        """How the box ended the message of the call ``call_id`` (stored, empty, failed…)."""
        event = self.events.wait_for(
            lambda e: isinstance(e, VoicemailEvent) and e.call_id == call_id
            and e.status in ("stored", "empty", "failed", "refused"), timeout,
            what=f"the voicemail box to finish the message of {call_id}")
        assert isinstance(event, VoicemailEvent)
        return event
