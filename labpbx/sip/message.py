"""SIP messages: parse bytes into Request/Response and serialize them back (RFC 3261 §7, §25).

CONTRACT (implemented by the message helper; the proxy is written against it):

Rules of this module
- Pure: no sockets, no asyncio, no threads, no clock. Only the stdlib and labpbx.errors.
- Header names are stored canonically: compact forms expanded (i→Call-ID, m→Contact, e→Content-Encoding,
  l→Content-Length, c→Content-Type, f→From, s→Subject, k→Supported, t→To, v→Via, o→Event,
  u→Allow-Events, r→Refer-To, b→Referred-By, x→Session-Expires, y→Identity, a→Accept-Contact,
  j→Reject-Contact, d→Request-Disposition) and spelled in the usual capitalisation
  (Call-ID, CSeq, WWW-Authenticate, Max-Forwards, Record-Route …; unknown names: keep as received).
  Lookup is case-insensitive and accepts compact names.
- Values are kept as received (text after the colon, leading/trailing whitespace stripped, folded
  continuation lines joined with a single space). Serialization writes `Name: value\r\n` in order, then
  Content-Length is always rewritten to the real body length.
- Messages are mutable objects with __slots__ because a proxy edits and copies every request it
  forwards; `copy()` is a cheap deep-enough copy (new Headers list, same immutable strings/bytes).
- Parsing is fast: a typical INVITE with SDP must parse in well under 50 µs and serialize in under 20 µs
  on this machine (measured in bench/bench_message.py). Header values are not parsed until asked for.
- Text decoding: UTF-8 with errors="surrogateescape" so that any byte sequence round-trips.
- Limits (named constants): MAX_MESSAGE_SIZE = 65535 bytes, MAX_HEADERS = 256, MAX_HEADER_LINE = 8192.
  Over a limit → SipParseError(status_hint=513 for size, 400 otherwise).
- Validation in parse_message (each failure → SipParseError with a clear message):
  start line well formed (request: METHOD SP Request-URI SP SIP/2.0; response: SIP/2.0 SP 3DIGIT SP reason);
  method is a token; status 100..699; for requests Via, From, To, Call-ID, CSeq must be present,
  CSeq must be `<int> <METHOD>` with the method equal to the request method (except that is only
  checked for requests), Max-Forwards if present must be 0..255 integer; Content-Length if present must be an
  integer; if Content-Length > bytes available → error "truncated body"; if less, the extra bytes are
  discarded (RFC 3261 §18.3 for UDP); if absent on UDP the body is the rest of the datagram.
  Leading CRLFs before the start line are skipped (keep-alives, §7.5). An empty datagram or one that is
  only CRLF raises SipParseError("empty"). A datagram that is not text at all (NUL bytes in the header
  part) raises too.
"""

from __future__ import annotations

Addr = tuple[str, int]

