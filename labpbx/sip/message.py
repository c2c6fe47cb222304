"""SIP messages: parse bytes into Request/Response and serialize them back (RFC 3261 §7, §25).

URIs and addresses live in `labpbx.sip.uri`, header lists and Via in `labpbx.sip.headers`; their
public names are re-exported here, so callers import from this module only.

Rules of this module
- Pure: no sockets, no asyncio, no threads, no clock. Only the stdlib and labpbx.errors.
- Header names are stored canonically: compact forms expanded (i→Call-ID, m→Contact,
  e→Content-Encoding, l→Content-Length, c→Content-Type, f→From, s→Subject, k→Supported, t→To,
  v→Via, o→Event, u→Allow-Events, r→Refer-To, b→Referred-By, x→Session-Expires, y→Identity,
  a→Accept-Contact, j→Reject-Contact, d→Request-Disposition) and spelled in the usual capitalisation
  (Call-ID, CSeq, WWW-Authenticate, Max-Forwards, Record-Route …; unknown names: kept as received).
  Lookup is case-insensitive and accepts compact names.
- Values are kept as received (text after the colon, leading/trailing whitespace stripped, folded
  continuation lines joined with a single space). Serialization writes `Name: value\\r\\n` in
  order, with the Content-Length line (in its place, or appended when there was none) rewritten to
  the real body length; duplicate Content-Length lines are dropped.
- Messages are mutable objects with __slots__ because a proxy edits and copies every request it
  forwards; `copy()` is a cheap deep-enough copy (new Headers list, same immutable strings/bytes).
- Parsing is fast (see bench/bench_message.py): the header section is decoded once and split with
  str methods; header values are not parsed until asked for (Via, From, To, Contact …).
- Text decoding: UTF-8 with errors="surrogateescape" so that any byte sequence round-trips.
  Lines may end in CRLF or, leniently, in a bare LF; a bare CR in the header section is an error.
- Limits: MAX_MESSAGE_SIZE = 65535 bytes, MAX_HEADERS = 256, MAX_HEADER_LINE = 8192.
  Over a limit → SipParseError(status_hint=513 for size, 400 otherwise).
- Validation in parse_message (each failure → SipParseError with a clear message):
  start line well formed (request: METHOD SP Request-URI SP SIP/2.0, single spaces; response:
  SIP/2.0 SP 3DIGIT SP reason); an unknown SIP version → status_hint 505; method is a token; the
  Request-URI has a scheme and (sip/sips) no ?headers part (RFC 4475 escruri); status 100..699;
  for requests Via, From, To, Call-ID, CSeq must be present and non-empty; Call-ID, CSeq, From, To
  and Max-Forwards may appear only once, Content-Length only once or with equal values (RFC 4475
  multi01, mcl01); CSeq must be `<int> <METHOD>` with a 32-bit number, and for requests the method
  equal to the request method; Max-Forwards if present must be 0..255; Content-Length if present
  must be a non-negative integer; if Content-Length > bytes available → "truncated body"; if less,
  the extra bytes are discarded (§18.3 for UDP); if absent the body is the rest of the datagram.
  Leading CRLFs before the start line are skipped (keep-alives, §7.5). An empty datagram or one that
  is only CRLF raises SipParseError("empty"). NUL bytes in the header part raise too (this also
  rejects RFC 4475 "intmeth", whose To display name holds an escaped NUL).
"""

from __future__ import annotations

import hashlib
import secrets
from itertools import islice
from typing import TypeAlias

from labpbx.errors import LocalProtocolError, SipParseError
from labpbx.sip.headers import (
    COMPACT_FORMS,
    MULTI_VALUE_HEADERS,
    NAME_CACHE,
    Headers,
    Via,
    canonical_name,
    parse_via,
    resolve_name,
    split_values,
)
from labpbx.sip.uri import (
    DEFAULT_PORT,
    NameAddr,
    Params,
    SipURI,
    is_scheme,
    is_token,
    name_addr_param,
    parse_name_addr,
    parse_uri,
)

