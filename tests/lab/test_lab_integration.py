"""The supervisor with real children: pjsua2 phones and voicemail box, the real proxy, on loopback.

Every test waits on events with timeouts (never sleeps for correctness) and its lab is stopped by
the ``make_lab`` fixture, which then checks that no process it started is left (PIDs and process
groups) and no supervisor thread runs. Timers are short (fr_inv_timeout 2 s, 1 s messages).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones and voicemail need it")

from labpbx.errors import ConfigError
from labpbx.events import (
    CallStateEvent,
    ComponentEvent,
    Event,
    ProblemEvent,
    RegistrationEvent,
    SipMessageEvent,
    TransactionEvent,
    VoicemailEvent,
)
from labpbx.lab import Lab, LabConfig, LabError, RestartPolicy
from labpbx.paths import asset_path
from labpbx.phones.policy import Policy
from tests.lab.audio import assert_caller_voice
from tests.lab.conftest import assert_all_gone, process_alive

pytestmark = pytest.mark.integration

MakeLab = Callable[..., Lab]


def leg_state(lab: Lab, leg: str, state: str, after: int = 0, timeout: float = 10.0
              ) -> CallStateEvent:
    phone = lab.phone_of(leg.rpartition("-")[0])
    event = lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.component == phone
                         and e.leg == leg and e.state == state, timeout, after=after)
    assert isinstance(event, CallStateEvent)
    return event


def stored_message(lab: Lab, mailbox: str, after: int, timeout: float = 20.0) -> VoicemailEvent:
    event = lab.wait_for(lambda e: isinstance(e, VoicemailEvent) and e.mailbox == mailbox
                         and e.status in ("stored", "empty", "failed"), timeout, after=after)
    assert isinstance(event, VoicemailEvent)
    return event


def sent_to_voicemail(lab: Lab, call_id: str) -> bool:
    return any(isinstance(e, SipMessageEvent) and e.call_id == call_id and e.direction == "out"
               and e.summary.startswith("INVITE ") and e.dst == lab.voicemail_address
               for e in lab.events())


def registered(ext: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, RegistrationEvent) and e.ext == ext and e.registered


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_start_registers_every_extension_and_stop_leaves_nothing(make_lab: MakeLab) -> None:
    lab = make_lab()
    assert lab.registered() == dict.fromkeys(["1000", "1001", "1002", "1003", "1004"], True)
    assert set(lab.pids()) == {"proxy", "voicemail", "phone-1000-1001", "phone-1002-1003",
                               "phone-1004"}
    assert lab.startup_seconds is not None and lab.startup_seconds < 5.0
    ready = lab.wait_for(lambda e: isinstance(e, ComponentEvent) and e.component == "lab"
                         and e.status == "ready", 1.0)
    assert isinstance(ready, ComponentEvent) and ready.extra["proxy"] == lab.proxy_address
    # The phones' start-up "offline" (before the proxy listened) is the lab's business only.
    assert not [e for e in lab.events() if getattr(e, "policy", None) == "offline"]
    pids = lab.all_pids()
    assert all(process_alive(pid) for pid in pids)
    lab.stop()
    assert_all_gone(pids)
    assert port_is_free(lab.proxy_port) and port_is_free(lab.media_port)
    stopped = [e for e in lab.events() if isinstance(e, ComponentEvent) and e.status == "stopped"]
    assert {e.component for e in stopped} >= {"proxy", "voicemail", "phone-1004", "lab"}


def test_caller_hanging_up_while_the_callee_rings_leaves_no_message(make_lab: MakeLab) -> None:
    lab = make_lab(fr_inv_timeout=10.0)
    lab.set_policy("1001", Policy.RING)
    mark = lab.mark()
    leg = lab.call("1000", "1001")
    early = leg_state(lab, leg, "early", mark)
    lab.hangup(leg)
    # The 487 going back to the caller is the proxy's last word on the INVITE: failure_route
    # (t_was_cancelled → exit) has run by then.
    lab.wait_for(lambda e: isinstance(e, SipMessageEvent) and e.call_id == early.call_id
                 and e.direction == "out" and e.summary.startswith("487"), 10.0, after=mark)
    ended = leg_state(lab, leg, "disconnected", mark)
    assert ended.status == 487
    assert not sent_to_voicemail(lab, early.call_id)
    lab.stop()  # flushes the call history
    assert lab.store.voicemail_list() == []
    [row] = [r for r in lab.store.calls_list() if r.call_id == early.call_id]
    assert (row.caller, row.callee, row.outcome) == ("1000", "1001", "cancelled")


def test_480_and_dnd_go_to_the_unavailable_greeting(make_lab: MakeLab) -> None:
    lab = make_lab(voicemail_max_length=2.0)  # long enough for a clear signal check
    lab.set_policy("1002", Policy.UNAVAILABLE)
    lab.set_policy("1003", Policy.DND)
    mark = lab.mark()
    lab.call("1000", "1002")
    lab.call("1001", "1003")
    first = stored_message(lab, "1002", mark)
    second = stored_message(lab, "1003", mark)
    for message, caller in ((first, "1000"), (second, "1001")):
        assert message.status == "stored", message
        assert (message.greeting, message.reason) == ("unavailable", "no-answer")
        assert message.caller == f"sip:{caller}@127.0.0.1"
        row = lab.store.voicemail_get(message.message_id)
        assert row is not None and row.greeting == "unavailable"
        assert_caller_voice(lab.data_dir / message.path)
    # The callee's final answer is what the learner sees on the ladder: 480 for both.
    finals = [e.summary for e in lab.events(mark) if isinstance(e, SipMessageEvent)
              and e.direction == "in" and e.summary.startswith("480")]
    assert sorted(finals) == ["480 Do Not Disturb", "480 Temporarily Unavailable"]


def test_an_offline_extension_gets_what_the_script_says_404(make_lab: MakeLab) -> None:
    lab = make_lab()
    mark = lab.mark()
    lab.set_policy("1003", "offline")
    lab.wait_for(lambda e: isinstance(e, RegistrationEvent) and e.ext == "1003"
                 and not e.registered, 5.0, after=mark)
    leg = lab.call("1000", "1003")
    ended = leg_state(lab, leg, "disconnected", mark)
    assert ended.status == 404
    assert not sent_to_voicemail(lab, ended.call_id)
    assert lab.registered()["1003"] is False


def test_answer_and_hangup_commands_and_the_call_history(make_lab: MakeLab) -> None:
    lab = make_lab()
    lab.set_policy("1001", "ring")
    mark = lab.mark()
    caller = lab.call("1000", "1001")
    incoming = lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.ext == "1001"
                            and e.state == "early", 5.0, after=mark)
    assert isinstance(incoming, CallStateEvent)
    lab.answer(incoming.leg)
    leg_state(lab, caller, "confirmed", mark)
    lab.hangup(caller)
    leg_state(lab, incoming.leg, "disconnected", mark)
    with pytest.raises(LabError, match="9999"):
        lab.call("9999", "1000")
    lab.stop()
    [row] = lab.store.calls_list()
    assert (row.caller, row.callee, row.outcome) == ("1000", "1001", "answered")


def test_a_killed_phone_process_is_restarted_and_registers_again(make_lab: MakeLab) -> None:
    lab = make_lab(restart=RestartPolicy(max_restarts=1, window=60.0))
    old = lab.pids()["phone-1002-1003"]
    mark = lab.mark()
    os.kill(old, signal.SIGKILL)
    restarted = lab.wait_for(lambda e: isinstance(e, ComponentEvent)
                             and e.component == "phone-1002-1003" and e.status == "restarted",
                             10.0, after=mark)
    assert isinstance(restarted, ComponentEvent)
    assert restarted.extra["previous_pid"] == old and restarted.extra["code"] == -signal.SIGKILL
    new = lab.pids()["phone-1002-1003"]
    assert new == restarted.extra["pid"] != old
    for ext in ("1002", "1003"):
        lab.wait_for(registered(ext), 10.0, after=mark)
    assert all(lab.registered().values())
    # The restarted phone works: a call to it is answered.
    leg = lab.call("1000", "1002")
    leg_state(lab, leg, "confirmed", mark)
    lab.hangup(leg)
    # Beyond the restart budget the component stays down and the stream says so.
    mark = lab.mark()
    os.kill(new, signal.SIGKILL)
    failed = lab.wait_for(lambda e: isinstance(e, ComponentEvent)
                          and e.component == "phone-1002-1003" and e.status == "failed",
                          10.0, after=mark)
    assert "not restarted" in failed.detail  # type: ignore[attr-defined]


def test_a_killed_proxy_is_restarted_and_every_extension_registers_again(
        make_lab: MakeLab) -> None:
    lab = make_lab()
    old = lab.pids()["proxy"]
    mark = lab.mark()
    os.kill(old, signal.SIGKILL)
    lab.wait_for(lambda e: isinstance(e, ComponentEvent) and e.component == "proxy"
                 and e.status == "restarted", 10.0, after=mark)
    # The new proxy has an empty location table: each extension un-REGISTERs, then REGISTERs.
    for ext in ("1000", "1001", "1002", "1003", "1004"):
        lab.wait_for(registered(ext), 10.0, after=mark)
    assert all(lab.registered().values())
    assert not [e for e in lab.events(mark) if getattr(e, "policy", None) == "offline"]
    leg = lab.call("1004", "1000")
    leg_state(lab, leg, "confirmed", mark)
    lab.hangup(leg)


def test_a_proxy_port_in_use_fails_the_start_with_the_reason(make_lab: MakeLab) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        lab = make_lab(start=False, proxy_port=port)
        with pytest.raises(LabError, match=f"cannot listen on udp:127.0.0.1:{port}") as failure:
            lab.start(timeout=15.0)
    assert failure.value.component == "proxy"
    assert_all_gone(lab.all_pids())


def test_set_timers_changes_the_running_proxy_and_keeps_calls_in_progress(
        make_lab: MakeLab) -> None:
    lab = make_lab()
    proxy_pid = lab.pids()["proxy"]
    lab.set_policy("1003", "answer", ring_time=0.2)
    mark = lab.mark()
    answered = lab.call("1002", "1003")
    leg_state(lab, answered, "confirmed", mark)
    lab.set_timers(fr_inv_timeout=1.5)
    assert lab.pids()["proxy"] == proxy_pid  # no restart
    assert lab.config.fr_inv_timeout == 1.5
    assert lab.status()["fr_inv_timeout"] == 1.5  # as the proxy itself reports it
    # The call in progress survives: its BYE still goes end to end through the same proxy.
    lab.hangup(answered)
    ended = leg_state(lab, answered, "disconnected", mark)
    assert ended.status == 200, ended
    # A ringing call now times out after 1.5 s.
    lab.set_policy("1001", "ring")
    mark = lab.mark()
    leg = lab.call("1000", "1001")
    start = leg_state(lab, leg, "calling", mark)
    timeout = lab.wait_for(lambda e: isinstance(e, TransactionEvent) and e.state == "timeout"
                           and e.call_id == start.call_id, 10.0, after=mark)
    assert timeout.detail.startswith("fr_inv_timeout"), timeout  # type: ignore[attr-defined]
    assert 1.3 < timeout.time - start.time < 3.0
    lab.hangup(leg)


def test_set_timers_refuses_a_bad_value_and_keeps_the_old_one(make_lab: MakeLab) -> None:
    lab = make_lab()
    before = lab.config.fr_inv_timeout
    with pytest.raises(ConfigError):
        lab.set_timers(fr_inv_timeout=0)
    assert lab.config.fr_inv_timeout == before


def test_reload_script_keeps_the_running_script_when_the_new_one_is_broken(
        make_lab: MakeLab, tmp_path: Path) -> None:
    script = tmp_path / "routing.cfg"
    text = asset_path("scripts", "default.cfg").read_text(encoding="utf-8")
    script.write_text(text, encoding="utf-8")
    lab = make_lab(script_path=script)
    lab.provision_callfwd("1004")
    script.write_text(text.replace('xlog("forwarded to: ', 'xlog("callfwd sends it to: '),
                      encoding="utf-8")
    assert "reloaded" in lab.reload_script()
    script.write_text(text.replace("route[relay] {", "route[relay] {{"), encoding="utf-8")
    with pytest.raises(LabError, match=r"routing\.cfg:\d+") as failure:
        lab.reload_script()
    assert failure.value.component == "proxy"
    mark = lab.mark()
    leg = lab.call("1000", "1004")
    xlog = lab.wait_for(lambda e: e.type == "xlog", 5.0, after=mark)
    assert xlog.text.startswith("callfwd sends it to: sip:2345678@")  # type: ignore[attr-defined]
    lab.hangup(leg)


def test_a_component_that_cannot_start_is_named_and_nothing_is_left(
        make_lab: MakeLab, tmp_path: Path) -> None:
    broken = tmp_path / "broken.cfg"
    broken.write_text("route {\n    t_rellay();\n}\n", encoding="utf-8")
    lab = make_lab(start=False, script_path=broken)
    with pytest.raises(LabError) as failure:
        lab.start(timeout=15.0)
    assert failure.value.component == "proxy"
    assert f"{broken}:2:5" in str(failure.value)
    assert_all_gone(lab.all_pids())


def test_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives the supervisor no chance to clean up: the children see EOF on stdin."""
    import json
    import subprocess

    program = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from labpbx.lab import Lab, LabConfig\n"
        f"lab = Lab(LabConfig(data_dir=Path({str(tmp_path / 'lab')!r})))\n"
        "lab.start(timeout=15)\n"
        "print(json.dumps(lab.all_pids()), flush=True)\n"
        "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, parent.stderr.read() if parent.stderr else ""
        pids = json.loads(line)
        assert len(pids) == 5 and all(process_alive(p) for p in pids)
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        for stream in (parent.stdout, parent.stderr):
            if stream is not None:
                stream.close()
    assert_all_gone(pids, timeout=10.0)


