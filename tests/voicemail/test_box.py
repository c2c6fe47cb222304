"""The voicemail box's pure rules: mailbox/greeting resolution, INVITE reading, limits, silence."""

from __future__ import annotations

import math
from array import array

import pytest

from labpbx.voicemail.box import (
    BoxConfig,
    MailboxTarget,
    RecordingLimits,
    SilenceDetector,
    VoicemailMessage,
    end_cause,
    message_path,
    parse_diversions,
    parse_invite,
    pcm16_rms,
    resolve,
    safe_mailbox,
)
from labpbx.voicemail.memory_store import MemoryMessageStore

DIV_1004 = "<sip:1004@127.0.0.1:15060>;reason=unconditional"


@pytest.mark.parametrize(("user", "diversions", "expected"), [
    # Asterisk VoiceMail prefixes (SEMANTICS.md §0 row 8), only when digits follow
    ("b1001", [], ("1001", "busy", "user-busy")),
    ("u1001", [], ("1001", "unavailable", "no-answer")),
    ("u1001", [DIV_1004], ("1001", "unavailable", "no-answer")),  # the prefix wins
    ("bob", [], ("bob", "default", "direct")),
    ("ub1", [], ("ub1", "default", "direct")),
    ("b", [], ("b", "default", "direct")),
    ("b10x", [], ("b10x", "default", "direct")),
    ("B1001", [], ("B1001", "default", "direct")),  # the prefix is lower-case, as the script adds
    ("1001", [], ("1001", "default", "direct")),
    # the voicemail number: the mailbox is the top Diversion's user, reason picks the greeting
    ("2345678", [DIV_1004], ("1004", "unavailable", "unconditional")),
    ("2345678", ["<sip:1001@127.0.0.1>;reason=user-busy"], ("1001", "busy", "user-busy")),
    ("2345678", ["<sip:1001@127.0.0.1>;reason=no-answer"], ("1001", "unavailable", "no-answer")),
    ("2345678", ["<sip:1001@h>;reason=unavailable"], ("1001", "unavailable", "unavailable")),
    ("2345678", ["<sip:1001@h>;reason=deflection"], ("1001", "unavailable", "deflection")),
    ("2345678", ["<sip:1001@h>;reason=\"USER-BUSY\""], ("1001", "busy", "user-busy")),
    ("2345678", ["<sip:1001@h>"], ("1001", "unavailable", "diverted")),
    ("2345678", ['"Bob, Jr" <sip:1001@h>;reason=user-busy;counter=1, <sip:1004@h>;reason=x'],
     ("1001", "busy", "user-busy")),  # comma inside quotes; the top value counts
    ("2345678", ["<sip:1002@h>;reason=user-busy", DIV_1004], ("1002", "busy", "user-busy")),
    ("2345678", ["sip:1003@h;reason=user-busy"], ("1003", "busy", "user-busy")),  # addr-spec
    ("2345678", ["<tel:+4930123;phone-context=x>;reason=no-answer"],
     ("+4930123", "unavailable", "no-answer")),
    ("2345678", ["<<garbage", DIV_1004], ("1004", "unavailable", "unconditional")),
    # no mailbox can be worked out: the general box, default greeting
    ("2345678", [], ("general", "default", "no-mailbox")),
    ("2345678", ["<sip:127.0.0.1>;reason=user-busy"], ("general", "default", "no-mailbox")),
    ("2345678", ["<sip:..@h>;reason=user-busy"], ("general", "default", "bad-mailbox")),
    ("", [], ("general", "default", "no-mailbox")),
    ("a%2Fb", [], ("general", "default", "bad-mailbox")),
    ("%31001", [], ("1001", "default", "direct")),
])
def test_resolve_table(user: str, diversions: list[str], expected: tuple[str, str, str]) -> None:
    assert resolve(user, diversions) == MailboxTarget(*expected)  # type: ignore[arg-type]


def test_voicemail_number_is_configurable() -> None:
    assert resolve("999", [DIV_1004], voicemail_number="999").mailbox == "1004"
    assert resolve("2345678", [DIV_1004], voicemail_number="999") == MailboxTarget(
        "2345678", "default", "direct")


def test_parse_diversions_keeps_order_and_reason() -> None:
    found = parse_diversions(['<sip:1001@a>;reason=user-busy, <sip:1004@b>', "sip:7@c"])
    assert [(d.user, d.reason) for d in found] == [("1001", "user-busy"), ("1004", ""), ("7", "")]


@pytest.mark.parametrize(("name", "ok"), [
    ("1001", True), ("general", True), ("a.b-c_d+e", True), ("..", False), (".hidden", False),
    ("a/b", False), ("a\\b", False), ("", False), ("x" * 64, True), ("x" * 65, False),
    ("%2e%2e", False), ("日本", False),
])
def test_safe_mailbox(name: str, ok: bool) -> None:
    assert (safe_mailbox(name) is not None) is ok


INVITE = (
    "INVITE sip:2345678@127.0.0.1:5080;transport=udp SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:15060;branch=z9hG4bK1\r\n"
    "f: \"Alice Liddell\" <sip:1000@127.0.0.1>;tag=abc\r\n"
    "To: <sip:1004@127.0.0.1>\r\n"
    "i: call-42@127.0.0.1\r\n"
    "Diversion: <sip:1004@127.0.0.1:15060>\r\n"
    " ;reason=unconditional\r\n"
    "DIVERSION: <sip:1009@127.0.0.1>;reason=user-busy\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
    "v=0\r\nDiversion: <sip:9@x>\r\n"
)


