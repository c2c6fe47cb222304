"""Phone processes on loopback, driven through their stdin/stdout JSON protocol.

No lab proxy here: a fake registrar answers REGISTER, and two phone processes call each other
directly (``sip:1001@127.0.0.1:<other phone's port>``; pjsua2 picks the account by user).
Every wait has a deadline; every process is closed by EOF (and killed by PID if it hangs).
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pjsua2", reason="pjsua2-python is not installed: phone processes need it")

from labpbx.phones.config import RTP_PORT_RANGE
from labpbx.phones.localaudio import probe
from tests.phones.conftest import Spawn
from tests.phones.harness import (
    FakeRegistrar,
    FakeUas,
    PhoneProcess,
    SipRequest,
    udp_sockets_of,
)
from tests.phones.test_voice import goertzel

pytestmark = pytest.mark.integration


def _registered(phone: PhoneProcess, ext: str, registered: bool = True,
                since: int = 0) -> dict[str, Any]:
    return phone.wait(lambda e: e["type"] == "registration" and e["ext"] == ext
                      and e["registered"] is registered, 5, f"{ext} registered={registered}",
                      since)


def _pair(spawn: Spawn, callee_policy: str = "1001=answer:0.2") -> tuple[PhoneProcess,
                                                                       PhoneProcess, str]:
    """Phone A (1000) and phone B (1001), both ready and registered; returns B's URI for 1001."""
    a = spawn(["1000"])
    b = spawn(["1001"], [callee_policy])
    a.ready()
    port = b.ready()["extra"]["sip_port"]
    _registered(a, "1000")
    _registered(b, "1001")
    return a, b, f"sip:1001@127.0.0.1:{port}"


def _register_of(ext: str) -> Callable[[SipRequest], bool]:
    return lambda r: r.method == "REGISTER" and f"sip:{ext}@" in r.header("To")


def _call(a: PhoneProcess, to: str, ext: str = "1000") -> str:
    return str(a.ok(cmd="call", ext=ext, to=to)["extra"]["leg"])


class TestRegistration:
    def test_ready_then_registered_with_contact_on_own_port(
            self, spawn: Spawn, registrar: FakeRegistrar) -> None:
        phone = spawn(["1000", "1002"])
        ready = phone.ready()
        port = ready["extra"]["sip_port"]
        assert ready["address"] == f"127.0.0.1:{port}"
        assert ready["extra"]["exts"] == ["1000", "1002"]
        for ext in ("1000", "1002"):
            event = _registered(phone, ext)
            assert (event["status"], event["expires"]) == (200, 300)
            request = registrar.wait_for(_register_of(ext), 5, f"REGISTER for {ext}")
            assert f"<sip:{ext}@127.0.0.1:{port}>" in request.header("Contact")
            assert request.expires == 300
            assert request.source == ("127.0.0.1", port)
        assert phone.noise == []  # pjlib's start-up banner went to stderr, not into the protocol
        statuses = [e["status"] for e in phone.history if e["type"] == "component"]
        assert statuses.index("starting") < statuses.index("ready")

    def test_offline_unregisters_and_refuses_calls_then_comes_back(
            self, spawn: Spawn, registrar: FakeRegistrar) -> None:
        a, b, b_uri = _pair(spawn)
        mark = b.mark()
        b.ok(cmd="policy", ext="1001", policy="offline")
        registrar.wait_for(lambda r: r.method == "REGISTER" and "sip:1001@" in r.header("To")
                           and r.expires == 0, 5, "REGISTER 1001 with Expires 0")
        event = _registered(b, "1001", registered=False, since=mark)
        assert event["expires"] == 0
        leg = _call(a, b_uri)
        assert a.leg_state(leg, "disconnected")["status"] == 480
        a.ok(cmd="call", ext="1000", to="1001")  # a bare extension goes to the proxy
        invite = registrar.wait_for(lambda r: r.method == "INVITE", 5, "INVITE via the proxy")
        assert invite.text.startswith(f"INVITE sip:1001@{registrar.address} SIP/2.0")
        b.ok(cmd="policy", ext="1001", policy="answer", ring_time=0)
        _registered(b, "1001", since=mark)

    def test_offline_at_start_does_not_register(self, spawn: Spawn,
                                                registrar: FakeRegistrar) -> None:
        phone = spawn(["1003"], ["1003=offline"])
        phone.ready()
        phone.ok(cmd="policy", ext="1003", policy="busy")
        _registered(phone, "1003")
        first = next(r for r in registrar.requests if "sip:1003@" in r.header("To"))
        assert first.expires == 300  # the first REGISTER came only when it left OFFLINE


