"""A phone's configuration and command line: wrong values fail before pjsua2 starts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from labpbx.errors import ConfigError
from labpbx.events import CallStateEvent, ComponentEvent
from labpbx.phones.config import AgentConfig
from labpbx.phones.policy import Policy


def _config(**changes: object) -> AgentConfig:
    base: dict[str, object] = {"proxy_host": "127.0.0.1", "proxy_port": 5060, "exts": ["1000"]}
    base.update(changes)
    return AgentConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exts": []}, "at least one extension"),
        ({"exts": [str(1000 + i) for i in range(9)]}, "at most 8"),
        ({"exts": ["1000", "1000"]}, "duplicate"),
        ({"exts": ["10 00"]}, "extension"),
        ({"policies": {"1001": (Policy.BUSY, 0.0)}}, "does not have"),
        ({"proxy_host": "192.0.2.1"}, "not a 127.x"),
        ({"proxy_port": 0}, "proxy port 0"),
        ({"sip_port": 70000}, "SIP port"),
        ({"rtp_port": 65530}, "leaves no room"),
        ({"capacity": 5}, "capacity"),
        ({"pj_log_level": 9}, "log level"),
    ],
)
def test_invalid_configs(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(**changes).validate()


def test_valid_config() -> None:
    config = _config(exts=["1000", "1001"], policies={"1001": (Policy.RING, 0.0)},
                     rtp_port=40000)
    config.validate()
    assert config.proxy == "127.0.0.1:5060"


pytest.importorskip("pjsua2", reason="process.py imports the pjsua2 agent")
from labpbx.phones.process import EventWriter, format_human, main  # noqa: E402


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--proxy", "127.0.0.1", "--ext", "1000"], "not HOST:PORT"),
        (["--proxy", "127.0.0.1:5060", "--ext", "1000", "--policy", "1000=nap"],
         "unknown policy"),
        (["--proxy", "127.0.0.1:5060", *[a for i in range(9) for a in ("--ext", str(1000 + i))]],
         "at most 8"),
        (["--proxy", "10.1.1.1:5060", "--ext", "1000"], "not a 127.x"),
    ],
)
def test_main_refuses_bad_arguments_without_starting(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_main_without_required_arguments_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "--proxy" in capsys.readouterr().err


def test_event_writer_json_and_human() -> None:
    event = CallStateEvent(1.5, "phone-1000", "1000", "1000-1", "abc", "outgoing", "early",
                           "sip:1001@127.0.0.1", 180, "Ringing")
    raw = io.BytesIO()
    EventWriter(raw, as_json=True)(event)
    assert json.loads(raw.getvalue()) == event.to_dict()
    line = format_human(event)
    assert "phone-1000 call ext=1000 leg=1000-1" in line and "status=180" in line


def test_event_writer_notes_a_closed_stdout(tmp_path: Path) -> None:
    stream = open(tmp_path / "out", "wb")  # noqa: SIM115 - closed on purpose below
    stream.close()
    writer = EventWriter(stream, as_json=True)
    writer(ComponentEvent(1.0, "phone-1000", "ready"))
    assert writer.broken
