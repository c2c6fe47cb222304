"""The `labpbx` command line: clear errors, nothing lost, clean stops."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from labpbx.cli import main
from tests.integration.proxy_process import ProxyProcess
from tests.integration.sipp_harness import free_udp_ports


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labpbx", *args], capture_output=True, text=True,
                          timeout=30)


def test_check_script_accepts_the_default_script() -> None:
    default = Path(__file__).resolve().parents[1] / "assets" / "scripts" / "default.cfg"
    result = run("check-script", str(default))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


@pytest.mark.parametrize(("text", "where", "words"), [
    ("route {\n    t_relay()\n}\n", ":2:", "';'"),
    ("route {\n    t_rellay();\n}\n", ":2:5", "t_relay"),
    ("route {\n    route(nowhere);\n}\n", ":2:", "nowhere"),
    ("route {\n    $ci = \"x\";\n}\n", ":2:", "$ci"),
])
def test_broken_script_names_file_line_and_text(tmp_path: Path, text: str, where: str,
                                                words: str) -> None:
    script = tmp_path / "broken.cfg"
    script.write_text(text)
    result = run("check-script", str(script))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert str(script) + where in first
    assert words in result.stderr


def test_proxy_refuses_a_broken_script_with_position(tmp_path: Path) -> None:
    script = tmp_path / "broken.cfg"
    script.write_text("route {\n  if ($rU == \"1\" {\n  }\n}\n")
    port, media = free_udp_ports(2)
    result = run("--data", str(tmp_path), "proxy", "--listen", f"127.0.0.1:{port}",
                 "--media", f"127.0.0.1:{media}", "--script", str(script))
    assert result.returncode == 1
    assert f"{script}:2:" in result.stderr


def test_port_already_in_use_is_a_clear_error(tmp_path: Path) -> None:
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    try:
        port = busy.getsockname()[1]
        result = run("--data", str(tmp_path), "proxy", "--listen", f"127.0.0.1:{port}")
    finally:
        busy.close()
    assert result.returncode == 1
    assert f"cannot listen on udp:127.0.0.1:{port}" in result.stderr


def test_lab_on_a_busy_port_says_how_to_pick_another(tmp_path: Path) -> None:
    """The default lab port 5060 is often taken by a real SIP server: say so and leave nothing."""
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    try:
        port = busy.getsockname()[1]
        result = run("--data", str(tmp_path), "lab", "--port", str(port))
    finally:
        busy.close()
    assert result.returncode == 1
    assert f"cannot listen on udp:127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr
    assert not (tmp_path / "lab-state.json").exists()


def test_proxy_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port, media = free_udp_ports(2)
    proxy = ProxyProcess(tmp_path, ("127.0.0.1", port), ("127.0.0.1", media))
    proxy.wait_ready()
    assert "fr_inv_timeout=3s" in "".join(proxy.output)
    assert proxy.stop() == 0
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", port))  # the socket was released
    finally:
        probe.close()


def test_bad_timer_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["proxy", "--fr-inv-timeout", "-1"])
    assert exc.value.code == 2
    assert "more than 0" in capsys.readouterr().err


def test_avp_add_then_list(tmp_path: Path) -> None:
    added = run("--data", str(tmp_path), "avp", "add", "-T", "usr_preferences", "1004@127.0.0.1",
                "callfwd", "0", "sip:2345678@127.0.0.1:15060")
    assert added.returncode == 0, added.stderr
    listed = run("--data", str(tmp_path), "avp", "list", "-a", "callfwd")
    assert "sip:2345678@127.0.0.1:15060" in listed.stdout
    assert "1004" in listed.stdout


def test_corrupt_database_is_reported_and_kept(tmp_path: Path) -> None:
    db = tmp_path / "lab.json"
    db.write_bytes(b"{not json")
    result = run("--data", str(tmp_path), "avp", "list")
    assert result.returncode == 1
    assert "lab.json" in result.stderr
    assert db.read_bytes() == b"{not json"


def test_check_script_accepts_common_opensips_idioms() -> None:
    script = Path(__file__).resolve().parent / "data" / "opensips24_idioms.cfg"
    result = run("check-script", str(script))
    assert result.returncode == 0, result.stderr
