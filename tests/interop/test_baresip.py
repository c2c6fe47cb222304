"""baresip 1.0.0, a real third-party softphone, as extension 1005 of a running lab.

Each test starts its own lab (proxy, voicemail box, pjsua2 phones 1000-1004) and its own baresip
(tests/interop/baresip_harness.py), all on 127.0.0.1, and checks both sides: what baresip reports
on its control socket and what the lab's event stream and database show. Waits are on events with
timeouts; the only sleep is the caller speaking into a voicemail box. The fixtures stop baresip
(by PID) before the lab, and check that no process of either is left.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    Event,
    RouteDecisionEvent,
    SipMessageEvent,
    TransactionEvent,
    VoicemailEvent,
)
from labpbx.lab import Lab, LabConfig, LabTimeout
from labpbx.phones.policy import Policy
from tests.interop.baresip_harness import BARESIP, TONE_HZ, Baresip
from tests.lab.conftest import assert_all_gone
from tests.voicemail.audio_checks import read_pcm, rms, tone_fraction

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: the lab's phones need it")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(60),
    pytest.mark.skipif(BARESIP is None, reason="baresip is not on PATH (apt-get install baresip)"),
]

SOFTPHONE = "1005"
FR_INV_TIMEOUT = 2.0  # short ring time before the proxy gives up on a ringing extension
SPEAK_SECONDS = 1.5  # how long baresip "speaks" into the voicemail box before hanging up

T = TypeVar("T")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    # 1001 answers quickly (the default 3 s ring adds nothing here); 1002 is busy; 1003 rings
    # until fr_inv_timeout. Messages may be long: baresip's hang-up is what ends them.
    lab = Lab(LabConfig(data_dir=tmp_path / "lab", fr_inv_timeout=FR_INV_TIMEOUT,
                        voicemail_max_length=10.0,
                        policies={"1001": (Policy.ANSWER, 0.5), "1002": (Policy.BUSY, 0.0),
                                  "1003": (Policy.RING, 0.0)}))
    lab.start(timeout=15.0)
    try:
        yield lab
    finally:
        lab.stop()
        assert_all_gone(lab.all_pids())


@pytest.fixture
def phone(lab: Lab, tmp_path: Path) -> Iterator[Baresip]:
    """baresip running, not yet registered (a test adds the account with the answer mode it
    needs). Depends on ``lab``, so it is stopped first: its un-REGISTER still finds the proxy."""
    yield from running_baresip(Baresip(tmp_path / "baresip"))


def running_baresip(phone: Baresip) -> Iterator[Baresip]:
    """Start ``phone``; at teardown stop it and check nothing of it is left."""
    phone.start()
    try:
        yield phone
    finally:
        phone.stop()
        assert phone.proc is not None and phone.proc.returncode is not None
        assert_all_gone([phone.proc.pid])


def register(phone: Baresip, lab: Lab, answermode: str = "manual") -> str:
    """1005 registers with the lab's proxy (its AoR's host:port is the registrar)."""
    mark = phone.mark()
    aor = phone.add_account(SOFTPHONE, lab.proxy_address, answermode)
    phone.wait_event("REGISTER_OK", 5.0, after=mark, accountaor=aor)
    return aor


def eventually(probe: Callable[[], T], timeout: float = 5.0) -> T:
    """``probe()`` once it is truthy. For the lab database, written by the proxy process just
    after it answers (so after the event that tells us to look): a bounded poll."""
    deadline = time.monotonic() + timeout
    while not (value := probe()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def call_state(lab: Lab, call_id: str, ext: str, state: str, after: int,
               timeout: float = 10.0) -> CallStateEvent:
    event = lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.call_id == call_id
                         and e.ext == ext and e.state == state, timeout, after=after)
    assert isinstance(event, CallStateEvent)
    return event


def proxy_saw(lab: Lab, call_id: str, summary: str, direction: str, after: int) -> list[
        SipMessageEvent]:
    """The proxy's trace of those messages. It comes through the proxy's own pipe, possibly
    after what baresip or a lab phone reported: wait for the first before reading."""
    def match(e: Event) -> bool:
        return (isinstance(e, SipMessageEvent) and e.component == "proxy"
                and e.call_id == call_id and e.direction == direction
                and e.summary.startswith(summary))
    with contextlib.suppress(LabTimeout):
        lab.wait_for(match, 5.0, after=after)
    return [e for e in lab.events(after) if isinstance(e, SipMessageEvent) and match(e)]


def stored_message(lab: Lab, call_id: str, after: int) -> VoicemailEvent:
    event = lab.wait_for(lambda e: isinstance(e, VoicemailEvent) and e.call_id == call_id
                         and e.status in ("stored", "empty", "failed"), 15.0, after=after)
    assert isinstance(event, VoicemailEvent)
    return event


def leave_message(lab: Lab, phone: Baresip, ext: str,
                  box_user: str) -> tuple[str, VoicemailEvent, int]:
    """baresip calls ``ext``, is answered by the voicemail box as ``box_user``, speaks (its sine tone) for
    ``SPEAK_SECONDS`` once the box records, hangs up. Returns the Call-ID, the stored-message
    event and the lab mark taken before the call."""
    mark, lab_mark = phone.mark(), lab.mark()
    phone.dial(f"sip:{ext}@{lab.proxy_address}")
    established = phone.wait_event("CALL_ESTABLISHED", 10.0, after=mark)
    call_id = str(established["id"])  # baresip's call id is the SIP Call-ID
    # Who answered is the box, not the extension: its leg of this very call is confirmed.
    box = lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.component == "voicemail"
                       and e.call_id == call_id and e.state == "confirmed", 5.0, after=lab_mark)
    assert isinstance(box, CallStateEvent) and box.ext == box_user, box
    # The greeting and the tone take ~4.5 s; recording starts after them.
    lab.wait_for(lambda e: isinstance(e, VoicemailEvent) and e.call_id == call_id
                 and e.status == "recording", 10.0, after=lab_mark)
    time.sleep(SPEAK_SECONDS)  # the scenario itself: the caller talks for a while
    phone.hangup()
    phone.wait_event("CALL_CLOSED", 5.0, after=mark, id=call_id)
    return call_id, stored_message(lab, call_id, lab_mark), lab_mark


def assert_baresip_tone(path: Path) -> None:
    """The message is baresip's own audio: loud, and nearly all of it the ausine tone."""
    samples, rate = read_pcm(path)
    assert rms(samples) > 1000, f"{path} is (nearly) silent: rms {rms(samples):.0f}"
    step = rate // 10
    shares = [tone_fraction(samples[i:i + step], rate, TONE_HZ)
              for i in range(0, len(samples) - step + 1, step)]
    assert len(shares) >= 8, f"{path} is too short: {len(shares)} windows of 0.1 s"
    pure = sum(share > 0.8 for share in shares)
    assert pure / len(shares) >= 0.7, f"too little {TONE_HZ} Hz tone in {path}: {shares}"