__all__ = [
    "COMPACT_FORMS", "DEFAULT_PORT", "MAX_HEADERS", "MAX_HEADER_LINE", "MAX_MESSAGE_SIZE",
    "MULTI_VALUE_HEADERS", "REASON_PHRASES", "SIP_VERSION", "Addr", "Headers", "Message",
    "NameAddr", "Params", "Request", "Response", "SipURI", "Via", "build_ack_for_non2xx",
    "build_cancel", "canonical_name", "make_response", "new_branch", "new_tag", "parse_message",
    "parse_name_addr", "parse_uri", "parse_via", "split_values",
]

Addr = tuple[str, int]

SIP_VERSION = "SIP/2.0"
MAX_MESSAGE_SIZE = 65535
MAX_HEADERS = 256
MAX_HEADER_LINE = 8192
_MAX_CSEQ = 2**32 - 1

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority",
    420: "Bad Extension", 421: "Extension Required", 422: "Session Interval Too Small",
    423: "Interval Too Brief", 428: "Use Identity Header", 429: "Provide Referrer Identity",
    433: "Anonymity Disallowed", 470: "Consent Needed", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
    607: "Unwanted", 608: "Rejected",
}
# §21 class names, for codes without a phrase of their own
_CLASS_PHRASES = {1: "Provisional", 2: "Successful", 3: "Redirection", 4: "Request Failure",
                  5: "Server Failure", 6: "Global Failure"}

# headers parse_message checks: key → canonical name (all but Via may appear only once)
_CHECKED = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
            "max-forwards": "Max-Forwards", "content-length": "Content-Length"}
_REQUIRED = ("via", "from", "to", "call-id", "cseq")


# --- messages ------------------------------------------------------------------------------------


