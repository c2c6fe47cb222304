"""LabPBX's user agents behind a real Kamailio 5.6 running the tutorial (SEED.md) in its dialect.

Real processes over UDP on 127.0.0.1 (tests/interop/kamailio_harness.py): Kamailio with
tests/data/kamailio_tutorial.cfg (fr_inv_timer 3000 ms), ``labpbx voicemail`` as the media server
and three ``labpbx phone`` processes (1000+1001, 1002+1003, 1004). Each test gets its own stack,
waits on events and log lines with deadlines (never sleeps for correctness), and its teardown
checks that every process group is gone and the SIP ports are free again.

Evidence comes from three sides: the UAs' JSON events, Kamailio's own log (the script's xlog
lines), and Kamailio's sipdump trace of every SIP message it received and sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.interop.kamailio_harness import (
    HOST,
    VOICEMAIL_NUMBER,
    InteropStack,
    Kamailio,
    PhoneSpec,
    SipDumpEntry,
    free_udp_port,
    kamailio_binary,
    registration_answer,
    sip_options,
    wait_until,
)

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones and voicemail need it")

from labpbx.events import CallStateEvent, MwiEvent, RegistrationEvent, VoicemailEvent
from labpbx.voicemail.store_adapter import LabStoreMessageStore
from tests.lab.audio import assert_caller_voice

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(60),
    pytest.mark.skipif(kamailio_binary() is None,
                       reason="kamailio is not installed (not on PATH, no /usr/sbin/kamailio): "
                              "apt-get install kamailio"),
]

FR_INV_TIMER_MS = 3000
# The box records this long (--max-length): long enough that assert_caller_voice sees many of
# the voice's 0.2 s tones after the jitter buffer's start-up smear.
MESSAGE_SECONDS = 2.5
MakeStack = Callable[..., InteropStack]


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[MakeStack]:
    """``make_stack(policies={"1001": "busy"})`` → a started stack; stopped and checked after."""
    stacks: list[InteropStack] = []

    def _make(policies: dict[str, str] | None = None) -> InteropStack:
        policies = policies or {}
        phones = [PhoneSpec(exts, {x: policies[x] for x in exts if x in policies})
                  for exts in (("1000", "1001"), ("1002", "1003"), ("1004",))]
        stack = InteropStack(tmp_path / f"stack{len(stacks)}", phones=phones,
                             fr_inv_timer_ms=FR_INV_TIMER_MS, message_seconds=MESSAGE_SECONDS)
        stacks.append(stack)
        stack.start()
        return stack

    yield _make
    for stack in stacks:
        stack.stop()  # raises if a process or a port is left behind


# --- helpers ---------------------------------------------------------------------------------------


def invite_to_media(stack: InteropStack, call_id: str) -> SipDumpEntry:
    """The INVITE Kamailio sent to the voicemail box for the call ``call_id``."""
    media = f"{HOST}:{stack.media_port}"
    return stack.kamailio.wait_trace(
        lambda e: e.direction == "snd" and e.dst == media and e.call_id == call_id
        and e.start_line.startswith("INVITE "), f"the INVITE of {call_id} to the box")


def sent_to_media(stack: InteropStack, call_id: str) -> list[SipDumpEntry]:
    media = f"{HOST}:{stack.media_port}"
    return [e for e in stack.kamailio.sip_trace()
            if e.direction == "snd" and e.dst == media and e.call_id == call_id]


def stored_row_and_wav(stack: InteropStack, event: VoicemailEvent) -> Path:
    """The message's row in the lab database matches the event; returns its WAV file."""
    store = LabStoreMessageStore.for_data_dir(stack.data_dir)
    rows = store.messages(event.mailbox)
    assert [r.id for r in rows] == [event.message_id], rows
    row = rows[0]
    assert (row.mailbox, row.caller, row.greeting, row.reason, row.path) == (
        event.mailbox, event.caller, event.greeting, event.reason, event.path)
    assert row.heard is False
    assert 0.5 <= row.duration <= stack.message_seconds + 0.2, row.duration
    wav = stack.data_dir / row.path
    assert wav.is_file()
    return wav


def mwi_at(stack: InteropStack, ext: str, new: int) -> MwiEvent:
    """The phone of ``ext`` got the box's message-waiting NOTIFY, relayed by Kamailio."""
    event = stack.events.wait_for(
        lambda e: isinstance(e, MwiEvent) and e.component == stack.phone_of(ext)
        and e.mailbox == ext and e.new_messages == new, 10.0,
        what=f"the NOTIFY of mailbox {ext} at its phone")
    assert isinstance(event, MwiEvent)
    return event


def no_voicemail_for(stack: InteropStack, call_id: str) -> None:
    """The box never saw the call: no leg, no message, nothing sent to it, nothing stored."""
    assert not stack.events.find(lambda e: e.component == "voicemail"
                                 and getattr(e, "call_id", None) == call_id)
    assert stack.voicemail_status()["legs"] == 0
    assert not sent_to_media(stack, call_id)
    assert LabStoreMessageStore.for_data_dir(stack.data_dir).messages() == []


