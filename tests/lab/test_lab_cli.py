"""``labpbx demo``, ``labpbx lab`` and ``labpbx call`` as a user runs them (real processes).

The demo test is also the tutorial's acceptance test: each of the three calls must end with a
stored message in the right mailbox with the right greeting, indexed in the lab database, whose
audio is the caller's voice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from labpbx.lab.control import state_path
from labpbx.store.db import LabStore
from tests.lab.audio import assert_caller_voice
from tests.lab.conftest import ROOT, assert_all_gone, process_alive

pjsua2_missing = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("pjsua2"),
    reason="pjsua2-python is not installed: phones and voicemail need it")


MARK = "LABPBX_TEST_MARK"


def marked_env(mark: str) -> dict[str, str]:
    """The environment of a command whose descendants we want to find again: every child the
    lab starts inherits this variable."""
    return dict(os.environ, **{MARK: mark})


def marked_processes(mark: str) -> list[int]:
    """Live processes (not zombies) whose environment carries ``mark`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"{MARK}={mark}".encode() in environ.split(b"\0") and process_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def assert_no_marked_process(mark: str) -> None:
    if not Path("/proc/self/environ").exists():
        return  # not Linux: the tests that know PIDs check those
    deadline = time.monotonic() + 10.0
    while marked_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not marked_processes(mark), "a process of the lab outlived it"


def labpbx(*args: str, timeout: float = 60.0, mark: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labpbx", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL,
                          env=marked_env(mark) if mark else None)


@pytest.mark.integration
@pjsua2_missing
def test_demo_fast_plays_the_tutorial_and_every_message_is_right(tmp_path: Path) -> None:
    began = time.monotonic()
    mark = uuid.uuid4().hex
    result = labpbx("--data", str(tmp_path), "demo", "--fast", timeout=60.0, mark=mark)
    elapsed = time.monotonic() - began
    assert_no_marked_process(mark)
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < 30.0, f"labpbx demo --fast took {elapsed:.1f} s"
    out = result.stdout
    assert "3 of 3 calls ended as the tutorial says" in out
    assert out.count("... OK") == 3
    # The ladder shows the hop-by-hop Request-URI users, the script's decisions and xlog lines.
    for needle in ("INVITE 2345678", "INVITE b1001", "INVITE u1001", "486 Busy Here",
                   "xlog: forwarded to: sip:2345678@127.0.0.1", "xlog: > 486 ruri=<sip:b1001@",
                   "xlog: > 480 ruri=<sip:u1001@", "tm: timeout fr_inv_timeout 2.0 s fired",
                   "prefix sip:1001@", "voicemail: stored"):
        assert needle in out, needle
    messages = LabStore(tmp_path / "lab.json").voicemail_list()
    got = sorted((m.mailbox, m.greeting, m.reason, m.caller) for m in messages)
    assert got == [("1001", "busy", "user-busy", "sip:1000@127.0.0.1"),
                   ("1001", "unavailable", "no-answer", "sip:1004@127.0.0.1"),
                   ("1004", "unavailable", "unconditional", "sip:1000@127.0.0.1")]
    for message in messages:
        assert_caller_voice(tmp_path / message.path)
    outcomes = sorted(r.outcome for r in LabStore(tmp_path / "lab.json").calls_list())
    assert outcomes == ["busy→voicemail", "forwarded→voicemail", "no answer→voicemail"]


@pytest.mark.integration
@pjsua2_missing
def test_lab_runs_until_interrupted_and_call_places_calls(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    lab = subprocess.Popen(
        [sys.executable, "-m", "labpbx", "--data", str(tmp_path), "lab", "--port", "0",
         "--fr-inv-timeout", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True, env=marked_env(mark))
    pids: list[int] = []
    try:
        assert lab.stdout is not None
        banner = ""
        for line in lab.stdout:  # the banner follows start(): the state file exists by then
            if line.startswith("LabPBX lab running"):
                banner = line
                break
        assert banner, lab.stderr.read() if lab.stderr else ""
        state = json.loads(state_path(tmp_path).read_text())
        assert state["pid"] == lab.pid
        pids = list(state["pids"].values())
        placed = labpbx("--data", str(tmp_path), "call", "1000", "1001", timeout=20.0)
        assert placed.returncode == 0, placed.stderr
        assert placed.stdout.startswith("1000 is calling 1001 (leg 1000-")
        refused = labpbx("--data", str(tmp_path), "call", "1000x", "1001", timeout=20.0)
        assert refused.returncode == 1
        assert "1000x is not an extension of this lab" in refused.stderr
        # The lab prints the call as it happens.
        for line in lab.stdout:
            if "1001 incoming" in line and "early" in line:
                break
        shown = labpbx("--data", str(tmp_path), "timers", timeout=20.0)
        assert shown.returncode == 0, shown.stderr
        assert "fr_inv_timeout=2.0 s" in shown.stdout
        changed = labpbx("--data", str(tmp_path), "timers", "--fr-inv-timeout", "4", timeout=20.0)
        assert changed.returncode == 0, changed.stderr
        assert "fr_inv_timeout=4.0 s" in changed.stdout
        busy = labpbx("--data", str(tmp_path), "policy", "1002", "busy", timeout=20.0)
        assert busy.returncode == 0 and busy.stdout.strip() == "1002: busy", busy.stderr
        status = labpbx("--data", str(tmp_path), "status", timeout=20.0)
        assert status.returncode == 0, status.stderr
        assert "fr_inv_timeout=4.0 s" in status.stdout
        assert any(line.startswith("1002") and "busy" in line and "registered" in line
                   for line in status.stdout.splitlines()), status.stdout
        hung = labpbx("--data", str(tmp_path), "hangup", "1000", timeout=20.0)
        assert hung.returncode == 0 and hung.stdout.startswith("1000: "), hung.stderr
        unknown = labpbx("--data", str(tmp_path), "policy", "1009", "busy", timeout=20.0)
        assert unknown.returncode == 1 and "1009 is not an extension" in unknown.stderr
        second = labpbx("--data", str(tmp_path), "lab", "--port", "0", timeout=20.0)
        assert second.returncode == 1 and "already running" in second.stderr
    finally:
        os.kill(lab.pid, signal.SIGINT)
        # communicate, not wait: the lab prints every event, and a pipe nobody reads fills up
        # and blocks its console writer, so it could never finish stopping (seen under load).
        try:
            _out, err = lab.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)  # its own session; its children see stdin EOF
            lab.communicate()
            raise
        code = lab.returncode
    assert code == 0, err[-2000:]
    assert not state_path(tmp_path).exists()
    assert_all_gone(pids)
    assert_no_marked_process(mark)
    gone = labpbx("--data", str(tmp_path), "call", "1000", "1001", timeout=20.0)
    assert gone.returncode == 1 and "no lab is running" in gone.stderr


def test_call_without_a_running_lab_is_a_clear_error(tmp_path: Path) -> None:
    result = labpbx("--data", str(tmp_path), "call", "1000", "1001", timeout=20.0)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"labpbx: no lab is running in {tmp_path} "
                                     "(start one with `labpbx lab`)")


def test_forwarded_subcommands_show_their_own_help() -> None:
    phone = labpbx("phone", "--help", timeout=30.0)
    assert phone.returncode == 0 and "--ext" in phone.stdout
    proxy = labpbx("lab-proxy", "--help", timeout=30.0)
    assert proxy.returncode == 0 and "supervised child" in proxy.stdout
    bad = labpbx("demo", "--slow", timeout=30.0)
    assert bad.returncode == 2 and "unrecognized arguments: --slow" in bad.stderr


def test_lab_refuses_an_audio_extension_it_does_not_have(tmp_path: Path) -> None:
    result = labpbx("--data", str(tmp_path), "lab", "--port", "0", "--audio-ext", "1009",
                    timeout=30.0)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "audio extension '1009' is not an extension of the lab" in result.stderr
