"""labpbx.sip.quick: a final response from a request's raw bytes, equal to make_response's."""

from __future__ import annotations

from labpbx.sip.message import Request, Response, make_response, parse_message
from labpbx.sip.quick import quick_request, quick_response

SOURCE = ("127.0.0.1", 20000)

INVITE = (
    b"INVITE sip:1001@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:20000;branch=z9hG4bKq1\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.9:5070;branch=z9hG4bKq0\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:1000@127.0.0.1>;tag=abc\r\n"
    b"To: <sip:1001@127.0.0.1>\r\n"
    b"Call-ID: quick-1@127.0.0.1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:1000@127.0.0.1:20000>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n"
)


def _response(data: bytes) -> Response:
    message = parse_message(data)
    assert isinstance(message, Response)
    return message


def test_same_headers_as_make_response() -> None:
    quick = quick_request(INVITE, SOURCE)
    assert quick is not None and quick.method == b"INVITE" and quick.branch == "z9hG4bKq1"
    got = _response(quick_response(quick, 503, "Service Unavailable", "t1",
                                   (("Retry-After", "5"),)))
    request = parse_message(INVITE)
    assert isinstance(request, Request)
    want = make_response(request, 503, to_tag="t1")
    assert got.status == 503 and got.reason == "Service Unavailable"
    for name in ("Via", "From", "To", "Call-ID", "CSeq", "Content-Length"):
        assert got.headers.get_all(name) == want.headers.get_all(name), name
    assert got.headers.get("Retry-After") == "5"
    assert quick.reply_to == SOURCE


def test_received_and_rport_are_stamped_and_used() -> None:
    data = INVITE.replace(b"127.0.0.1:20000;branch=z9hG4bKq1",
                          b"phone.invalid:20000;branch=z9hG4bKq1;rport")
    quick = quick_request(data, ("127.0.0.5", 40000))
    assert quick is not None
    assert quick.reply_to == ("127.0.0.5", 40000)
    got = _response(quick_response(quick, 503, "Service Unavailable", "t"))
    top = got.top_via
    assert (top.param("received"), top.param("rport")) == ("127.0.0.5", "40000")
    assert len(got.headers.get_all("Via")) == 2


def test_without_rport_the_reply_goes_to_the_sent_by_port() -> None:
    data = INVITE.replace(b"127.0.0.1:20000;", b"127.0.0.1:5999;")
    quick = quick_request(data, ("127.0.0.3", 40000))
    assert quick is not None and quick.reply_to == ("127.0.0.3", 5999)


def test_compact_and_folded_headers() -> None:
    data = (INVITE.replace(b"\r\nFrom: <sip:1000@127.0.0.1>;tag=abc",
                           b"\r\nf: <sip:1000@127.0.0.1>\r\n ;tag=abc")
            .replace(b"Call-ID: ", b"i: "))
    quick = quick_request(data, SOURCE)
    assert quick is not None
    got = _response(quick_response(quick, 503, "Service Unavailable", "t"))
    assert got.headers.get("From") == "<sip:1000@127.0.0.1> ;tag=abc"
    assert got.call_id == "quick-1@127.0.0.1"


def test_anything_unusual_is_left_to_the_full_parser() -> None:
    assert quick_request(INVITE.replace(b"To: <sip:1001@127.0.0.1>",
                                        b"To: <sip:1001@127.0.0.1>;tag=x"), SOURCE) is None
    assert quick_request(INVITE.replace(b"CSeq: 1 INVITE\r\n", b""), SOURCE) is None
    assert quick_request(INVITE.replace(b"Max-Forwards: 70", b"garbage"), SOURCE) is None
    assert quick_request(b"SIP/2.0 200 OK\r\n\r\n", SOURCE) is None