# --- tests -----------------------------------------------------------------------------------------


def test_tutorial_config_passes_kamailio_check(tmp_path: Path) -> None:
    kamailio = Kamailio(tmp_path, free_udp_port(), free_udp_port(), fr_inv_timer_ms=FR_INV_TIMER_MS)
    assert kamailio.check_config() == ""


def test_every_extension_registers_with_kamailio(make_stack: MakeStack) -> None:
    stack = make_stack()
    for ext in ("1000", "1001", "1002", "1003", "1004"):
        event = stack.events.wait_for(registration_answer(ext), 1.0, what=f"{ext} registered")
        assert isinstance(event, RegistrationEvent)
        assert (event.registered, event.status, event.reason) == (True, 200, "OK")
        # Kamailio's own view: its in-memory location table routes an OPTIONS to the phone,
        # which answers it (a 404 would come from Kamailio: no binding)
        status, response = sip_options(stack.kamailio_port, ext)
        assert status == 200, response
        assert re.search(r"^User-Agent: LabPBX-phone", response, re.MULTILINE), response
    # Kamailio listens on 127.0.0.1 only, UDP only. Besides, as root it always opens an unbound,
    # send-only IPPROTO_RAW (255) socket (core main.c); the config's udp4_raw=0 keeps it unused.
    assert stack.kamailio.sockets() - {("raw", "0.0.0.0", 255)} == {
        ("udp", HOST, stack.kamailio_port)}
    status, response = sip_options(stack.kamailio_port, "1009")
    assert status == 404 and "Server: kamailio-labpbx-interop" in response, response
    # every REGISTER reached Kamailio and was answered 200 by its registrar (sipdump writes
    # asynchronously: wait until the trace has them all)
    def registered() -> set[str]:
        return {m.group(1) for e in stack.kamailio.sip_trace()
                if e.direction == "snd" and e.start_line.startswith("SIP/2.0 200")
                and "REGISTER" in "".join(e.header("CSeq"))
                for m in [re.search(r"sip:(\d+)@", "".join(e.header("To")))] if m}

    wait_until(lambda: registered() == {"1000", "1001", "1002", "1003", "1004"}, 5.0,
               "the 200 OK of every REGISTER in Kamailio's trace")


def test_unconditional_forward_of_1004_ends_in_1004s_mailbox(make_stack: MakeStack) -> None:
    stack = make_stack()
    leg = stack.call("1000", "1004")
    call_id = stack.leg_state(leg, "confirmed").call_id
    port = stack.kamailio_port
    stack.kamailio.wait_log(
        rf"NOTICE: <script>: forwarded to: sip:{VOICEMAIL_NUMBER}@{HOST}:{port} \[{call_id}\]", 5)

    invite = invite_to_media(stack, call_id)
    assert invite.start_line == f"INVITE sip:{VOICEMAIL_NUMBER}@{HOST}:{port} SIP/2.0"
    assert invite.header("Diversion") == [f"<sip:1004@{HOST}:{port}>;reason=unconditional"]

    result = stack.voicemail_result(call_id)
    assert (result.status, result.mailbox, result.greeting, result.reason, result.caller) == (
        "stored", "1004", "unavailable", "unconditional", f"sip:1000@{HOST}")
    stack.leg_state(leg, "disconnected")
    # 1004's own phone never rang
    assert not stack.events.find(lambda e: isinstance(e, CallStateEvent)
                                 and e.component == "phone-1004" and e.call_id == call_id)
    assert_caller_voice(stored_row_and_wav(stack, result))
    mwi_at(stack, "1004", new=1)


def test_busy_1001_sends_the_call_to_the_busy_greeting(make_stack: MakeStack) -> None:
    stack = make_stack({"1001": "busy"})
    leg = stack.call("1000", "1001")
    call_id = stack.leg_state(leg, "calling").call_id
    rejected = stack.incoming("1001", call_id, "disconnected")
    assert rejected.status == 486
    port = stack.kamailio_port
    stack.kamailio.wait_log(rf"ERROR: <script>: > 486 ruri=<sip:b1001@{HOST}:{port}> \[{call_id}\]",
                            5)
    stack.leg_state(leg, "confirmed")  # answered by the box, not by 1001

    invite = invite_to_media(stack, call_id)
    assert invite.start_line == f"INVITE sip:b1001@{HOST}:{port} SIP/2.0"
    assert invite.header("Diversion") == [f"<sip:1001@{HOST}:{port}>;reason=user-busy"]
    # the 486 stayed in Kamailio (ACKed hop by hop), the caller never saw it
    assert not [e for e in stack.kamailio.sip_trace() if e.direction == "snd"
                and e.call_id == call_id and e.start_line.startswith("SIP/2.0 486")]

    result = stack.voicemail_result(call_id)
    assert (result.status, result.mailbox, result.greeting, result.reason, result.caller) == (
        "stored", "1001", "busy", "user-busy", f"sip:1000@{HOST}")
    stack.leg_state(leg, "disconnected")
    assert_caller_voice(stored_row_and_wav(stack, result))
    mwi_at(stack, "1001", new=1)


