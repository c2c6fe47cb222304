"""Proxy mechanics of RFC 3261 §16 that do not depend on transaction state. Pure.

- next-hop choice (§16.6 step 6–7): $du if set, else the top Route if it is a loose router, else the
  Request-URI; only IP literals and "localhost" are resolved — the lab never asks DNS.
- the loop-detection hash (§16.6 step 8, §16.3 step 4): computed over the request *as received*
  (Request-URI, From tag, To tag, Call-ID, CSeq number, Proxy-Require, Proxy-Authorization, Route),
  deliberately without the top Via so that a request forwarded back to us unchanged is recognised
  as a loop, while a spiral (same request, new Request-URI) is not.
- Via handling for forwarded requests and responses (§16.6 step 8, §16.7 step 3, §18.2.2).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from functools import lru_cache

from labpbx.errors import SipParseError
from labpbx.sip.message import Request, Response, SipURI, Via, parse_name_addr, parse_uri, parse_via

Addr = tuple[str, int]

_PROCESS_SALT = os.urandom(3).hex()
MAGIC = "z9hG4bK"


@lru_cache(maxsize=1024)
def resolve_host(host: str) -> str | None:
    """An IP literal (brackets stripped) or localhost; None for names the lab will not resolve."""
    h = host.strip("[]")
    if h.lower() == "localhost":
        return "127.0.0.1"
    try:
        ipaddress.ip_address(h)
    except ValueError:
        return None
    return h


@lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def uri_destination(uri: SipURI) -> Addr | None:
    """Where a SIP URI points: maddr or host, port (default 5060). None when not resolvable."""
    host = uri.param("maddr") or uri.host
    ip = resolve_host(host)
    if ip is None:
        return None
    return ip, uri.port or 5060


def next_hop(request: Request, ruri: str, dst_uri: str | None) -> Addr | None:
    """The address a forwarded request goes to. Raises SipParseError for an unparseable target."""
    if dst_uri:
        return uri_destination(parse_uri(dst_uri))
    route = request.headers.first_value("Route")
    if route is not None:
        route_uri = parse_name_addr(route).uri
        if route_uri.has_param("lr"):
            return uri_destination(route_uri)
    return uri_destination(parse_uri(ruri))


def loop_hash(request: Request) -> str:
    h = request.headers
    parts = (
        request.uri, request.from_tag or "", request.to_tag or "", request.call_id,
        str(request.cseq[0]), h.get("Proxy-Require") or "", h.get("Proxy-Authorization") or "",
        ",".join(h.get_all("Route")),
    )
    return hashlib.blake2b("\x00".join(parts).encode("utf-8", "surrogateescape"),
                           digest_size=5).hexdigest()


def branch_id(loophash: str, cell_id: int, index: int) -> str:
    return f"{MAGIC}{loophash}.{_PROCESS_SALT}{cell_id:x}.{index}"


def stateless_branch(request: Request) -> str:
    """§16.11: a stateless forward derives its branch from the incoming one, so retransmissions match."""
    top = request.headers.first_value("Via") or ""
    digest = hashlib.blake2b(top.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()
    return f"{MAGIC}sl{digest}"


def is_looped(request: Request, me: set[Addr]) -> bool:
    """§16.3 step 4: one of our own Vias carries the branch hash this very request would get."""
    vias = request.headers.get_all("Via")
    if len(vias) < 2:
        return False
    wanted = None
    for value in vias:
        try:
            via = parse_via(value)
        except SipParseError:
            continue
        if via.sent_by not in me:
            continue
        if wanted is None:
            wanted = f"{MAGIC}{loop_hash(request)}."
        if (via.branch or "").startswith(wanted):
            return True
    return False


def via_value(listen: Addr, branch: str) -> str:
    host, port = listen
    return f"SIP/2.0/UDP {host}:{port};branch={branch}"


def stamp_received(request: Request, source: Addr) -> None:
    """RFC 3261 §18.2.1 and RFC 3581 §4: note where the request really came from in its top Via —
    ``received`` when the sent-by host differs from the source address, and ``rport=<port>`` when
    the client asked for it — so every response carries it back."""
    top = request.headers.first_value("Via")
    if top is None:
        return
    try:
        via = parse_via(top)
    except SipParseError:
        return
    wants_rport = via.param("rport") == ""
    if via.host == source[0] and not wants_rport:
        return
    stamped = via.with_param("received", source[0])
    if wants_rport:
        stamped = stamped.with_param("rport", str(source[1]))
    request.headers.remove_first_value("Via")
    request.headers.prepend("Via", str(stamped))


def response_address(via: Via) -> Addr | None:
    """§18.2.2 / RFC 3581: received+rport, else received+port, else sent-by."""
    host = via.param("received") or via.host
    rport = via.param("rport")
    port = int(rport) if rport else (via.port or 5060)
    ip = resolve_host(host)
    return (ip, port) if ip else None


def strip_own_via(response: Response, me: set[Addr]) -> Response | None:
    """§16.7 step 3: copy of the response without our top Via; None if the top Via is not ours or
    no Via would remain (the response was for us)."""
    top = response.headers.first_value("Via")
    if top is None:
        return None
    try:
        via = parse_via(top)
    except SipParseError:
        return None
    if via.sent_by not in me:
        return None
    out = response.copy()
    out.headers.remove_first_value("Via")
    if out.headers.first_value("Via") is None:
        return None
    return out
