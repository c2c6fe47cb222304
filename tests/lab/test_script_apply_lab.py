"""Applying a script to a real lab: a broken one never reaches the proxy, a good one is routed
with at once while a call in progress goes on, a proxy that crashes comes back with it, and
revert brings the start script back."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones need it")

from labpbx.events import CallStateEvent, ComponentEvent, Event, RegistrationEvent, XlogEvent
from labpbx.lab import Lab
from labpbx.lab.script_text import ScriptRefused
from labpbx.paths import asset_path

pytestmark = pytest.mark.integration

MakeLab = Callable[..., Lab]
DEFAULT = asset_path("scripts", "default.cfg").read_text(encoding="utf-8")
EDITED = DEFAULT.replace('xlog("forwarded to: ', 'xlog("edited: forwarded to: ', 1)


def leg_state(lab: Lab, leg: str, state: str, after: int) -> CallStateEvent:
    phone = lab.phone_of(leg.rpartition("-")[0])
    event = lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.component == phone
                         and e.leg == leg and e.state == state, 10.0, after=after)
    assert isinstance(event, CallStateEvent)
    return event


def forwarded_xlog(lab: Lab) -> str:
    """Call 1000 → 1004 (forwarded by its callfwd AVP): the xlog line the script printed."""
    mark = lab.mark()
    leg = lab.call("1000", "1004")
    xlog = lab.wait_for(lambda e: isinstance(e, XlogEvent) and "forwarded to" in e.text, 10.0,
                        after=mark)
    lab.hangup(leg)
    leg_state(lab, leg, "disconnected", mark)
    assert isinstance(xlog, XlogEvent)
    return xlog.text


def test_apply_keeps_calls_survives_a_crash_and_reverts(make_lab: MakeLab) -> None:
    lab = make_lab()
    lab.provision_callfwd("1004")
    lab.set_policy("1003", "answer", ring_time=0.2)
    proxy_pid = lab.pids()["proxy"]
    mark = lab.mark()
    in_progress = lab.call("1002", "1003")
    leg_state(lab, in_progress, "confirmed", mark)

    broken = EDITED.replace('xlog("edited:', 'xlogg("edited:', 1)
    with pytest.raises(ScriptRefused) as refused:
        lab.apply_script(broken)
    assert refused.value.component == "lab"
    assert refused.value.diagnostics[0].text == "xlogg"
    assert not lab.working_script_path().exists()

    running = lab.apply_script(EDITED)
    assert running.applied and running.path == lab.working_script_path()
    assert lab.script_text().text == EDITED
    assert lab.pids()["proxy"] == proxy_pid  # reloaded, not restarted
    lab.hangup(in_progress)  # its BYE goes through the new script's loose_route
    assert leg_state(lab, in_progress, "disconnected", mark).status == 200
    assert forwarded_xlog(lab).startswith("edited: forwarded to: ")

    mark = lab.mark()
    os.kill(proxy_pid, signal.SIGKILL)
    lab.wait_for(lambda e: isinstance(e, ComponentEvent) and e.component == "proxy"
                 and e.status == "restarted", 10.0, after=mark)
    for ext in lab.config.extensions:
        lab.wait_for(_registered(ext), 10.0, after=mark)
    assert forwarded_xlog(lab).startswith("edited: forwarded to: ")

    reverted = lab.revert_script()
    assert not reverted.applied and reverted.text == DEFAULT
    assert not lab.working_script_path().exists()
    assert forwarded_xlog(lab).startswith("forwarded to: ")


def _registered(ext: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, RegistrationEvent) and e.ext == ext and e.registered


def test_a_transaction_in_flight_finishes_with_the_new_scripts_failure_route(
        make_lab: MakeLab) -> None:
    """A reload swaps the routes between two datagrams: the ringing INVITE's transaction (and
    the failure route it armed, by name) lives on, and its 486 runs the NEW failure_route."""
    lab = make_lab()
    lab.set_policy("1001", "ring")
    mark = lab.mark()
    caller = lab.call("1000", "1001")
    ringing = lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.ext == "1001"
                           and e.state == "early", 10.0, after=mark)
    assert isinstance(ringing, CallStateEvent)
    lab.apply_script(DEFAULT.replace('"> 486 ruri=', '"edited > 486 ruri=', 1))
    lab.reject(ringing.leg, 486)
    xlog = lab.wait_for(lambda e: isinstance(e, XlogEvent) and "486 ruri=" in e.text, 10.0,
                        after=mark)
    assert isinstance(xlog, XlogEvent) and xlog.text.startswith("edited > 486 ruri=<sip:b1001@")
    leg_state(lab, caller, "confirmed", mark)  # the voicemail box answers the forwarded call
    lab.hangup(caller)
