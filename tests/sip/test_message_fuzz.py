"""Property-based tests of labpbx.sip.message (hypothesis).

1. Hostile datagrams (random bytes, huge ones, NULs, truncated / mutated real messages, wrong
   Content-Length) never make parse_message raise anything but SipParseError; whatever parses can be
   read (lazy accessors raise only SipParseError) and re-serialized, and serializing is idempotent.
2. Generated valid messages, written with the liberties RFC 3261 allows (compact names, LWS around
   the colon, folding, bare-LF line ends, keep-alive CRLFs, extra bytes after the body), parse to
   exactly the message that was generated and round-trip.
3. Generated URIs, name-addrs and Via values round-trip through str().
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import string
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package is not installed in every test venv
    sys.path.insert(0, str(ROOT))

from labpbx.errors import SipParseError  # noqa: E402
from labpbx.sip.message import (  # noqa: E402
    COMPACT_FORMS,
    MAX_MESSAGE_SIZE,
    Headers,
    NameAddr,
    Request,
    Response,
    SipURI,
    Via,
    canonical_name,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
    split_values,
)

EXAMPLES = 2000
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SDP = (b"v=0\r\no=alice 2890844526 2890844526 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       b"t=0 0\r\nm=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n")
REAL: list[bytes] = [
    b"INVITE sip:1004@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:1001@127.0.0.1>;tag=1928301774\r\n'
    b"To: <sip:1004@127.0.0.1>\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b'Contact: "Doe, John" <sip:1001@127.0.0.1:5070;transport=udp>, <sip:x@[::1]>\r\n'
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP,
    b"SIP/2.0 486 Busy Here\r\n"
    b"Via: SIP/2.0/UDP proxy;branch=z9hG4bKp1, SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK7;"
    b"received=127.0.0.1;rport=5070\r\n"
    b"From: <sip:1001@127.0.0.1>;tag=1928301774\r\n"
    b"To: <sip:1004@127.0.0.1>;tag=b1\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"REGISTER sip:127.0.0.1 SIP/2.0\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKr1\n"
    b"f: sip:1001@127.0.0.1;tag=r1\n"
    b"t: sip:1001@127.0.0.1\n"
    b"i: reg1\n"
    b"CSeq: 0001\n  REGISTER\n"
    b"m: <sip:1001@127.0.0.1:5070>;expires=3600;+sip.instance=\"<urn:uuid:1-2>\"\n"
    b"l: 0\n\n",
    b"\r\n\r\nOPTIONS sip:[2001:db8::1]:5060;transport=udp SIP/2.0\r\n"
    b"Via  :   SIP / 2.0 / UDP [2001:db8::9]:5070 ; branch = z9hG4bKo1\r\n"
    b"From: sip:%61lice@example.com;tag=o1\r\nTo: sip:bob@example.com\r\n"
    b"Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\n\r\n",
]
INTERESTING: list[bytes] = [
    b"\r\n", b"\n", b"\r", b"\x00", b" ", b"\t", b":", b";", b",", b'"', b"<", b">", b"\\", b"=",
    b"\r\n ", b"\r\n\r\n", b"\n\n", b"%", b"%0", b"@", b"[", b"]", b"\xff", b"\xc3\xa9", b"\xed\xa0\x80",
    b"SIP/2.0 ", b"sip:", b"tel:", b"Content-Length: 99999999999999999999\r\n", b"l: -1\r\n",
    b"v: SIP/2.0/UDP [::1\r\n", b"CSeq: 1 BYE\r\n", b"Call-ID: dup\r\n", b"To: \"open\r\n",
    b"Max-Forwards: 256\r\n", b"x" * 9000,
]


# --- 1. hostile datagrams ----------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(("flip", "insert", "delete", "replace", "truncate", "repeat")))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(pos, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1,
                                                                                  max_size=8)))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "replace":
            data[pos:pos + 1] = draw(st.sampled_from(INTERESTING))
        elif op == "truncate":
            del data[pos:]
        elif op == "repeat":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 200))]
    return bytes(data)


@st.composite
def wrong_content_length(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(REAL[:2]))
    value = draw(st.one_of(
        st.integers(-(10**30), 10**30).map(str),
        st.integers(0, 400).map(str),
        st.sampled_from(["", " ", "0x10", "\uff11\uff12", "1e3", "5 5", "+5", "0" * 5000 + "1"]),
    ))
    start = data.index(b"Content-Length: ") + len(b"Content-Length: ")
    end = data.index(b"\r\n", start)
    body = draw(st.one_of(st.just(b""), st.binary(max_size=300)))
    return data[:start] + value.encode() + data[end:] + body


@st.composite
def huge(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(("repeat", "crlf", "body", "headers")))
    if kind == "repeat":
        return draw(st.sampled_from(REAL)) * draw(st.integers(1, 150))
    if kind == "crlf":
        return b"\r\n" * draw(st.integers(0, 40_000))
    if kind == "body":
        size = draw(st.integers(MAX_MESSAGE_SIZE - 2000, MAX_MESSAGE_SIZE + 2000))
        return REAL[1] + b"x" * (size - len(REAL[1]))
    head, _, _ = REAL[0].partition(b"\r\n\r\n")
    extra = b"".join(b"X-H%d: v\r\n" % i for i in range(draw(st.integers(200, 1100))))
    return head + b"\r\n" + extra + b"\r\n"


SIP_PIECES = st.sampled_from([
    b"INVITE", b"SIP/2.0", b"sip:a@b", b" ", b"\r\n", b"\n", b"Via:", b"v:", b"From:", b"To:",
    b"Call-ID:", b"CSeq:", b"1 INVITE", b"Content-Length:", b"l:", b"0", b"10", b";tag=1", b"<", b">",
    b'"', b",", b":", b";", b"\x00", b"\xff", b"SIP/2.0/UDP h;branch=z9hG4bK1", b"200", b"OK",
    b"Max-Forwards:", b"70", b"[::1]", b"\t", b"\r",
])
HOSTILE = st.one_of(
    st.binary(max_size=600),
    mutated(),
    wrong_content_length(),
    huge(),
    st.lists(SIP_PIECES, max_size=80).map(b"".join),
    st.sampled_from(REAL).flatmap(lambda data: st.integers(0, len(data)).map(lambda n: data[:n])),
)


def _exercise(message: Request | Response) -> None:
    """Every accessor either works or raises SipParseError; serialization is idempotent."""
    for read in (lambda: message.call_id, lambda: message.cseq, lambda: message.from_tag,
                 lambda: message.to_tag, lambda: message.top_via):
        with contextlib.suppress(SipParseError):
            read()
    if isinstance(message, Request):
        with contextlib.suppress(SipParseError):
            parse_uri(message.uri)
    for name, value in message.headers:
        for element in message.headers.get_all(name) + split_values(value):
            for parse in (parse_name_addr, parse_via, parse_uri):
                with contextlib.suppress(SipParseError):
                    parse(element)
    wire = message.to_bytes()
    if len(wire) <= MAX_MESSAGE_SIZE:
        assert parse_message(wire).to_bytes() == wire


@FUZZ
@given(HOSTILE)
def test_hostile_datagrams_raise_only_sip_parse_error(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipParseError as error:
        assert error.status_hint in (400, 505, 513)
        return
    _exercise(message)


# --- 3. URIs, name-addrs, Via (rich generators) ---------------------------------------------------

ALNUM = string.ascii_letters + string.digits
MARK = "-_.!~*'()"
TOKEN = ALNUM + "-.!%*_+`'~"
LOWER_TOKEN = string.ascii_lowercase + string.digits + "-.!%*_+`'~"
ESCAPE = st.integers(0, 255).map(lambda b: f"%{b:02X}")
TEXT_CHARS = st.characters(codec="utf-8", exclude_characters="\r\n\x00")


def _escaped_text(plain: str) -> st.SearchStrategy[str]:
    """Text of `plain` characters with an occasional %XX escape."""
    return st.tuples(st.text(plain, min_size=1, max_size=8), st.none() | ESCAPE,
                     st.text(plain, max_size=3)).map(lambda t: t[0] + (t[1] or "") + t[2])


HOST = st.one_of(
    st.text(string.ascii_lowercase + string.digits + "-._", min_size=1, max_size=16),
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.one_of(st.integers(0, 2**128 - 1), st.integers(0, 2**20)).map(
        lambda n: f"[{ipaddress.IPv6Address(n)}]"),
)
PORT = st.none() | st.integers(0, 65535)
URI_PARAM = st.tuples(
    st.text(string.ascii_lowercase + string.digits + "-_.!~*'()[]/:&+$", min_size=1, max_size=8),
    st.none() | _escaped_text(ALNUM + MARK + "[]/:&+$"),
)


@st.composite
def sip_uris(draw: st.DrawFn, with_headers: bool = True) -> SipURI:
    user = draw(st.none() | _escaped_text(ALNUM + MARK + "&=+$,;?/"))
    password = None if user is None else draw(st.none() | _escaped_text(ALNUM + MARK + "&=+$,"))
    headers = draw(st.none() | st.text(ALNUM + MARK + "[]/?:+$&=", min_size=1, max_size=12)) \
        if with_headers else None
    params = tuple(draw(st.lists(URI_PARAM, max_size=3)))
    return SipURI(draw(st.sampled_from(("sip", "sips"))), user, password, draw(HOST), draw(PORT),
                  params, headers)


QUOTED_VALUE = st.text(TEXT_CHARS, max_size=10).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
HEADER_PARAM = st.tuples(
    st.text(LOWER_TOKEN, min_size=1, max_size=8),
    st.none() | st.text(TOKEN, min_size=1, max_size=10) | QUOTED_VALUE
    | st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
)


@st.composite
def name_addrs(draw: st.DrawFn) -> NameAddr:
    display = draw(st.none() | st.text(TEXT_CHARS, max_size=12))
    return NameAddr(display, draw(sip_uris()), tuple(draw(st.lists(HEADER_PARAM, max_size=2))))


@st.composite
def vias(draw: st.DrawFn) -> Via:
    transport = draw(st.sampled_from(("UDP", "TCP", "TLS", "SCTP", "WS")) |
                     st.text(string.ascii_uppercase + string.digits + "-.!%*_+`'~", min_size=1,
                             max_size=6))
    params = draw(st.lists(HEADER_PARAM.filter(lambda p: p[1] is None or '"' not in p[1]),
                           max_size=2))
    branch = ("branch", "z9hG4bK" + draw(st.text(TOKEN, min_size=1, max_size=12)))
    return Via("SIP/2.0", transport, draw(HOST), draw(PORT), (*params, branch))


ROUND_TRIP = settings(max_examples=EXAMPLES, deadline=None)


@ROUND_TRIP
@given(st.one_of(sip_uris(), name_addrs(), vias()))
def test_uri_name_addr_and_via_round_trip(value: SipURI | NameAddr | Via) -> None:
    if isinstance(value, SipURI):
        assert parse_uri(str(value)) == value
    elif isinstance(value, NameAddr):
        assert parse_name_addr(str(value)) == value
    else:
        assert parse_via(str(value)) == value
        assert split_values(f"{value}, {value}") == [str(value), str(value)]


# --- 2. valid messages (pooled parts keep generation fast; the free text is generated) --------------

CHECKED = {"via", "from", "to", "call-id", "cseq", "max-forwards", "content-length"}
FULL_TO_COMPACT = {full: compact for compact, full in COMPACT_FORMS.items()}
METHOD = st.sampled_from(["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "MESSAGE",
                          "SUBSCRIBE", "NOTIFY", "REFER", "INFO", "PRACK", "UPDATE", "invite",
                          "RE%47IST%45R", "!interesting-Method0123456789_*+`.%indeed'~"])
HOSTS = ["atlanta.example.com", "127.0.0.1", "[::1]", "[2001:db8::9:1]", "h", "a-b.c_d.",
         "192.0.2.255", "[::ffff:192.0.2.1]", "0"]
USERS = [None, "alice", "1004", "+1-212-555-1212", "%61lice", "user;par=u%40example.net",
         "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", "null-%00-null", "b1004"]
URI_PARAMS: list[tuple[tuple[str, str | None], ...]] = [
    (), (("lr", None),), (("transport", "udp"),), (("user", "phone"), ("lr", None)),
    (("maddr", "[::1]"), ("ttl", "15")), (("%6c%72", None), ("n%61me", "v%61lue%25%34%31")),
]
DISPLAYS = [None, "", "Alice", "Doe, John", 'Quoted string ""', 'J Rosenberg \\"', "<x>;tag=1",
            "caf\u00e9 \u5927\u505c\u96fb", "a\tb"]
HEADER_PARAMS: list[tuple[tuple[str, str | None], ...]] = [
    (), (("expires", "3600"),), (("q", "0.5"), ("lr", None)), (("p", '"a;b,c"'),),
    (("+sip.instance", '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"'),),
    (("received", "2001:db8::9:255"),),
]
CHEAP_URI = st.builds(SipURI, st.sampled_from(["sip", "sips"]), st.sampled_from(USERS),
                      st.sampled_from([None, None, "", "pw"]), st.sampled_from(HOSTS),
                      st.sampled_from([None, None, 0, 5060, 65535]), st.sampled_from(URI_PARAMS))
EXTRA_NAMES = ["Subject", "User-Agent", "Contact", "Route", "Record-Route", "Allow", "Supported",
               "WWW-Authenticate", "Date", "X-Custom", "x-lower", "NewFangledHeader", "C%6Fntact",
               "Content-Type", "Timestamp", "extensionHeader-!.%*+_`'~"]
VALUE_TEXT = st.one_of(
    st.text(TEXT_CHARS, max_size=40),
    st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")
                               .replace(b"\x00", b"").decode("utf-8", "surrogateescape")),
).map(lambda s: s.strip(" \t"))
CALL_ID = st.text(ALNUM + "-.!%*_+`'~()<>:\\\"/[]?{}@", min_size=1, max_size=30)


def _name_addr(display: str | None, uri: SipURI, params: tuple[tuple[str, str | None], ...],
               tag: str | None) -> str:
    value = NameAddr(display, uri, params)
    return str(value if tag is None else value.with_param("tag", tag))


@st.composite
def messages(draw: st.DrawFn) -> Request | Response:
    """A valid Request or Response whose header list is in canonical form."""
    method = draw(METHOD)
    tag = draw(st.text(TOKEN, min_size=1, max_size=10))
    via_list = [Via("SIP/2.0", transport, host, port, (("branch", branch),))
                for transport, host, port, branch in draw(st.lists(st.tuples(
                    st.sampled_from(["UDP", "TCP", "TLS", "X-Y"]), st.sampled_from(HOSTS),
                    st.sampled_from([None, 5060, 5070]),
                    st.sampled_from(["z9hG4bK776asdhds", "z9hG4bK-.!%66*_+`'~", "390skdjuw"])),
                    min_size=1, max_size=3))]
    via_lines = [", ".join(map(str, via_list))] if draw(st.booleans()) else list(map(str, via_list))
    items = [("Via", line) for line in via_lines]
    items += [
        ("From", _name_addr(draw(st.sampled_from(DISPLAYS)), draw(CHEAP_URI),
                            draw(st.sampled_from(HEADER_PARAMS)), tag)),
        ("To", _name_addr(draw(st.sampled_from(DISPLAYS)), draw(CHEAP_URI), (), None)),
        ("Call-ID", draw(CALL_ID)),
        ("CSeq", f"{draw(st.integers(0, 2**32 - 1))} {method}"),
    ]
    if draw(st.booleans()):
        items.append(("Max-Forwards", str(draw(st.integers(0, 255)))))
    items += draw(st.lists(st.tuples(st.sampled_from(EXTRA_NAMES), VALUE_TEXT), max_size=4))
    items = draw(st.permutations(items))
    body = draw(st.binary(max_size=200))
    headers = Headers([*items, ("Content-Length", str(len(body)))])
    if draw(st.booleans()):
        return Request(method, str(draw(CHEAP_URI)), headers, body)
    reason = draw(st.text(TEXT_CHARS, max_size=20))
    return Response(draw(st.integers(100, 699)), reason, headers, body)


def rendered(message: Request | Response, seed: int) -> bytes:
    """Write `message` by hand, with the liberties a sender may take (chosen by `seed`)."""
    rng = random.Random(seed)
    if isinstance(message, Request):
        start = f"{message.method} {message.uri} {rng.choice(['SIP/2.0', 'sip/2.0'])}"
    else:
        start = f"SIP/2.0 {message.status} {message.reason}"
    lines = [start]
    for name, value in message.headers:
        spelled = name
        if name in FULL_TO_COMPACT and rng.random() < 0.5:
            spelled = FULL_TO_COMPACT[name]
        elif canonical_name(name.lower()) == name == canonical_name(name.upper()) \
                and rng.random() < 0.5:
            spelled = rng.choice([name.lower(), name.upper()])
        before, after = rng.choice(["", "", " ", "\t", "  "]), rng.choice(["", " ", " ", "\t "])
        lines.append(f"{spelled}{before}:{after}{_fold(rng, value)}")
    eols = [rng.choice(["\r\n", "\r\n", "\n"]) for _ in range(len(lines) + 1)]
    head = "".join(line + eol for line, eol in zip(lines, eols, strict=False)) + eols[-1]
    keepalive = b"\r\n" * rng.choice([0, 0, 1, 2])
    trailer = rng.choice([b"", b"", b"garbage after the body", b"\r\n"])
    return keepalive + head.encode("utf-8", "surrogateescape") + message.body + trailer


def _fold(rng: random.Random, value: str) -> str:
    """Fold at a single space between two visible characters (§7.3.1), sometimes."""
    spots = [i for i in range(1, len(value) - 1)
             if value[i] == " " and value[i - 1] not in " \t" and value[i + 1] not in " \t"]
    if not spots or rng.random() < 0.5:
        return value
    i = rng.choice(spots)
    return value[:i] + rng.choice(["\r\n ", "\r\n\t", "\n  "]) + value[i + 1:]


def _state(message: Request | Response) -> tuple[object, ...]:
    start = (message.method, message.uri) if isinstance(message, Request) else (
        message.status, message.reason)
    return (*start, message.version, list(message.headers), message.body)


@ROUND_TRIP
@given(messages(), st.integers(0, 2**32 - 1))
def test_valid_messages_parse_to_what_was_written(message: Request | Response, seed: int) -> None:
    parsed = parse_message(rendered(message, seed))
    assert _state(parsed) == _state(message)
    assert parsed == message
    assert parsed.to_bytes() == message.to_bytes()
    assert parse_message(parsed.to_bytes()) == message
    assert parsed.top_via == parse_via(message.headers.get_all("Via")[0])
    assert parsed.from_tag == parse_name_addr(message.headers.get("From") or "").tag
    if isinstance(parsed, Request):
        assert parsed.cseq[1] == parsed.method
