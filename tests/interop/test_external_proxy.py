"""``LabConfig(external_proxy=True)`` / ``labpbx lab --external-proxy``: the lab's extensions and
voicemail box with someone else's SIP server — here a real Kamailio running the tutorial's
forwarding — instead of the lab's own proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.kamailio_harness import Kamailio, free_udp_port, kamailio_binary, wait_until

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phones and voicemail need it")

from labpbx.events import CallStateEvent, VoicemailEvent
from labpbx.lab import Lab, LabConfig, LabError
from labpbx.phones.policy import Policy
from labpbx.store.records import CallRow
from tests.lab.conftest import assert_all_gone

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(60),
    pytest.mark.skipif(kamailio_binary() is None,
                       reason="kamailio is not installed (Debian package kamailio)"),
]


@pytest.fixture
def kamailio_lab(tmp_path: Path) -> Iterator[tuple[Lab, Kamailio]]:
    port, media = free_udp_port(), free_udp_port()
    kamailio = Kamailio(tmp_path, port, media, fr_inv_timer_ms=2000)
    kamailio.start()
    lab = Lab(LabConfig(data_dir=tmp_path / "lab", proxy_port=port, media_port=media,
                        external_proxy=True, voicemail_max_length=2.0,
                        extensions=("1000", "1001"),
                        policies={"1001": (Policy.BUSY, 0.0)}))
    try:
        lab.start(timeout=15.0)
        yield lab, kamailio
    finally:
        lab.stop()  # first: the phones un-REGISTER while Kamailio still listens
        assert_all_gone(lab.all_pids())
        kamailio.stop()


def test_lab_phones_register_with_the_external_server_and_busy_goes_to_voicemail(
        kamailio_lab: tuple[Lab, Kamailio]) -> None:
    lab, kamailio = kamailio_lab
    assert "proxy" not in lab.pids()  # the lab started no proxy of its own
    assert all(lab.registered().values())
    mark = lab.mark()
    leg = lab.call("1000", "1001")
    calling = lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.leg == leg, 5.0,
                           after=mark)
    assert isinstance(calling, CallStateEvent)
    call_id = calling.call_id
    stored = lab.wait_for(lambda e: isinstance(e, VoicemailEvent) and e.call_id == call_id
                          and e.status in ("stored", "empty", "failed"), 20.0, after=mark)
    assert isinstance(stored, VoicemailEvent)
    assert (stored.status, stored.mailbox, stored.greeting) == ("stored", "1001", "busy")
    kamailio.wait_log(r"> 486 ruri=<sip:b1001@", 2.0)  # it was Kamailio's failure_route
    lab.wait_for(lambda e: isinstance(e, CallStateEvent) and e.leg == leg
                 and e.state == "disconnected", 10.0, after=mark)
    # The call history judges the call from the box's leg (an external server sends no trace).
    # The row is written by the history's own thread, which sends no event: a bounded poll.
    def rows() -> list[CallRow]:
        return [r for r in lab.store.calls_list(None) if r.call_id == call_id]
    wait_until(lambda: bool(rows()), 5.0, "the call history row")
    row = rows()[0]
    assert (row.caller, row.callee, row.outcome) == ("1000", "1001", "busy→voicemail")


def test_script_and_timer_commands_are_refused_with_an_external_server(
        kamailio_lab: tuple[Lab, Kamailio]) -> None:
    lab, _ = kamailio_lab
    with pytest.raises(LabError, match="not the lab's own"):
        lab.set_timers(fr_inv_timeout=5)
    with pytest.raises(LabError, match="not the lab's own"):
        lab.reload_script()