def decisions(lab: Lab, call_id: str, action: str, after: int = 0) -> list[RouteDecisionEvent]:
    def match(e: Event) -> bool:
        return isinstance(e, RouteDecisionEvent) and e.call_id == call_id and e.action == action
    with contextlib.suppress(LabTimeout):  # from the proxy's pipe: see proxy_saw
        lab.wait_for(match, 5.0, after=after)
    return [e for e in lab.events(after) if isinstance(e, RouteDecisionEvent) and match(e)]


def is_save_of(user: str, contacts: int) -> Callable[[Event], bool]:
    return lambda e: (isinstance(e, RouteDecisionEvent) and e.action == "save"
                      and f"sip:{user}@" in e.before and e.after == f"200 {contacts} contact(s)")


# --------------------------------------------------------------------------------- the tests


def test_baresip_registers_as_1005_and_unregisters_when_it_quits(lab: Lab,
                                                                 phone: Baresip) -> None:
    mark = lab.mark()
    register(phone, lab)
    # The proxy's save("location") accepted exactly baresip's one contact …
    saved = lab.wait_for(is_save_of(SOFTPHONE, 1), 5.0, after=mark)
    assert isinstance(saved, RouteDecisionEvent)
    # … and the binding is in the lab database, pointing at baresip's own SIP port.
    rows = eventually(lambda: lab.store.location_get(SOFTPHONE))
    assert len(rows) == 1, rows
    [row] = rows
    assert row.contact.endswith(f"@127.0.0.1:{phone.sip_port}"), row
    assert row.received == f"sip:127.0.0.1:{phone.sip_port}", row
    assert row.user_agent.startswith("baresip v1.0.0"), row
    assert row.expires_at > time.time() + 500, row  # regint=600 was granted
    # Quitting un-REGISTERs (Expires: 0): the proxy drops the binding, the database follows.
    phone.stop()
    lab.wait_for(is_save_of(SOFTPHONE, 0), 5.0, after=mark)
    assert eventually(lambda: not lab.store.location_get(SOFTPHONE)), \
        lab.store.location_get(SOFTPHONE)


