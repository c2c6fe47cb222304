"""The voicemail box end to end: a real ``labpbx.voicemail.process`` and a pjsua2 caller process
speak SIP and RTP over 127.0.0.1. Every wait is on an event, with a timeout.

One box serves the module (``--silence 1 --max-length 3`` keeps it quick). Mailboxes 1001 (its
unavailable greeting), 1004, 1006, 1007 have short greetings of their own in the data dir, which
also shows that a mailbox's file wins; b1001 and u1008 play the shipped speech.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labpbx.voicemail.greetings import shipped_greeting, wav_info
from tests.integration.sipp_harness import wait_until
from tests.voicemail.audio_checks import (
    best_correlation,
    envelope,
    read_pcm,
    tone,
    tone_fraction,
    write_wav,
    zero_crossing_frequency,
)
from tests.voicemail.harness import CallerProcess, Event, VoicemailProcess

pytestmark = pytest.mark.integration

SHORT_GREETING = 0.3
DIVERSION_1004 = "<sip:1004@127.0.0.1:15060>;reason=unconditional"
MEASURED: dict[str, float] = {}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("vmdata")
    for mailbox, greeting in (("1001", "unavailable"), ("1004", "unavailable"),
                              ("1006", "unavailable"), ("1007", "default")):
        own = data / "greetings" / mailbox / f"{greeting}.wav"
        own.parent.mkdir(parents=True, exist_ok=True)
        write_wav(own, tone(300, SHORT_GREETING))
    return data


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("audio")
    return {"tone": write_wav(folder / "tone_1_5s.wav", tone(440, 1.5)),
            "loop": write_wav(folder / "tone_1s.wav", tone(440, 1.0))}


@pytest.fixture(scope="module")
def box(data_dir: Path) -> Iterator[VoicemailProcess]:
    vm = VoicemailProcess(data_dir, "--silence", "1", "--max-length", "3")
    try:
        assert vm.ready["status"] == "ready", vm.ready
        yield vm
    finally:
        vm.quit()
        assert vm.close() == 0
        vm.wait_for(lambda e: e.get("status") == "stopped")
        assert vm.noise == [], "stdout must carry JSON only"


@pytest.fixture(scope="module")
def caller() -> Iterator[CallerProcess]:
    phone = CallerProcess('"Alice" <sip:1000@127.0.0.1>')
    try:
        yield phone
    finally:
        assert phone.close() == 0


def box_leg_end(box: VoicemailProcess, caller: CallerProcess, leg: str) -> Event:
    """The box's CallStateEvent(disconnected) of the call the caller placed as ``leg``."""
    call_id = caller.state(leg, "confirmed")["call_id"]
    return box.wait_for(lambda e: e.get("type") == "call" and e["call_id"] == call_id
                        and e["state"] == "disconnected")




def stored_after(box: VoicemailProcess, recording: Event, timeout: float = 15.0) -> Event:
    return box.wait_for(lambda e: e.get("type") == "voicemail" and e["status"] == "stored"
                        and e["message_id"] == recording["message_id"], timeout)


