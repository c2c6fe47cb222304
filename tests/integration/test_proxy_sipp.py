"""The tutorial's calls over real UDP on loopback: sipp callers, callees and media server, and the
real `labpbx proxy` process running the default script (issue: the lab proxy, "What it must show")."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.proxy_process import ProxyProcess
from tests.integration.sipp_harness import Sipp, free_udp_ports, register_contact

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) not installed"),
]

FR_TIMEOUT = 2.0
FR_INV_TIMEOUT = 3.0


@dataclass
class Lab:
    proxy: ProxyProcess
    proxy_port: int
    media_port: int
    workdir: Path
    data_dir: Path

    def media(self, **kw: object) -> Sipp:
        return Sipp("media_server.xml", workdir=self.workdir, local_port=self.media_port,
                    calls=None, timeout=20, **kw).start()  # type: ignore[arg-type]

    def callee(self, scenario: str, user: str, **kw: object) -> Sipp:
        sipp = Sipp(scenario, workdir=self.workdir, calls=1, timeout=20, **kw).start()  # type: ignore[arg-type]
        register_contact(self.proxy_port, user, sipp.local_port)
        return sipp

    def caller(self, scenario: str, callee: str, caller: str = "1000", **kw: object) -> Sipp:
        return Sipp(scenario, workdir=self.workdir, remote_port=self.proxy_port, calls=1,
                    service=callee, keys={"caller": caller}, timeout=20, **kw).start()  # type: ignore[arg-type]

    def xlog(self) -> list[str]:
        return [e["text"] for e in self.proxy.events("xlog")]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    proxy_port, media_port = free_udp_ports(2)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    proxy = ProxyProcess(data_dir, ("127.0.0.1", proxy_port), ("127.0.0.1", media_port),
                         fr_timeout=FR_TIMEOUT, fr_inv_timeout=FR_INV_TIMEOUT)
    try:
        proxy.wait_ready()
        yield Lab(proxy, proxy_port, media_port, tmp_path / "sipp", data_dir)
    finally:
        assert proxy.stop() == 0, "".join(proxy.output)


def _finish(*sipps: Sipp) -> None:
    for s in sipps:
        s.stop()


def test_unconditional_forward_from_the_callfwd_avp(lab: Lab) -> None:
    """1000 → 1004 with `labpbx avp add … callfwd 0 sip:2345678@…`: the media server gets 2345678."""
    subprocess.run(
        [sys.executable, "-m", "labpbx", "--data", str(lab.data_dir), "avp", "add", "-T",
         "usr_preferences", "1004@127.0.0.1", "callfwd", "0",
         f"sip:2345678@127.0.0.1:{lab.proxy_port}"], check=True, capture_output=True)
    media = lab.media()
    phone_1004 = lab.callee("uas_answer.xml", "1004")
    caller = lab.caller("uac_call.xml", "1004")
    try:
        assert caller.wait(15) == 0, caller.describe()
        assert media.ruris() == ["2345678"]
        assert phone_1004.ruris() == []  # 1004's phone never rang
        assert f"forwarded to: sip:2345678@127.0.0.1:{lab.proxy_port}" in lab.xlog()
    finally:
        _finish(caller, phone_1004, media)


def test_busy_callee_forwards_to_busy_greeting(lab: Lab) -> None:
    """1000 → 1001, 1001 answers 486: the media server gets b1001; the caller talks to voicemail."""
    media = lab.media()
    busy = lab.callee("uas_busy.xml", "1001")
    caller = lab.caller("uac_call.xml", "1001")
    try:
        assert caller.wait(15) == 0, caller.describe()
        assert busy.wait(5) == 0, busy.describe()  # got its ACK for the 486 (hop-by-hop)
        assert media.ruris() == ["b1001"]
        assert 486 not in caller.final_codes() and caller.final_codes() == [200]
        assert f"> 486 ruri=<sip:b1001@127.0.0.1:{lab.proxy_port}>" in lab.xlog()
    finally:
        _finish(caller, busy, media)


def test_no_answer_forwards_to_unavailable_greeting_at_the_timeout(lab: Lab) -> None:
    """1004 → 1001 rings past fr_inv_timeout: CANCEL to 1001, media server gets u1001 on time."""
    media = lab.media()
    ringing = lab.callee("uas_ring.xml", "1001")
    caller = lab.caller("uac_call.xml", "1001", caller="1004")
    try:
        assert caller.wait(20) == 0, caller.describe()
        assert ringing.wait(5) == 0, ringing.describe()
        assert ringing.cancels(), "the callee never got a CANCEL"
        assert media.ruris() == ["u1001"]
        # timing from the proxy's own trace: first 180 from the callee → INVITE to the media server
        sip = lab.proxy.events("sip")
        ringing_at = next(e["time"] for e in sip if e["direction"] == "in"
                          and e["summary"].startswith("180"))
        forwarded_at = next(e["time"] for e in sip if e["direction"] == "out"
                            and e["summary"].startswith("INVITE sip:u1001"))
        assert abs((forwarded_at - ringing_at) - FR_INV_TIMEOUT) <= 0.25
    finally:
        _finish(caller, ringing, media)


def test_480_goes_to_unavailable_greeting(lab: Lab) -> None:
    media = lab.media()
    unavailable = lab.callee("uas_480.xml", "1001")
    caller = lab.caller("uac_call.xml", "1001")
    try:
        assert caller.wait(15) == 0, caller.describe()
        assert media.ruris() == ["u1001"]
    finally:
        _finish(caller, unavailable, media)


def test_answered_call_is_not_forwarded_and_ack_bye_go_end_to_end(lab: Lab) -> None:
    media = lab.media()
    callee = lab.callee("uas_answer.xml", "1001")
    caller = lab.caller("uac_call.xml", "1001")
    try:
        assert caller.wait(15) == 0, caller.describe()
        assert callee.wait(5) == 0, callee.describe()  # it received ACK and BYE through the proxy
        assert media.ruris() == []
        methods_in = [e["summary"].split()[0] for e in lab.proxy.events("sip")
                      if e["direction"] == "in"]
        assert "ACK" in methods_in and "BYE" in methods_in  # Record-Route kept the proxy in the path
    finally:
        _finish(caller, callee, media)


def test_unregistered_extension_gets_404(lab: Lab) -> None:
    media = lab.media()
    caller = lab.caller("uac_call_fail.xml", "1003")
    try:
        assert caller.wait(15) == 0, caller.describe()
        assert caller.final_codes() == [404]
        assert media.ruris() == []
    finally:
        _finish(caller, media)


def test_registered_contact_that_never_replies(lab: Lab) -> None:
    """fr_timeout with no reply at all: no CANCEL, local 408, the call goes to u1001."""
    media = lab.media()
    silent = lab.callee("uas_silent.xml", "1001")
    caller = lab.caller("uac_call.xml", "1001")
    try:
        assert caller.wait(20) == 0, caller.describe()
        assert media.ruris() == ["u1001"]
        assert not silent.cancels()
    finally:
        _finish(caller, silent, media)


def test_media_server_down_caller_gets_a_final_answer(lab: Lab) -> None:
    busy = lab.callee("uas_busy.xml", "1001")  # nothing listens on the media port
    caller = lab.caller("uac_call_fail.xml", "1001")
    try:
        assert caller.wait(20) == 0, caller.describe()
        assert caller.final_codes() == [408]
    finally:
        _finish(caller, busy)


def test_caller_cancel_while_ringing_leaves_no_voicemail(lab: Lab) -> None:
    media = lab.media()
    ringing = lab.callee("uas_ring.xml", "1001")
    caller = lab.caller("uac_cancel.xml", "1001", duration_ms=500)
    try:
        assert caller.wait(15) == 0, caller.describe()
        assert ringing.wait(5) == 0, ringing.describe()
        assert caller.final_codes() == [487]
        assert media.ruris() == []
        transactions = lab.proxy.events("transaction")
        assert any(e["state"] == "cancelled" for e in transactions)
    finally:
        _finish(caller, ringing, media)
