"""The box's message-waiting NOTIFY (RFC 3842), built byte for byte (pure)."""

from __future__ import annotations

import pytest

from labpbx.sip.message import parse_message
from labpbx.voicemail.mwi import build_notify, summary_body

PROXY = ("127.0.0.1", 5060)
BOX = ("127.0.0.1", 15070)
LOCAL = ("127.0.0.1", 40001)


def test_the_exact_notify() -> None:
    request = build_notify("1001", 2, 1, proxy=PROXY, box=BOX, local=LOCAL, call_id="c1@127.0.0.1",
                           tag="t1", branch="z9hG4bKb1", cseq=7)
    assert request.to_bytes() == (
        b"NOTIFY sip:1001@127.0.0.1:5060 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:40001;branch=z9hG4bKb1\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: <sip:voicemail@127.0.0.1:15070>;tag=t1\r\n"
        b"To: <sip:1001@127.0.0.1>\r\n"
        b"Call-ID: c1@127.0.0.1\r\n"
        b"CSeq: 7 NOTIFY\r\n"
        b"Contact: <sip:voicemail@127.0.0.1:40001>\r\n"
        b"Event: message-summary\r\n"
        b"Subscription-State: active\r\n"
        b"Content-Type: application/simple-message-summary\r\n"
        b"Content-Length: 86\r\n"
        b"\r\n"
        b"Messages-Waiting: yes\r\n"
        b"Message-Account: sip:1001@127.0.0.1\r\n"
        b"Voice-Message: 2/1 (0/0)\r\n")
    again = parse_message(request.to_bytes())  # our own parser accepts it as a request
    assert again.to_bytes() == request.to_bytes() and again.body == request.body


def test_no_new_messages_means_not_waiting() -> None:
    assert summary_body("1004", "127.0.0.1", 0, 3) == (
        b"Messages-Waiting: no\r\nMessage-Account: sip:1004@127.0.0.1\r\n"
        b"Voice-Message: 0/3 (0/0)\r\n")


def test_fresh_call_id_tag_and_branch_each_time() -> None:
    first = build_notify("1001", 1, 0, proxy=PROXY, box=BOX, local=LOCAL)
    second = build_notify("1001", 1, 0, proxy=PROXY, box=BOX, local=LOCAL)
    assert first.call_id != second.call_id and first.from_tag != second.from_tag
    assert first.top_via.branch != second.top_via.branch
    assert first.top_via.branch.startswith("z9hG4bK") and first.to_tag is None
    assert first.cseq == (1, "NOTIFY") and first.max_forwards == 70


@pytest.mark.parametrize(("mailbox", "new", "old"), [
    ("", 1, 0), ("10 01", 1, 0), ("a@b", 1, 0), ("1001", -1, 0), ("1001", 0, -2)])
def test_junk_never_reaches_the_wire(mailbox: str, new: int, old: int) -> None:
    with pytest.raises(ValueError):
        build_notify(mailbox, new, old, proxy=PROXY, box=BOX, local=LOCAL)