def test_parse_invite_reads_fields_leniently() -> None:
    invite = parse_invite(INVITE)
    assert invite.request_user == "2345678"
    assert invite.caller == "sip:1000@127.0.0.1"
    assert invite.caller_name == "Alice Liddell"
    assert invite.call_id == "call-42@127.0.0.1"
    # folded continuation joined; case-insensitive name; the body is not read as headers
    assert invite.diversions == ("<sip:1004@127.0.0.1:15060> ;reason=unconditional",
                                 "<sip:1009@127.0.0.1>;reason=user-busy")
    assert resolve(invite.request_user, invite.diversions) == MailboxTarget(
        "1004", "unavailable", "unconditional")


def test_parse_invite_survives_garbage() -> None:
    invite = parse_invite("nonsense")
    assert (invite.request_user, invite.caller, invite.diversions) == ("", "", ())
    assert parse_invite("INVITE sip:b1001@h SIP/2.0\nFrom: <<<\n\n").caller == "<<<"


# --- limits, silence ---------------------------------------------------------------------------


def pcm(values: list[int]) -> bytes:
    return array("h", values).tobytes()


def sine_frame(amplitude: float, n: int = 320, rate: int = 16000) -> bytes:
    return pcm([int(amplitude * math.sin(2 * math.pi * 440 * i / rate)) for i in range(n)])


def test_rms() -> None:
    assert pcm16_rms(b"") == 0.0
    assert pcm16_rms(pcm([1000, -1000, 1000, -1000])) == 1000.0
    assert pcm16_rms(pcm([3, 4]) + b"\x01") == pytest.approx(math.sqrt(12.5))  # odd byte ignored
    assert pcm16_rms(sine_frame(10000)) == pytest.approx(10000 / math.sqrt(2), rel=0.01)


def test_silence_detector_tracks_trailing_silence() -> None:
    det = SilenceDetector(16000, threshold=300)
    assert det.feed(sine_frame(100)) is True  # -50 dBFS: silence
    assert det.silent_for == pytest.approx(0.02) and not det.heard_sound
    assert det.feed(sine_frame(5000)) is False
    assert det.heard_sound and det.silent_for == 0.0 and det.last_sound_end == pytest.approx(0.04)
    for _ in range(50):
        det.feed(bytes(640))
    assert det.silent_for == pytest.approx(1.0)
    assert det.total == pytest.approx(1.04)
    assert det.last_sound_end == pytest.approx(0.04)
    det.feed(sine_frame(5000))
    assert det.silent_for == 0.0


def test_silence_detector_threshold_is_inclusive_and_configurable() -> None:
    assert SilenceDetector(8000, threshold=1000).feed(pcm([1000] * 160)) is False
    assert SilenceDetector(8000, threshold=1001).feed(pcm([1000] * 160)) is True
    with pytest.raises(ValueError):
        SilenceDetector(0)


def test_end_cause() -> None:
    limits = RecordingLimits(max_length=60, silence=5)
    assert end_cause(limits, 10, 4.99) is None
    assert end_cause(limits, 10, 5.0) == "silence"
    assert end_cause(limits, 60, 0) == "max-length"
    assert end_cause(limits, 60, 6) == "max-length"  # max length is checked first
    assert end_cause(RecordingLimits(silence=0), 30, 29) is None  # silence 0 = off


def test_limits_defaults_and_validation() -> None:
    limits = RecordingLimits()
    assert (limits.max_length, limits.silence, limits.min_length) == (60.0, 5.0, 0.5)
    for bad in ({"max_length": 0}, {"silence": -1}, {"min_length": -0.1},
                {"max_length": 1, "min_length": 2}, {"silence_threshold": -1}):
        with pytest.raises(ValueError):
            RecordingLimits(**bad)


def test_box_config_validation() -> None:
    assert BoxConfig().max_legs == 4
    for bad in ({"language": "fr"}, {"port": 70000}, {"max_legs": 5}, {"voicemail_number": ""}):
        with pytest.raises(ValueError):
            BoxConfig(**bad)


# --- messages and the in-memory store ------------------------------------------------------------


def message(mid: str, mailbox: str = "1001", heard: bool = False) -> VoicemailMessage:
    return VoicemailMessage(id=mid, mailbox=mailbox, caller="sip:1000@127.0.0.1",
                            caller_name="Alice", received_at=1.5e9, duration=2.5,
                            greeting="busy", reason="user-busy",
                            path=message_path(mailbox, mid), heard=heard)


def test_message_round_trip_and_validation() -> None:
    msg = message("20240101-120000-abcdef")
    assert msg.path == "voicemail/1001/20240101-120000-abcdef.wav"
    assert VoicemailMessage.from_dict(msg.to_dict()) == msg
    with pytest.raises(ValueError):
        VoicemailMessage.from_dict({**msg.to_dict(), "greeting": "rude"})
    with pytest.raises(ValueError):
        VoicemailMessage.from_dict({"id": "x"})
    with pytest.raises(ValueError):
        VoicemailMessage.from_dict({**msg.to_dict(), "heard": "yes"})


def test_memory_store_counts_new_and_old() -> None:
    store = MemoryMessageStore()
    assert store.count("1001") == (0, 0)
    store.add(message("a"))
    store.add(message("b"))
    store.add(message("c", mailbox="1004"))
    assert store.count("1001") == (2, 0)
    assert store.mark_heard("a") and not store.mark_heard("zzz")
    assert store.count("1001") == (1, 1)
    assert [m.id for m in store.messages("1004")] == ["c"]
    with pytest.raises(ValueError):
        store.add(message("a"))
