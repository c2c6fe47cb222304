"""An in-memory network for the proxy engine: simulated UAs exchange parsed messages with it, time is
a manual clock. No sockets, no sleeping: every test is deterministic."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from labpbx.events import Event
from labpbx.proxy.config import ProxyConfig
from labpbx.proxy.engine import Proxy
from labpbx.proxy.overload import OverloadConfig
from labpbx.script.loader import load_script
from labpbx.sip.message import Request, Response, make_response, parse_message

Addr = tuple[str, int]
PROXY: Addr = ("127.0.0.1", 15060)
MEDIA: Addr = ("127.0.0.1", 15070)
CALLER_DEFAULT: Addr = ("127.0.0.1", 20000)
DEFAULT_SCRIPT = Path(__file__).resolve().parents[2] / "assets" / "scripts" / "default.cfg"
_ids = itertools.count(1)


@dataclass
class FakePreferences:
    rows: dict[tuple[str, str], list[object]] = field(default_factory=dict)

    def add(self, username: str, attribute: str, value: str) -> None:
        self.rows.setdefault((username, attribute), []).append(_Row(attribute, value))

    def avp_lookup(self, *, username: str | None, domain: str | None = None,
                   uuid: str | None = None, attribute: str | None = None,
                   table: str = "usr_preferences") -> list[object]:
        return list(self.rows.get((username or "", attribute or ""), []))


@dataclass(frozen=True)
class _Row:
    attribute: str
    value: str

    @property
    def typed_value(self) -> str:
        return self.value


class Net:
    """The proxy plus whatever it sent, grouped by destination address."""

    def __init__(self, script_text: str | None = None, *, fr_timeout: float = 2.0,
                 fr_inv_timeout: float = 3.0, preferences: FakePreferences | None = None,
                 overload: OverloadConfig | None = None) -> None:
        text = script_text if script_text is not None else DEFAULT_SCRIPT.read_text()
        defines = {"MEDIA_SERVER": f'"sip:{MEDIA[0]}:{MEDIA[1]}"'} if script_text is None else {}
        self.script = load_script(text, "test.cfg", defines=defines)
        config = ProxyConfig(listen=PROXY, fr_timeout=fr_timeout, fr_inv_timeout=fr_inv_timeout,
                             overload=overload or OverloadConfig())
        self.events: list[Event] = []
        self.preferences = preferences or FakePreferences()
        self.proxy = Proxy(config, self.script, preferences=self.preferences,
                           sink=self.events.append, wall_clock=lambda: 0.0)
        self.now = 1000.0
        self.inbox: dict[Addr, list[Request | Response]] = {}

    # --- driving ---------------------------------------------------------------------------------
    def send(self, message: Request | Response | bytes, source: Addr) -> None:
        data = message if isinstance(message, bytes) else message.to_bytes()
        self.proxy.receive_datagram(data, source, self.now)
        self._collect()

    def advance(self, seconds: float) -> None:
        """Move the clock in small steps so every deadline fires in order."""
        end = self.now + seconds
        while True:
            t = self.proxy.get_timer()
            if t is None or t > end:
                break
            self.now = max(self.now, t)
            self.proxy.handle_timer(self.now)
            self._collect()
        self.now = end

    def _collect(self) -> None:
        for data, addr in self.proxy.datagrams_to_send():
            self.inbox.setdefault(addr, []).append(parse_message(data))

    def take(self, addr: Addr) -> list[Request | Response]:
        return self.inbox.pop(addr, [])

    def requests(self, addr: Addr, method: str | None = None) -> list[Request]:
        return [m for m in self.inbox.get(addr, []) if isinstance(m, Request)
                and (method is None or m.method == method)]

    def responses(self, addr: Addr) -> list[Response]:
        return [m for m in self.inbox.get(addr, []) if isinstance(m, Response)]

    def statuses(self, addr: Addr) -> list[int]:
        return [r.status for r in self.responses(addr)]

    # --- UAs -----------------------------------------------------------------------------------
    def register(self, user: str, contact: Addr, expires: int = 3600) -> Response:
        n = next(_ids)
        req = Request("REGISTER", f"sip:{PROXY[0]}:{PROXY[1]}")
        h = req.headers
        h.add("Via", f"SIP/2.0/UDP {contact[0]}:{contact[1]};branch=z9hG4bKreg{n}")
        h.add("Max-Forwards", "70")
        h.add("From", f"<sip:{user}@{PROXY[0]}>;tag=r{n}")
        h.add("To", f"<sip:{user}@{PROXY[0]}>")
        h.add("Call-ID", f"reg-{user}-{n}")
        h.add("CSeq", f"{n} REGISTER")
        h.add("Contact", f"<sip:{user}@{contact[0]}:{contact[1]}>")
        h.add("Expires", str(expires))
        self.send(req, contact)
        replies = self.responses(contact)
        assert replies, "no reply to REGISTER"
        self.take(contact)
        return replies[-1]


def invite(caller: str, callee: str, source: Addr, *, call_id: str | None = None,
           cseq: int = 1, branch: str | None = None) -> Request:
    n = next(_ids)
    req = Request("INVITE", f"sip:{callee}@{PROXY[0]}:{PROXY[1]}", body=b"v=0\r\n")
    h = req.headers
    h.add("Via", f"SIP/2.0/UDP {source[0]}:{source[1]};branch={branch or f'z9hG4bKinv{n}'}")
    h.add("Max-Forwards", "70")
    h.add("From", f"<sip:{caller}@{PROXY[0]}>;tag=caller{n}")
    h.add("To", f"<sip:{callee}@{PROXY[0]}>")
    h.add("Call-ID", call_id or f"call-{n}")
    h.add("CSeq", f"{cseq} INVITE")
    h.add("Contact", f"<sip:{caller}@{source[0]}:{source[1]}>")
    h.add("Content-Type", "application/sdp")
    return req


def reply(request: Request, status: int, *, tag: str = "callee", contact: Addr | None = None) -> Response:
    response = make_response(request, status, to_tag=tag if status > 100 else None)
    if 100 < status < 300 and request.method == "INVITE":
        for value in request.headers.get_all("Record-Route"):  # RFC 3261 §12.1.1
            response.headers.add("Record-Route", value)
    if contact is not None:
        response.headers.add("Contact", f"<sip:x@{contact[0]}:{contact[1]}>")
    return response


def cancel_for(inv: Request) -> Request:
    req = Request("CANCEL", inv.uri)
    h = req.headers
    h.add("Via", inv.headers.get_all("Via")[0])
    h.add("Max-Forwards", "70")
    for name in ("From", "To", "Call-ID"):
        h.add(name, inv.headers.get(name) or "")
    h.add("CSeq", f"{inv.cseq[0]} CANCEL")
    return req


def ack_for_2xx(inv: Request, ok: Response, source: Addr, target: Addr) -> Request:
    """The caller's end-to-end ACK for a 2xx, routed through the proxy by its Record-Route."""
    ack = Request("ACK", f"sip:x@{target[0]}:{target[1]}")
    h = ack.headers
    h.add("Via", f"SIP/2.0/UDP {source[0]}:{source[1]};branch=z9hG4bKack{inv.call_id}")
    h.add("Route", f"<sip:{PROXY[0]}:{PROXY[1]};lr>")
    h.add("Max-Forwards", "70")
    h.add("From", inv.headers.get("From") or "")
    h.add("To", ok.headers.get("To") or "")
    h.add("Call-ID", inv.call_id)
    h.add("CSeq", f"{inv.cseq[0]} ACK")
    return ack


def bye_in_dialog(ack: Request, source: Addr) -> Request:
    bye = ack.copy()
    bye.method = "BYE"
    bye.headers.set("CSeq", f"{ack.cseq[0] + 1} BYE")
    bye.headers.set("Via", f"SIP/2.0/UDP {source[0]}:{source[1]};branch=z9hG4bKbye{ack.call_id}")
    return bye
