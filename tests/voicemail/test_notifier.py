"""The box's NOTIFY sender against a fake proxy on loopback: answers, retransmissions, Timer F.

No pjsua2 here. The fake proxy is a plain UDP socket the test reads with timeouts; the notifier
is pumped with a short wait on its own socket, so nothing sleeps for correctness.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from labpbx.errors import StoreError
from labpbx.events import ComponentEvent, Event, ProblemEvent
from labpbx.sip.message import Request, Response, make_response, parse_message
from labpbx.sip.transaction import TimerConfig
from labpbx.voicemail.notifier import MwiNotifier

FAST = TimerConfig(t1=0.02, t2=0.08, t4=0.1)  # Timer F = 1.28 s


@pytest.fixture
def proxy() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def make(proxy: socket.socket, events: list[Event]) -> MwiNotifier:
    notifier = MwiNotifier(proxy.getsockname(), events.append, timers=FAST)
    notifier.box = ("127.0.0.1", 15070)
    return notifier


def receive(proxy: socket.socket) -> tuple[Request, tuple[str, int]]:
    data, addr = proxy.recvfrom(65535)
    message = parse_message(data)
    assert isinstance(message, Request)
    return message, addr


def pump_until(notifier: MwiNotifier, done: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the notifier did not finish in time"
        notifier.pump(0.05)


def pump_and_receive(notifier: MwiNotifier, proxy: socket.socket,
                     count: int) -> list[Request | Response]:
    """Pump the notifier until the fake proxy has received ``count`` messages from it (the
    notifier answers only when pumped, so a blocking read alone would wait forever)."""
    got: list[Request | Response] = []

    def collect() -> bool:
        try:
            proxy.settimeout(0.01)
            got.append(parse_message(proxy.recvfrom(65535)[0]))
        except TimeoutError:
            pass
        finally:
            proxy.settimeout(2.0)
        return len(got) >= count
    pump_until(notifier, collect)
    return got


def test_200_is_reported_as_an_mwi_component_event(proxy: socket.socket) -> None:
    events: list[Event] = []
    notifier = make(proxy, events)
    try:
        notifier.notify("1001", 1, 0)
        request, addr = receive(proxy)
        assert addr == notifier.local and request.method == "NOTIFY"
        assert request.uri == f"sip:1001@127.0.0.1:{proxy.getsockname()[1]}"
        assert str(request.headers.get("From")).startswith("<sip:voicemail@127.0.0.1:15070>")
        assert b"Messages-Waiting: yes" in request.body
        proxy.sendto(make_response(request, 200, to_tag="x").to_bytes(), addr)
        pump_until(notifier, lambda: bool(events))
        [event] = events
        assert isinstance(event, ComponentEvent) and event.status == "mwi"
        assert event.detail == "NOTIFY 1001: 200 OK"
        assert event.extra["call_id"] == request.call_id and event.extra["new_messages"] == 1
    finally:
        notifier.close()


def test_404_unregistered_extension_is_only_a_warning(proxy: socket.socket) -> None:
    events: list[Event] = []
    notifier = make(proxy, events)
    try:
        notifier.notify("1003", 0, 2)
        request, addr = receive(proxy)
        proxy.sendto(make_response(request, 100).to_bytes(), addr)  # provisional: no outcome
        proxy.sendto(make_response(request, 404).to_bytes(), addr)
        pump_until(notifier, lambda: bool(events))
        [event] = events
        assert isinstance(event, ProblemEvent) and event.severity == "warning"
        assert event.message.startswith("NOTIFY 1003: 404 Not Found")
        assert "not registered" in event.message
    finally:
        notifier.close()


def test_no_answer_is_retransmitted_then_fails_on_timer_f(proxy: socket.socket) -> None:
    events: list[Event] = []
    notifier = make(proxy, events)
    try:
        notifier.notify("1001", 1, 0)
        first, _ = receive(proxy)
        pump_until(notifier, lambda: bool(events))
        [event] = events
        assert isinstance(event, ProblemEvent) and event.severity == "error"
        assert "no answer (Timer F)" in event.message
        assert notifier.pending == 0
        copies = 1
        proxy.settimeout(0.0)
        while True:
            try:
                data, _ = proxy.recvfrom(65535)
            except BlockingIOError:
                break
            assert data == first.to_bytes()  # Timer E resends the same bytes
            copies += 1
        assert copies >= 4
    finally:
        notifier.close()


def test_requests_to_the_notifier_are_refused(proxy: socket.socket) -> None:
    events: list[Event] = []
    notifier = make(proxy, events)
    try:
        stray = (b"OPTIONS sip:voicemail@127.0.0.1 SIP/2.0\r\n"
                 b"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKx\r\n"
                 b"From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:voicemail@127.0.0.1>\r\n"
                 b"Call-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                 % proxy.getsockname()[1])
        proxy.sendto(b"junk\r\n\r\n", notifier.local)
        proxy.sendto(stray, notifier.local)
        deadline = time.monotonic() + 5.0
        proxy.settimeout(0.05)
        answer = None
        while answer is None and time.monotonic() < deadline:
            notifier.pump(0.05)
            try:
                answer = parse_message(proxy.recvfrom(65535)[0])
            except TimeoutError:
                continue
        assert answer is not None and getattr(answer, "status", None) == 405
        assert events == []
    finally:
        notifier.close()


def test_the_proxy_must_be_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        MwiNotifier(("10.0.0.1", 5060), lambda event: None)


def test_subscribe_is_answered_then_notified_in_the_dialog(proxy: socket.socket) -> None:
    """A softphone's SUBSCRIBE (relayed by the proxy): 200, an immediate NOTIFY with the
    mailbox's counts, in-dialog NOTIFYs instead of unsolicited ones, 481 ends it."""
    events: list[Event] = []
    notifier = MwiNotifier(proxy.getsockname(), events.append, timers=FAST,
                           counts=lambda mailbox: (3, 1) if mailbox == "1005" else (0, 0))
    proxy_port = proxy.getsockname()[1]
    try:
        subscribe = "\r\n".join([
            f"SUBSCRIBE sip:1005@127.0.0.1:{proxy_port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{proxy_port};branch=z9hG4bKp1",
            "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKs1",
            f"Record-Route: <sip:127.0.0.1:{proxy_port};lr>",
            "From: <sip:1005@127.0.0.1>;tag=soft", "To: <sip:1005@127.0.0.1>",
            "Call-ID: mwi-sub-1", "CSeq: 1 SUBSCRIBE", "Max-Forwards: 69",
            "Contact: <sip:1005@127.0.0.1:40000>", "Event: message-summary", "Expires: 600",
            "Content-Length: 0", "", ""])
        proxy.sendto(subscribe.encode(), notifier.local)
        ok, first = pump_and_receive(notifier, proxy, 2)
        assert isinstance(ok, Response) and ok.status == 200
        assert isinstance(first, Request) and first.method == "NOTIFY"
        assert first.uri == "sip:1005@127.0.0.1:40000"
        assert first.headers.get("Route") == f"<sip:127.0.0.1:{proxy_port};lr>"
        assert b"Voice-Message: 3/1" in first.body
        assert any(isinstance(e, ComponentEvent) and e.status == "subscription" for e in events)
        proxy.sendto(make_response(first, 200).to_bytes(), notifier.local)
        pump_until(notifier, lambda: any(isinstance(e, ComponentEvent) and e.status == "mwi"
                                         for e in events))
        # A new message: the subscriber gets an in-dialog NOTIFY, no unsolicited one is sent.
        notifier.notify("1005", 4, 1)
        second, _ = receive(proxy)
        while second.cseq[0] == 1:  # retransmissions of the first NOTIFY (T1 is 20 ms here)
            second, _ = receive(proxy)
        assert second.call_id == "mwi-sub-1" and second.cseq == (2, "NOTIFY")
        proxy.sendto(make_response(second, 481).to_bytes(), notifier.local)
        pump_until(notifier, lambda: len(notifier.subscriptions) == 0)
        # Without a subscription the mailbox is back to unsolicited NOTIFYs.
        notifier.notify("1005", 4, 1)
        third, _ = receive(proxy)
        while third.call_id == "mwi-sub-1":  # the 481'd NOTIFY's retransmissions, if any
            third, _ = receive(proxy)
        assert third.call_id != "mwi-sub-1" and third.uri == f"sip:1005@127.0.0.1:{proxy_port}"
    finally:
        notifier.close()


