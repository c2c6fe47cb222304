"""``labpbx.voicemail.process``: command line, stdin commands, signals, exit codes, output."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from labpbx.sip.message import Request, make_response, parse_message
from tests.voicemail.harness import ROOT, JsonLineProcess, VoicemailProcess

pytestmark = pytest.mark.integration


def stopped_with(vm: VoicemailProcess, detail: str) -> None:
    assert vm.close() == 0
    stopping = vm.wait_for(lambda e: e.get("status") == "stopping")
    assert stopping["detail"] == detail
    vm.wait_for(lambda e: e.get("status") == "stopped")


def test_ready_event_then_quit_command(tmp_path: Path) -> None:
    vm = VoicemailProcess(tmp_path, "--voicemail-number", "5555", "--max-length", "30")
    ready = vm.ready
    assert ready["status"] == "ready" and ready["address"].startswith("127.0.0.1:")
    assert int(ready["address"].rsplit(":", 1)[1]) > 0  # port 0 → the bound port is reported
    assert ready["extra"]["voicemail_number"] == "5555"
    assert ready["extra"]["max_length"] == 30.0 and ready["extra"]["max_legs"] == 4
    vm.send(cmd="status")
    status = vm.wait_for(lambda e: e.get("status") == "status")
    assert status["extra"]["legs"] == 0
    vm.send(cmd="dance")
    vm.wait_for(lambda e: e.get("type") == "problem" and "dance" in e["message"])
    vm.send(cmd="quit")
    stopped_with(vm, "quit command")
    assert vm.noise == []  # pjlib's start-up lines went to stderr, stdout is JSON only


def test_end_of_input_stops_the_box(tmp_path: Path) -> None:
    vm = VoicemailProcess(tmp_path)
    stopped_with(vm, "end of input")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_box(tmp_path: Path, signum: int) -> None:
    vm = VoicemailProcess(tmp_path)
    os.kill(vm.proc.pid, signum)
    vm.proc.wait(10)
    stopped_with(vm, signal.Signals(signum).name)


def test_a_port_in_use_fails_with_exit_code_2(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        vm = JsonLineProcess([sys.executable, "-m", "labpbx.voicemail.process", "--json",
                              "--listen", f"127.0.0.1:{port}", "--data", str(tmp_path)],
                             "voicemail")
        failed = vm.wait_for(lambda e: e.get("status") == "failed")
        assert f"127.0.0.1:{port}" in failed["detail"]
        assert vm.close() == 2


@pytest.mark.parametrize("args", [["--language", "fr"], ["--listen", "localhost:5"],
                                  ["--listen", "127.0.0.1:99999"], ["--silence", "-1"],
                                  ["--max-length", "0"], ["--proxy", "10.0.0.1:5060"],
                                  ["--proxy", "127.0.0.1:0"]])
def test_bad_command_lines_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "labpbx.voicemail.process", "--data",
                             str(tmp_path), *args], capture_output=True, text=True, timeout=30,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result
    assert "error" in result.stderr


def test_human_readable_output(tmp_path: Path) -> None:
    vm = JsonLineProcess([sys.executable, "-m", "labpbx.voicemail.process", "--listen",
                          "127.0.0.1:0", "--data", str(tmp_path)], "voicemail")
    assert vm.close() == 0
    text = "\n".join(vm.noise)
    assert "component  status=ready" in text and "address=127.0.0.1:" in text
    assert "status=stopped" in text


def test_mwi_command_sends_a_notify_to_the_proxy(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.settimeout(10.0)
        port = proxy.getsockname()[1]
        vm = VoicemailProcess(tmp_path, "--proxy", f"127.0.0.1:{port}")
        try:
            assert vm.ready["extra"]["mwi"].startswith(f"NOTIFY to 127.0.0.1:{port} from ")
            vm.send(cmd="mwi", mailbox="1001")
            mwi = vm.wait_for(lambda e: e.get("type") == "mwi" and e["mailbox"] == "1001")
            assert (mwi["new_messages"], mwi["old_messages"]) == (0, 0)
            data, addr = proxy.recvfrom(65535)
            request = parse_message(data)
            assert isinstance(request, Request) and request.method == "NOTIFY"
            assert request.uri == f"sip:1001@127.0.0.1:{port}"
            assert request.headers.get("From") is not None
            assert f"sip:voicemail@{vm.address}>" in str(request.headers.get("From"))
            assert b"Messages-Waiting: no\r\n" in request.body
            proxy.sendto(make_response(request, 404).to_bytes(), addr)
            problem = vm.wait_for(lambda e: e.get("type") == "problem"
                                  and e["message"].startswith("NOTIFY 1001: 404"))
            assert problem["severity"] == "warning"
            vm.send(cmd="mwi", mailbox="../x")
            vm.wait_for(lambda e: e.get("type") == "problem" and "mailbox" in e["message"])
        finally:
            assert vm.close() == 0


def test_without_proxy_no_notify_is_sent_and_the_ready_event_says_so(tmp_path: Path) -> None:
    vm = VoicemailProcess(tmp_path)
    try:
        assert vm.ready["extra"]["mwi"].startswith("off: no --proxy")
        vm.send(cmd="mwi", mailbox="1001")
        vm.wait_for(lambda e: e.get("type") == "mwi" and e["mailbox"] == "1001")
    finally:
        assert vm.close() == 0
