"""``labpbx demo``: the tutorial's three calls, played on a real lab and checked.

  1. 1000 calls 1004; 1004 has the callfwd AVP → straight to the voicemail number 2345678.
  2. 1000 calls 1001; 1001 rejects busy (486) → failure_route → b1001 (busy greeting).
  3. 1004 calls 1001; 1001 does not answer within fr_inv_timeout (408) → u1001 (unavailable).

Rules of this module:
- The demo is a client of ``Lab`` like the GUI: it places calls and reads the event stream; it
  never looks inside a component.
- Every wait is on an event with a timeout, never a sleep. Calls 2 and 3 need 1001 to behave
  differently, so they run one after the other; ``--fast`` lets call 1 run alongside call 2.
- Each call is judged on what the learner is told happened: how the call ended
  (labpbx.lab.calls), which mailbox and greeting the voicemail box used, and that the message is
  in the lab database with the caller's audio in it (the box keeps no recording without sound).
- ``--fast`` only shortens the waiting: fr_inv_timeout 2 s instead of the tutorial's 10 s, a
  1.5 s message instead of 3 s, calls 1 and 2 at the same time. The greetings play in full.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from labpbx.events import CallStateEvent, Event, VoicemailEvent
from labpbx.lab.calls import (
    BUSY_VOICEMAIL,
    FORWARDED_VOICEMAIL,
    NO_ANSWER_VOICEMAIL,
    summarize_call,
)
from labpbx.lab.config import HOST, VOICEMAIL_NUMBER, LabConfig, LabError
from labpbx.lab.ladder import VOICEMAIL_FINAL, render_ladder
from labpbx.lab.supervisor import Lab
from labpbx.phones.policy import Policy

TUTORIAL_FR_INV_TIMEOUT = 10.0
FAST_FR_INV_TIMEOUT = 2.0
MESSAGE_SECONDS = 3.0
FAST_MESSAGE_SECONDS = 1.5
GREETING_ALLOWANCE = 15.0  # greeting (≤ 6 s) + beep + set-up, with room for a slow machine


@dataclass(frozen=True, slots=True)
class TutorialCall:
    number: int
    caller: str
    callee: str
    story: str
    setup: tuple[tuple[str, Policy, float], ...]
    outcome: str
    mailbox: str
    greeting: str


TUTORIAL: tuple[TutorialCall, ...] = (
    TutorialCall(1, "1000", "1004",
                 "1004 has the callfwd AVP: the proxy forwards the call to the voicemail number "
                 f"{VOICEMAIL_NUMBER} at once", (), FORWARDED_VOICEMAIL, "1004", "unavailable"),
    TutorialCall(2, "1000", "1001",
                 "1001 rejects the call (486 Busy Here): failure_route sends it to b1001",
                 (("1001", Policy.BUSY, 0.0),), BUSY_VOICEMAIL, "1001", "busy"),
    TutorialCall(3, "1004", "1001",
                 "1001 rings but nobody answers within fr_inv_timeout (408): failure_route "
                 "sends it to u1001", (("1001", Policy.RING, 0.0),), NO_ANSWER_VOICEMAIL,
                 "1001", "unavailable"),
)


@dataclass
class CallResult:
    call: TutorialCall
    call_id: str = ""
    outcome: str = ""
    detail: str = ""
    message: VoicemailEvent | None = None
    indexed: bool = False
    problems: list[str] = field(default_factory=list)
    ladder: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def demo_config(data_dir: Path, fast: bool) -> LabConfig:
    """The default lab with the tutorial's timer (or the fast one) and short messages."""
    return LabConfig(
        data_dir=data_dir,
        fr_inv_timeout=FAST_FR_INV_TIMEOUT if fast else TUTORIAL_FR_INV_TIMEOUT,
        voicemail_max_length=FAST_MESSAGE_SECONDS if fast else MESSAGE_SECONDS)


@dataclass(frozen=True, slots=True)
class _Placed:
    call: TutorialCall
    phone: str
    leg: str
    mark: int


def place_call(lab: Lab, call: TutorialCall) -> _Placed:
    """Place one tutorial call (its extensions' policies already set)."""
    mark = lab.mark()
    phone = lab.phone_of(call.caller)
    return _Placed(call, phone, lab.call(call.caller, call.callee), mark)


def finish_call(lab: Lab, placed: _Placed, fr_inv_timeout: float,
                message_seconds: float) -> CallResult:
    """Wait until a placed call is over (and its message stored), then judge it."""
    call, phone, leg, mark = placed.call, placed.phone, placed.leg, placed.mark
    result = CallResult(call)

    def caller_leg(state: str | None) -> Callable[[Event], bool]:
        return lambda e: (isinstance(e, CallStateEvent) and e.component == phone
                          and e.leg == leg and (state is None or e.state == state))

    first = lab.wait_for(caller_leg(None), 5.0, after=mark)
    assert isinstance(first, CallStateEvent)
    result.call_id = first.call_id
    budget = fr_inv_timeout + message_seconds + GREETING_ALLOWANCE
    lab.wait_for(caller_leg("disconnected"), budget, after=mark)
    if any(isinstance(e, CallStateEvent) and e.component == "voicemail"
           and e.call_id == result.call_id for e in lab.events(mark)):
        recording = next((e for e in lab.call_events(result.call_id)
                          if isinstance(e, VoicemailEvent) and e.status == "recording"), None)
        if recording is not None:
            final = lab.wait_for(lambda e: isinstance(e, VoicemailEvent)
                                 and e.status in VOICEMAIL_FINAL
                                 and e.message_id == recording.message_id, 10.0, after=mark)
            assert isinstance(final, VoicemailEvent)
            result.message = final
    events = lab.call_events(result.call_id)
    summary = summarize_call(events, result.call_id)
    if summary is not None:
        result.outcome, result.detail = summary.outcome, summary.detail
    result.ladder = render_ladder(events, result.call_id, voicemail_address=lab.voicemail_address,
                                  title=f"Call {call.number}: {call.caller} calls {call.callee}")
    _judge(lab, result)
    return result