class TestPolicies:
    def test_answer_confirms_both_sides_then_hangup(self, spawn: Spawn) -> None:
        a, b, b_uri = _pair(spawn, "1001=answer:0.2")
        leg = _call(a, b_uri)
        early = a.leg_state(leg, "early")
        assert early["status"] == 180
        confirmed = a.leg_state(leg, "confirmed")
        incoming = b.call_state("confirmed", ext="1001")
        assert incoming["direction"] == "incoming"
        assert incoming["call_id"] == confirmed["call_id"] != ""
        assert incoming["remote"] == "sip:1000@127.0.0.1"
        assert confirmed["remote"] == b_uri
        # ring_time 0.2 s: the 200 OK came after the 180, not at once
        assert confirmed["time"] - early["time"] >= 0.15
        a.ok(cmd="hangup", leg=leg)
        a.leg_state(leg, "disconnected")
        b.leg_state(incoming["leg"], "disconnected")

    def test_busy_caller_sees_486(self, spawn: Spawn) -> None:
        a, b, b_uri = _pair(spawn, "1001=busy")
        leg = _call(a, b_uri)
        ended = a.leg_state(leg, "disconnected")
        assert (ended["status"], ended["reason"]) == (486, "Busy Here")
        incoming = b.call_state("incoming", ext="1001")
        assert b.leg_state(incoming["leg"], "disconnected")["status"] == 486

    def test_ring_then_cancel_gives_487(self, spawn: Spawn) -> None:
        a, b, b_uri = _pair(spawn, "1001=ring")
        leg = _call(a, b_uri)
        assert a.leg_state(leg, "early")["status"] == 180
        ringing = b.call_state("early", ext="1001")
        a.ok(cmd="hangup", leg=leg)  # early: pjsua sends CANCEL
        assert a.leg_state(leg, "disconnected")["status"] == 487
        assert b.leg_state(ringing["leg"], "disconnected")["status"] == 487

    @pytest.mark.parametrize(("policy", "reason"), [("unavailable", "Temporarily Unavailable"),
                                                    ("dnd", "Do Not Disturb")])
    def test_unavailable_and_dnd_give_480(self, spawn: Spawn, policy: str, reason: str) -> None:
        a, b, b_uri = _pair(spawn, "1001=answer:0")
        mark = b.mark()
        b.ok(cmd="policy", ext="1001", policy=policy)
        changed = b.wait(lambda e: e["type"] == "policy", 5, "policy event", mark)
        assert changed["policy"] == policy
        leg = _call(a, b_uri)
        ended = a.leg_state(leg, "disconnected")
        assert (ended["status"], ended["reason"]) == (480, reason)

    def test_manual_answer_and_reject_of_a_ringing_leg(self, spawn: Spawn) -> None:
        a, b, b_uri = _pair(spawn, "1001=ring")
        first = _call(a, b_uri)
        ringing = b.call_state("early", ext="1001")
        b.ok(cmd="answer", leg=ringing["leg"])
        a.leg_state(first, "confirmed")
        mark = b.mark()
        second = _call(a, b_uri)
        ringing2 = b.call_state("early", ext="1001", since=mark)
        b.ok(cmd="reject", leg=ringing2["leg"], code=603)
        assert a.leg_state(second, "disconnected")["status"] == 603
        error = b.command(cmd="reject", leg=ringing["leg"])  # already answered
        assert error["status"] == "error" and "ringing incoming" in error["detail"]
        b.ok(cmd="hangup", ext="1001")
        a.leg_state(first, "disconnected")


