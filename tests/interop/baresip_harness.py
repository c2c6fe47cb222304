"""baresip 1.0.0 as a test peer: a headless softphone on 127.0.0.1, driven over its JSON control.

How it runs (every choice here was checked against the Debian build of 1.0.0):
- Its own config directory (``-f``) with ``config`` and empty ``accounts``/``contacts``: nothing of
  the user's ~/.baresip is read, and no account registers before we are listening for events.
- ``net_interface 127.0.0.1``: without it baresip takes the default route's address for the SDP
  ``c=`` line and RTP would leave loopback (the interface name ``lo`` is refused by 1.0.0, an IP
  literal is accepted). ``sip_listen`` is 127.0.0.1 too; every URI is an IP literal, so no DNS
  query is ever sent (and ``dns_server`` is loopback, so a stray one would stay on this machine
  instead of going to resolv.conf's servers). No stun/turn/ice module is loaded.
- No sound card: the source is ``ausine`` (a sine tone; it only works at 48 kHz stereo, hence
  ``ausrc_srate``/``ausrc_channels``; baresip resamples to G.711), the player and the alert device
  are ``aubridge``, a module-internal bridge that needs no hardware.
- ``ctrl_tcp`` (netstring-framed JSON on a loopback TCP port) carries commands (the ``menu``
  module's: ``uanew``, ``dial``, ``accept``, ``hangup``, ``quit``) and every UA event
  (REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED, …). The account is added with ``uanew`` once the
  control connection is up, so its REGISTER_OK cannot be missed.
- The process runs in its own session and is stopped by its PID (``quit``, then SIGTERM, then
  SIGKILL), its threads joined and its socket closed.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
BARESIP = shutil.which("baresip")
# Debian: /usr/bin/baresip loads /usr/lib/baresip/modules; the same layout under any prefix.
MODULES = Path(BARESIP).resolve().parent.parent / "lib" / "baresip" / "modules" if BARESIP else None
TONE_HZ = 1000  # what ausine sends: distinct from the lab phones' 440/660 Hz voice
RTP_PORTS = "42000-42999"  # away from the lab's phones (pjsua picks its own, 40 at a time)

Event = dict[str, Any]

CONFIG = """\
poll_method		epoll
sip_listen		{host}:{sip_port}
net_interface		{host}
dns_server		{host}:53
call_local_timeout	120
call_max_calls		4
audio_source		ausine,{tone}
audio_player		aubridge,nil
audio_alert		aubridge,nil
ausrc_srate		48000
ausrc_channels		2
audio_txmode		poll
rtp_ports		{rtp_ports}
rtcp_mux		no
jitter_buffer_delay	5-10
module_path		{modules}
module			g711.so
module			ausine.so
module			aubridge.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		{host}:{ctrl_port}
ringback_disabled	yes
"""


class BaresipError(AssertionError):
    """baresip did not do what the test waited for; the message quotes its output."""


def free_port(kind: int) -> int:
    """A port on 127.0.0.1 free right now for ``kind`` (SOCK_DGRAM / SOCK_STREAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_sip_port() -> int:
    """baresip's ``sip_listen`` binds UDP and TCP on the same port: both must be free."""
    for _ in range(20):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind((HOST, port))
            except OSError:
                continue
        return port
    raise OSError("no port on 127.0.0.1 free for both UDP and TCP")


def netstrings(buffer: bytearray) -> list[bytes]:
    """Take every complete netstring (``<len>:<data>,``) off the front of ``buffer``."""
    out: list[bytes] = []
    while True:
        colon = buffer.find(b":")
        if colon < 0:
            return out
        size = int(buffer[:colon])
        end = colon + 1 + size
        if len(buffer) <= end:
            return out
        if buffer[end:end + 1] != b",":
            raise ValueError(f"bad netstring from ctrl_tcp: {bytes(buffer[:end + 1])!r}")
        out.append(bytes(buffer[colon + 1:end]))
        del buffer[:end + 1]


class Baresip:
    """One baresip process. ``start()`` … ``stop()``, or use it as a context manager."""

    def __init__(self, home: Path, *, mwi: bool = False) -> None:
        if BARESIP is None:
            raise BaresipError("baresip is not installed")
        self.home = home
        self.mwi = mwi  # load baresip's mwi module: it SUBSCRIBEs to message-summary
        self.sip_port = 0
        self.ctrl_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._events: list[Event] = []
        self._responses: dict[str, Event] = {}
        self._output: collections.deque[str] = collections.deque(maxlen=200)
        self._tokens = itertools.count(1)

    # ------------------------------------------------------------------ life cycle

    def start(self, timeout: float = 10.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.sip_port, self.ctrl_port = free_sip_port(), free_port(socket.SOCK_STREAM)
        (self.home / "config").write_text(CONFIG.format(
            host=HOST, sip_port=self.sip_port, ctrl_port=self.ctrl_port, tone=TONE_HZ,
            rtp_ports=RTP_PORTS, modules=MODULES) + ("module_app\t\tmwi.so\n" if self.mwi else ""))
        (self.home / "accounts").write_text("")
        (self.home / "contacts").write_text("")
        assert BARESIP is not None
        # stdbuf: baresip's stdout is block-buffered into a pipe; line-buffered, its log lines
        # reach the failure messages in time.
        prefix = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        self.proc = subprocess.Popen([*prefix, BARESIP, "-f", str(self.home)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._spawn(self._read_output, "baresip-stdout")
        try:
            self._sock = self._connect(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        self._spawn(self._read_control, "baresip-ctrl")

    def _connect(self, deadline: float) -> socket.socket:
        # ctrl_tcp listens once baresip has loaded its modules: retry until then (bounded).
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise BaresipError(f"baresip exited with {self.proc.returncode}\n{self.output()}")
            try:
                return socket.create_connection((HOST, self.ctrl_port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline:
                    raise BaresipError(f"ctrl_tcp never listened\n{self.output()}") from None
                time.sleep(0.05)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, grace: float = 3.0) -> None:
        """Quit (baresip un-REGISTERs), then SIGTERM, then SIGKILL its session; join threads."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError, BaresipError):
                self.command("quit", timeout=1.0)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    proc.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, sig)  # its own session: the group id is its PID
            proc.wait(grace)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        for thread in self._threads:
            thread.join(grace)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> Baresip:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ reader threads

    def _read_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._output.append(raw.decode(errors="replace").rstrip())

    def _read_control(self) -> None:
        assert self._sock is not None
        self._sock.settimeout(None)
        buffer = bytearray()
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            for item in netstrings(buffer):
                message: Event = json.loads(item)
                with self._cond:
                    if message.get("event"):
                        self._events.append(message)
                    elif message.get("response"):
                        self._responses[str(message.get("token"))] = message
                    self._cond.notify_all()

    # ------------------------------------------------------------------ commands and events

    def output(self) -> str:
        """baresip's last log lines, for failure messages."""
        return "--- baresip output ---\n" + "\n".join(self._output)

    def command(self, line: str, timeout: float = 5.0) -> str:
        """Run a menu command (``dial sip:…``) and return its text; BaresipError if refused."""
        if self._sock is None:
            raise BaresipError("baresip is not running")
        name, _, params = line.partition(" ")
        token = str(next(self._tokens))
        data = json.dumps({"command": name, "params": params, "token": token}).encode()
        self._sock.sendall(b"%d:%s," % (len(data), data))
        with self._cond:
            if not self._cond.wait_for(lambda: token in self._responses, timeout):
                raise BaresipError(f"no answer to {line!r} within {timeout:g} s\n{self.output()}")
            response = self._responses.pop(token)
        if not response.get("ok"):
            raise BaresipError(f"{line!r} refused: {response.get('data')}\n{self.output()}")
        return str(response.get("data", ""))

    def mark(self) -> int:
        """A position in the event list: pass it as ``after`` to see only later events."""
        with self._cond:
            return len(self._events)

    def events(self, after: int = 0) -> list[Event]:
        with self._cond:
            return list(self._events[after:])

    def wait_event(self, kind: str, timeout: float = 10.0, *, after: int = 0,
                   **fields: str) -> Event:
        """The first event of type ``kind`` (after ``after``) whose ``fields`` match."""

        def found() -> Event | None:
            for event in self._events[after:]:
                if event.get("type") == kind and all(event.get(k) == v for k, v in fields.items()):
                    return event
            return None

        with self._cond:
            event = self._cond.wait_for(found, timeout)
        if event is None:
            seen = [e.get("type") for e in self.events(after)]
            raise BaresipError(f"no {kind} {fields or ''} within {timeout:g} s; events: {seen}\n"
                               f"{self.output()}")
        return event

    # ------------------------------------------------------------------ the phone

    def add_account(self, user: str, registrar: str, answermode: str = "manual") -> str:
        """Create the UA ``sip:<user>@<registrar>`` (it REGISTERs there at once); its AoR.

        ``answermode=auto`` makes baresip answer every incoming call by itself (200 OK)."""
        aor = f"sip:{user}@{registrar}"
        self.command(f"uanew <{aor};transport=udp>;regint=600;answermode={answermode}")
        return aor

    def dial(self, uri: str) -> None:
        self.command(f"dial {uri}")

    def hangup(self) -> None:
        self.command("hangup")