def test_subscribers_see_every_event_in_order_and_can_unsubscribe(make_lab: MakeLab) -> None:
    lab = make_lab(start=False)
    seen: list[Event] = []
    unsubscribe = lab.subscribe(seen.append)
    lab.start(timeout=15.0)
    statuses = [(e.component, e.status) for e in seen if isinstance(e, ComponentEvent)]
    assert statuses[0] == ("lab", "starting") and ("lab", "ready") in statuses
    assert seen == lab.events()[:len(seen)]
    unsubscribe()
    count = len(seen)
    # From inside a callback: commands work (acks are matched on the reader threads), waiting
    # is refused (the callback runs on the thread that would deliver the event).
    outcome: dict[str, object] = {}

    def react(event: Event) -> None:
        if getattr(event, "policy", None) == "busy" and "leg" not in outcome:
            outcome["leg"] = lab.call("1000", "1002")
            try:
                lab.wait_for(lambda e: True, 0.1)
            except LabError as exc:
                outcome["wait"] = str(exc)

    lab.subscribe(react)
    lab.set_policy("1004", "busy")
    lab.wait_for(lambda e: getattr(e, "policy", None) == "busy", 5.0)
    assert len(seen) == count
    leg = lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.ext == "1000", 5.0)
    assert outcome["leg"] == leg.leg  # type: ignore[attr-defined]
    assert "inside an event callback" in str(outcome["wait"])
    lab.hangup(str(outcome["leg"]))


