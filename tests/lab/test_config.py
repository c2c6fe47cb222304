"""LabConfig (pure): defaults, grouping into phone processes, validation, extension lists."""

from __future__ import annotations

import pytest

from labpbx.errors import ConfigError
from labpbx.lab.config import LabConfig, group_extensions, parse_extensions, phone_name
from labpbx.phones.policy import Policy


def test_default_lab_is_five_extensions_in_three_phone_processes() -> None:
    config = LabConfig()
    config.validate()
    assert config.phone_groups() == [("1000", "1001"), ("1002", "1003"), ("1004",)]
    assert [phone_name(g) for g in config.phone_groups()] == [
        "phone-1000-1001", "phone-1002-1003", "phone-1004"]
    assert config.policy_of("1003") == (Policy.ANSWER, 3.0)


@pytest.mark.parametrize(("changes", "words"), [
    ({"extensions": ()}, "at least one"),
    ({"extensions": ("1000", "1000")}, "duplicate"),
    ({"extensions": ("10 00",)}, "extension"),
    ({"extensions": ("2345678",)}, "voicemail number"),
    ({"exts_per_phone": 9}, "per phone"),
    ({"proxy_port": 70000}, "out of range"),
    ({"proxy_port": 5060, "media_port": 5060}, "different ports"),
    ({"fr_inv_timeout": 0.0}, "fr_inv_timeout"),
    ({"voicemail_silence": -1.0}, "silence"),
    ({"language": "fr"}, "language"),
    ({"policies": {"1009": (Policy.BUSY, 0.0)}}, "1009"),
    ({"policies": {"1000": (Policy.ANSWER, -1.0)}}, "ring time"),
    ({"audio_ext": "1009"}, "audio extension '1009'"),
])
def test_bad_configurations_say_what_is_wrong(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        LabConfig(**changes).validate()  # type: ignore[arg-type]


def test_grouping() -> None:
    assert group_extensions(["a", "b", "c"], 1) == [("a",), ("b",), ("c",)]
    assert group_extensions(["a", "b", "c"], 4) == [("a", "b", "c")]
    with pytest.raises(ConfigError):
        group_extensions(["a"], 0)


@pytest.mark.parametrize(("text", "exts"), [
    ("1000-1004", ("1000", "1001", "1002", "1003", "1004")),
    ("1000,1001, 1007", ("1000", "1001", "1007")),
    ("0998-1000", ("0998", "0999", "1000")),
    ("0990-0992,alice", ("0990", "0991", "0992", "alice")),
])
def test_parse_extensions(text: str, exts: tuple[str, ...]) -> None:
    assert parse_extensions(text) == exts


@pytest.mark.parametrize("text", ["", "1004-1000", "1000-1100", "a b"])
def test_parse_extensions_refuses(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_extensions(text)