class TestCapacity:
    def test_fifth_leg_is_refused_cleanly_both_ways(self, spawn: Spawn) -> None:
        a = spawn(["1000", "1002"], ["1002=ring"])
        b = spawn(["1001"], ["1001=ring"])
        a_port = a.ready()["extra"]["sip_port"]
        b_port = b.ready()["extra"]["sip_port"]
        legs = [_call(a, f"sip:1002@127.0.0.1:{a_port}")]  # internal call: 2 legs in A
        legs += [_call(a, f"sip:1001@127.0.0.1:{b_port}") for _ in range(2)]
        for leg in legs:
            a.leg_state(leg, "early")
        refused = a.command(cmd="call", ext="1000", to=f"sip:1001@127.0.0.1:{b_port}")
        assert refused["status"] == "error"
        assert "capacity reached: 4 of 4" in refused["detail"]
        # An incoming INVITE to the full process: 486 (pjsua answers it, A does not crash).
        leg_b = _call(b, f"sip:1002@127.0.0.1:{a_port}", ext="1001")
        assert b.leg_state(leg_b, "disconnected")["status"] == 486
        status = a.ok(cmd="status")["extra"]
        assert len(status["legs"]) == 4
        refused_in = a.wait(lambda e: e["type"] == "problem" and "answered 486" in e["message"],
                            5, "a problem event for the refused INVITE")
        assert refused_in["message"].startswith("1002: incoming call from sip:1001@127.0.0.1")
        # Hanging up frees the slots: the next call goes through. A leg hung up while ringing
        # reports DISCONNECTED at once, but pjsua2 holds its slot until the 487 arrives, so the
        # phone may still say "capacity reached" for a moment: retry until a deadline.
        mark = b.mark()
        assert a.ok(cmd="hangup", ext="1000")["extra"]["count"] == 3
        for leg in legs:
            a.leg_state(leg, "disconnected")
        b.wait_count(lambda e: e["type"] == "call" and e["state"] == "disconnected"
                     and e["status"] == 487, 2, 5, "B's two legs cancelled", mark)
        deadline = time.monotonic() + 5
        while True:
            answer = a.command(cmd="call", ext="1000", to=f"sip:1001@127.0.0.1:{b_port}")
            if answer["status"] == "ack" or time.monotonic() > deadline:
                break
            assert "capacity reached" in answer["detail"]
            time.sleep(0.02)  # paces the retries; the deadline bounds them
        assert answer["status"] == "ack", answer
        a.leg_state(answer["extra"]["leg"], "early")


class TestProtocol:
    def test_errors_are_reported_and_the_phone_carries_on(self, spawn: Spawn) -> None:
        phone = spawn(["1000"])
        phone.ready()
        cases: list[tuple[dict[str, Any], str]] = [
            ({"cmd": "call", "ext": "1009", "to": "1001"}, "no extension '1009'"),
            ({"cmd": "call", "ext": "1000", "to": "sip:1001@192.0.2.1"}, "not on loopback"),
            ({"cmd": "hangup", "leg": "1000-99"}, "no call leg"),
            ({"cmd": "answer", "leg": "nope"}, "no call leg"),
            ({"cmd": "policy", "ext": "1000", "policy": "nap"}, "unknown policy"),
            ({"cmd": "jump"}, "unknown command"),
        ]
        for command, detail in cases:
            event = phone.command(5.0, **command)
            assert event["status"] == "error", event
            assert detail in event["detail"]
            assert event["extra"]["cmd"] == command["cmd"]
        mark = phone.mark()
        phone.send(garbage=True)  # no id, no cmd: still one error event
        phone.send_raw(b"this is not json\n")
        phone.wait(lambda e: e["type"] == "component" and e["status"] == "error"
                   and "not JSON" in e["detail"], 5, "error for a non-JSON line", mark)
        assert phone.ok(cmd="status")["extra"]["exts"]["1000"]["policy"] == "answer"

    def test_quit_command_exits_0(self, spawn: Spawn) -> None:
        phone = spawn(["1000"])
        phone.ready()
        phone.ok(cmd="quit")
        assert phone.proc.wait(5) == 0
        stopping = phone.wait(lambda e: e.get("status") == "stopping", 5, "stopping")
        assert stopping["detail"] == "quit"
        phone.wait(lambda e: e.get("status") == "stopped", 5, "stopped")

    def test_sigterm_hangs_up_and_exits_0(self, spawn: Spawn,
                                          registrar: FakeRegistrar) -> None:
        a, b, b_uri = _pair(spawn, "1001=answer:0")
        leg = _call(a, b_uri)
        a.leg_state(leg, "confirmed")
        b.proc.send_signal(signal.SIGTERM)
        assert b.proc.wait(5) == 0
        assert b.wait(lambda e: e.get("status") == "stopping", 5, "stopping")["detail"] == "SIGTERM"
        assert a.leg_state(leg, "disconnected")["status"] == 200  # B said BYE on its way out
        registrar.wait_for(lambda r: "sip:1001@" in r.header("To") and r.expires == 0, 5,
                           "un-REGISTER of 1001 at shutdown")

    def test_audio_flag_without_sound_card_says_why(self, spawn: Spawn) -> None:
        if probe().available:
            pytest.skip("this machine has a sound card")
        phone = spawn(["1000"], extra=["--audio"])
        phone.ready()
        audio = phone.wait(lambda e: e.get("status") == "audio", 5, "audio status")
        assert audio["extra"]["enabled"] is False
        assert "PortAudio" in audio["detail"] or "sound card" in audio["detail"]


