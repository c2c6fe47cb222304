"""Message-summary subscriptions (RFC 6665, RFC 3842), pure: SUBSCRIBE in, answer and NOTIFY out."""

from __future__ import annotations

import pytest

from labpbx.sip.message import Request, parse_message, parse_name_addr
from labpbx.voicemail.subscriptions import Subscriptions, build_dialog_notify

PROXY_RR = "<sip:127.0.0.1:5060;lr>"
CONTACT = "sip:voicemail@127.0.0.1:15071"
LOCAL = ("127.0.0.1", 15071)


def subscribe(*, event: str = "message-summary", expires: str | None = "600", to_tag: str = "",
              call_id: str = "sub-1", contact: str | None = "<sip:1005@127.0.0.1:40000>",
              ruri: str = "sip:1005@127.0.0.1:5060", cseq: int = 1) -> Request:
    lines = [f"SUBSCRIBE {ruri} SIP/2.0",
             "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy1",
             "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKphone1;rport=40000",
             f"Record-Route: {PROXY_RR}",
             "From: <sip:1005@127.0.0.1>;tag=phone",
             "To: <sip:1005@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
             f"Call-ID: {call_id}", f"CSeq: {cseq} SUBSCRIBE", "Max-Forwards: 69",
             f"Event: {event}", "Accept: application/simple-message-summary"]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    message = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def test_new_subscription_is_accepted_and_notified_in_its_dialog() -> None:
    table = Subscriptions()
    outcome = table.on_subscribe(subscribe(), 100.0, CONTACT)
    ok = outcome.response
    assert ok.status == 200
    assert ok.headers.get("Expires") == "600"
    assert ok.headers.get("Contact") == f"<{CONTACT}>"
    sub = outcome.subscription
    assert sub is not None and not outcome.terminated and len(table) == 1
    assert parse_name_addr(ok.headers.get("To") or "").param("tag") == sub.local_tag
    assert sub.mailbox == "1005" and sub.route_set == (PROXY_RR,)

    notify, hop = build_dialog_notify(sub, 2, 1, now=160.0, local=LOCAL, account_host="127.0.0.1")
    assert hop == ("127.0.0.1", 5060)  # the first Route: back through the proxy
    assert notify.uri == "sip:1005@127.0.0.1:40000"  # the subscriber's Contact
    assert notify.headers.get_all("Route") == [PROXY_RR]
    assert notify.headers.get("From") == f"<sip:1005@127.0.0.1>;tag={sub.local_tag}"
    assert notify.headers.get("To") == "<sip:1005@127.0.0.1>;tag=phone"
    assert notify.call_id == "sub-1" and notify.cseq == (1, "NOTIFY")
    assert notify.headers.get("Subscription-State") == "active;expires=540"
    assert notify.headers.get("Event") == "message-summary"
    assert b"Messages-Waiting: yes\r\n" in notify.body and b"Voice-Message: 2/1" in notify.body
    again, _ = build_dialog_notify(sub, 0, 3, now=170.0, local=LOCAL, account_host="127.0.0.1")
    assert again.cseq == (2, "NOTIFY")
    assert b"Messages-Waiting: no\r\n" in again.body


def test_refresh_and_unsubscribe_inside_the_dialog() -> None:
    table = Subscriptions()
    first = table.on_subscribe(subscribe(), 100.0, CONTACT).subscription
    assert first is not None
    refreshed = table.on_subscribe(subscribe(to_tag=first.local_tag, expires="300", cseq=2),
                                   200.0, CONTACT)
    assert refreshed.response.status == 200 and refreshed.subscription is first
    assert first.expires_at == 500.0 and len(table) == 1
    ended = table.on_subscribe(subscribe(to_tag=first.local_tag, expires="0", cseq=3),
                               210.0, CONTACT)
    assert ended.response.status == 200 and ended.terminated and len(table) == 0
    last, _ = build_dialog_notify(first, 0, 0, now=210.0, local=LOCAL, account_host="127.0.0.1",
                                  terminated=True)
    assert last.headers.get("Subscription-State") == "terminated;reason=timeout"


@pytest.mark.parametrize(("request_", "status", "header"), [
    (subscribe(event="presence"), 489, ("Allow-Events", "message-summary")),
    (subscribe(expires="10"), 423, ("Min-Expires", "60")),
    (subscribe(contact=None), 400, None),
    (subscribe(expires="soon"), 400, None),
    (subscribe(to_tag="nosuchtag"), 481, None),
    (subscribe(ruri="sip:127.0.0.1:5060"), 200, None),  # no user: the To user is the mailbox
])
def test_refusals(request_: Request, status: int, header: tuple[str, str] | None) -> None:
    table = Subscriptions()
    outcome = table.on_subscribe(request_, 0.0, CONTACT)
    assert outcome.response.status == status
    if header is not None:
        assert outcome.response.headers.get(header[0]) == header[1]
    assert (outcome.subscription is not None) == (status == 200)


def test_long_expires_is_lowered_and_expiry_removes_the_subscription() -> None:
    table = Subscriptions(max_expires=3600)
    outcome = table.on_subscribe(subscribe(expires="86400"), 0.0, CONTACT)
    assert outcome.response.headers.get("Expires") == "3600"
    assert table.next_expiry() == 3600.0
    assert table.expired(3599.0) == []
    [gone] = table.expired(3600.0)
    assert gone is outcome.subscription and len(table) == 0


def test_without_record_route_the_notify_goes_to_the_contact() -> None:
    request = subscribe()
    request.headers.remove_all("Record-Route")
    sub = Subscriptions().on_subscribe(request, 0.0, CONTACT).subscription
    assert sub is not None
    notify, hop = build_dialog_notify(sub, 0, 0, now=0.0, local=LOCAL, account_host="127.0.0.1")
    assert hop == ("127.0.0.1", 40000) and notify.headers.get("Route") is None


def test_subscriptions_are_found_by_mailbox() -> None:
    table = Subscriptions()
    table.on_subscribe(subscribe(call_id="a"), 0.0, CONTACT)
    table.on_subscribe(subscribe(call_id="b", ruri="sip:1006@127.0.0.1:5060"), 0.0, CONTACT)
    assert [s.call_id for s in table.for_mailbox("1005")] == ["a"]
    assert table.for_mailbox("1001") == []
