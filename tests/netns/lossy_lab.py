"""The child half of the packet-loss test: runs *inside* the lossy network namespace.

    ip netns exec NAME .venv/bin/python -m tests.netns.lossy_lab --data DIR --out RESULT.json

It starts a real lab (the lab's own proxy, the pjsua2 phones and the voicemail box, every one a
child process sharing the namespace's lossy loopback), provisions 1004's callfwd AVP and plays the
tutorial's three calls (``labpbx.lab.demo.TUTORIAL``, in the phases of ``labpbx demo --fast``)
with the lab's public API only. It judges nothing: it writes what happened to ``--out`` as JSON
(each call's outcome, the voicemail message the box announced, the database row, how long the box
waited for its ACK, how many retransmissions the proxy's trace shows) and the test decides.

Every wait is on an event with a deadline; the deadlines are far longer than the demo's because
over a lossy link RFC 3261 recovers by retransmission (T1 = 0.5 s, doubling up to T2 = 4 s).
The result file is written even when the lab fails to start or a call times out (``error``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labpbx.events import CallStateEvent, Event, SipMessageEvent, VoicemailEvent
from labpbx.lab import Lab, LabConfig, LabError
from labpbx.lab.calls import summarize_call
from labpbx.lab.config import VOICEMAIL_NUMBER
from labpbx.lab.demo import TutorialCall, phases, place_call
from labpbx.lab.ladder import VOICEMAIL_FINAL, render_ladder

CALLER_SEEN = 5.0  # the caller's first call state is local (the phone's own "calling")
BOX_FINAL_AFTER_CALLER = 15.0  # the box stores the WAV ~20 ms after its own hang-up


def log(text: str) -> None:
    print(f"[lossy_lab {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def retransmissions(events: list[Event], call_id: str | None = None) -> int:
    """Datagrams the proxy traced more than once, byte for byte (in or out): the retransmissions
    that the loss caused (a retransmitted request or response repeats the original exactly)."""
    seen = Counter((e.direction, e.raw) for e in events if isinstance(e, SipMessageEvent)
                   and e.component == "proxy" and (call_id is None or e.call_id == call_id))
    return sum(n - 1 for n in seen.values())


def finish(lab: Lab, call: TutorialCall, phone: str, leg: str, mark: int, began: float,
           budget: float) -> dict[str, Any]:
    """Wait until the call is over and the box has announced its message; report it."""
    out: dict[str, Any] = {"number": call.number, "caller": call.caller, "callee": call.callee,
                           "expected": {"outcome": call.outcome, "mailbox": call.mailbox,
                                        "greeting": call.greeting}}
    deadline = began + budget

    def caller_leg(state: str | None) -> Callable[[Event], bool]:
        return lambda e: (isinstance(e, CallStateEvent) and e.component == phone and e.leg == leg
                          and (state is None or e.state == state))

    try:
        first = lab.wait_for(caller_leg(None), CALLER_SEEN, after=mark)
        assert isinstance(first, CallStateEvent)
        call_id = out["call_id"] = first.call_id
        ended = lab.wait_for(caller_leg("disconnected"), max(deadline - time.monotonic(), 0.1),
                             after=mark)
        assert isinstance(ended, CallStateEvent)
        out["caller_end"] = {"status": ended.status, "reason": ended.reason}
        if any(isinstance(e, CallStateEvent) and e.component == "voicemail"
               and e.call_id == call_id for e in lab.events(mark)):
            final = lab.wait_for(lambda e: isinstance(e, VoicemailEvent) and e.call_id == call_id
                                 and e.status in VOICEMAIL_FINAL, BOX_FINAL_AFTER_CALLER,
                                 after=mark)
            assert isinstance(final, VoicemailEvent)
            out["message"] = {"status": final.status, "mailbox": final.mailbox,
                              "greeting": final.greeting, "reason": final.reason,
                              "message_id": final.message_id, "path": final.path,
                              "duration": final.duration}
    except LabError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["seconds"] = round(time.monotonic() - began, 3)
    call_id = out.get("call_id", "")
    if not call_id:
        return out
    events = lab.call_events(call_id)
    summary = summarize_call(events, call_id)
    if summary is not None:
        out["outcome"], out["detail"] = summary.outcome, summary.detail
    box = {e.state: e for e in lab.events(mark) if isinstance(e, CallStateEvent)
           and e.component == "voicemail" and e.call_id == call_id}
    if "incoming" in box and "confirmed" in box:
        # how long the box's 200 went unacknowledged (its greeting waits for the ACK)
        out["box_ack_wait"] = round(box["confirmed"].time - box["incoming"].time, 3)
    if "disconnected" in box:
        out["box_end"] = box["disconnected"].reason
    out["retransmissions"] = retransmissions(lab.events(mark), call_id)
    out["ladder"] = render_ladder(events, call_id, voicemail_address=lab.voicemail_address,
                                  title=f"Call {call.number}: {call.caller} calls {call.callee}")
    return out


def play(lab: Lab, budget: float) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for phase in phases(fast=True):
        for call in phase:
            for ext, policy, ring in call.setup:
                lab.set_policy(ext, policy, ring)
        placed = []
        for call in phase:
            began = time.monotonic()
            placed.append((place_call(lab, call), began))
            log(f"call {call.number}: {call.caller} calls {call.callee}")
        for item, began in placed:
            result = finish(lab, item.call, item.phone, item.leg, item.mark, began, budget)
            log(f"call {item.call.number}: {result.get('outcome')} / {result.get('message')} "
                f"in {result['seconds']} s {result.get('error', '')}")
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, required=True, help="the lab's data directory")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON result")
    parser.add_argument("--fr-timeout", type=float, default=32.0)
    parser.add_argument("--fr-inv-timeout", type=float, default=4.0)
    parser.add_argument("--message-seconds", type=float, default=1.5)
    parser.add_argument("--start-timeout", type=float, default=45.0)
    parser.add_argument("--call-budget", type=float, default=60.0,
                        help="seconds from placing a call until its caller has hung up")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"calls": []}
    lab = Lab(LabConfig(data_dir=args.data, fr_timeout=args.fr_timeout,
                        fr_inv_timeout=args.fr_inv_timeout,
                        voicemail_max_length=args.message_seconds))
    began = time.monotonic()
    try:
        lab.start(timeout=args.start_timeout)
        report["startup_seconds"] = lab.startup_seconds
        log(f"lab ready in {lab.startup_seconds:.2f} s: proxy {lab.proxy_address}, "
            f"voicemail {lab.voicemail_address}")
        lab.provision_callfwd("1004", VOICEMAIL_NUMBER)
        report["calls"] = play(lab, args.call_budget)
    except Exception as exc:  # the test reports it; the lab is stopped below either way
        report["error"] = "".join(traceback.format_exception(exc))
        log(f"failed: {exc}")
    finally:
        stop_began = time.monotonic()
        lab.stop()
        report["stop_seconds"] = round(time.monotonic() - stop_began, 3)
        report["retransmissions"] = retransmissions(lab.events())
        report["pids"] = lab.all_pids()
        report["seconds"] = round(time.monotonic() - began, 3)
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0 if "error" not in report else 1


if __name__ == "__main__":
    sys.exit(main())