def test_no_lab_config_error_for_a_bad_extension() -> None:
    with pytest.raises(Exception, match="voicemail number"):
        Lab(LabConfig(extensions=("1000", "2345678")))


def test_external_proxy_that_does_not_answer_fails_the_start_clearly(make_lab: MakeLab) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        lab = make_lab(start=False, proxy_port=port, external_proxy=True,
                       extensions=("1000",))
        with pytest.raises(LabError, match=f"no answer from the SIP server at 127.0.0.1:{port}"):
            lab.start(timeout=3.0)
    assert "proxy" not in lab.pids()
    assert_all_gone(lab.all_pids())


def test_a_crashed_child_is_reported_with_its_signal_and_its_stack(make_lab: MakeLab) -> None:
    """A native crash (SIGSEGV, as pjsua2 teardown races gave) is named in the event stream with
    the last lines of the child's stderr: faulthandler is on in every child."""
    lab = make_lab(restart=RestartPolicy(max_restarts=1, window=60.0))
    old = lab.pids()["voicemail"]
    mark = lab.mark()
    os.kill(old, signal.SIGSEGV)
    exited = lab.wait_for(lambda e: isinstance(e, ComponentEvent) and e.component == "voicemail"
                          and e.status == "exited", 10.0, after=mark)
    assert isinstance(exited, ComponentEvent)
    assert exited.extra["code"] == -signal.SIGSEGV and exited.extra["signal"] == "SIGSEGV"
    assert "killed by signal SIGSEGV" in exited.detail
    assert "Fatal Python error: Segmentation fault" in exited.extra["stderr"]
    problem = lab.wait_for(lambda e: isinstance(e, ProblemEvent) and "voicemail" in e.message
                           and "SIGSEGV" in e.message, 10.0, after=mark)
    assert "Fatal Python error" in problem.detail  # type: ignore[attr-defined]
    lab.wait_for(lambda e: isinstance(e, ComponentEvent) and e.component == "voicemail"
                 and e.status == "restarted", 10.0, after=mark)