def phases(fast: bool) -> list[tuple[TutorialCall, ...]]:
    """Which calls run together. Calls 2 and 3 both need 1001 (busy, then ringing), so they
    never overlap; with --fast call 1 (1000 → 1004 → voicemail) runs alongside call 2, which
    saves one greeting's length. 1000 then holds 2 legs and 1001 one: within the 4 legs of its
    phone process, as the voicemail box's 2 are within its 4."""
    first, second, third = TUTORIAL
    return [(first, second), (third,)] if fast else [(first,), (second,), (third,)]


def play_phase(lab: Lab, calls: tuple[TutorialCall, ...], fr_inv_timeout: float,
               message_seconds: float) -> list[CallResult]:
    """Set the policies of the phase's calls, place them all, then finish each."""
    for call in calls:
        for ext, policy, ring in call.setup:
            lab.set_policy(ext, policy, ring)
    placed: list[_Placed | CallResult] = []
    for call in calls:
        try:
            placed.append(place_call(lab, call))
        except LabError as exc:
            placed.append(CallResult(call, problems=[f"the call could not be placed: {exc}"]))
    results = []
    for item in placed:
        if isinstance(item, CallResult):
            results.append(item)
            continue
        try:
            results.append(finish_call(lab, item, fr_inv_timeout, message_seconds))
        except LabError as exc:
            results.append(CallResult(item.call, problems=[f"the call did not finish: {exc}"]))
    return results


def _judge(lab: Lab, result: CallResult) -> None:
    call = result.call
    if result.outcome != call.outcome:
        result.problems.append(f"ended as {result.outcome or 'nothing'!r} ({result.detail}), "
                               f"expected {call.outcome!r}")
    message = result.message
    if message is None:
        result.problems.append("the voicemail box recorded nothing")
        return
    if message.status != "stored":
        result.problems.append(f"no message stored: {message.status} ({message.reason})")
        return
    if (message.mailbox, message.greeting) != (call.mailbox, call.greeting):
        result.problems.append(f"message in mailbox {message.mailbox} with the {message.greeting} "
                               f"greeting, expected {call.mailbox} / {call.greeting}")
    row = lab.store.voicemail_get(message.message_id)
    result.indexed = row is not None
    if row is None:
        result.problems.append(f"message {message.message_id} is not in the lab database")
    if not (lab.data_dir / message.path).is_file():
        result.problems.append(f"the message file {message.path} is missing")


def describe(result: CallResult) -> str:
    """The text the demo prints for one call: story, ladder, message, verdict."""
    call = result.call
    lines = [f"=== Call {call.number} of {len(TUTORIAL)}: {call.caller} calls {call.callee} ===",
             call.story, "", result.ladder.rstrip(), ""]
    message = result.message
    if message is not None and message.status == "stored":
        lines.append(f"Voicemail message {message.message_id}: mailbox {message.mailbox}, "
                     f"{message.greeting} greeting ({message.reason}), {message.duration:.1f} s "
                     f"from {message.caller}, file {message.path}"
                     f"{' (indexed in lab.json)' if result.indexed else ''}")
    elif message is not None:
        lines.append(f"Voicemail: {message.status} ({message.reason})")
    else:
        lines.append("Voicemail: no message")
    verdict = "OK" if result.ok else "WRONG: " + "; ".join(result.problems)
    lines.append(f"Outcome: {result.outcome or '?'}"
                 f"{' — ' + result.detail if result.detail else ''} ... {verdict}")
    return "\n".join(lines) + "\n"


def run_demo(data_dir: Path, out: TextIO, *, fast: bool = False,
             start_timeout: float = 10.0) -> int:
    """Start the lab in ``data_dir``, play the tutorial, print everything; 0 when all is right."""
    config = demo_config(data_dir, fast)
    fr_inv = config.fr_inv_timeout or TUTORIAL_FR_INV_TIMEOUT
    seconds = config.voicemail_max_length or MESSAGE_SECONDS
    began = time.monotonic()
    results: list[CallResult] = []
    with Lab(config) as lab:
        out.write(f"LabPBX demo: proxy udp:{lab.proxy_address}, voicemail box "
                  f"udp:{lab.voicemail_address}, extensions {', '.join(config.extensions)} "
                  f"registered in {lab.startup_seconds or 0:.2f} s; fr_inv_timeout={fr_inv:g}s\n")
        row = lab.provision_callfwd("1004", VOICEMAIL_NUMBER)
        out.write(f"Provisioned: labpbx avp add -T usr_preferences {row.username}@{HOST} "
                  f"{row.attribute} {row.type} {row.value}\n\n")
        out.flush()
        for phase in phases(fast):
            for result in play_phase(lab, phase, fr_inv, seconds):
                results.append(result)
                out.write(describe(result) + "\n")
                out.flush()
    good = sum(r.ok for r in results)
    out.write(f"{good} of {len(TUTORIAL)} calls ended as the tutorial says "
              f"({time.monotonic() - began:.1f} s).\n")
    out.flush()
    return 0 if good == len(TUTORIAL) else 1
