"""Reading a message-summary NOTIFY a phone received (RFC 3842 §5.2, pure)."""

from __future__ import annotations

import pytest

from labpbx.phones.mwi import MessageSummary, parse_summary, summary_from_message
from labpbx.voicemail.mwi import build_notify


def test_what_the_box_sends_reads_back() -> None:
    notify = build_notify("1001", 3, 2, proxy=("127.0.0.1", 5060), box=("127.0.0.1", 15070),
                          local=("127.0.0.1", 40001))
    whole = notify.to_bytes().decode()
    assert summary_from_message(whole) == MessageSummary(True, "sip:1001@127.0.0.1", 3, 2)


def test_rfc3842_example_with_urgent_counts_fax_and_message_headers() -> None:
    body = ("Messages-Waiting: yes\r\n"
            "Message-Account: sip:alice@vmail.example.com\r\n"
            "Voice-Message: 4/8 (1/2)\r\n"
            "Fax-Message: 1/0\r\n"
            "\r\n"
            "To: <alice@atlanta.example.com>\r\n"
            "Subject: carpool tomorrow?\r\n")
    assert parse_summary(body) == MessageSummary(True, "sip:alice@vmail.example.com", 4, 8, 1, 2)


def test_names_are_case_insensitive_and_lf_lines_work() -> None:
    whole = ("NOTIFY sip:1001@127.0.0.1 SIP/2.0\nCSeq: 1 NOTIFY\n\n"
             "messages-waiting: NO\nvoice-message:  0 / 5\n")
    assert summary_from_message(whole) == MessageSummary(False, "", 0, 5)


def test_without_voice_counts_only_the_flag_is_known() -> None:
    assert parse_summary("Messages-Waiting: yes\r\n") == MessageSummary(True)


@pytest.mark.parametrize("body", [
    "", "Voice-Message: 1/0\r\n", "Messages-Waiting: maybe\r\n",
    "Messages-Waiting: yes\r\nVoice-Message: one/zero\r\n", "Messages-Waiting yes\r\n"])
def test_unusable_summaries_are_refused(body: str) -> None:
    with pytest.raises(ValueError):
        parse_summary(body)


def test_a_message_without_body_is_refused() -> None:
    with pytest.raises(ValueError, match="no body"):
        summary_from_message("NOTIFY sip:1001@127.0.0.1 SIP/2.0\r\nCSeq: 1 NOTIFY\r\n")