def test_no_answer_cancels_1001_after_fr_inv_timer_and_reaches_voicemail(
        make_stack: MakeStack) -> None:
    stack = make_stack({"1001": "ring"})
    leg = stack.call("1004", "1001")
    call_id = stack.leg_state(leg, "calling").call_id
    ringing = stack.incoming("1001", call_id, "early")
    stack.leg_state(leg, "early")
    cancelled = stack.incoming("1001", call_id, "disconnected", timeout=FR_INV_TIMER_MS / 1000 + 5)
    assert cancelled.status == 487, cancelled
    rang = cancelled.time - ringing.time
    assert FR_INV_TIMER_MS / 1000 - 0.3 <= rang <= FR_INV_TIMER_MS / 1000 + 1.5, rang

    port = stack.kamailio_port
    stack.kamailio.wait_log(rf"ERROR: <script>: > 408 ruri=<sip:u1001@{HOST}:{port}> \[{call_id}\]",
                            5)
    # Kamailio's own CANCEL of the ringing branch, and the 487 it absorbed (never relayed up).
    # Unlike OpenSIPS and LabPBX's proxy (Reason: SIP;cause=480;text="NO_ANSWER"), Kamailio 5.6
    # puts no Reason header on a CANCEL sent because fr_inv_timer fired (local_cancel_reason only
    # covers CANCELs caused by a final reply on another branch).
    cancel = stack.kamailio.wait_trace(lambda e: e.direction == "snd" and e.call_id == call_id
                                       and e.start_line.startswith("CANCEL sip:1001@"),
                                       "its CANCEL")
    assert cancel.header("Reason") == [], cancel.text
    stack.kamailio.wait_trace(lambda e: e.direction == "rcv" and e.call_id == call_id
                              and e.start_line.startswith("SIP/2.0 487"), "the 487 from 1001")
    stack.leg_state(leg, "confirmed")
    invite = invite_to_media(stack, call_id)
    assert invite.start_line == f"INVITE sip:u1001@{HOST}:{port} SIP/2.0"
    assert invite.header("Diversion") == [f"<sip:1001@{HOST}:{port}>;reason=no-answer"]

    result = stack.voicemail_result(call_id)
    assert (result.status, result.mailbox, result.greeting, result.reason, result.caller) == (
        "stored", "1001", "unavailable", "no-answer", f"sip:1004@{HOST}")
    stack.leg_state(leg, "disconnected")
    relayed_up = [e for e in stack.kamailio.sip_trace()
                  if e.direction == "snd" and e.call_id == call_id
                  and e.start_line.startswith(("SIP/2.0 487", "SIP/2.0 408"))
                  and "INVITE" in "".join(e.header("CSeq"))
                  and e.dst != f"{HOST}:{stack.media_port}"]
    assert not relayed_up, relayed_up
    assert_caller_voice(stored_row_and_wav(stack, result))
    mwi_at(stack, "1001", new=1)


def test_answered_call_through_kamailio_then_hang_up(make_stack: MakeStack) -> None:
    stack = make_stack({"1001": "answer:1"})
    leg = stack.call("1000", "1001")
    call_id = stack.leg_state(leg, "calling").call_id
    ringing = stack.incoming("1001", call_id, "early")
    callee = stack.incoming("1001", call_id, "confirmed")
    caller = stack.leg_state(leg, "confirmed")
    assert 0.8 <= callee.time - ringing.time <= 2.5, callee.time - ringing.time
    assert caller.status == 200
    # Kamailio record-routed the dialog: the BYE goes through it
    mark = stack.events.mark()
    stack.hangup(leg)
    stack.leg_state(leg, "disconnected", after=mark)
    stack.incoming("1001", call_id, "disconnected")
    stack.kamailio.wait_trace(lambda e: e.direction == "snd" and e.call_id == call_id
                              and e.start_line.startswith("BYE sip:1001@"), "the relayed BYE")
    no_voicemail_for(stack, call_id)


def test_caller_hangs_up_while_1001_rings_leaves_no_message(make_stack: MakeStack) -> None:
    stack = make_stack({"1001": "ring"})
    leg = stack.call("1000", "1001")
    call_id = stack.leg_state(leg, "calling").call_id
    stack.incoming("1001", call_id, "early")
    stack.leg_state(leg, "early")
    stack.hangup(leg)  # CANCEL, long before fr_inv_timer
    assert stack.leg_state(leg, "disconnected").status == 487
    assert stack.incoming("1001", call_id, "disconnected").status == 487
    # the failure route ran and stopped at t_is_canceled(): the sign that nothing will follow
    stack.kamailio.wait_log(rf"NOTICE: <script>: caller cancelled, no forward \[{call_id}\]", 5)
    # the 487 relayed to the caller comes after the failure route: once it is in the trace, an
    # INVITE to the box would be there too
    stack.kamailio.wait_trace(lambda e: e.direction == "snd" and e.call_id == call_id
                              and e.start_line.startswith("SIP/2.0 487")
                              and e.dst != f"{HOST}:{stack.media_port}", "the 487 to the caller")
    no_voicemail_for(stack, call_id)
