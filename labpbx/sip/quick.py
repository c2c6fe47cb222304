"""A final response to a request built from the request's raw bytes, without parsing all of it.

For refusing work cheaply under overload (labpbx.proxy.overload): parsing a whole INVITE with its
SDP and building the response through ``Request``/``make_response`` costs ~40 µs; this costs a
fraction of that, so that turning a new call away stays far cheaper than serving one. Only the
start line, the header names and the top Via value are looked at. It follows §8.2.6.2 as
``message.make_response`` does: every Via (in order, the top one stamped with ``received`` /
``rport`` as §18.2.1 and RFC 3581 ask), From, To (+ the given tag), Call-ID and CSeq copied as
received, then the extra headers and ``Content-Length: 0``. The response goes where §18.2.2 /
RFC 3581 say (``QuickRequest.reply_to``).

Anything unusual (no Via, no To, a To that already has a tag, a header line that is not
``name: value``) gives ``None``: the caller then takes the ordinary, fully parsing path.
"""

from __future__ import annotations

from dataclasses import dataclass

from labpbx.errors import SipParseError
from labpbx.sip.headers import Via, parse_via

Addr = tuple[str, int]

_KEEP = {
    b"via": b"Via", b"v": b"Via", b"from": b"From", b"f": b"From", b"to": b"To", b"t": b"To",
    b"call-id": b"Call-ID", b"i": b"Call-ID", b"cseq": b"CSeq",
}


@dataclass(frozen=True, slots=True)
class QuickRequest:
    """What a stateless final response needs of a request: its copied header lines and top Via."""

    method: bytes
    lines: tuple[tuple[bytes, bytes], ...]  # (canonical name, value) of Via/From/To/Call-ID/CSeq
    top_via: Via  # stamped with received/rport
    reply_to: Addr

    @property
    def branch(self) -> str | None:
        return self.top_via.branch


def quick_request(data: bytes, source: Addr) -> QuickRequest | None:
    """The parts of a raw request that a stateless reply needs, or None when unsure."""
    end = data.find(b"\r\n\r\n")
    head = data if end < 0 else data[:end]
    raw_lines = head.split(b"\r\n")
    space = raw_lines[0].find(b" ")
    if space <= 0 or raw_lines[0].startswith(b"SIP/"):
        return None
    method = raw_lines[0][:space]
    kept: list[list[bytes]] = []
    last_kept = False
    for line in raw_lines[1:]:
        if line[:1] in (b" ", b"\t"):  # folded continuation (§7.3.1)
            if last_kept:
                kept[-1][1] += b" " + line.strip()
            continue
        colon = line.find(b":")
        if colon <= 0:
            return None
        canonical = _KEEP.get(line[:colon].strip().lower())
        last_kept = canonical is not None
        if canonical is not None:
            kept.append([canonical, line[colon + 1:].strip()])
    names = {name for name, _ in kept}
    if not {b"Via", b"From", b"To", b"Call-ID", b"CSeq"} <= names:
        return None
    to_value = next(value for name, value in kept if name == b"To")
    if b"tag=" in to_value.replace(b" ", b"").lower():
        return None
    first_via = next(i for i, (name, _) in enumerate(kept) if name == b"Via")
    via_line = kept[first_via][1]
    comma = via_line.find(b",")
    top_text = (via_line if comma < 0 else via_line[:comma]).strip()
    try:
        via = parse_via(top_text.decode("utf-8"))
    except (SipParseError, UnicodeDecodeError, ValueError):
        return None
    wants_rport = via.param("rport") == ""
    if via.host != source[0] or wants_rport:
        via = via.with_param("received", source[0])
    if wants_rport:
        via = via.with_param("rport", str(source[1]))
        reply_to = source
    else:
        reply_to = (source[0], via.port or 5060)
    stamped = str(via).encode("utf-8")
    kept[first_via][1] = stamped if comma < 0 else stamped + b"," + via_line[comma + 1:]
    return QuickRequest(method, tuple((n, v) for n, v in kept), via, reply_to)


def quick_response(request: QuickRequest, status: int, reason: str, to_tag: str,
                   extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The response bytes: status line, the copied lines (To with ``to_tag``), ``extra``,
    Content-Length 0."""
    out = [f"SIP/2.0 {status} {reason}".encode()]
    tag = f";tag={to_tag}".encode()
    for name, value in request.lines:
        out.append(name + b": " + value + (tag if name == b"To" else b""))
    for extra_name, extra_value in extra:
        out.append(f"{extra_name}: {extra_value}".encode())
    out.append(b"Content-Length: 0")
    out.append(b"")
    out.append(b"")
    return b"\r\n".join(out)
