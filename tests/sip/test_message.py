"""SIP message parsing, headers and serialization (labpbx.sip.message), grouped by RFC 3261 section.

RFC 4475 torture tests are at the end (3.1.1 valid, 3.1.2 invalid, 3.3 semantics the parser sees).
"""

from __future__ import annotations

import string
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package is not installed in every test venv
    sys.path.insert(0, str(ROOT))

from labpbx.errors import LocalProtocolError, SipParseError  # noqa: E402
from labpbx.sip.message import (  # noqa: E402
    COMPACT_FORMS,
    MAX_HEADER_LINE,
    MAX_HEADERS,
    MAX_MESSAGE_SIZE,
    MULTI_VALUE_HEADERS,
    REASON_PHRASES,
    Headers,
    Request,
    Response,
    Via,
    build_ack_for_non2xx,
    build_cancel,
    canonical_name,
    make_response,
    new_branch,
    new_tag,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
    split_values,
)

# --- builders ------------------------------------------------------------------------------------

INVITE_LINE = "INVITE sip:bob@biloxi.example.com SIP/2.0"
VIA1 = "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds"
FROM = "Alice <sip:alice@atlanta.example.com>;tag=1928301774"
TO = "Bob <sip:bob@biloxi.example.com>"
CALL_ID = "a84b4c76e66710@pc33.atlanta.example.com"
BASE = [
    f"Via: {VIA1}",
    "Max-Forwards: 70",
    f"To: {TO}",
    f"From: {FROM}",
    f"Call-ID: {CALL_ID}",
    "CSeq: 314159 INVITE",
    "Contact: <sip:alice@pc33.atlanta.example.com>",
]
SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.101\r\n"
    b"t=0 0\r\n"
    b"m=audio 49172 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
)


def build(lines: Iterable[str] = BASE, body: bytes = b"", *, start: str = INVITE_LINE,
          length: str | None = "auto", eol: str = "\r\n") -> bytes:
    """A datagram: start line, header lines, Content-Length ("auto": the real one), body."""
    all_lines = [start, *lines]
    if length == "auto":
        all_lines.append(f"Content-Length: {len(body)}")
    elif length is not None:
        all_lines.append(f"Content-Length: {length}")
    return (eol.join(all_lines) + eol + eol).encode("utf-8", "surrogateescape") + body


def base_with(name: str, line: str | None) -> list[str]:
    """BASE with the line of header `name` replaced by `line` (dropped when None)."""
    out = [item for item in BASE if not item.startswith(f"{name}:")]
    if line is not None:
        index = next(i for i, item in enumerate(BASE) if item.startswith(f"{name}:"))
        out.insert(index, line)
    return out


def request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def response(data: bytes) -> Response:
    message = parse_message(data)
    assert isinstance(message, Response)
    return message


def raises(data: bytes, status: int = 400) -> SipParseError:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.status_hint == status
    return info.value


INVITE = build(body=SDP, lines=[*BASE, "Content-Type: application/sdp"])
OK_200 = build(start="SIP/2.0 200 OK", lines=[
    f"Via: {VIA1};received=192.0.2.101", f"From: {FROM}", f"To: {TO};tag=a6c85cf",
    f"Call-ID: {CALL_ID}", "CSeq: 314159 INVITE", "Contact: <sip:bob@192.0.2.4>",
])


# --- §7.1 / §7.2 start lines ----------------------------------------------------------------------


class Test7_1_RequestLine:
    """RFC 3261 §7.1: Method SP Request-URI SP SIP-Version CRLF."""

    @pytest.mark.parametrize(("start", "method", "uri"), [
        (INVITE_LINE, "INVITE", "sip:bob@biloxi.example.com"),
        ("REGISTER sip:registrar.example.com SIP/2.0", "REGISTER", "sip:registrar.example.com"),
        ("invite sip:b@x SIP/2.0", "invite", "sip:b@x"),
        ("RE%47IST%45R sip:registrar.example.com SIP/2.0", "RE%47IST%45R",
         "sip:registrar.example.com"),
        ("!interesting-Method0123456789_*+`.%indeed'~ sip:x@y SIP/2.0",
         "!interesting-Method0123456789_*+`.%indeed'~", "sip:x@y"),
        ("OPTIONS sip:user@example.com sip/2.0", "OPTIONS", "sip:user@example.com"),
        ("INVITE tel:+12125551212 SIP/2.0", "INVITE", "tel:+12125551212"),
        ("OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0", "OPTIONS",
         "nobodyKnowsThisScheme:totallyopaquecontent"),
        ("OPTIONS sip:[::1]:5060;transport=udp SIP/2.0", "OPTIONS", "sip:[::1]:5060;transport=udp"),
        ("INVITE sips:a@b;lr SIP/2.0", "INVITE", "sips:a@b;lr"),
        ("OPTIONS sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d"
         "_too.(doesn't-it)@example.com SIP/2.0", "OPTIONS",
         "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too."
         "(doesn't-it)@example.com"),
    ])
    def test_valid(self, start: str, method: str, uri: str) -> None:
        message = request(build(base_with("CSeq", f"CSeq: 1 {method}"), start=start))
        assert (message.method, message.uri, message.version) == (method, uri, "SIP/2.0")

    @pytest.mark.parametrize(("start", "status"), [
        ("INVITE  sip:user@example.com  SIP/2.0", 400),  # RFC 4475 lwsstart
        ("INVITE sip:user@example.com SIP/2.0  ", 400),  # RFC 4475 trws
        ("INVITE sip:user@example.com; lr SIP/2.0", 400),  # RFC 4475 lwsruri
        ("INVITE <sip:user@example.com> SIP/2.0", 400),  # RFC 4475 ltgtruri
        ("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0", 400),  # escruri
        ("INVITE sip:t.watson@example.org SIP/7.0", 505),  # RFC 4475 badvers
        ("INVITE sip:x@y SIP/2.1", 505),
        ("INVITE sip:x@y SIP/20", 400),
        ("INVITE sip:x@y HTTP/1.1", 400),
        ("INVITE sip:x@y", 400),
        ("INVITE", 400),
        ("INV@TE sip:x@y SIP/2.0", 400),
        ("INVITE sip: SIP/2.0", 400),
        ("INVITE alice SIP/2.0", 400),
        ("INVITE :alice SIP/2.0", 400),
        ("INVITE sip:h\tx SIP/2.0", 400),
        ("INVITE\tsip:x@y SIP/2.0", 400),
        ("INVITE sip:x@y\x7f SIP/2.0", 400),
        ("INVITE sip:\u00e9@y SIP/2.0", 400),
        ("GET / HTTP/1.1", 400),
        (" INVITE sip:x@y SIP/2.0", 400),
    ])
    def test_invalid(self, start: str, status: int) -> None:
        raises(build(start=start), status)

    def test_escaped_headers_in_request_uri_message(self) -> None:
        error = raises(build(start="INVITE sip:u@example.com?Subject=x SIP/2.0"))
        assert "headers are not allowed" in str(error)


class Test7_2_StatusLine:
    """RFC 3261 §7.2: SIP-Version SP Status-Code SP Reason-Phrase CRLF."""

    @pytest.mark.parametrize(("start", "status", "reason"), [
        ("SIP/2.0 200 OK", 200, "OK"),
        ("SIP/2.0 180 Ringing", 180, "Ringing"),
        ("SIP/2.0 100 ", 100, ""),  # RFC 4475 noreason
        ("SIP/2.0 100", 100, ""),
        ("SIP/2.0 486 Busy  Here ", 486, "Busy  Here "),
        ("sip/2.0 200 OK", 200, "OK"),
        ("SIP/2.0 699 x", 699, "x"),
        ("SIP/2.0 603 Decline: no; thanks", 603, "Decline: no; thanks"),
        ("SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e", 200,
         "= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e"),  # RFC 4475 unreason (UTF-8)
    ])
    def test_valid(self, start: str, status: int, reason: str) -> None:
        message = response(build(start=start))
        assert (message.status, message.reason, message.version) == (status, reason, "SIP/2.0")

    @pytest.mark.parametrize(("start", "status"), [
        ("SIP/2.0 4294967301 better not break the receiver", 400),  # RFC 4475 bigcode
        ("SIP/2.0 099 x", 400),
        ("SIP/2.0 700 x", 400),
        ("SIP/2.0 20 OK", 400),
        ("SIP/2.0 2000 OK", 400),
        ("SIP/2.0 abc OK", 400),
        ("SIP/2.0  200 OK", 400),
        ("SIP/2.0 \u00b200 OK", 400),
        ("SIP/3.0 200 OK", 505),
        ("SIP/ 200 OK", 400),
        ("SIP/2.0", 400),
        ("SIP/2.0/UDP 200 OK", 400),
    ])
    def test_invalid(self, start: str, status: int) -> None:
        raises(build(start=start), status)

    def test_responses_need_no_particular_headers(self) -> None:
        message = response(build([f"Via: {VIA1}"], start="SIP/2.0 503 Service Unavailable"))
        assert message.status == 503
        assert message.top_via.branch == "z9hG4bK776asdhds"


# --- §7.3 header fields ---------------------------------------------------------------------------

CONTRACT_COMPACT = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length",
    "c": "Content-Type", "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via",
    "o": "Event", "u": "Allow-Events", "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires",
    "y": "Identity", "a": "Accept-Contact", "j": "Reject-Contact", "d": "Request-Disposition",
}