# --- public API (names, signatures and behaviour are fixed; bodies implemented by the helper) ---------
#
# class SipURI:                      frozen dataclass (slots)
#     scheme: str                    "sip" or "sips" (lower-case)
#     user: str | None               as written (escaped form kept), None when there is no user part
#     password: str | None
#     host: str                      as written; IPv6 references keep their brackets "[::1]"
#     port: int | None
#     params: tuple[tuple[str, str | None], ...]    uri-parameters in order; names lower-cased
#     headers: str | None            the ?headers part, raw, without "?"
#     def __str__(self) -> str       canonical serialization (round-trips parse_uri)
#     def param(self, name: str) -> str | None      value of a param ("" for a flag param like ;lr), None if absent
#     def has_param(self, name: str) -> bool
#     def with_user(self, user: str | None) -> SipURI
#     def with_host_port(self, host: str, port: int | None) -> SipURI
#     def with_params(self, params: tuple[tuple[str, str | None], ...]) -> SipURI
#     host_port (property) -> str    "host" or "host:port"
#
# def parse_uri(text: str) -> SipURI
#     sip: and sips: URIs, RFC 3261 §19.1 / §25.1: userinfo with escapes (%XX) and the unreserved/
#     user-unreserved characters, password, host (hostname, IPv4, [IPv6]), port, ;params, ?headers.
#     Other schemes (tel:, mailto:, urn: …) raise SipParseError(status_hint=416).
#
# class NameAddr:                    frozen dataclass (slots) — a From/To/Contact/Route/Record-Route value
#     display_name: str | None       unquoted display name (quotes removed, \-escapes resolved)
#     uri: SipURI
#     params: tuple[tuple[str, str | None], ...]    header params after the URI (tag, expires, q …), names lower-cased
#     bracketed: bool                 True when written with <…>
#     def __str__(self) -> str        always writes <uri> form: ['"display" '] '<' uri '>' [;params]
#     def param(self, name: str) -> str | None
#     tag (property) -> str | None
#     def with_param(self, name: str, value: str | None) -> NameAddr   (replaces or appends)
#
# def parse_name_addr(text: str) -> NameAddr
#     name-addr (`"Bob" <sip:bob@x>;tag=1`, `<sip:x>`, `Bob <sip:x>`) and addr-spec (`sip:bob@x;tag=1`,
#     where per §20 the ;params after an addr-spec belong to the header, not the URI). `*` is not accepted here.
#
# class Via:                         frozen dataclass (slots)
#     protocol: str                  "SIP/2.0"
#     transport: str                 upper-case, e.g. "UDP"
#     host: str
#     port: int | None
#     params: tuple[tuple[str, str | None], ...]    (branch, received, rport, maddr, ttl …) names lower-cased
#     branch (property) -> str | None
#     def param(self, name: str) -> str | None
#     def with_param(self, name: str, value: str | None) -> Via
#     sent_by (property) -> tuple[str, int]         (host, port or 5060)
#     def __str__(self) -> str       "SIP/2.0/UDP host:port;params"
#
# def parse_via(text: str) -> Via   one Via value (not a comma list)
#
# def split_values(value: str) -> list[str]
#     Split a comma-separated header value into its elements, not splitting inside "quoted strings"
#     or <angle brackets>; elements stripped; empty elements dropped.
#
# MULTI_VALUE_HEADERS: frozenset[str]   canonical names whose values may be comma lists: Via, Route,
#     Record-Route, Contact, Allow, Supported, Require, Proxy-Require, Unsupported, Accept,
#     Accept-Encoding, Accept-Language, Allow-Events, In-Reply-To, Content-Encoding, Path, Diversion …
#     (NOT: WWW-Authenticate, Proxy-Authenticate, Authorization, Proxy-Authorization, Date, From, To …)
#
# def canonical_name(name: str) -> str     compact → full, canonical capitalisation
#
# class Headers:                     ordered list of (canonical name, value) pairs
#     def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None   (names canonicalised)
#     def get(self, name: str) -> str | None            first header line's value, whole
#     def get_all(self, name: str) -> list[str]         every value; for MULTI_VALUE_HEADERS comma lists are split
#     def first_value(self, name: str) -> str | None    first element (split) — e.g. the top Via value
#     def count(self, name: str) -> int                  number of header lines with that name
#     def __contains__(self, name: object) -> bool
#     def add(self, name: str, value: str) -> None       append at the end
#     def prepend(self, name: str, value: str) -> None   insert a new header line just before the first line of
#                                                         that name, or before all headers when there is none
#     def set(self, name: str, value: str) -> None       replace all lines of that name by one (in place of the first)
#     def remove_all(self, name: str) -> int             number removed
#     def remove_first_value(self, name: str) -> str | None
#         remove the first *element* of that header: if the first line holds a comma list, only its first element
#         is removed and the line keeps the rest (needed for Via and Route, §16.4, §16.7 step 3)
#     def __iter__(self) -> Iterator[tuple[str, str]]
#     def __len__(self) -> int
#     def copy(self) -> Headers
#
# class Request:                      __slots__: method, uri, version, headers, body
#     method: str                     as received (methods are case-sensitive, §7.1)
#     uri: str                        Request-URI text
#     version: str                    "SIP/2.0"
#     headers: Headers
#     body: bytes
#     def __init__(self, method: str, uri: str, headers: Headers | None = None, body: bytes = b"",
#                  version: str = "SIP/2.0") -> None
#     def to_bytes(self) -> bytes
#     def copy(self) -> Request
#     call_id (property) -> str
#     cseq (property) -> tuple[int, str]
#     from_tag (property) -> str | None
#     to_tag (property) -> str | None
#     top_via (property) -> Via       parsed first Via element (raises SipParseError if absent/bad)
#     max_forwards (property) -> int | None
#
# class Response:                     __slots__: status, reason, version, headers, body
#     status: int; reason: str; version: str; headers: Headers; body: bytes
#     def __init__(self, status: int, reason: str | None = None, headers: Headers | None = None,
#                  body: bytes = b"", version: str = "SIP/2.0") -> None   (reason defaults from REASON_PHRASES)
#     def to_bytes(self) -> bytes; def copy(self) -> Response
#     call_id, cseq, from_tag, to_tag, top_via (properties, as on Request)
#
# Message = Request | Response
#
# def parse_message(data: bytes) -> Request | Response     (see validation rules above)
#
# REASON_PHRASES: dict[int, str]     RFC 3261 §21 reason phrases (100 Trying … 606 Not Acceptable)
#
# def make_response(request: Request, status: int, reason: str | None = None, *,
#                   to_tag: str | None = None) -> Response
#     §8.2.6: copies every Via (in order), From, To (adding ;tag=to_tag when given and the To has no tag yet),
#     Call-ID, CSeq; for 100 Trying also Timestamp (§8.2.6.1). No body; Content-Length 0.
#
# def build_cancel(invite: Request) -> Request
#     §9.1: CANCEL with the INVITE's Request-URI, Call-ID, From, To (as in the request, i.e. without a new tag),
#     CSeq number with method CANCEL, the INVITE's *top Via only*, its Route headers, Max-Forwards 70.
#
# def build_ack_for_non2xx(invite: Request, response: Response) -> Request
#     §17.1.1.3: ACK with the INVITE's Request-URI, Call-ID, From, CSeq number (method ACK), the INVITE's top
#     Via only, the To of the *response* (with its tag), the INVITE's Route headers, Max-Forwards 70.
#
# def new_tag() -> str               random, ≥ 32 bits of randomness, token characters
# def new_branch(seed: str = "") -> str   "z9hG4bK" + unique token
#
# DEFAULT_PORT = 5060
