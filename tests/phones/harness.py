"""Test doubles for the phone processes: a fake registrar and a phone child process driven
through its stdin/stdout JSON protocol (the contract the supervisor uses).

Rules: everything binds 127.0.0.1; every wait has a deadline and reads events until a predicate
matches (no sleeping for correctness); ``close()`` always leaves no child process behind.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
Event = dict[str, Any]
Predicate = Callable[[Event], bool]


@dataclass(frozen=True)
class SipRequest:
    method: str
    text: str
    source: tuple[str, int]
    received: float

    def header(self, name: str) -> str:
        match = re.search(rf"^{name}\s*:\s*(.*)$", self.text, re.IGNORECASE | re.MULTILINE)
        return match.group(1).strip() if match else ""

    @property
    def expires(self) -> int | None:
        """Expires of a REGISTER: the Contact's expires parameter, else the Expires header."""
        match = re.search(r";\s*expires=(\d+)", self.header("Contact"), re.IGNORECASE)
        if match:
            return int(match.group(1))
        value = self.header("Expires")
        return int(value) if value.isdigit() else None


class FakeRegistrar:
    """A UDP registrar on 127.0.0.1 that answers 200 OK to every REGISTER and records requests."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.requests: list[SipRequest] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-registrar", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            method = text.split(" ", 1)[0]
            request = SipRequest(method, text, source, time.monotonic())
            if method == "REGISTER":
                self._reply_ok(request)
            with self._cond:
                self.requests.append(request)
                self._cond.notify_all()

    def _reply_ok(self, request: SipRequest) -> None:
        lines = request.text.split("\r\n")
        keep = [ln for ln in lines
                if ln.split(":", 1)[0].strip().lower() in ("via", "from", "call-id", "cseq")]
        to = request.header("To")
        expires = request.expires if request.expires is not None else 3600
        contact = request.header("Contact")
        reply = ["SIP/2.0 200 OK", *keep, f"To: {to};tag=fakereg"]
        if contact and expires:
            reply.append(f"Contact: {contact.split(';expires')[0]};expires={expires}")
        reply += [f"Expires: {expires}", "Content-Length: 0", "", ""]
        self.sock.sendto("\r\n".join(reply).encode(), request.source)

    def wait_for(self, predicate: Callable[[SipRequest], bool], timeout: float,
                 what: str) -> SipRequest:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for request in self.requests:
                    if predicate(request):
                        return request
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [r.text.split("\r\n", 1)[0] for r in self.requests]
                    raise AssertionError(f"registrar: no {what} within {timeout} s; saw {seen}")
                self._cond.wait(left)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


_ids = itertools.count(1)


class PhoneProcess:
    """``python -m labpbx.phones --json …`` as a child process."""

    def __init__(self, proxy: str, exts: Sequence[str], policies: Sequence[str] = (),
                 extra: Sequence[str] = (), module: str = "labpbx.phones",
                 env: dict[str, str] | None = None) -> None:
        args = [sys.executable, "-m", module, "--json", "--proxy", proxy]
        for ext in exts:
            args += ["--ext", ext]
        for policy in policies:
            args += ["--policy", policy]
        args += list(extra)
        env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - the fixture closes it
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr)
        self.expected_exit = 0  # what close() should see; a test expecting a failure changes it
        self.history: list[Event] = []
        self.arrival: list[float] = []
        self.noise: list[str] = []  # non-JSON stdout lines (pjlib's banner, if any)
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            with self._cond:
                if isinstance(event, dict):
                    self.history.append(event)
                    self.arrival.append(time.monotonic())
                else:
                    self.noise.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    # ----------------------------------------------------------------------------- driving
    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        self.proc.stdin.flush()

    def send_raw(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def command(self, timeout: float = 5.0, **command: Any) -> Event:
        """Send a command with a fresh id and return its ack or error event."""
        cid = f"t{next(_ids)}"
        self.send(id=cid, **command)
        return self.wait(lambda e: e["type"] == "component" and e["status"] in ("ack", "error")
                         and e["extra"].get("id") == cid, timeout, f"answer to {command}")

    def ok(self, timeout: float = 5.0, **command: Any) -> Event:
        event = self.command(timeout, **command)
        assert event["status"] == "ack", event
        return event

    def mark(self) -> int:
        with self._cond:
            return len(self.history)

    def wait(self, predicate: Predicate, timeout: float, what: str, since: int = 0) -> Event:
        """The first event from index ``since`` on that matches, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            index = since
            while True:
                while index < len(self.history):
                    event = self.history[index]
                    index += 1
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(f"no {what} within {timeout} s\n{self.describe()}")
                self._cond.wait(left)

    def wait_count(self, predicate: Predicate, count: int, timeout: float, what: str,
                   since: int = 0) -> list[Event]:
        """Wait until ``count`` events from index ``since`` on match; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.history[since:] if predicate(e)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(f"{len(found)} of {count} {what} within {timeout} s\n"
                                         f"{self.describe()}")
                self._cond.wait(left)

    def leg_state(self, leg: str, state: str, timeout: float = 5.0, **fields: Any) -> Event:
        return self.wait(lambda e: e["type"] == "call" and e["leg"] == leg and e["state"] == state
                         and all(e.get(k) == v for k, v in fields.items()),
                         timeout, f"leg {leg} {state} {fields}")

    def call_state(self, state: str, timeout: float = 5.0, since: int = 0,
                   **fields: Any) -> Event:
        return self.wait(lambda e: e["type"] == "call" and e["state"] == state
                         and all(e.get(k) == v for k, v in fields.items()),
                         timeout, f"a call {state} {fields}", since)

    def ready(self, timeout: float = 10.0) -> Event:
        return self.wait(lambda e: e["type"] == "component" and e["status"] == "ready",
                         timeout, "ready")

    def describe(self) -> str:
        self.stderr.seek(0)
        err = self.stderr.read().decode("utf-8", "replace")[-3000:]
        events = "\n".join(json.dumps(e) for e in self.history[-40:])
        return f"events:\n{events}\nnoise: {self.noise}\nstderr:\n{err}"

    def close(self, timeout: float = 5.0) -> int:
        """Close stdin (orderly shutdown); kill by PID if it does not exit. Returns the exit code.

        The caller (the fixture) closes ``self.stderr`` afterwards.
        """
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"phone {self.proc.pid} ignored EOF\n{self.describe()}") from None
        finally:
            self._reader.join(2)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        assert self.proc.returncode is not None
        return code


def _ulaw_to_linear(byte: int) -> int:
    """G.711 μ-law byte → 16-bit sample (ITU-T G.711)."""
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    sample = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -sample if sign else sample


_ULAW = [_ulaw_to_linear(b) for b in range(256)]


class FakeUas:
    """A minimal SIP UAS on 127.0.0.1: answers any INVITE 200 OK with a PCMU-only SDP answer,
    records the RTP it receives, answers BYE 200. Just enough to hear what a phone plays."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo  # send every RTP packet back (with another SSRC): the phone hears itself
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.sip.settimeout(0.05)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp.settimeout(0.05)
        self.port = int(self.sip.getsockname()[1])
        self.rtp_port = int(self.rtp.getsockname()[1])
        self.requests: list[str] = []
        self.packets: list[bytes] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._serve_sip, daemon=True),
                         threading.Thread(target=self._serve_rtp, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _serve_sip(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sip.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            self.requests.append(text)
            method = text.split(" ", 1)[0]
            if method in ("INVITE", "BYE", "CANCEL", "OPTIONS"):
                self.sip.sendto(self._ok(text, with_sdp=method == "INVITE"), source)

    def _ok(self, request: str, with_sdp: bool) -> bytes:
        lines = request.split("\r\n")
        keep = [ln for ln in lines
                if ln.split(":", 1)[0].strip().lower() in ("via", "from", "call-id", "cseq")]
        to = next(ln for ln in lines if ln.lower().startswith("to:"))
        if ";tag=" not in to:
            to += ";tag=fakeuas"
        body = ""
        if with_sdp:
            body = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                    f"m=audio {self.rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                    "a=sendrecv\r\n")
        head = ["SIP/2.0 200 OK", *keep, to, f"Contact: <sip:uas@127.0.0.1:{self.port}>"]
        if body:
            head.append("Content-Type: application/sdp")
        head += [f"Content-Length: {len(body.encode())}", "", ""]
        return ("\r\n".join(head) + body).encode()

    def _serve_rtp(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.rtp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if self.echo and len(data) > 12:
                self.rtp.sendto(data[:8] + b"ECHO" + data[12:], source)
            with self._cond:
                self.packets.append(data)
                self._cond.notify_all()

    def wait_packets(self, count: int, timeout: float) -> None:
        """Wait until ``count`` RTP packets have arrived."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.packets) >= count, timeout):
                raise AssertionError(f"only {len(self.packets)} RTP packets within {timeout} s")

    def pcmu_samples(self) -> list[int]:
        """The received PCMU payloads (payload type 0), decoded, in arrival order."""
        samples: list[int] = []
        for packet in self.packets:
            if len(packet) > 12 and packet[1] & 0x7F == 0:
                header = 12 + 4 * (packet[0] & 0x0F)
                samples += [_ULAW[b] for b in packet[header:]]
        return samples

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        self.sip.close()
        self.rtp.close()


def udp_sockets_of(pid: int) -> list[tuple[str, int]] | None:
    """The local (address, port) of every UDP socket process ``pid`` holds; None off Linux."""
    proc = Path(f"/proc/{pid}")
    if not (proc / "net" / "udp").exists():
        return None
    inodes = set()
    for fd in (proc / "fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table in ("udp", "udp6"):
        path = proc / "net" / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                hex_addr, hex_port = fields[1].split(":")
                ipv4 = table == "udp"  # /proc stores IPv4 addresses little-endian in hex
                addr = socket.inet_ntoa(bytes.fromhex(hex_addr)[::-1]) if ipv4 else hex_addr
                found.append((addr, int(hex_port, 16)))
    return found