def assert_440_hz(path: Path, start: float, length: float) -> None:
    """The caller's tone is in the file: frequency by zero crossings, energy by Goertzel.

    Goertzel runs on 0.2 s windows: a looped player restarts its file with a phase jump, which
    would cancel part of one long window's energy.
    """
    samples, rate = read_pcm(path, start, length)
    assert zero_crossing_frequency(samples, rate) == pytest.approx(440, abs=15)
    step = rate // 5
    windows = [samples[i:i + step] for i in range(0, len(samples) - step + 1, step)]
    shares = sorted(tone_fraction(w, rate, 440) for w in windows)
    # The median window: mostly 440 Hz. Not more than that: on a busy machine RTP jitter and
    # packet-loss concealment put up to ~30 % of a window's energy elsewhere (0.72-0.79 seen),
    # while another tone or silence gives ~0.
    assert shares[len(shares) // 2] > 0.6, shares
    assert max(tone_fraction(w, rate, 300) for w in windows) < 0.05  # not the greeting's tone


def test_busy_prefix_plays_the_busy_greeting_and_stores_the_callers_audio(
        box: VoicemailProcess, caller: CallerProcess, audio: dict[str, Path],
        tmp_path: Path) -> None:
    heard = tmp_path / "heard.wav"
    caller.call("b", box.uri("b1001"), record=heard)
    confirmed = caller.state("b", "confirmed")
    calling = caller.wait_for(lambda e: e.get("ev") == "calling" and e["id"] == "b")
    MEASURED["setup_s"] = confirmed["t"] - calling["t"]
    greeting = box.voicemail("greeting", "1001")
    busy = shipped_greeting("en", "busy")
    assert greeting["greeting"] == "busy" and greeting["reason"] == "user-busy"
    assert Path(greeting["path"]) == busy
    recording = box.voicemail("recording", "1001")
    caller.send(cmd="play", id="b", wav=str(audio["tone"]))  # 1.5 s of 440 Hz, then nothing

    stored = stored_after(box, recording)
    assert stored["mailbox"] == "1001" and stored["greeting"] == "busy"
    assert stored["caller"] == "sip:1000@127.0.0.1"
    # ended by 1 s of silence; trailing silence trimmed to 0.2 s
    assert stored["duration"] == pytest.approx(1.7, abs=0.2)
    assert box_leg_end(box, caller, "b")["reason"] == "silence"
    mwi = box.wait_for(lambda e: e.get("type") == "mwi" and e["mailbox"] == "1001")
    assert mwi["new_messages"] >= 1
    path = box.data_dir / stored["path"]
    assert stored["path"].startswith("voicemail/1001/") and path.is_file()
    assert wav_info(path).duration == pytest.approx(stored["duration"], abs=0.01)
    assert_440_hz(path, 0.3, 1.0)  # the caller's tone, in the box's file

    caller.done("b")  # the caller's own recording of what it heard is complete
    greeting_length = wav_info(busy).duration
    MEASURED["greeting_to_record_s"] = (recording["time"] - greeting["time"]
                                        - greeting_length - 0.4)
    heard_pcm, rate = read_pcm(heard)
    said_pcm, said_rate = read_pcm(busy)
    corr, lag = best_correlation(envelope(heard_pcm, rate), envelope(said_pcm, said_rate))
    assert corr > 0.8, "the caller did not hear the busy greeting"
    other, _ = read_pcm(shipped_greeting("en", "unavailable"))
    assert best_correlation(envelope(heard_pcm, rate), envelope(other, 8000))[0] < corr
    beep_at = lag * 0.02 + greeting_length
    beep, _ = read_pcm(heard, beep_at + 0.1, 0.2)
    assert tone_fraction(beep, rate, 1000) > 0.8, "no 1 kHz tone after the greeting"


def test_unavailable_prefix_records_until_the_caller_hangs_up(
        box: VoicemailProcess, caller: CallerProcess, audio: dict[str, Path],
        data_dir: Path) -> None:
    caller.call("u", box.uri("u1001"))
    greeting = box.wait_for(lambda e: e.get("type") == "voicemail" and e["status"] == "greeting"
                            and e["greeting"] == "unavailable" and e["mailbox"] == "1001")
    assert Path(greeting["path"]) == data_dir / "greetings" / "1001" / "unavailable.wav"
    recording = box.wait_for(lambda e: e.get("type") == "voicemail"
                             and e["status"] == "recording" and e["greeting"] == "unavailable")
    caller.send(cmd="play", id="u", wav=str(audio["loop"]), loop=True)
    caller.send(cmd="hangup", id="u", after=1.0)
    stored = stored_after(box, recording)
    assert (stored["mailbox"], stored["greeting"], stored["reason"]) == (
        "1001", "unavailable", "no-answer")
    assert stored["duration"] == pytest.approx(1.0, abs=0.3)
    assert box_leg_end(box, caller, "u")["reason"] == "caller hung up"
    caller.done("u")


def test_voicemail_number_files_by_diversion_and_stops_at_max_length(
        box: VoicemailProcess, caller: CallerProcess, audio: dict[str, Path]) -> None:
    caller.call("d", box.uri("2345678"), headers={"Diversion": DIVERSION_1004})
    recording = box.voicemail("recording", "1004")
    assert (recording["greeting"], recording["reason"]) == ("unavailable", "unconditional")
    caller.send(cmd="play", id="d", wav=str(audio["loop"]), loop=True)
    stored = stored_after(box, recording)
    assert stored["mailbox"] == "1004"
    assert 2.9 <= stored["duration"] <= 3.0  # --max-length 3, cut to the limit exactly
    assert box_leg_end(box, caller, "d")["reason"] == "max-length"
    assert caller.done("d")["code"] == 200  # the box hung up (BYE) on its own
    assert_440_hz(box.data_dir / stored["path"], 0.5, 2.0)
    mwi = box.wait_for(lambda e: e.get("type") == "mwi" and e["mailbox"] == "1004")
    assert (mwi["new_messages"], mwi["old_messages"]) == (1, 0)


def test_caller_hanging_up_at_once_leaves_no_message(
        box: VoicemailProcess, caller: CallerProcess) -> None:
    caller.call("e", box.uri("u1006"))
    caller.state("e", "confirmed")
    caller.send(cmd="hangup", id="e")
    empty = box.voicemail("empty", "1006")
    assert empty["reason"].startswith("hung up")
    caller.done("e")
    assert not list((box.data_dir / "voicemail").glob("1006/*"))
    assert not box.find(lambda e: e.get("type") == "mwi" and e["mailbox"] == "1006")


def test_silence_only_is_discarded_as_empty(box: VoicemailProcess, caller: CallerProcess) -> None:
    caller.call("s", box.uri("1007"))  # a direct deposit: default greeting
    recording = box.voicemail("recording", "1007")
    assert recording["greeting"] == "default" and recording["reason"] == "direct"
    empty = box.voicemail("empty", "1007")
    assert empty["reason"] == "no sound"
    assert box_leg_end(box, caller, "s")["reason"] == "silence"
    caller.done("s")
    assert not (box.data_dir / recording["path"]).exists()


def test_voicemail_number_without_diversion_goes_to_general(
        box: VoicemailProcess, caller: CallerProcess) -> None:
    caller.call("g", box.uri("2345678"))
    greeting = box.voicemail("greeting", "general")
    assert greeting["greeting"] == "default"
    assert Path(greeting["path"]) == shipped_greeting("en", "default")
    caller.send(cmd="hangup", id="g")
    assert box.voicemail("empty", "general")["reason"] == "hung up during the greeting"
    caller.done("g")


def test_a_fifth_simultaneous_call_gets_486(box: VoicemailProcess,
                                            caller: CallerProcess) -> None:
    for n in range(4):
        caller.call(f"f{n}", box.uri("u1008"))
    box.voicemail("greeting", "1008", count=4)  # four legs busy with the 4.5 s greeting
    other = CallerProcess("sip:1003@127.0.0.1")
    try:
        started = time.monotonic()
        other.call("x", box.uri("u1009"))
        assert other.wait_for(lambda e: e.get("ev") == "done")["code"] == 486
        MEASURED["busy_486_s"] = time.monotonic() - started
    finally:
        assert other.close() == 0
    refused = box.voicemail("refused", "1009")
    assert refused["greeting"] == "unavailable" and "486" in refused["reason"]
    assert "4 call legs" in refused["reason"]
    assert box.find(lambda e: e.get("type") == "problem" and "full" in e["message"])
    for n in range(4):
        caller.send(cmd="hangup", id=f"f{n}")
    box.voicemail("empty", "1008", count=4)
    for n in range(4):
        caller.done(f"f{n}")


def test_a_call_slot_reused_at_once_keeps_the_new_call(box: VoicemailProcess,
                                                       caller: CallerProcess) -> None:
    """BYE and a new INVITE read in one poll while full: pjsua gives the new call the old slot
    before the box has dropped the old Call object, whose destructor would hang up the new call.
    SIGSTOP holds the box while both datagrams queue up, so one libHandleEvents reads them."""
    for n in range(4):
        caller.call(f"r{n}", box.uri("u1008"))
    box.voicemail("greeting", "1008", count=8)  # 4 earlier in this module, 4 now
    other = CallerProcess("sip:1003@127.0.0.1")
    try:
        os.kill(box.proc.pid, signal.SIGSTOP)
        try:
            caller.send(cmd="hangup", id="r0")
            caller.state("r0", "disconnected")  # BYE sent
            other.call("new", box.uri("u1006"))
            other.state("new", "calling")  # INVITE sent
        finally:
            os.kill(box.proc.pid, signal.SIGCONT)
        recording = box.wait_for(lambda e: e.get("type") == "voicemail"
                                 and e["status"] == "recording" and e["mailbox"] == "1006")
        assert not other.find(lambda e: e.get("ev") == "state" and e["state"] == "disconnected")
        other.send(cmd="hangup", id="new")
        assert box_leg_end(box, other, "new")["reason"] == "caller hung up"
        box.wait_for(lambda e: e.get("type") == "voicemail" and e["status"] == "empty"
                     and e["message_id"] == recording["message_id"])
        other.done("new")
    finally:
        assert other.close() == 0
    for n in range(1, 4):
        caller.send(cmd="hangup", id=f"r{n}")
    box.voicemail("empty", "1008", count=8)
    for n in range(4):
        caller.done(f"r{n}")


def test_chinese_box_plays_the_chinese_greeting(tmp_path: Path, caller: CallerProcess) -> None:
    vm = VoicemailProcess(tmp_path, "--language", "zh")
    try:
        caller.call("zh", vm.uri("b1001"))
        greeting = vm.voicemail("greeting", "1001")
        assert Path(greeting["path"]) == shipped_greeting("zh", "busy")
        caller.send(cmd="hangup", id="zh")
        vm.voicemail("empty", "1001")
        caller.done("zh")
    finally:
        vm.quit()
        assert vm.close() == 0


def test_stopping_the_box_keeps_the_message_being_recorded(
        tmp_path: Path, caller: CallerProcess, audio: dict[str, Path]) -> None:
    vm = VoicemailProcess(tmp_path)
    try:
        own = tmp_path / "greetings" / "1010" / "busy.wav"
        own.parent.mkdir(parents=True)
        write_wav(own, tone(300, SHORT_GREETING))
        caller.call("q", vm.uri("b1010"))
        recording = vm.voicemail("recording", "1010")
        caller.send(cmd="play", id="q", wav=str(audio["loop"]), loop=True)
        caller.send(cmd="hangup", id="q", after=5.0)  # only if the box does not hang up first
        # let about a second of tone reach the recorder (pjmedia writes in 4 KB blocks)
        wav = tmp_path / recording["path"]
        assert wait_until(lambda: wav.stat().st_size > 16000 * 2, timeout=5), "condition not met in time"
        vm.send(cmd="quit")
        stored = stored_after(vm, recording)
        assert stored["duration"] > 0.5
        assert box_leg_end(vm, caller, "q")["reason"] == "shutdown"
        caller.done("q")
        assert_440_hz(tmp_path / stored["path"], 0.1, 0.4)
    finally:
        vm.quit()
        assert vm.close() == 0


def test_report_measurements(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a check: prints the figures the other tests measured (run with -s to see them)."""
    with capsys.disabled():
        print("\nvoicemail measurements:", {k: round(v, 4) for k, v in MEASURED.items()})