def test_baresip_calls_1001_which_answers_then_baresip_hangs_up(lab: Lab,
                                                                phone: Baresip) -> None:
    register(phone, lab)
    mark, lab_mark = phone.mark(), lab.mark()
    phone.dial(f"sip:1001@{lab.proxy_address}")
    established = phone.wait_event("CALL_ESTABLISHED", 10.0, after=mark, direction="outgoing")
    call_id = str(established["id"])
    assert str(established["peeruri"]).startswith("sip:1001@127.0.0.1")
    # baresip offers media on loopback only (net_interface): nothing leaves 127.0.0.1.
    [invite] = proxy_saw(lab, call_id, "INVITE ", "in", lab_mark)
    assert "c=IN IP4 127.0.0.1\r\n" in invite.raw and invite.raw.count("c=IN") == 1, invite.raw
    # 1001 (a pjsua2 phone) has the same call, answered.
    confirmed = call_state(lab, call_id, "1001", "confirmed", lab_mark)
    assert confirmed.direction == "incoming" and "1005" in confirmed.remote, confirmed
    # Media both ways: baresip hears 1001 (RTP established on its side).
    phone.wait_event("CALL_RTPESTAB", 5.0, after=mark, id=call_id)
    phone.hangup()
    phone.wait_event("CALL_CLOSED", 5.0, after=mark, id=call_id)
    ended = call_state(lab, call_id, "1001", "disconnected", lab_mark)
    assert ended.status == 200, ended  # a BYE, not an error
    # baresip honoured the Record-Route: its ACK and BYE went through the proxy.
    assert proxy_saw(lab, call_id, "ACK ", "in", lab_mark)
    assert proxy_saw(lab, call_id, "BYE ", "in", lab_mark)
    # The call history has the softphone's call too (no lab phone placed it).
    assert history_row(lab, call_id) == ("1005", "1001", "answered")


def history_row(lab: Lab, call_id: str) -> tuple[str, str, str] | None:
    rows = eventually(lambda: [r for r in lab.store.calls_list(None) if r.call_id == call_id])
    return (rows[0].caller, rows[0].callee, rows[0].outcome) if rows else None


def test_1000_calls_baresip_which_answers_by_itself(lab: Lab, phone: Baresip) -> None:
    register(phone, lab, answermode="auto")
    mark, lab_mark = phone.mark(), lab.mark()
    leg = lab.call("1000", SOFTPHONE)
    established = phone.wait_event("CALL_ESTABLISHED", 10.0, after=mark, direction="incoming")
    call_id = str(established["id"])
    assert established["peeruri"] == "sip:1000@127.0.0.1", established
    confirmed = call_state(lab, call_id, "1000", "confirmed", lab_mark)
    assert confirmed.leg == leg and confirmed.direction == "outgoing", confirmed
    # The proxy found 1005 in its location table and sent the INVITE to baresip's port.
    [lookup] = decisions(lab, call_id, "lookup", lab_mark)
    assert lookup.after.endswith(f"@127.0.0.1:{phone.sip_port}"), lookup
    phone.wait_event("CALL_RTPESTAB", 5.0, after=mark, id=call_id)
    # The lab side hangs up; its BYE reaches baresip through the proxy.
    lab.hangup(leg)
    phone.wait_event("CALL_CLOSED", 5.0, after=mark, id=call_id)
    ended = call_state(lab, call_id, "1000", "disconnected", lab_mark)
    assert ended.status == 200, ended
    assert proxy_saw(lab, call_id, "BYE ", "in", lab_mark)


def test_baresip_calling_busy_1002_leaves_a_busy_voicemail(lab: Lab, phone: Baresip) -> None:
    register(phone, lab)
    call_id, message, lab_mark = leave_message(lab, phone, "1002", "b1002")
    # 1002 said 486; failure_route sent the call on to the box as b1002.
    busy = call_state(lab, call_id, "1002", "disconnected", lab_mark)
    assert busy.status == 486, busy
    [invite] = [e for e in proxy_saw(lab, call_id, "INVITE sip:b1002@", "out", lab_mark)
                if e.dst == lab.voicemail_address]
    assert "reason=user-busy" in invite.raw, invite.raw
    assert message.status == "stored", message
    assert (message.mailbox, message.greeting, message.reason) == ("1002", "busy", "user-busy")
    assert message.caller.startswith("sip:1005@127.0.0.1"), message
    # baresip hung up: the recording is about as long as it spoke (not the 10 s maximum).
    assert SPEAK_SECONDS - 0.5 <= message.duration <= SPEAK_SECONDS + 1.0, message
    row = lab.store.voicemail_get(message.message_id)
    assert row is not None and (row.mailbox, row.greeting, row.reason) == (
        "1002", "busy", "user-busy"), row
    assert_baresip_tone(lab.data_dir / message.path)
    assert history_row(lab, call_id) == ("1005", "1002", "busy→voicemail")


