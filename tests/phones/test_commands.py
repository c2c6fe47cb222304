"""The stdin command protocol (pure): every command, its errors, and call targets."""

from __future__ import annotations

import json

import pytest

from labpbx.phones.commands import (
    AnswerCommand,
    CallCommand,
    Command,
    CommandError,
    HangupCommand,
    PhoneError,
    PolicyCommand,
    QuitCommand,
    RejectCommand,
    StatusCommand,
    parse_command,
    resolve_target,
)
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"cmd": "call", "ext": "1000", "to": "sip:1001@127.0.0.1:15060", "id": 7},
         CallCommand("1000", "sip:1001@127.0.0.1:15060", 7)),
        ({"cmd": "policy", "ext": "1001", "policy": "busy", "ring_time": 2, "id": "a"},
         PolicyCommand("1001", Policy.BUSY, 2.0, "a")),
        ({"cmd": "policy", "ext": "1001", "policy": "RING"},
         PolicyCommand("1001", Policy.RING, DEFAULT_RING_TIME)),
        ({"cmd": "answer", "leg": "1001-3"}, AnswerCommand("1001-3")),
        ({"cmd": "reject", "leg": "1001-3"}, RejectCommand("1001-3", 486)),
        ({"cmd": "reject", "leg": "1001-3", "code": 603}, RejectCommand("1001-3", 603)),
        ({"cmd": "hangup", "leg": "1000-1"}, HangupCommand(leg="1000-1")),
        ({"cmd": "hangup", "ext": "1000"}, HangupCommand(ext="1000")),
        ({"cmd": "status", "id": 1.5}, StatusCommand(1.5)),
        ({"cmd": "quit", "future": "ignored"}, QuitCommand()),
    ],
)
def test_parse_command(data: dict[str, object], expected: Command) -> None:
    assert parse_command(json.dumps(data)) == expected


@pytest.mark.parametrize(
    ("line", "message", "cid"),
    [
        ("{not json", "not JSON", None),
        ("[1, 2]", "JSON object", None),
        ('{"id": 3}', "missing 'cmd'", 3),
        ('{"cmd": "dance", "id": "x"}', "unknown command 'dance'", "x"),
        ('{"cmd": "call", "ext": "1000", "id": 4}', "'to'", 4),
        ('{"cmd": "call", "ext": "10 00", "to": "1001"}', "extension", None),
        ('{"cmd": "policy", "ext": "1001", "policy": "nap"}', "unknown policy", None),
        ('{"cmd": "policy", "ext": "1001", "policy": "answer", "ring_time": "2"}', "number", None),
        ('{"cmd": "policy", "ext": "1001", "policy": "answer", "ring_time": -1}', "ring time",
         None),
        ('{"cmd": "reject", "leg": "a", "code": 180}', "400-699", None),
        ('{"cmd": "reject", "leg": "a", "code": true}', "number", None),
        ('{"cmd": "hangup"}', "'leg' or 'ext'", None),
        ('{"cmd": "answer", "leg": ""}', "'leg'", None),
        ('{"cmd": "quit", "id": true}', "", None),  # a bool id is no id: parsed, id dropped
    ],
)
def test_parse_command_errors(line: str, message: str, cid: object) -> None:
    if not message:
        assert parse_command(line) == QuitCommand(None)
        return
    with pytest.raises(CommandError, match=message) as info:
        parse_command(line)
    assert info.value.command_id == cid


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("1001", "sip:1001@127.0.0.1:15060"),
        ("sip:1001@127.0.0.1:16000", "sip:1001@127.0.0.1:16000"),
        ("<sip:1001@127.0.0.1>", "sip:1001@127.0.0.1"),
        ("sip:1001@127.0.0.2;transport=udp", "sip:1001@127.0.0.2;transport=udp"),
        ("sip:127.0.0.1:5070", "sip:127.0.0.1:5070"),
    ],
)
def test_resolve_target(to: str, expected: str) -> None:
    assert resolve_target(to, "127.0.0.1:15060") == expected


@pytest.mark.parametrize("to", ["sip:1001@10.0.0.1", "sip:1001@localhost", "sip:1001@example.com",
                                "tel:+3312345", "sip:1001@128.0.0.1:5060", "1001 1002"])
def test_resolve_target_refuses_non_loopback(to: str) -> None:
    with pytest.raises(PhoneError):
        resolve_target(to, "127.0.0.1:15060")