class _Message:
    """What Request and Response share: headers, body and the properties the proxy reads often."""

    __slots__ = ()
    headers: Headers
    body: bytes
    version: str

    @property
    def call_id(self) -> str:
        return _required(self.headers, "Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        """(sequence number, method) of the CSeq header."""
        return _parse_cseq(_required(self.headers, "CSeq"))

    @property
    def from_tag(self) -> str | None:
        """The From tag; None when there is no tag (or no From)."""
        return _tag(self.headers.get("From"))

    @property
    def to_tag(self) -> str | None:
        """The To tag; None when there is no tag (or no To)."""
        return _tag(self.headers.get("To"))

    @property
    def top_via(self) -> Via:
        """The first Via element, parsed (SipParseError when absent or malformed)."""
        value = self.headers.first_value("Via")
        if value is None:
            raise SipParseError("missing Via header")
        return parse_via(value)


class Request(_Message):
    """A SIP request. `uri` is the Request-URI text; parse it with parse_uri when needed."""

    __slots__ = ("body", "headers", "method", "uri", "version")

    def __init__(self, method: str, uri: str, headers: Headers | None = None, body: bytes = b"",
                 version: str = SIP_VERSION) -> None:
        self.method = method
        self.uri = uri
        self.headers = Headers() if headers is None else headers
        self.body = body
        self.version = version

    def to_bytes(self) -> bytes:
        return _serialize(f"{self.method} {self.uri} {self.version}", self.headers, self.body)

    def copy(self) -> Request:
        return Request(self.method, self.uri, self.headers.copy(), self.body, self.version)

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        return None if value is None else _parse_max_forwards(value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return (self.method, self.uri, self.version, self.headers, self.body) == (
            other.method, other.uri, other.version, other.headers, other.body)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} ({len(self.headers)} headers)>"


class Response(_Message):
    """A SIP response. `reason` defaults to the REASON_PHRASES entry (or the §21 class name)."""

    __slots__ = ("body", "headers", "reason", "status", "version")

    def __init__(self, status: int, reason: str | None = None, headers: Headers | None = None,
                 body: bytes = b"", version: str = SIP_VERSION) -> None:
        if not 100 <= status <= 699:
            raise LocalProtocolError(f"status code out of range: {status}")
        self.status = status
        self.reason = _default_reason(status) if reason is None else reason
        self.headers = Headers() if headers is None else headers
        self.body = body
        self.version = version

    def to_bytes(self) -> bytes:
        return _serialize(f"{self.version} {self.status} {self.reason}", self.headers, self.body)

    def copy(self) -> Response:
        return Response(self.status, self.reason, self.headers.copy(), self.body, self.version)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status, self.reason, self.version, self.headers, self.body) == (
            other.status, other.reason, other.version, other.headers, other.body)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} ({len(self.headers)} headers)>"


Message: TypeAlias = Request | Response


def _default_reason(status: int) -> str:
    return REASON_PHRASES.get(status) or _CLASS_PHRASES[status // 100]


def _required(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise SipParseError(f"missing {name} header")
    return value


def _tag(value: str | None) -> str | None:
    return None if value is None else name_addr_param(value, "tag")


def _serialize(start_line: str, headers: Headers, body: bytes) -> bytes:
    content_length = f"Content-Length: {len(body)}"
    lines = [start_line]
    append = lines.append
    wrote_length = False
    for name, value in headers:
        if name == "Content-Length":
            if not wrote_length:
                append(content_length)
                wrote_length = True
        else:
            append(f"{name}: {value}")
    if not wrote_length:
        append(content_length)
    append("\r\n")
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    return head + body if body else head


# --- scalar header values ------------------------------------------------------------------------


def _parse_uint(text: str, what: str) -> int:
    """A non-negative decimal integer; absurdly long ones come back as 10**18 (callers bound it)."""
    if not (text.isascii() and text.isdigit()):
        raise SipParseError(f"{what} is not a non-negative integer: {text!r}")
    digits = text.lstrip("0")
    return 10**18 if len(digits) > 18 else int(digits or "0")


def _parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2:
        raise SipParseError(f"malformed CSeq: {value!r}")
    number = _parse_uint(parts[0], "CSeq number")
    if number > _MAX_CSEQ:
        raise SipParseError(f"CSeq number out of range: {parts[0]!r}")
    if not is_token(parts[1]):
        raise SipParseError(f"invalid CSeq method: {parts[1]!r}")
    return number, parts[1]


def _parse_max_forwards(value: str) -> int:
    hops = _parse_uint(value, "Max-Forwards")
    if hops > 255:
        raise SipParseError(f"Max-Forwards out of range: {value!r}")
    return hops


# --- parse_message -------------------------------------------------------------------------------


def parse_message(data: bytes) -> Request | Response:
    """Parse one datagram into a Request or Response; every defect raises SipParseError."""
    head, rest = _split_head_body(data)
    lines = _decode_head(head)
    start_line = lines[0]
    is_response = start_line[:4].upper() == "SIP/"
    if is_response:
        version, status, reason = _parse_status_line(start_line)
    else:
        method, uri, version = _parse_request_line(start_line)
    items, keys = _parse_header_lines(lines)
    checked = _checked_values(items, keys)
    body = _cut_body(checked.get("content-length"), rest)
    cseq = checked.get("cseq")
    cseq_method = None if cseq is None else _parse_cseq(cseq)[1]
    if "max-forwards" in checked:
        _parse_max_forwards(checked["max-forwards"])
    headers = Headers.from_trusted(items, keys)
    if is_response:
        return Response(status, reason, headers, body, version)
    _check_request_headers(method, checked, cseq_method)
    return Request(method, uri, headers, body, version)


def _strip_cr(head: bytes) -> bytes:
    return head[:-1] if head.endswith(b"\r") else head


def _split_head_body(data: bytes) -> tuple[bytes, bytes]:
    """Cut at the first empty line; (header section without its last line end, rest)."""
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError(f"message larger than {MAX_MESSAGE_SIZE} bytes", status_hint=513)
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError("empty")
    crlf = data.find(b"\n\r\n")
    lf = data.find(b"\n\n", 0, len(data) if crlf < 0 else crlf + 1)
    if lf >= 0:
        return _strip_cr(data[:lf]), data[lf + 2 :]
    if crlf >= 0:
        return _strip_cr(data[:crlf]), data[crlf + 3 :]
    if data.endswith(b"\n"):
        return _strip_cr(data[:-1]), b""
    if b"\x00" in data:
        raise SipParseError("NUL byte in the header section: not a SIP message")
    raise SipParseError("no empty line after the header fields (truncated message?)")


def _decode_head(head: bytes) -> list[str]:
    if b"\x00" in head:
        raise SipParseError("NUL byte in the header section: not a SIP message")
    text = head.decode("utf-8", "surrogateescape")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            raise SipParseError("bare CR in the header section")
    return text.split("\n")


def _parse_version(version: str) -> str:
    if version == SIP_VERSION or version.upper() == SIP_VERSION:
        return SIP_VERSION
    major, dot, minor = version[4:].partition(".")
    if version[:4].upper() == "SIP/" and dot and (major + minor).isascii() \
            and major.isdigit() and minor.isdigit():
        raise SipParseError(f"unsupported SIP version {version!r}", status_hint=505)
    raise SipParseError(f"malformed SIP version {version!r}")


def _parse_request_line(line: str) -> tuple[str, str, str]:
    parts = line.split(" ")
    if len(parts) != 3:
        raise SipParseError(f"malformed Request-Line (want METHOD SP URI SP SIP/2.0): {line!r}")
    method, uri, version = parts
    if not is_token(method):
        raise SipParseError(f"method is not a token: {method!r}")
    _check_request_uri(uri)
    return method, uri, _parse_version(version)


def _check_request_uri(uri: str) -> None:
    colon = uri.find(":")
    if colon <= 0 or colon == len(uri) - 1 or not is_scheme(uri[:colon]) \
            or not (uri.isascii() and uri.isprintable()):
        raise SipParseError(f"malformed Request-URI: {uri!r}")
    if "?" in uri and uri[:colon].lower() in ("sip", "sips") and parse_uri(uri).headers is not None:
        raise SipParseError(f"headers are not allowed in a Request-URI: {uri!r}")


def _parse_status_line(line: str) -> tuple[str, int, str]:
    parts = line.split(" ", 2)
    version = _parse_version(parts[0])
    code = parts[1] if len(parts) > 1 else ""
    if not (len(code) == 3 and code.isascii() and code.isdigit()) or not 100 <= int(code) <= 699:
        raise SipParseError(f"invalid status code in {line!r}")
    return version, int(code), parts[2] if len(parts) == 3 else ""


def _parse_header_lines(lines: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Header lines (after the start line) → (canonical name, value) items and lookup keys."""
    if len(lines) > 4 * MAX_HEADERS:
        raise SipParseError(f"more than {4 * MAX_HEADERS} header lines")
    items: list[tuple[str, str]] = []
    keys: list[str] = []
    known = NAME_CACHE
    for line in islice(lines, 1, None):
        if len(line) > MAX_HEADER_LINE:
            raise SipParseError(f"header line longer than {MAX_HEADER_LINE} characters")
        if line[:1] in (" ", "\t"):
            _fold(items, line)
            continue
        colon = line.find(":")
        if colon <= 0:
            raise SipParseError(f"malformed header line: {line[:80]!r}")
        resolved = known.get(line[:colon]) or resolve_name(line[:colon].rstrip(" \t"))
        if resolved is None:
            raise SipParseError(f"invalid header name: {line[:colon]!r}")
        items.append((resolved[0], line[colon + 1 :].strip(" \t")))
        keys.append(resolved[1])
    if len(items) > MAX_HEADERS:
        raise SipParseError(f"more than {MAX_HEADERS} header fields")
    return items, keys


def _fold(items: list[tuple[str, str]], line: str) -> None:
    """Join a continuation line to the previous header value with a single space (§7.3.1)."""
    if not items:
        raise SipParseError("continuation line before the first header field")
    more = line.strip(" \t")
    if more:
        name, value = items[-1]
        value = f"{value} {more}" if value else more
        if len(value) > MAX_HEADER_LINE:
            raise SipParseError(f"header field longer than {MAX_HEADER_LINE} characters")
        items[-1] = (name, value)


def _checked_values(items: list[tuple[str, str]], keys: list[str]) -> dict[str, str]:
    """Values of the headers parse_message validates; refuses repeated single-value headers."""
    found: dict[str, str] = {}
    for key, (_, value) in zip(keys, items, strict=True):
        if key in _CHECKED:
            if key in found and key != "via" and (key != "content-length" or found[key] != value):
                raise SipParseError(f"more than one {_CHECKED[key]} header")
            found.setdefault(key, value)
    return found


def _cut_body(content_length: str | None, rest: bytes) -> bytes:
    if content_length is None:
        return rest
    length = _parse_uint(content_length, "Content-Length")
    if length > len(rest):
        raise SipParseError(f"truncated body: Content-Length {length}, {len(rest)} bytes present")
    return rest if length == len(rest) else rest[:length]


def _check_request_headers(method: str, checked: dict[str, str], cseq_method: str | None) -> None:
    for key in _REQUIRED:
        if not checked.get(key):
            raise SipParseError(f"missing {_CHECKED[key]} header")
    if cseq_method != method:
        raise SipParseError(f"CSeq method {cseq_method!r} does not match request method {method!r}")


# --- building requests and responses -------------------------------------------------------------


def make_response(request: Request, status: int, reason: str | None = None, *,
                  to_tag: str | None = None) -> Response:
    """§8.2.6: a response copying every Via line (in order), From, To (+ ;tag=to_tag when it has
    no tag yet), Call-ID and CSeq; a 100 also copies Timestamp (§8.2.6.1). Content-Length 0."""
    source = request.headers
    headers = Headers((name, value) for name, value in source if name == "Via")
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = source.get(name)
        if value is None:
            continue
        if name == "To" and to_tag is not None and not _has_tag(value):
            value = f"{value};tag={to_tag}"
        headers.add(name, value)
    if status == 100 and "Timestamp" in source:
        headers.add("Timestamp", _required(source, "Timestamp"))
    headers.add("Content-Length", "0")
    return Response(status, reason, headers)


def _has_tag(value: str) -> bool:
    try:
        return name_addr_param(value, "tag") is not None
    except SipParseError:
        return True  # a To we cannot read: leave it exactly as received


def _in_transaction_request(method: str, invite: Request, to_value: str) -> Request:
    """CANCEL / non-2xx ACK skeleton shared by §9.1 and §17.1.1.3."""
    top_via = invite.headers.first_value("Via")
    if top_via is None:
        raise SipParseError("the INVITE has no Via header")
    number = invite.cseq[0]
    headers = Headers([("Via", top_via), ("Max-Forwards", "70")])
    for name, value in invite.headers:
        if name == "Route":
            headers.add("Route", value)
    headers.add("From", _required(invite.headers, "From"))
    headers.add("To", to_value)
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{number} {method}")
    headers.add("Content-Length", "0")
    return Request(method, invite.uri, headers)


def build_cancel(invite: Request) -> Request:
    """§9.1: CANCEL with the INVITE's Request-URI, Call-ID, From, To (no new tag), CSeq number,
    top Via only and Route headers; Max-Forwards 70."""
    return _in_transaction_request("CANCEL", invite, _required(invite.headers, "To"))


def build_ack_for_non2xx(invite: Request, response: Response) -> Request:
    """§17.1.1.3: hop-by-hop ACK for a 3xx-6xx: like a CANCEL, but CSeq method ACK and the To of the
    *response* (with its tag). A response without To falls back to the INVITE's To."""
    if response.status < 300:
        raise LocalProtocolError(f"ACK for a {response.status} is not built by the transaction")
    to_value = response.headers.get("To") or _required(invite.headers, "To")
    return _in_transaction_request("ACK", invite, to_value)


def new_tag() -> str:
    """A random From/To tag: 64 bits as 16 hex characters."""
    return secrets.token_hex(8)


def new_branch(seed: str = "") -> str:
    """A unique Via branch "z9hG4bK…". With a seed, a hash of it comes first (so branches made from
    the same seed share a recognisable prefix), followed by a random part that keeps them unique."""
    unique = secrets.token_hex(8)
    if not seed:
        return f"z9hG4bK{unique}"
    digest = hashlib.blake2s(seed.encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()
    return f"z9hG4bK{digest}.{unique}"