def test_baresip_calling_ringing_1003_goes_to_voicemail_after_fr_inv_timeout(
        lab: Lab, phone: Baresip) -> None:
    register(phone, lab)
    call_id, message, lab_mark = leave_message(lab, phone, "1003", "u1003")
    # 1003 rang and never answered; the proxy's fr_inv_timeout cancelled it (487 at 1003) …
    call_state(lab, call_id, "1003", "early", lab_mark)
    ended = call_state(lab, call_id, "1003", "disconnected", lab_mark)
    assert ended.status == 487, ended
    [expired] = [e for e in lab.events(lab_mark) if isinstance(e, TransactionEvent)
                 and e.call_id == call_id and e.state == "timeout"]
    assert expired.detail.startswith("fr_inv_timeout expired"), expired
    # … no sooner than fr_inv_timeout after 1003's first provisional (both times are the
    # proxy's own clock), and sent the call on to the box as u1003.
    first_reply = proxy_saw(lab, call_id, "1", "in", lab_mark)[0]
    assert expired.time - first_reply.time >= FR_INV_TIMEOUT - 0.05, (first_reply, expired)
    [invite] = [e for e in proxy_saw(lab, call_id, "INVITE sip:u1003@", "out", lab_mark)
                if e.dst == lab.voicemail_address]
    assert "reason=no-answer" in invite.raw, invite.raw
    assert message.status == "stored", message
    assert (message.mailbox, message.greeting, message.reason) == (
        "1003", "unavailable", "no-answer")
    row = lab.store.voicemail_get(message.message_id)
    assert row is not None and row.greeting == "unavailable", row
    assert_baresip_tone(lab.data_dir / message.path)


@pytest.fixture
def mwi_phone(lab: Lab, tmp_path: Path) -> Iterator[Baresip]:
    """baresip with its mwi module: it SUBSCRIBEs to message-summary once registered."""
    yield from running_baresip(Baresip(tmp_path / "baresip-mwi", mwi=True))


def test_baresip_subscribes_to_its_mailbox_and_the_box_notifies_a_new_message(
        lab: Lab, mwi_phone: Baresip) -> None:
    """RFC 3842 with a real subscriber: the proxy sends baresip's SUBSCRIBE to the box's
    notifier, which answers and NOTIFYs in the dialog at once (no messages), then again when
    a caller leaves 1005 a message (1005 does not answer: fr_inv_timeout → u1005)."""
    mark, lab_mark = mwi_phone.mark(), lab.mark()
    register(mwi_phone, lab)
    subscribed = lab.wait_for(lambda e: isinstance(e, ComponentEvent)
                              and e.component == "voicemail" and e.status == "subscription"
                              and e.extra.get("mailbox") == SOFTPHONE, 10.0, after=lab_mark)
    assert isinstance(subscribed, ComponentEvent)
    first = mwi_phone.wait_event("MWI_NOTIFY", 10.0, after=mark)
    assert "Messages-Waiting: no" in str(first.get("param", "")), first
    mark, lab_mark = mwi_phone.mark(), lab.mark()
    leg = lab.call("1000", SOFTPHONE)  # baresip rings (manual answer) until fr_inv_timeout
    message = lab.wait_for(lambda e: isinstance(e, VoicemailEvent) and e.mailbox == SOFTPHONE
                           and e.status == "recording", 15.0, after=lab_mark)
    assert isinstance(message, VoicemailEvent)
    time.sleep(SPEAK_SECONDS)  # the scenario itself: 1000 talks for a while
    lab.hangup(leg)
    stored = stored_message(lab, message.call_id, lab_mark)
    assert stored.status == "stored" and stored.mailbox == SOFTPHONE, stored
    waiting = mwi_phone.wait_event("MWI_NOTIFY", 10.0, after=mark)
    assert "Messages-Waiting: yes" in str(waiting.get("param", "")), waiting
    assert "Voice-Message: 1/0" in str(waiting.get("param", "")), waiting
    # No unsolicited NOTIFY for a subscribed mailbox: every NOTIFY baresip got was in-dialog.
    # The proxy's trace of that NOTIFY comes through its own pipe, possibly after baresip's
    # report of it: wait for it rather than read the history at once.
    lab.wait_for(lambda e: isinstance(e, SipMessageEvent) and e.component == "proxy"
                 and e.summary.startswith("NOTIFY ") and e.direction == "in", 10.0,
                 after=lab_mark)
    notifies = [e for e in lab.events(lab_mark) if isinstance(e, SipMessageEvent)
                and e.component == "proxy" and e.summary.startswith("NOTIFY ")
                and e.direction == "in"]
    assert notifies and all("Route:" in e.raw for e in notifies), notifies