def test_other_requests_get_405_with_allow(proxy: socket.socket) -> None:
    events: list[Event] = []
    notifier = make(proxy, events)
    try:
        options = "\r\n".join([
            "OPTIONS sip:voicemail@127.0.0.1 SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{proxy.getsockname()[1]};branch=z9hG4bKo1",
            "From: <sip:x@127.0.0.1>;tag=o", "To: <sip:voicemail@127.0.0.1>", "Call-ID: o1",
            "CSeq: 1 OPTIONS", "Max-Forwards: 70", "Content-Length: 0", "", ""])
        proxy.sendto(options.encode(), notifier.local)
        [response] = pump_and_receive(notifier, proxy, 1)
        assert isinstance(response, Response) and response.status == 405
        assert response.headers.get("Allow") == "SUBSCRIBE"
    finally:
        notifier.close()


def test_unreadable_counts_are_a_warning_and_the_subscription_still_works(
        proxy: socket.socket) -> None:
    def broken(mailbox: str) -> tuple[int, int]:
        raise StoreError("lab.json is corrupt")

    events: list[Event] = []
    notifier = MwiNotifier(proxy.getsockname(), events.append, timers=FAST, counts=broken)
    port = proxy.getsockname()[1]
    try:
        proxy.sendto("\r\n".join([
            f"SUBSCRIBE sip:1005@127.0.0.1:{port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKp2",
            "From: <sip:1005@127.0.0.1>;tag=soft", "To: <sip:1005@127.0.0.1>",
            "Call-ID: mwi-sub-2", "CSeq: 1 SUBSCRIBE", "Max-Forwards: 69",
            f"Contact: <sip:1005@127.0.0.1:{port}>", "Event: message-summary",
            "Content-Length: 0", "", ""]).encode(), notifier.local)
        ok, notify = pump_and_receive(notifier, proxy, 2)
        assert isinstance(ok, Response) and ok.status == 200
        assert isinstance(notify, Request) and b"Voice-Message: 0/0" in notify.body
        assert any(isinstance(e, ProblemEvent) and "unreadable" in e.message for e in events)
    finally:
        notifier.close()
