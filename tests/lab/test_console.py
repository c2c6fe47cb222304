"""``labpbx lab``'s terminal lines (pure)."""

from __future__ import annotations

import pytest

from labpbx.events import (
    ComponentEvent,
    Event,
    ForwardingEvent,
    GapEvent,
    ProblemEvent,
    RegistrationEvent,
    SipMessageEvent,
    TransactionEvent,
    VoicemailEvent,
    XlogEvent,
)
from labpbx.lab.console import format_event

T = 1_700_000_000.25


@pytest.mark.parametrize(("event", "text"), [
    (XlogEvent(T, "proxy", 1, "L_ERR", "forwarded to: sip:2345678@127.0.0.1", "c", "route", 9),
     "xlog: forwarded to: sip:2345678@127.0.0.1"),
    (RegistrationEvent(T, "phone-1000", "1000", True, 200, "OK", 300),
     "1000 registered (200 OK, 300 s)"),
    (TransactionEvent(T, "proxy", "c", "t", "timeout", 0, "fr_inv_timeout expired: local 408"),
     "tm timeout: fr_inv_timeout expired: local 408"),
    (VoicemailEvent(T, "voicemail", "1001", "sip:1000@127.0.0.1", "busy", "stored", "m1",
                    "voicemail/1001/m1.wav", 2.0),
     "stored message m1 in mailbox 1001 (busy greeting, 2.0 s, from sip:1000@127.0.0.1)"),
    (ComponentEvent(T, "proxy", "restarted", "restarted after exit code -9"),
     "restarted: restarted after exit code -9"),
    (ComponentEvent(T, "proxy", "ready", address="127.0.0.1:5060"), "ready 127.0.0.1:5060"),
    (ProblemEvent(T, "lab", "error", "it broke"), "ERROR: it broke"),
    (ComponentEvent(T, "phone-1000", "audio", "no sound card: PortAudio found no devices",
                    extra={"enabled": False, "requested": True}),
     "local audio: no sound card: PortAudio found no devices"),
    (ComponentEvent(T, "voicemail", "mwi", "NOTIFY 1001: 200 OK"), "mwi: NOTIFY 1001: 200 OK"),
    (ForwardingEvent(T, "lab", "1004", "sip:2345678@127.0.0.1"),
     "1004 forwards every call to sip:2345678@127.0.0.1 (callfwd)"),
    (GapEvent(T, "lab", 12, 3, 14), "... 12 earlier event(s) are no longer in the lab's history"),
])
def test_lines(event: Event, text: str) -> None:
    line = format_event(event)
    assert line is not None
    assert line.endswith(text)
    assert line.split()[1] == event.component


@pytest.mark.parametrize("event", [
    ComponentEvent(T, "phone-1000", "ack", "policy"),
    ComponentEvent(T, "phone-1002", "audio", "local audio off (--audio not given)",
                   extra={"enabled": False, "requested": False}),
    TransactionEvent(T, "proxy", "c", "t", "created"),
    SipMessageEvent(T, "proxy", "in", "127.0.0.1:1", "127.0.0.1:2", "c", "INVITE sip:x", "…"),
])
def test_plumbing_is_not_printed(event: Event) -> None:
    assert format_event(event) is None


def test_sip_messages_on_request() -> None:
    event = SipMessageEvent(T, "proxy", "in", "127.0.0.1:4000", "127.0.0.1:5060", "c",
                            "INVITE sip:1001@127.0.0.1", "…")
    line = format_event(event, sip=True)
    assert line is not None
    assert line.split()[2:] == ["<-", "127.0.0.1:4000", "INVITE", "sip:1001@127.0.0.1"]