class Test7_3_3_CompactForm:
    """RFC 3261 §7.3.3 (and later RFCs): compact names are expanded when stored."""

    @pytest.mark.parametrize(("compact", "full"), sorted(CONTRACT_COMPACT.items()))
    def test_canonical_name(self, compact: str, full: str) -> None:
        assert canonical_name(compact) == full
        assert canonical_name(compact.upper()) == full
        assert COMPACT_FORMS[compact] == full

    @pytest.mark.parametrize(("compact", "full"), sorted(
        (c, f) for c, f in CONTRACT_COMPACT.items() if c not in "iltfv"))
    def test_stored_expanded(self, compact: str, full: str) -> None:
        message = request(build([*base_with("Contact", None), f"{compact}: some-value"]))
        assert (full, "some-value") in list(message.headers)
        assert message.headers.get(compact) == "some-value"
        assert message.headers.get(full.upper()) == "some-value"

    def test_all_compact_request(self) -> None:
        data = build([
            f"v: {VIA1}", f"t: {TO}", f"f: {FROM}", f"i: {CALL_ID}", "CSeq: 1 INVITE",
            "m: <sip:a@b>", "c: application/sdp", "k: timer, 100rel", "l: 7",
        ], b"v=0\r\n\r\n", length=None)
        message = request(data)
        assert [name for name, _ in message.headers] == [
            "Via", "To", "From", "Call-ID", "CSeq", "Contact", "Content-Type", "Supported",
            "Content-Length"]
        assert message.body == b"v=0\r\n\r\n"
        assert message.headers.get_all("Supported") == ["timer", "100rel"]


class Test7_3_1_HeaderFieldFormat:
    """RFC 3261 §7.3.1: name, colon, value; LWS, folding, case-insensitive names."""

    @pytest.mark.parametrize(("name", "canonical"), [
        ("call-id", "Call-ID"), ("CALL-ID", "Call-ID"), ("cseq", "CSeq"), ("CSEQ", "CSeq"),
        ("www-authenticate", "WWW-Authenticate"), ("max-forwards", "Max-Forwards"),
        ("MaX-fOrWaRdS", "Max-Forwards"), ("record-route", "Record-Route"),
        ("mime-version", "MIME-Version"), ("rack", "RAck"), ("rseq", "RSeq"),
        ("sip-etag", "SIP-ETag"), ("user-agent", "User-Agent"), ("V", "Via"), ("I", "Call-ID"),
        ("proxy-authorization", "Proxy-Authorization"), ("min-se", "Min-SE"),
        ("X-Custom", "X-Custom"), ("x-custom", "x-custom"), ("C%6Fntact", "C%6Fntact"),
        ("NewFangledHeader", "NewFangledHeader"),
    ])
    def test_canonical_name(self, name: str, canonical: str) -> None:
        assert canonical_name(name) == canonical

    @pytest.mark.parametrize(("lines", "value"), [
        (["Subject: a", " b"], "a b"),
        (["Subject: a", "\tb"], "a b"),
        (["Subject: a  ", "    b  "], "a b"),
        (["Subject:", " b"], "b"),
        (["Subject:", "   "], ""),
        (["Subject: a", " b", "  c"], "a b c"),
        (["Subject: a", "   "], "a"),
        (["Subject   :   x"], "x"),
        (["Subject:x"], "x"),
        (["Subject:\t x \t"], "x"),
        (["Subject:"], ""),
        (["Subject:    "], ""),
        (["s :"], ""),
        (["Subject: a:b: c"], "a:b: c"),
        (["Subject: \u00e9t\u00e9"], "\u00e9t\u00e9"),
    ])
    def test_value_whitespace_and_folding(self, lines: list[str], value: str) -> None:
        message = request(build([*BASE, *lines]))
        assert message.headers.get("Subject") == value

    @pytest.mark.parametrize("eol", ["\r\n", "\n"])
    def test_folded_known_headers(self, eol: str) -> None:
        data = build([
            "Via: SIP/2.0/UDP pc33.atlanta.example.com", "   ;branch=z9hG4bK1", "TO :",
            f" {TO}", "From: Alice", "\t<sip:alice@atlanta.example.com>;tag=1",
            f"Call-ID: {CALL_ID}", "cseq: 0009", "  INVITE",
        ], eol=eol)
        message = request(data)
        assert message.top_via.branch == "z9hG4bK1"
        assert message.headers.get("To") == TO
        assert message.from_tag == "1"
        assert message.cseq == (9, "INVITE")

    @pytest.mark.parametrize("line", [
        "NoColonHere",
        ": value",
        "Bad Name: x",
        "Bad\x01Name: x",
        "Na(me: x",
        "Na<me>: x",
        "\u00e9t\u00e9: x",
    ])
    def test_invalid_header_line(self, line: str) -> None:
        raises(build([*BASE, line]))

    def test_continuation_before_first_header(self) -> None:
        raises(build([" folded: onto the request line", *BASE]))

    def test_order_and_unknown_headers_kept(self) -> None:
        message = request(build(["X-First: 1", *BASE, "NewFangledHeader: new", "x-last: z"]))
        names = [name for name, _ in message.headers]
        assert names[0] == "X-First"
        assert names[-3:] == ["NewFangledHeader", "x-last", "Content-Length"]
        assert message.headers.get("X-LAST") == "z"

    @pytest.mark.parametrize("name", ["v", "V", "via", "VIA", "Via"])
    def test_lookup_any_spelling(self, name: str) -> None:
        assert request(INVITE).headers.get(name) == VIA1


class Test7_3_1_CommaSeparatedValues:
    """RFC 3261 §7.3.1: a comma list equals several header lines (only for list-valued headers)."""

    @pytest.mark.parametrize(("value", "elements"), [
        ("a, b ,c", ["a", "b", "c"]),
        ("a", ["a"]),
        ("  a  ", ["a"]),
        ("", []),
        (" , ,", []),
        ("a,,b", ["a", "b"]),
        ('"Doe, John" <sip:a@b>, <sip:c@d>', ['"Doe, John" <sip:a@b>', "<sip:c@d>"]),
        ("<sip:a@b;x=1,2>, <sip:c@d>", ["<sip:a@b;x=1,2>", "<sip:c@d>"]),
        ('"a \\" , b" <sip:x@y>, z', ['"a \\" , b" <sip:x@y>', "z"]),
        ('"a \\\\", b', ['"a \\\\"', "b"]),
        ("SIP/2.0/UDP a;branch=1, SIP/2.0/TCP b;branch=2",
         ["SIP/2.0/UDP a;branch=1", "SIP/2.0/TCP b;branch=2"]),
        ('"unterminated, x', ['"unterminated, x']),
        ("<a,b", ["<a,b"]),
        ("a>, b", ["a>", "b"]),
        ('<sip:a@b>;p="x,y", <sip:c@d>', ['<sip:a@b>;p="x,y"', "<sip:c@d>"]),
        ("*", ["*"]),
    ])
    def test_split_values(self, value: str, elements: list[str]) -> None:
        assert split_values(value) == elements

    @pytest.mark.parametrize("name", sorted(MULTI_VALUE_HEADERS))
    def test_multi_value_headers_are_split(self, name: str) -> None:
        headers = Headers([(name, "a, b"), (name, "c")])
        assert headers.get_all(name) == ["a", "b", "c"]
        assert headers.first_value(name) == "a"

    @pytest.mark.parametrize(("name", "value"), [
        ("WWW-Authenticate", 'Digest realm="atlanta.example.com", nonce="84a4cc6f", qop="auth"'),
        ("Proxy-Authenticate", 'Digest realm="a", nonce="b"'),
        ("Authorization", 'Digest username="alice", realm="a", uri="sip:b"'),
        ("Proxy-Authorization", 'Digest username="alice", realm="a"'),
        ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
        ("Subject", "Hello, world"),
        ("From", '"Doe, John" <sip:a@b>;tag=1'),
        ("To", '"Doe, John" <sip:a@b>'),
        ("X-Unknown", "a, b"),
        ("UnknownHeaderWithUnusualValue", ";;,,;;,;"),
    ])
    def test_single_value_headers_are_not_split(self, name: str, value: str) -> None:
        headers = Headers([(name, value)])
        assert headers.get_all(name) == [value]
        assert headers.first_value(name) == value

    def test_contact_with_quoted_comma(self) -> None:
        message = request(build([*BASE[:-1], 'Contact: "Doe, John" <sip:a@b>, <sip:c@d>']))
        contacts = message.headers.get_all("m")
        assert contacts == ['"Doe, John" <sip:a@b>', "<sip:c@d>"]
        assert parse_name_addr(contacts[0]).display_name == "Doe, John"
        assert str(parse_name_addr(contacts[1]).uri) == "sip:c@d"

    @pytest.mark.parametrize(("lines", "first"), [
        ([("Via", "a, b")], "a"),
        ([("Via", ", ,"), ("Via", "x")], "x"),
        ([("Via", "  "), ("Via", "y, z")], "y"),
        ([("Via", ",")], None),
        ([("From", "f")], None),
    ])
    def test_first_value(self, lines: list[tuple[str, str]], first: str | None) -> None:
        assert Headers(lines).first_value("v") == first

    def test_get_all_absent(self) -> None:
        assert Headers().get_all("Via") == []
        assert Headers().first_value("Via") is None
        assert Headers().get("Via") is None


class Test7_3_HeadersList:
    """The ordered header list: add, get, count, contains, iteration, copies, safety."""

    def test_constructor_canonicalises(self) -> None:
        headers = Headers([("v", "a"), ("call-id", "c"), ("X-y", "1")])
        assert list(headers) == [("Via", "a"), ("Call-ID", "c"), ("X-y", "1")]

    def test_get_returns_first_line_whole(self) -> None:
        headers = Headers([("Via", "a, b"), ("Via", "c")])
        assert headers.get("via") == "a, b"
        assert headers.count("Via") == 2
        assert headers.count("v") == 2
        assert headers.count("Route") == 0
        assert len(headers) == 2

    @pytest.mark.parametrize(("name", "present"), [
        ("Via", True), ("v", True), ("VIA", True), ("Route", False), ("", False),
        (5, False), (None, False),
    ])
    def test_contains(self, name: object, present: bool) -> None:
        assert (name in Headers([("Via", "a")])) is present

    def test_copy_is_independent(self) -> None:
        original = Headers([("Via", "a"), ("To", "t")])
        clone = original.copy()
        clone.prepend("Via", "new")
        clone.set("To", "t2")
        assert list(original) == [("Via", "a"), ("To", "t")]
        assert list(clone) == [("Via", "new"), ("Via", "a"), ("To", "t2")]
        assert original != clone
        assert original == Headers([("v", "a"), ("t", "t")])

    @pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "a\rb", "a\x00b"])
    def test_values_with_line_breaks_are_refused(self, value: str) -> None:
        headers = Headers()
        for method in (headers.add, headers.set, headers.prepend):
            with pytest.raises(LocalProtocolError):
                method("Subject", value)
        with pytest.raises(LocalProtocolError):
            Headers([("Subject", value)])
        assert len(headers) == 0

    @pytest.mark.parametrize("name", ["", "Bad Name", "Via:", "X\r\nY", "Na\u00efve"])
    def test_invalid_names_are_refused(self, name: str) -> None:
        with pytest.raises(LocalProtocolError):
            Headers().add(name, "x")

    def test_repr(self) -> None:
        assert repr(Headers([("Via", "a")])) == "Headers([('Via', 'a')])"