class TestMedia:
    def test_answered_call_carries_the_voice_tones(self, spawn: Spawn) -> None:
        uas = FakeUas()
        try:
            phone = spawn(["1000"])
            phone.ready()
            leg = _call(phone, f"sip:2000@127.0.0.1:{uas.port}")
            phone.leg_state(leg, "confirmed")
            uas.wait_packets(40, 5)  # 40 × 20 ms = 0.8 s of the 2 s voice
            phone.ok(cmd="hangup", leg=leg)
            phone.leg_state(leg, "disconnected")
        finally:
            uas.close()
        samples = uas.pcmu_samples()
        assert len(samples) >= 40 * 160
        tones = [goertzel(samples, f, 8000) for f in (440.0, 660.0)]
        others = [goertzel(samples, f, 8000) for f in (300.0, 1000.0, 1500.0)]
        assert min(tones) > 20 * max(others), (tones, others)
        assert any(r.startswith("BYE ") for r in uas.requests)

    def test_local_audio_bridge_carries_microphone_and_speaker(
            self, spawn: Spawn, tmp_path: Path) -> None:
        """With a (fake) sound card the call carries the microphone, not the voice WAV, and what
        the far end sends reaches the speaker, through the AudioMediaPort and its queues."""
        report = tmp_path / "audio.json"
        uas = FakeUas(echo=True)
        try:
            phone = spawn(["1000"], extra=["--audio"], module="tests.phones.fake_audio_phone",
                          env={"FAKE_AUDIO_REPORT": str(report)})
            audio = phone.wait(lambda e: e.get("status") == "audio", 5, "audio status")
            assert audio["extra"]["enabled"] is True, audio
            leg = _call(phone, f"sip:2000@127.0.0.1:{uas.port}")
            phone.leg_state(leg, "confirmed")
            uas.wait_packets(40, 5)
            phone.ok(cmd="hangup", leg=leg)
            phone.leg_state(leg, "disconnected")
            assert phone.close() == 0
        finally:
            uas.close()
        samples = uas.pcmu_samples()
        mic = goertzel(samples, 1000.0, 8000)
        voice = max(goertzel(samples, f, 8000) for f in (440.0, 660.0))
        assert mic > 20 * voice, (mic, voice)  # the microphone replaced the voice WAV
        played = json.loads(report.read_text())
        assert played["loud_frames"] >= 10, played  # the echo reached the speaker


class TestNetwork:
    def test_every_socket_is_on_loopback_and_rtp_in_its_range(self, spawn: Spawn) -> None:
        uas = FakeUas()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_sock:
            probe_sock.bind(("127.0.0.1", 0))
            base = probe_sock.getsockname()[1] // 2 * 2  # near a port that was just free
        base = min(base, 65000)
        try:
            phone = spawn(["1000"], extra=["--rtp-port", str(base)])
            sip_port = phone.ready()["extra"]["sip_port"]
            leg = _call(phone, f"sip:2000@127.0.0.1:{uas.port}")
            phone.leg_state(leg, "confirmed")
            sockets = udp_sockets_of(phone.proc.pid)
            if sockets is None:
                pytest.skip("needs Linux /proc to list a process's sockets")
            assert sockets and all(addr == "127.0.0.1" for addr, _ in sockets), sockets
            rtp = sorted(port for _, port in sockets if port != sip_port)
            assert len(rtp) >= 2 and all(base <= p < base + RTP_PORT_RANGE for p in rtp), rtp
            phone.ok(cmd="hangup", leg=leg)
        finally:
            uas.close()


class TestStartFailure:
    def test_sip_port_in_use_exits_1_with_a_failed_event(self, spawn: Spawn) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            phone = spawn(["1000"], extra=["--sip-port", str(port)])
            phone.expected_exit = 1
            assert phone.proc.wait(10) == 1
            failed = phone.wait(lambda e: e.get("status") == "failed", 5, "failed event")
        assert f"127.0.0.1:{port}" in failed["detail"]
        assert not any(e.get("status") == "ready" for e in phone.history)