class Test16_6_HeaderEditing:
    """RFC 3261 §16.6 steps 3, 8: the edits a proxy makes (Max-Forwards, Via, Record-Route)."""

    @pytest.mark.parametrize(("lines", "name", "expected"), [
        ([("From", "f"), ("Via", "a"), ("Via", "b")], "Via",
         [("From", "f"), ("Via", "new"), ("Via", "a"), ("Via", "b")]),
        ([("From", "f")], "Via", [("Via", "new"), ("From", "f")]),
        ([], "Record-Route", [("Record-Route", "new")]),
        ([("From", "f"), ("Via", "a")], "v", [("From", "f"), ("Via", "new"), ("Via", "a")]),
        ([("Record-Route", "r1"), ("Via", "a")], "record-route",
         [("Record-Route", "new"), ("Record-Route", "r1"), ("Via", "a")]),
    ])
    def test_prepend(self, lines: list[tuple[str, str]], name: str,
                     expected: list[tuple[str, str]]) -> None:
        headers = Headers(lines)
        headers.prepend(name, "new")
        assert list(headers) == expected

    @pytest.mark.parametrize(("lines", "expected"), [
        ([("Max-Forwards", "70"), ("From", "f"), ("Max-Forwards", "5")],
         [("Max-Forwards", "69"), ("From", "f")]),
        ([("From", "f")], [("From", "f"), ("Max-Forwards", "69")]),
        ([("From", "f"), ("Max-Forwards", "70")], [("From", "f"), ("Max-Forwards", "69")]),
    ])
    def test_set(self, lines: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
        headers = Headers(lines)
        headers.set("max-forwards", "69")
        assert list(headers) == expected

    @pytest.mark.parametrize(("lines", "name", "removed", "expected"), [
        ([("Route", "r1"), ("From", "f"), ("Route", "r2")], "Route", 2, [("From", "f")]),
        ([("From", "f")], "Route", 0, [("From", "f")]),
        ([("Via", "a"), ("Via", "b, c")], "v", 2, []),
    ])
    def test_remove_all(self, lines: list[tuple[str, str]], name: str, removed: int,
                        expected: list[tuple[str, str]]) -> None:
        headers = Headers(lines)
        assert headers.remove_all(name) == removed
        assert list(headers) == expected


class Test16_4_RemoveFirstValue:
    """RFC 3261 §16.4 (top Route) and §16.7 step 3 (top Via): remove the first *element*."""

    @pytest.mark.parametrize(("lines", "name", "removed", "expected"), [
        ([("Via", "a, b, c")], "Via", "a", [("Via", "b, c")]),
        ([("Via", "a"), ("Via", "b")], "Via", "a", [("Via", "b")]),
        ([("Via", "a ,  b")], "Via", "a", [("Via", "b")]),
        ([("Route", "<sip:p1;lr>, <sip:p2;lr>")], "Route", "<sip:p1;lr>",
         [("Route", "<sip:p2;lr>")]),
        ([("Route", '"x, y" <sip:p1>, <sip:p2>')], "Route", '"x, y" <sip:p1>',
         [("Route", "<sip:p2>")]),
        ([("Via", ", ,"), ("Via", "b")], "Via", "b", []),
        ([("Via", "a, ,")], "Via", "a", []),
        ([("Via", ", a, b")], "Via", "a", [("Via", "b")]),
        ([("Subject", "a, b")], "Subject", "a, b", []),
        ([("X-Other", "1")], "Via", None, [("X-Other", "1")]),
        ([("Via", "a, b")], "v", "a", [("Via", "b")]),
        ([("From", "f"), ("Via", "a, b"), ("To", "t")], "Via", "a",
         [("From", "f"), ("Via", "b"), ("To", "t")]),
        ([("Via", "SIP/2.0/UDP p1;branch=1, SIP/2.0/UDP p2;branch=2"), ("Via", "SIP/2.0/UDP p3")],
         "Via", "SIP/2.0/UDP p1;branch=1",
         [("Via", "SIP/2.0/UDP p2;branch=2"), ("Via", "SIP/2.0/UDP p3")]),
    ])
    def test_remove_first_value(self, lines: list[tuple[str, str]], name: str,
                                removed: str | None, expected: list[tuple[str, str]]) -> None:
        headers = Headers(lines)
        assert headers.remove_first_value(name) == removed
        assert list(headers) == expected

    def test_pop_every_via_of_a_response(self) -> None:
        message = response(build(start="SIP/2.0 200 OK", lines=[
            "Via: SIP/2.0/UDP p1;branch=1, SIP/2.0/UDP p2;branch=2", "Via: SIP/2.0/UDP p3;branch=3",
        ]))
        branches = []
        while "Via" in message.headers:
            branches.append(message.top_via.branch)
            message.headers.remove_first_value("Via")
        assert branches == ["1", "2", "3"]


# --- §7.4 / §18.3 bodies and framing --------------------------------------------------------------


class Test18_3_ContentLength:
    """RFC 3261 §7.4.1, §18.3, §20.14: Content-Length over UDP."""

    @pytest.mark.parametrize(("length", "body", "expected"), [
        ("auto", SDP, SDP),
        (None, SDP, SDP),  # absent: the rest of the datagram
        (None, b"", b""),
        ("5", b"hello world", b"hello"),  # shorter: the extra bytes are discarded
        ("0", b"trailing junk", b""),
        ("0000000000000000000000000000005", b"hello!", b"hello"),
        ("  5  ", b"hello", b"hello"),
        ("3", b"\x00\x01\x02\x03", b"\x00\x01\x02"),
        ("auto", b"a\r\n\r\nb\x00\xff", b"a\r\n\r\nb\x00\xff"),
    ])
    def test_body_length(self, length: str | None, body: bytes, expected: bytes) -> None:
        assert request(build(body=body, length=length)).body == expected

    @pytest.mark.parametrize(("length", "body", "message"), [
        ("9999", SDP, "truncated body"),  # RFC 4475 clerr
        ("6", b"hello", "truncated body"),
        ("99999999999999999999999999", b"x", "truncated body"),
        ("-999", SDP, "Content-Length"),  # RFC 4475 ncl
        ("abc", b"", "Content-Length"),
        ("+5", b"hello", "Content-Length"),
        ("5.0", b"hello", "Content-Length"),
        ("5 5", b"hello", "Content-Length"),
        ("\u00b2", b"hi", "Content-Length"),
        ("", b"", "Content-Length"),
    ])
    def test_bad_length(self, length: str, body: bytes, message: str) -> None:
        assert message in str(raises(build(body=body, length=length)))

    def test_duplicate_equal_lengths_are_accepted(self) -> None:
        data = build([*BASE, "Content-Length: 5", "l: 5"], b"hello", length=None)
        message = request(data)
        assert message.body == b"hello"
        assert message.to_bytes().count(b"Content-Length") == 1

    def test_conflicting_lengths_are_refused(self) -> None:  # RFC 4475 mcl01
        raises(build([*BASE, "Content-Length: 13", "Content-Length: 5"], b"x" * 20, length=None))

    def test_response_body(self) -> None:
        message = response(build(OK_200.decode().split("\r\n")[1:-3], SDP, start="SIP/2.0 200 OK"))
        assert message.body == SDP


class Test7_5_Framing:
    """RFC 3261 §7.5 keep-alive CRLFs, §7 line ends, and datagrams that are not SIP at all."""

    @pytest.mark.parametrize("prefix", [b"\r\n", b"\r\n\r\n", b"\n", b"\r\n\r\n\r\n\r\n"])
    def test_leading_crlf_skipped(self, prefix: bytes) -> None:
        assert parse_message(prefix + INVITE) == parse_message(INVITE)

    @pytest.mark.parametrize("data", [b"", b"\r\n", b"\r\n\r\n", b"\n\n\n", b"\r"])
    def test_empty(self, data: bytes) -> None:
        assert str(raises(data)) == "empty"

    @pytest.mark.parametrize("eol", ["\n", "\r\n"])
    def test_line_ends(self, eol: str) -> None:
        message = request(build(body=SDP, eol=eol))
        assert message.body == SDP
        assert message.call_id == CALL_ID

    def test_mixed_line_ends(self) -> None:
        data = INVITE.replace(b"\r\nTo:", b"\nTo:").replace(b"\r\nCSeq", b"\nCSeq")
        assert parse_message(data) == parse_message(INVITE)

    def test_header_section_ending_without_empty_line(self) -> None:
        data = build().rstrip(b"\r\n") + b"\r\n"
        assert request(data).body == b""

    @pytest.mark.parametrize("data", [
        build().rstrip(b"\r\n"),
        b"INVITE sip:bob@biloxi.example.com SIP/2.0",
        b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP h",
    ])
    def test_missing_empty_line(self, data: bytes) -> None:
        assert "empty line" in str(raises(data))

    @pytest.mark.parametrize(("data", "message"), [
        (INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 7\r0"), "bare CR"),
        (INVITE.replace(b"Call-ID: a84", b"Call-ID: a\x0084"), "NUL"),
        (b"\x00" * 100, "NUL"),
        (b"\x00\x01\x00\x08\x00\x00\x00\x00\x21\x12\xa4\x42" + bytes(range(12)), "NUL"),  # STUN
    ])
    def test_not_text(self, data: bytes, message: str) -> None:
        assert message in str(raises(data))

    @pytest.mark.parametrize("data", [
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"\xff\xfe\xfd\r\n\r\n",
        b"hello\r\n\r\n",
        b"SIP/2.0\r\n\r\n",
        bytes(range(1, 256)),
    ])
    def test_garbage(self, data: bytes) -> None:
        with pytest.raises(SipParseError):
            parse_message(data)

    def test_nul_in_body_is_fine(self) -> None:
        assert request(build(body=b"\x00\x00")).body == b"\x00\x00"

    def test_every_truncation_is_a_parse_error_or_a_shorter_message(self) -> None:
        outcomes = set()
        for cut in range(len(INVITE)):
            try:
                parse_message(INVITE[:cut])
                outcomes.add("parsed")
            except SipParseError as error:
                outcomes.add(str(error).split(":")[0])
        assert "truncated body" in outcomes

    def test_non_utf8_round_trips(self) -> None:
        data = build([*BASE, "Subject: caf\xe9 \udcff"])
        message = request(data)
        assert message.headers.get("Subject") == "caf\xe9 \udcff"
        assert message.to_bytes() == data


class Test21_5_13_Limits:
    """Size limits: 513 Message Too Large (§21.5.13, §18.1.1) and 400 for the other limits."""

    def test_message_too_large(self) -> None:
        data = build(body=b"x" * (MAX_MESSAGE_SIZE + 1 - len(build(length=None))), length=None)
        assert len(data) == MAX_MESSAGE_SIZE + 1
        raises(data, 513)

    def test_largest_message(self) -> None:
        data = build(body=b"x" * (MAX_MESSAGE_SIZE - len(build(length=None))), length=None)
        assert len(data) == MAX_MESSAGE_SIZE
        assert len(request(data).body) == MAX_MESSAGE_SIZE - len(build(length=None))

    def test_huge_garbage(self) -> None:
        raises(b"\x00" * 10_000_000, 513)

    @pytest.mark.parametrize(("extra", "ok"), [(MAX_HEADERS - len(BASE) - 1, True),
                                               (MAX_HEADERS - len(BASE), False)])
    def test_header_count(self, extra: int, ok: bool) -> None:
        data = build([*BASE, *(f"X-H{i}: {i}" for i in range(extra))])
        if ok:
            assert len(request(data).headers) == MAX_HEADERS
        else:
            assert "header fields" in str(raises(data))

    def test_many_physical_lines(self) -> None:
        raises(build([*BASE, "X: a", *([" b"] * (4 * MAX_HEADERS))]))

    @pytest.mark.parametrize(("size", "ok"), [(MAX_HEADER_LINE, True),
                                              (MAX_HEADER_LINE + 1, False)])
    def test_header_line_length(self, size: int, ok: bool) -> None:
        line = "X-Long: " + "a" * (size - len("X-Long: "))
        data = build([*BASE, line])
        if ok:
            assert request(data).headers.get("X-Long") == "a" * (size - len("X-Long: "))
        else:
            raises(data)

    def test_folded_header_length(self) -> None:
        raises(build([*BASE, "X-Long: a", *([" " + "b" * 1000] * 9)]))


# --- §8.1.1 mandatory headers, CSeq, Max-Forwards -------------------------------------------------


class Test8_1_1_RequiredHeaders:
    """RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Max-Forwards, Via (Max-Forwards only SHOULD)."""

    @pytest.mark.parametrize("name", ["Via", "From", "To", "Call-ID", "CSeq"])
    def test_missing(self, name: str) -> None:
        assert name in str(raises(build(base_with(name, None))))

    @pytest.mark.parametrize("name", ["Via", "From", "To", "Call-ID", "CSeq"])
    def test_empty(self, name: str) -> None:
        raises(build(base_with(name, f"{name}:   ")))

    def test_missing_max_forwards_is_fine(self) -> None:
        assert request(build(base_with("Max-Forwards", None))).max_forwards is None

    def test_responses_may_lack_them(self) -> None:
        message = response(build([], start="SIP/2.0 200 OK"))
        assert len(message.headers) == 1  # Content-Length

    @pytest.mark.parametrize("name", ["Call-ID", "CSeq", "From", "To", "Max-Forwards"])
    def test_duplicates_refused(self, name: str) -> None:  # RFC 4475 multi01
        line = next(item for item in BASE if item.startswith(f"{name}:"))
        assert "more than one" in str(raises(build([*BASE, line])))

    def test_duplicate_in_compact_form_refused(self) -> None:
        raises(build([*BASE, "i: other@x"]))

    @pytest.mark.parametrize("line", [f"Via: {VIA1}", "Contact: <sip:x@y>", "Route: <sip:p;lr>"])
    def test_repeatable_headers(self, line: str) -> None:
        name = line.split(":")[0]
        assert request(build([*BASE, line, line])).headers.count(name) == \
            request(build(BASE)).headers.count(name) + 2


class Test8_1_1_5_CSeq:
    """RFC 3261 §8.1.1.5, §20.16: CSeq = 32-bit number, LWS, method equal to the request's."""

    @pytest.mark.parametrize(("value", "expected"), [
        ("1 INVITE", (1, "INVITE")),
        ("0009 INVITE", (9, "INVITE")),
        ("0 INVITE", (0, "INVITE")),
        ("4294967295 INVITE", (4294967295, "INVITE")),
        ("  7   INVITE ", (7, "INVITE")),
        ("7\tINVITE", (7, "INVITE")),
    ])
    def test_valid(self, value: str, expected: tuple[int, str]) -> None:
        assert request(build(base_with("CSeq", f"CSeq: {value}"))).cseq == expected

    @pytest.mark.parametrize("value", [
        "INVITE", "1", "1 INVITE extra", "x INVITE", "-1 INVITE", "4294967296 INVITE",
        "36893488147419103232 INVITE", "1 INV@TE", "1.5 INVITE", "\u0661 INVITE",
    ])
    def test_invalid(self, value: str) -> None:
        raises(build(base_with("CSeq", f"CSeq: {value}")))

    @pytest.mark.parametrize(("start", "cseq"), [
        ("OPTIONS sip:user@example.com SIP/2.0", "8 INVITE"),  # RFC 4475 mismatch01
        ("NEWMETHOD sip:user@example.com SIP/2.0", "8 INVITE"),  # RFC 4475 mismatch02
        ("INVITE sip:user@example.com SIP/2.0", "8 invite"),  # methods are case-sensitive
        ("ACK sip:user@example.com SIP/2.0", "8 INVITE"),
    ])
    def test_method_mismatch(self, start: str, cseq: str) -> None:
        error = raises(build(base_with("CSeq", f"CSeq: {cseq}"), start=start))
        assert "does not match" in str(error)

    def test_responses_check_the_format_but_not_the_method(self) -> None:
        lines = [f"Via: {VIA1}", "CSeq: 1 OPTIONS"]
        assert response(build(lines, start="SIP/2.0 200 OK")).cseq == (1, "OPTIONS")
        raises(build([f"Via: {VIA1}", "CSeq: 9292394834772304023312 OPTIONS"],
                     start="SIP/2.0 503 Service Unavailable"))  # RFC 4475 scalarlg


class Test8_1_1_6_MaxForwards:
    """RFC 3261 §8.1.1.6, §20.22: 0..255."""

    @pytest.mark.parametrize(("value", "hops"), [
        ("0", 0), ("70", 70), ("0068", 68), ("255", 255), ("00000000000000000000001", 1),
    ])
    def test_valid(self, value: str, hops: int) -> None:
        message = request(build(base_with("Max-Forwards", f"Max-Forwards: {value}")))
        assert message.max_forwards == hops

    @pytest.mark.parametrize("value", ["256", "300", "-1", "abc", "1 2", "", "7e1",
                                       "99999999999999999999999999999"])
    def test_invalid(self, value: str) -> None:
        raises(build(base_with("Max-Forwards", f"Max-Forwards: {value}")))

    def test_property_on_built_request(self) -> None:
        message = Request("OPTIONS", "sip:x@y", Headers([("Max-Forwards", "abc")]))
        with pytest.raises(SipParseError):
            _ = message.max_forwards


class Test8_1_1_MessageProperties:
    """The lazily parsed values the proxy reads: Call-ID, CSeq, tags, top Via."""

    def test_parsed_request(self) -> None:
        message = request(INVITE)
        assert message.call_id == CALL_ID
        assert message.cseq == (314159, "INVITE")
        assert message.from_tag == "1928301774"
        assert message.to_tag is None
        assert message.max_forwards == 70
        assert message.top_via == Via("SIP/2.0", "UDP", "pc33.atlanta.example.com", None,
                                      (("branch", "z9hG4bK776asdhds"),))

    @pytest.mark.parametrize(("to", "tag"), [
        ("To: <sip:b@x>;tag=abc", "abc"),
        ("To: sip:b@x;tag=abc", "abc"),
        ("t: sip:b@x ; tag = abc", "abc"),
        ("To: <sip:b@x;tag=in-uri>", None),
        ('To: "a;tag=x" <sip:b@x>', None),
        ("To: <tel:+1234>;tag=t", "t"),
        ("To: isbn:2983792873", None),  # RFC 4475 novelsc
    ])
    def test_to_tag(self, to: str, tag: str | None) -> None:
        assert request(build(base_with("To", to))).to_tag == tag

    def test_top_via_of_comma_list(self) -> None:
        data = build(base_with("Via",
                               "Via: SIP/2.0/UDP p1:5070;branch=b1, SIP/2.0/TCP p2;branch=b2"))
        via = request(data).top_via
        assert (via.transport, via.host, via.port, via.branch) == ("UDP", "p1", 5070, "b1")

    def test_empty_request(self) -> None:
        message = Request("OPTIONS", "sip:x@y")
        for attribute in ("call_id", "cseq", "top_via"):
            with pytest.raises(SipParseError):
                getattr(message, attribute)
        assert message.from_tag is None
        assert message.to_tag is None
        assert message.max_forwards is None

    @pytest.mark.parametrize(("name", "value", "attribute"), [
        ("CSeq", "x", "cseq"), ("Via", "garbage", "top_via"),
        ("From", '"open <sip:a@b>', "from_tag"),
        ("To", "Bell, Alexander <sip:a@b>", "to_tag"),
    ])
    def test_bad_values_raise_on_access(self, name: str, value: str, attribute: str) -> None:
        message = Request("OPTIONS", "sip:x@y", Headers([(name, value)]))
        with pytest.raises(SipParseError):
            getattr(message, attribute)


# --- §20.42 Via ----------------------------------------------------------------------------------

VIAS: list[tuple[str, str, str, str, int | None, tuple[tuple[str, str | None], ...]]] = [
    ("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds", "SIP/2.0", "UDP", "pc33.atlanta.com",
     None, (("branch", "z9hG4bK776asdhds"),)),
    ("SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.207;branch=z9hG4bK77asjd", "SIP/2.0", "UDP",
     "192.0.2.1", 5060, (("received", "192.0.2.207"), ("branch", "z9hG4bK77asjd"))),
    ("SIP/2.0/UDP 192.0.2.1;rport;branch=x", "SIP/2.0", "UDP", "192.0.2.1", None,
     (("rport", None), ("branch", "x"))),
    ("SIP/2.0/UDP 192.0.2.1;rport=5070;received=10.0.0.1;branch=x", "SIP/2.0", "UDP", "192.0.2.1",
     None, (("rport", "5070"), ("received", "10.0.0.1"), ("branch", "x"))),
    ("SIP/2.0/TCP [2001:db8::9:1]:5070;branch=z9hG4bKas3;received=2001:db8::9:255", "SIP/2.0",
     "TCP", "[2001:db8::9:1]", 5070, (("branch", "z9hG4bKas3"), ("received", "2001:db8::9:255"))),
    ("sip/2.0/udp host", "SIP/2.0", "UDP", "host", None, ()),
    ("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw", "SIP/2.0", "UDP", "192.0.2.2", None,
     (("branch", "390skdjuw"),)),  # RFC 4475 wsinv
    ("SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8", "SIP/2.0", "TCP",
     "spindle.example.com", None, (("branch", "z9hG4bK9ikj8"),)),
    ("SIP/2.0/UDP host : 5070 ;branch=x", "SIP/2.0", "UDP", "host", 5070, (("branch", "x"),)),
    ("SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf", "SIP/2.0", "SCTP", "t2.example.com",
     None, (("branch", "z9hG4bKklasjdhf"),)),  # RFC 4475 transports
    ("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en", "SIP/2.0", "UNKNOWN",
     "t4.example.com", None, (("branch", "z9hG4bKasd0f3en"),)),
    ("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks", "SIP/2.0", "WSS",
     "df7jal23ls0d.invalid", None, (("branch", "z9hG4bK56sdasks"),)),
    ("SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~", "SIP/2.0", "TCP",
     "host1.example.com", None, (("branch", "z9hG4bK-.!%66*_+`'~"),)),  # RFC 4475 intmeth
    ("SIP/2.0/UDP h;maddr=224.2.0.1;ttl=16;branch=x", "SIP/2.0", "UDP", "h", None,
     (("maddr", "224.2.0.1"), ("ttl", "16"), ("branch", "x"))),
    ("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK", "SIP/2.0", "UDP", "192.0.2.1", None,
     (("branch", "z9hG4bK"),)),  # RFC 4475 badbranch: odd but parseable
    ("SIP/2.0/UDP h;BRANCH=MiXed", "SIP/2.0", "UDP", "h", None, (("branch", "MiXed"),)),
    ("SIP/2.0/TLS h:5061;x=\"quoted;value\"", "SIP/2.0", "TLS", "h", 5061,
     (("x", '"quoted;value"'),)),
]


class Test20_42_Via:
    """RFC 3261 §20.42, §18.2.1 (received), RFC 3581 (rport)."""

    @pytest.mark.parametrize(("text", "protocol", "transport", "host", "port", "params"), VIAS,
                             ids=[f"via{i}" for i in range(len(VIAS))])
    def test_parse(self, text: str, protocol: str, transport: str, host: str, port: int | None,
                   params: tuple[tuple[str, str | None], ...]) -> None:
        via = parse_via(text)
        assert (via.protocol, via.transport, via.host, via.port, via.params) == \
            (protocol, transport, host, port, params)
        assert parse_via(str(via)) == via

    @pytest.mark.parametrize("text", [
        "SIP/2.0/UDP 192.0.2.15;;", ";", "", "SIP/2.0 host", "SIP/2.0/UDP", "SIP/2.0/UDP ",
        "SIP/2.0/UDP host junk;branch=x", "SIP/2.0/UDP host:abc", "SIP/2.0/UDP [::1",
        "SIP/2.0/U DP host", "SIP/2.0/UDP h;branch=a b", 'SIP/2.0/UDP h;branch="open',
        "SIP//UDP h", "S P/2.0/UDP h", "SIP/2.0/UDP/X h", "SIP/2.0/UDP h;=x", "SIP/2.0/UDP h:70000",
    ])
    def test_invalid(self, text: str) -> None:
        with pytest.raises(SipParseError):
            parse_via(text)

    @pytest.mark.parametrize(("text", "sent_by"), [
        ("SIP/2.0/UDP h", ("h", 5060)),
        ("SIP/2.0/UDP h:5070", ("h", 5070)),
        ("SIP/2.0/UDP [::1]", ("[::1]", 5060)),
        ("SIP/2.0/TLS h", ("h", 5060)),
    ])
    def test_sent_by(self, text: str, sent_by: tuple[str, int]) -> None:
        assert parse_via(text).sent_by == sent_by

    def test_received_and_rport(self) -> None:
        via = parse_via("SIP/2.0/UDP 10.0.0.1:5070;rport;branch=z9hG4bKx")
        updated = via.with_param("received", "192.0.2.9").with_param("rport", "5071")
        assert str(updated) == \
            "SIP/2.0/UDP 10.0.0.1:5070;rport=5071;branch=z9hG4bKx;received=192.0.2.9"
        assert updated.param("rport") == "5071"
        assert via.param("rport") == ""
        assert via.param("received") is None
        assert via.branch == "z9hG4bKx"
        assert Via("SIP/2.0", "UDP", "h").branch is None

    def test_badinv01_via_list_is_refused_when_read(self) -> None:  # RFC 4475 3.1.2.1
        for element in split_values("SIP/2.0/UDP 192.0.2.15;;,;,,"):
            with pytest.raises(SipParseError):
                parse_via(element)


# --- §8.2.6 responses, §9.1 CANCEL, §17.1.1.3 ACK ------------------------------------------------

PROXIED_INVITE = build([
    "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1, "
    "SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2",
    f"Via: {VIA1};received=192.0.2.101",
    "Max-Forwards: 69",
    "Route: <sip:p3.example.com;lr>",
    "Record-Route: <sip:proxy.example.com;lr>",
    f"To: {TO}",
    f"From: {FROM}",
    f"Call-ID: {CALL_ID}",
    "CSeq: 314159 INVITE",
    "Route: <sip:p4.example.com;lr>, <sip:p5.example.com;lr>",
    "Timestamp: 54",
    "Contact: <sip:alice@pc33.atlanta.example.com>",
    "Content-Type: application/sdp",
], SDP)


class Test8_2_6_MakeResponse:
    """RFC 3261 §8.2.6.2 (headers copied), §8.2.6.1 (100 Trying and Timestamp)."""

    def test_headers_copied_in_order(self) -> None:
        reply = make_response(request(PROXIED_INVITE), 486, to_tag="t1")
        assert list(reply.headers) == [
            ("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1, "
                    "SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2"),
            ("Via", f"{VIA1};received=192.0.2.101"),
            ("From", FROM),
            ("To", f"{TO};tag=t1"),
            ("Call-ID", CALL_ID),
            ("CSeq", "314159 INVITE"),
            ("Content-Length", "0"),
        ]
        assert (reply.status, reply.reason, reply.body) == (486, "Busy Here", b"")
        assert reply.to_tag == "t1"
        assert reply.top_via.branch == "z9hG4bKp1"

    @pytest.mark.parametrize(("to", "to_tag", "expected"), [
        (f"To: {TO};tag=old", "new", f"{TO};tag=old"),
        (f"To: {TO}", None, TO),
        ("To: sip:bob@x", "t", "sip:bob@x;tag=t"),
        ("To: <sip:bob@x;tag=uri>", "t", "<sip:bob@x;tag=uri>;tag=t"),
        ('To: "Bob" <sip:bob@x> ; tag = abc', "t", '"Bob" <sip:bob@x> ; tag = abc'),
        ('To: "Mr. J. User <sip:j.user@example.com>', "t", '"Mr. J. User <sip:j.user@example.com>'),
    ])
    def test_to_tag_added_once(self, to: str, to_tag: str | None, expected: str) -> None:
        reply = make_response(request(build(base_with("To", to))), 180, to_tag=to_tag)
        assert reply.headers.get("To") == expected

    @pytest.mark.parametrize(("status", "copies_timestamp"), [(100, True), (180, False),
                                                               (200, False)])
    def test_timestamp(self, status: int, copies_timestamp: bool) -> None:
        reply = make_response(request(PROXIED_INVITE), status)
        assert (reply.headers.get("Timestamp") == "54") is copies_timestamp
        assert "Record-Route" not in reply.headers
        assert "Contact" not in reply.headers

    @pytest.mark.parametrize(("status", "reason"), [
        (100, "Trying"), (180, "Ringing"), (181, "Call Is Being Forwarded"),
        (183, "Session Progress"),
        (200, "OK"), (302, "Moved Temporarily"), (404, "Not Found"), (408, "Request Timeout"),
        (416, "Unsupported URI Scheme"), (480, "Temporarily Unavailable"),
        (481, "Call/Transaction Does Not Exist"), (482, "Loop Detected"), (483, "Too Many Hops"),
        (484, "Address Incomplete"), (486, "Busy Here"), (487, "Request Terminated"),
        (500, "Server Internal Error"), (503, "Service Unavailable"),
        (505, "Version Not Supported"),
        (513, "Message Too Large"), (600, "Busy Everywhere"), (603, "Decline"),
        (606, "Not Acceptable"), (150, "Provisional"), (299, "Successful"), (399, "Redirection"),
        (499, "Request Failure"), (599, "Server Failure"), (699, "Global Failure"),
    ])
    def test_default_reason(self, status: int, reason: str) -> None:
        assert make_response(request(INVITE), status).reason == reason
        assert Response(status).reason == reason

    def test_explicit_reason(self) -> None:
        assert make_response(request(INVITE), 404, "Not here").reason == "Not here"
        assert Response(200, "").reason == ""

    def test_rfc3261_phrases_present(self) -> None:
        for status in (100, 180, 181, 182, 183, 200, 300, 301, 302, 305, 380, 400, 401, 402, 403,
                       404, 405, 406, 407, 408, 410, 413, 414, 415, 416, 420, 421, 423, 480, 481,
                       482, 483, 484, 485, 486, 487, 488, 491, 493, 500, 501, 502, 503, 504, 505,
                       513, 600, 603, 604, 606):
            assert status in REASON_PHRASES

    @pytest.mark.parametrize("status", [0, 99, 700, 1000, -1])
    def test_status_out_of_range(self, status: int) -> None:
        with pytest.raises(LocalProtocolError):
            Response(status)

    def test_wire_form(self) -> None:
        reply = make_response(request(INVITE), 100)
        data = reply.to_bytes()
        assert data.startswith(b"SIP/2.0 100 Trying\r\nVia: ")
        assert data.endswith(b"\r\nContent-Length: 0\r\n\r\n")
        assert parse_message(data) == reply


class Test9_1_BuildCancel:
    """RFC 3261 §9.1: the CANCEL mirrors the INVITE's R-URI, Call-ID, To, From, CSeq, top Via."""

    def test_exact_headers(self) -> None:
        invite = request(PROXIED_INVITE)
        before = invite.to_bytes()
        cancel = build_cancel(invite)
        assert (cancel.method, cancel.uri, cancel.body) == ("CANCEL", invite.uri, b"")
        assert list(cancel.headers) == [
            ("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1"),
            ("Max-Forwards", "70"),
            ("Route", "<sip:p3.example.com;lr>"),
            ("Route", "<sip:p4.example.com;lr>, <sip:p5.example.com;lr>"),
            ("From", FROM),
            ("To", TO),
            ("Call-ID", CALL_ID),
            ("CSeq", "314159 CANCEL"),
            ("Content-Length", "0"),
        ]
        assert cancel.top_via.branch == invite.top_via.branch
        assert invite.to_bytes() == before
        assert parse_message(cancel.to_bytes()) == cancel

    def test_to_tag_kept_for_reinvite(self) -> None:
        invite = request(build(base_with("To", f"To: {TO};tag=dlg")))
        assert build_cancel(invite).headers.get("To") == f"{TO};tag=dlg"

    def test_invite_without_via(self) -> None:
        with pytest.raises(SipParseError):
            build_cancel(Request("INVITE", "sip:x@y", Headers([("CSeq", "1 INVITE")])))


class Test17_1_1_3_BuildAck:
    """RFC 3261 §17.1.1.3: the ACK for a non-2xx final takes the To of the response."""

    def test_exact_headers(self) -> None:
        invite = request(PROXIED_INVITE)
        reply = make_response(invite, 486, to_tag="callee")
        ack = build_ack_for_non2xx(invite, reply)
        assert (ack.method, ack.uri, ack.body) == ("ACK", invite.uri, b"")
        assert list(ack.headers) == [
            ("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1"),
            ("Max-Forwards", "70"),
            ("Route", "<sip:p3.example.com;lr>"),
            ("Route", "<sip:p4.example.com;lr>, <sip:p5.example.com;lr>"),
            ("From", FROM),
            ("To", f"{TO};tag=callee"),
            ("Call-ID", CALL_ID),
            ("CSeq", "314159 ACK"),
            ("Content-Length", "0"),
        ]
        assert ack.to_tag == "callee"
        assert parse_message(ack.to_bytes()) == ack

    @pytest.mark.parametrize("status", [300, 404, 408, 487, 503, 603, 699])
    def test_any_non_2xx_final(self, status: int) -> None:
        invite = request(INVITE)
        ack = build_ack_for_non2xx(invite, make_response(invite, status, to_tag="x"))
        assert ack.cseq == (314159, "ACK")

    @pytest.mark.parametrize("status", [100, 180, 200, 299])
    def test_refuses_provisional_and_2xx(self, status: int) -> None:
        invite = request(INVITE)
        with pytest.raises(LocalProtocolError):
            build_ack_for_non2xx(invite, make_response(invite, status))

    def test_response_without_to_falls_back(self) -> None:
        invite = request(INVITE)
        ack = build_ack_for_non2xx(invite, Response(486, headers=Headers([("Via", VIA1)])))
        assert ack.headers.get("To") == TO


class Test8_1_1_7_BranchAndTags:
    """RFC 3261 §8.1.1.7 (branch magic cookie) and §19.3 (tags: ≥ 32 bits of randomness)."""

    TOKEN = frozenset(string.ascii_letters + string.digits + "-.!%*_+`'~")

    def test_branch(self) -> None:
        branches = {new_branch() for _ in range(2000)}
        assert len(branches) == 2000
        for branch in branches:
            assert branch.startswith("z9hG4bK")
            assert len(branch) >= len("z9hG4bK") + 8
            assert self.TOKEN.issuperset(branch)

    @pytest.mark.parametrize("seed", ["a", "call-1;branch=0", "\u00e9\udcff x"])
    def test_seeded_branch(self, seed: str) -> None:
        first, second = new_branch(seed), new_branch(seed)
        assert first != second
        assert first.split(".")[0] == second.split(".")[0]
        assert first.split(".")[0] != new_branch(seed + "x").split(".")[0]
        assert first.startswith("z9hG4bK")
        assert self.TOKEN.issuperset(first)

    def test_tag(self) -> None:
        tags = {new_tag() for _ in range(2000)}
        assert len(tags) == 2000
        for tag in tags:
            assert len(tag) >= 8
            assert self.TOKEN.issuperset(tag)


# --- §7 serialization and round trips -----------------------------------------------------------


class Test7_Serialization:
    """Serialization: `Name: value` CRLF in order, Content-Length always the real body length."""

    def test_canonical_message_is_byte_identical(self) -> None:
        assert request(INVITE).to_bytes() == INVITE
        assert response(OK_200).to_bytes() == OK_200

    @pytest.mark.parametrize(("lines", "body", "expected_tail"), [
        (BASE, b"abc",
         b"Contact: <sip:alice@pc33.atlanta.example.com>\r\nContent-Length: 3\r\n\r\nabc"),
        ([*BASE, "Content-Length: 99"], b"", b"Content-Length: 0\r\n\r\n"),
        (["Content-Length: 1", *BASE, "Content-Length: 2"], b"xy", None),
    ])
    def test_content_length_rewritten(self, lines: list[str], body: bytes,
                                      expected_tail: bytes | None) -> None:
        message = Request("INVITE", "sip:bob@biloxi.example.com",
                          Headers(line.split(": ", 1) for line in lines),  # type: ignore[misc]
                          body)
        data = message.to_bytes()
        assert data.count(b"Content-Length") == 1
        if expected_tail is not None:
            assert data.endswith(expected_tail)
        else:
            assert data.split(b"\r\n")[1] == b"Content-Length: 2"
        assert parse_message(data).body == body

    def test_normalised_forms(self) -> None:
        data = (b"\r\nINVITE sip:b@x sip/2.0\nv: " + VIA1.encode() + b"\nt: <sip:b@x>\n"
                b"f: <sip:a@x>;tag=1\ni: c1\nCSeq: 0001 INVITE\nSubject: folded\n  twice\n"
                b"l: 2\n\nhi")
        assert request(data).to_bytes() == (
            b"INVITE sip:b@x SIP/2.0\r\nVia: " + VIA1.encode() + b"\r\nTo: <sip:b@x>\r\n"
            b"From: <sip:a@x>;tag=1\r\nCall-ID: c1\r\nCSeq: 0001 INVITE\r\n"
            b"Subject: folded twice\r\nContent-Length: 2\r\n\r\nhi")

    def test_built_request(self) -> None:
        message = Request("OPTIONS", "sip:x@y", Headers([("Via", VIA1)]))
        assert message.to_bytes() == (b"OPTIONS sip:x@y SIP/2.0\r\nVia: " + VIA1.encode() +
                                      b"\r\nContent-Length: 0\r\n\r\n")

    def test_copy(self) -> None:
        original = request(INVITE)
        clone = original.copy()
        assert clone == original
        assert clone.body is original.body
        clone.headers.prepend("Via", "SIP/2.0/UDP proxy;branch=z9hG4bKx")
        clone.headers.set("Max-Forwards", "69")
        clone.uri = "sip:other@x"
        assert original.to_bytes() == INVITE
        assert clone != original
        reply = response(OK_200)
        reply_copy = reply.copy()
        reply_copy.headers.remove_first_value("Via")
        assert reply.top_via.branch == "z9hG4bK776asdhds"
        assert "Via" not in reply_copy.headers

    def test_equality_and_repr(self) -> None:
        assert request(INVITE) != response(OK_200)
        assert request(INVITE) != object()
        assert "INVITE" in repr(request(INVITE))
        assert "200" in repr(response(OK_200))


# --- RFC 4475 torture tests ---------------------------------------------------------------------

WSINV = (
    b"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
    b"TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
    b'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n'
    b"MaX-fOrWaRdS: 0068\r\n"
    b"Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
    b"Content-Length   : 150\r\n"
    b"cseq: 0009\r\n  INVITE\r\n"
    b"Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;rport;branch=390skdjuw\r\n"
    b"s :\r\n"
    b"NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
    b"UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Route:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n"
    b"v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n"
    b" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n"
    b'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n'
    b"  secondparam ; q = 0.33\r\n"
    b"\r\n"
    b"v=0\r\n"
    b"o=mhandley 29739 7272939 IN IP4 192.0.2.3\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.4\r\n"
    b"t=0 0\r\n"
    b"m=audio 49217 RTP/AVP 0 12\r\n"
    b"m=video 3227 RTP/AVP 31\r\n"
    b"a=rtpmap:31 LPC\r\n"
)


def torture(start: str, *lines: str, body: bytes = b"", length: str | None = "auto") -> bytes:
    return build(lines, body, start=start, length=length)


ESC01 = torture(
    "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0",
    "To: sip:%75se%72@example.com", "From: <sip:I%20have%20spaces@example.net>;tag=938",
    "Max-Forwards: 87", "i: esc01.239409asdfakjkn23onasd0-3234", "CSeq: 234234 INVITE",
    "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw", "C: application/sdp",
    "Contact:", "  <sip:cal%6Cer@192.168.0.2:5060;%6C%72;n%61me=v%61lue%25%34%31>", body=SDP)
ESCNULL = torture(
    "REGISTER sip:example.com SIP/2.0", "To: sip:null-%00-null@example.com",
    "From: sip:null-%00-null@example.com;tag=839923423", "Max-Forwards: 70",
    "Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd", "CSeq: 14398234 REGISTER",
    "Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw",
    "Contact: <sip:%00@host5.example.com>", "Contact: <sip:%00%00@host5.example.com>", "L:0",
    length=None)
ESC02 = torture(
    "RE%47IST%45R sip:registrar.example.com SIP/2.0", 'To: "%Z%45" <sip:resource@example.com>',
    'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23',
    "Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf",
    "Via: SIP/2.0/TCP host.example.com;rport;branch=z9hG4bK209%fzsnel234",
    "CSeq: 29344 RE%47IST%45R", "Max-Forwards: 70", "Contact: <sip:alias1@host1.example.com>",
    "C%6Fntact: <sip:alias2@host2.example.com>", "Contact: <sip:alias3@host3.example.com>", "l: 0",
    length=None)
LWSDISP = torture(
    "OPTIONS sip:user@example.com SIP/2.0", "To: sip:user@example.com",
    "From: caller<sip:caller@example.com>;tag=323", "Max-Forwards: 70",
    "Call-ID: lwsdisp.1234abcd@funky.example.com", "CSeq: 60 OPTIONS",
    "Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw", "l: 0", length=None)
LONGREQ = torture(
    "INVITE sip:user@example.com SIP/2.0",
    'To: "I have a user name of ' + "extremely " * 40 + 'long length" <sip:user@example.com>',
    "From: sip:caller@example.net;tag=" + "12982424" * 60,
    "Call-ID: longreq." + "onereallyreallyreallyreallylongcallid" * 20,
    "CSeq: 3882340 INVITE",
    "Unknown-LongName-" + "reallylongname" * 30 + ": unknown-longvalue-" + "reallylongvalue" * 40,
    "Unknown-LongParams: " + ";".join(f"unknownparam{i}=value{i}" for i in range(120)),
    *(f"Via: SIP/2.0/TCP sip{i}.example.com;branch=z9hG4bK{i:04d}" for i in range(40)),
    "Max-Forwards: 70", "Contact: <sip:amazinglylongcallername" + "x" * 200 + "@host5.example.net>",
    "Content-Type: application/sdp", body=SDP)
DBLREQ = torture(
    "REGISTER sip:example.com SIP/2.0", "To: sip:j.user@example.com",
    "From: sip:j.user@example.com;tag=43251j3j324", "Max-Forwards: 8",
    "I: dblreq.0ha0isndaksdj99sdfafnl3lk233412", "Contact: sip:j.user@host.example.com",
    "CSeq: 8 REGISTER", "Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492",
    "Content-Length: 0", length=None) + INVITE
SEMIURI = torture(
    "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0", "To: sip:j_user@example.com",
    "From: sip:caller@example.org;tag=33242", "Max-Forwards: 3",
    "Call-ID: semiuri.0ha0isndaksdj", "CSeq: 8 OPTIONS",
    "Accept: application/sdp, application/pkcs7-mime,",
    "        multipart/mixed, multipart/signed,", "        message/sip, message/sipfrag",
    "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw", "l: 0", length=None)
TRANSPORTS = torture(
    "OPTIONS sip:user@example.com SIP/2.0", "To: sip:user@example.com",
    "From: <sip:caller@example.com>;tag=323", "Max-Forwards: 70",
    "Call-ID:  transports.kijh4akdnaqjkwendsasfdj", "Accept: application/sdp", "CSeq: 60 OPTIONS",
    "Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw",
    "Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf",
    "Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj",
    "Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en",
    "Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee", "l: 0", length=None)
MPART_BODY = (b"--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
              b"--7a9cbec02ceef655\r\nContent-Type: application/octet-stream\r\n\r\n"
              + bytes(range(256)) + b"\r\n--7a9cbec02ceef655--\r\n")
MPART01 = torture(
    "MESSAGE sip:kumiko@example.org SIP/2.0",
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport",
    "Max-Forwards: 70", "Route: <sip:127.0.0.1:5080>",
    "Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gv"
    "YjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=",
    "Contact: <sip:fluffy@127.0.0.1:5070>", "To: <sip:kumiko@example.org>",
    "From: <sip:fluffy@example.com>;tag=2fb0dcc9",
    "Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..",
    "CSeq: 1 MESSAGE", "Content-Transfer-Encoding: binary",
    "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655",
    "Date: Sat, 15 Oct 2005 04:44:56 GMT",
    "User-Agent: SIPimp.org/0.2.5 (curses)", body=MPART_BODY)
UNREASON = torture(
    "SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e"
    "\u0441\u0442\u043e \u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e"
    "\u0435",
    "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923",
    "Call-ID: unreason.1234ksdfak3j2erwedfsASdf", "CSeq: 35 INVITE",
    "From: sip:user@example.com;tag=11141343", "To: sip:user@example.edu;tag=2229",
    "Content-Type: application/sdp", "Contact: <sip:user@host198.example.com>", body=SDP)
NOREASON = torture(
    "SIP/2.0 100 ", "Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe",
    "Call-ID: noreason.asndj203insdf99223ndf", "CSeq: 35 INVITE",
    "From: <sip:user@example.com>;tag=39ansfi3", "To: <sip:user@example.edu>;tag=902jndnke3",
    "Content-Length: 0", length=None)
INV2543 = torture(
    "INVITE sip:UserB@example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.15",
    "From: <sip:UserA@example.com>", "To: <sip:UserB@example.com>",
    "Call-ID: 242342@example.com", "CSeq: 1 INVITE", "Content-Type: application/sdp", body=SDP)
ZEROMF = torture(
    "OPTIONS sip:user@example.com SIP/2.0", "Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdju",
    "To: <sip:user@example.com>", "From: <sip:caller@example.com>;tag=3ghsd41",
    "Call-ID: zeromf.kjh4akdnaqjkwendsasfdj", "CSeq: 8 OPTIONS", "Max-Forwards: 0", "l: 0",
    length=None)
CPARAM01 = torture(
    "REGISTER sip:example.com SIP/2.0",
    "Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw",
    "Max-Forwards: 70", "From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe",
    "To: sip:watson@example.com", "Call-ID: cparam01.70710@saturn.example.com", "CSeq: 2 REGISTER",
    "Contact: sip:+19725552222@gw1.example.net;unknownparam", "l: 0", length=None)
BCAST = torture(
    "SIP/2.0 200 OK", "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923",
    "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23",
    "Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf", "CSeq: 35 INVITE",
    "From: sip:user@example.com;tag=11141343", "To: sip:user@example.edu;tag=2229",
    "Content-Type: application/sdp", "Contact: <sip:user@host28.example.com>", body=SDP)
BADDATE = torture(
    "INVITE sip:user@example.com SIP/2.0", "To: sip:user@example.com",
    "From: sip:caller@example.net;tag=2234923", "Max-Forwards: 70",
    "Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234", "CSeq: 1392934 INVITE",
    "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw",
    "Date: Fri, 01 Jan 2010 16:00:00 EST", "Contact: <sip:caller@host5.example.net>",
    "Content-Type: application/sdp", body=SDP)
BADINV01 = torture(
    "INVITE sip:user@example.com SIP/2.0", "To: sip:j.user@example.com",
    "From: sip:caller@example.net;tag=134161461246", "Max-Forwards: 7",
    "Call-ID: badinv01.0ha0isndaksdjasdf3234nas", "CSeq: 8 INVITE",
    "Via: SIP/2.0/UDP 192.0.2.15;;,;,,", 'Contact: "Joe" <sip:joe@example.org>;;;;',
    "Content-Type: application/sdp", body=SDP)
QUOTBAL = torture(
    "INVITE sip:user@example.com SIP/2.0", 'To: "Mr. J. User <sip:j.user@example.com>',
    "From: sip:caller@example.net;tag=93334", "Max-Forwards: 10", "Call-ID: quotbal.aksdj",
    "Contact: <sip:caller@host59.example.net>", "CSeq: 8 INVITE",
    "Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234", "Content-Type: application/sdp",
    body=SDP)
BADDN = torture(
    "OPTIONS sip:t.watson@example.org SIP/2.0",
    "Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw", "Max-Forwards:      70",
    "From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
    "To:      Watson, Thomas <sip:t.watson@example.org>",
    "Call-ID: 31415@c.example.com", "CSeq:    3 OPTIONS", "l: 0", length=None)
INTMETH = (
    b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,"
    b"/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"
    b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*'
    b"@example.com>\r\n"
    b"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="
    b'"\xd1\x80\xd0\xb0\xd0\xb1\xd0\xbe\xd1\x82\xd0\xb0\xd1\x8e\xd1\x89\xd0\xb8\xd0\xb9"'
    b";tag=_token~1'+`*%!-.\r\n"
    b"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n"
    b"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"
    b"Max-Forwards: 255\r\n"
    b"extensionHeader-!.%*+_`'~:\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class TestRfc4475_3_1_1_ValidMessages:
    """RFC 4475 §3.1.1: valid messages every element must accept."""

    def test_wsinv(self) -> None:
        message = request(WSINV)
        assert message.uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
        assert parse_uri(message.uri).params == (("unknownparam", None),)
        assert message.to_tag == "1918181833n"
        assert message.from_tag == "98asjd8"
        assert message.max_forwards == 68
        assert message.call_id == "wsinv.ndaksdj@192.0.2.1"
        assert message.cseq == (9, "INVITE")
        assert len(message.body) == 150
        vias = [parse_via(v) for v in message.headers.get_all("Via")]
        assert [(v.transport, v.host, v.branch) for v in vias] == [
            ("UDP", "192.0.2.2", "390skdjuw"), ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
            ("UDP", "192.168.255.111", "z9hG4bK30239")]
        assert message.headers.get("Subject") == ""
        assert message.headers.get("NewFangledHeader") == \
            "newfangled value continued newfangled value"
        assert message.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
        contact = parse_name_addr(message.headers.get_all("Contact")[0])
        assert contact.display_name == 'Quoted string ""'
        assert contact.params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
        assert parse_name_addr(_get(message, "From")).display_name == 'J Rosenberg \\"'
        route = parse_name_addr(_get(message, "Route"))
        assert route.uri.params == (
            ("lr", None), ("unknownwith", "value"), ("unknown-no-value", None))

    def test_esc01(self) -> None:
        message = request(ESC01)
        assert parse_uri(message.uri).user == "sips%3Auser%40example.com"
        assert parse_name_addr(_get(message, "To")).uri.user == "%75se%72"
        contact = parse_name_addr(_get(message, "Contact"))
        assert contact.uri.params == (("%6c%72", None), ("n%61me", "v%61lue%25%34%31"))
        assert message.headers.get("Content-Type") == "application/sdp"

    def test_escnull(self) -> None:
        message = request(ESCNULL)
        assert [parse_name_addr(c).uri.user for c in message.headers.get_all("Contact")] == \
            ["%00", "%00%00"]
        assert message.from_tag == "839923423"

    def test_esc02(self) -> None:
        message = request(ESC02)
        assert message.method == "RE%47IST%45R"
        assert message.headers.count("Contact") == 2
        assert message.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
        assert message.top_via.branch == "z9hG4bK209%fzsnel234"
        assert parse_name_addr(_get(message, "From")).display_name == "%Z%45"

    def test_lwsdisp(self) -> None:
        assert parse_name_addr(_get(request(LWSDISP), "From")).display_name == "caller"

    def test_longreq(self) -> None:
        message = request(LONGREQ)
        assert len(message.headers.get_all("Via")) == 40
        assert message.from_tag == "12982424" * 60
        assert parse_name_addr(_get(message, "To")).display_name is not None
        assert message.body == SDP

    def test_dblreq(self) -> None:
        message = request(DBLREQ)
        assert (message.method, message.body) == ("REGISTER", b"")

    def test_semiuri(self) -> None:
        message = request(SEMIURI)
        assert parse_uri(message.uri).user == "user;par=u%40example.net"
        assert message.headers.get_all("Accept") == [
            "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed",
            "message/sip", "message/sipfrag"]

    def test_transports(self) -> None:
        message = request(TRANSPORTS)
        assert [parse_via(v).transport for v in message.headers.get_all("Via")] == \
            ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]

    def test_mpart01(self) -> None:
        assert request(MPART01).body == MPART_BODY

    def test_unreason(self) -> None:
        message = response(UNREASON)
        assert message.status == 200
        assert message.reason.startswith("= 2**3 * 5**2 \u043d\u043e")
        assert message.to_bytes() == UNREASON

    def test_noreason(self) -> None:
        message = response(NOREASON)
        assert (message.status, message.reason) == (100, "")

    def test_inv2543(self) -> None:
        message = request(INV2543)
        assert message.top_via.branch is None
        assert message.max_forwards is None

    def test_zeromf(self) -> None:
        assert request(ZEROMF).max_forwards == 0

    def test_cparam01_addr_spec_params_belong_to_the_header(self) -> None:
        contact = parse_name_addr(_get(request(CPARAM01), "Contact"))
        assert contact.uri.params == ()
        assert contact.params == (("unknownparam", None),)

    def test_bcast(self) -> None:
        message = response(BCAST)
        assert message.headers.count("Via") == 2

    def test_baddate_is_not_our_business(self) -> None:
        assert request(BADDATE).headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"


def _get(message: Request | Response, name: str) -> str:
    value = message.headers.get(name)
    assert value is not None
    return value


class TestRfc4475_3_1_2_InvalidMessages:
    """RFC 4475 §3.1.2: invalid messages. Those a header-level check would catch raise from
    parse_message; faults inside values that are parsed lazily raise when the value is read."""

    @pytest.mark.parametrize(("data", "status"), [
        (torture("INVITE sip:user@example.com SIP/2.0", *BASE[:6], body=SDP, length="9999"), 400),
        (torture("INVITE sip:user@example.com SIP/2.0", *BASE[:6], body=SDP, length="-999"), 400),
        (torture("REGISTER sip:example.com SIP/2.0", f"Via: {VIA1}", "To: <sip:user@example.com>",
                 "From: <sip:user@example.com>;tag=239232jh3",
                 "CSeq: 36893488147419103232 REGISTER",
                 "Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32", "Max-Forwards: 300",
                 "Expires: 1" + "0" * 100, "Contact: <sip:user@host129.example.com>",
                 "  ;expires=280297596632815"), 400),
        (torture("SIP/2.0 503 Service Unavailable", f"Via: {VIA1}", "To: <sip:user@example.com>",
                 "From: <sip:other@example.net>;tag=2easdjfejw",
                 "CSeq: 9292394834772304023312 OPTIONS",
                 "Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r",
                 "Retry-After: 949302838503028349304023988",
                 'Warning: 1812 overture "In Progress"'),
         400),
        (torture("INVITE <sip:user@example.com> SIP/2.0", *BASE), 400),
        (torture("INVITE sip:user@example.com; lr SIP/2.0", *BASE), 400),
        (torture("INVITE  sip:user@example.com  SIP/2.0", *BASE), 400),
        (torture("OPTIONS sip:remote-target@example.com SIP/2.0  ",
                 *base_with("CSeq", "CSeq: 1 OPTIONS")), 400),
        (torture("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0", *BASE), 400),
        (torture("OPTIONS sip:t.watson@example.org SIP/7.0", *base_with("CSeq", "CSeq: 1 OPTIONS")),
         505),
        (torture("OPTIONS sip:user@example.com SIP/2.0", *base_with("CSeq", "CSeq: 8 INVITE")),
         400),
        (torture("NEWMETHOD sip:user@example.com SIP/2.0", *base_with("CSeq", "CSeq: 8 INVITE")),
         400),
        (torture("SIP/2.0 4294967301 better not break the receiver", f"Via: {VIA1}"), 400),
        (torture("INVITE sip:user@company.com SIP/2.0", *BASE, "Call-ID: 98asdh@192.0.2.2",
                 "CSeq: 59 INVITE", "From: sip:caller@example.net;tag=1234",
                 "To: sip:user@example.com"), 400),  # multi01
        (torture("OPTIONS sip:user@example.com SIP/2.0", *base_with("CSeq", "CSeq: 15932 OPTIONS"),
                 "Content-Length: 13", "Content-Length: 5", "Content-Type: text/plain",
                 body=b"There's no way to know how many octets are supposed to be here.\r\n",
                 length=None), 400),  # mcl01
        (torture("INVITE sip:user@example.com SIP/2.0", f"Via: {VIA1}", "CSeq: 1 INVITE",
                 "Max-Forwards: 70", "Contact: <sip:caller@host.example.net>"), 400),  # insuf
        (INTMETH, 400),  # valid in RFC 4475, but a NUL in the header part is refused by contract
    ], ids=["clerr", "ncl", "scalar02", "scalarlg", "ltgtruri", "lwsruri", "lwsstart", "trws",
            "escruri", "badvers", "mismatch01", "mismatch02", "bigcode", "multi01", "mcl01",
            "insuf",
            "intmeth-nul"])
    def test_refused_by_parse_message(self, data: bytes, status: int) -> None:
        raises(data, status)

    def test_intmeth_without_the_nul_is_accepted(self) -> None:
        message = request(INTMETH.replace(b"\\\x00", b"\\0"))
        assert message.method == "!interesting-Method0123456789_*+`.%indeed'~"
        assert message.cseq == (139122385, message.method)
        assert message.from_tag == "_token~1'+`*%!-."
        assert message.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
        assert message.top_via.branch == "z9hG4bK-.!%66*_+`'~"
        uri = parse_uri(message.uri)
        assert (uri.user, uri.password) == (
            "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
            "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        assert parse_name_addr(_get(message, "To")).display_name == "BEL:\x07 NUL:0 DEL:\x7f"
        assert message.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"
        assert parse_message(message.to_bytes()) == message

    def test_badinv01(self) -> None:
        message = request(BADINV01)
        with pytest.raises(SipParseError):
            _ = message.top_via
        with pytest.raises(SipParseError):
            parse_name_addr(_get(message, "Contact"))

    def test_quotbal(self) -> None:
        message = request(QUOTBAL)
        with pytest.raises(SipParseError):
            _ = message.to_tag

    def test_baddn(self) -> None:
        message = request(BADDN)
        with pytest.raises(SipParseError):
            _ = message.from_tag


class TestRoundTrips:
    """parse → to_bytes → parse gives an equal message, and serializing again changes nothing."""

    MESSAGES = [INVITE, OK_200, PROXIED_INVITE, WSINV, ESC01, ESCNULL, ESC02, LWSDISP, LONGREQ,
                DBLREQ, SEMIURI, TRANSPORTS, MPART01, UNREASON, NOREASON, INV2543, ZEROMF, CPARAM01,
                BCAST, BADDATE, BADINV01, QUOTBAL, BADDN, build(eol="\n"),
                b"\r\n\r\n" + INVITE, build(body=b"\x00" * 10)]

    @pytest.mark.parametrize("data", MESSAGES, ids=[f"msg{i}" for i in range(len(MESSAGES))])
    def test_round_trip(self, data: bytes) -> None:
        message = parse_message(data)
        wire = message.to_bytes()
        again = parse_message(wire)
        assert again == message
        assert again.to_bytes() == wire
        assert type(again) is type(message)
