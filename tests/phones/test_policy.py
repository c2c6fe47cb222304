"""The answering policy table (pure): what each policy sends, and capacity before policy."""

from __future__ import annotations

import pytest

from labpbx.errors import ConfigError
from labpbx.phones.policy import (
    DEFAULT_RING_TIME,
    FULL,
    MAX_CALL_LEGS,
    Decision,
    Policy,
    PolicySpec,
    decide,
    parse_policy_spec,
)


@pytest.mark.parametrize(
    ("policy", "ring_time", "active", "capacity", "expected"),
    [
        (Policy.ANSWER, 3.0, 0, 4, Decision(180, None, "", 3.0)),
        (Policy.ANSWER, 0.5, 3, 4, Decision(180, None, "", 0.5)),
        (Policy.ANSWER, 0.0, 0, 4, Decision(None, None, "", 0.0)),
        (Policy.BUSY, 3.0, 0, 4, Decision(None, 486, "Busy Here")),
        (Policy.RING, 3.0, 0, 4, Decision(180, None)),
        (Policy.UNAVAILABLE, 3.0, 0, 4, Decision(None, 480, "Temporarily Unavailable")),
        (Policy.DND, 3.0, 0, 4, Decision(None, 480, "Do Not Disturb")),
        (Policy.OFFLINE, 3.0, 0, 4, Decision(None, 480, "Temporarily Unavailable")),
        # capacity comes first, whatever the policy
        (Policy.ANSWER, 3.0, 4, 4, FULL),
        (Policy.RING, 3.0, 1, 1, FULL),
        (Policy.DND, 3.0, 5, 4, FULL),
    ],
)
def test_decide(policy: Policy, ring_time: float, active: int, capacity: int,
                expected: Decision) -> None:
    assert decide(policy, ring_time, active, capacity) == expected


def test_full_is_486_busy_here() -> None:
    assert (FULL.final, FULL.reason, FULL.provisional) == (486, "Busy Here", None)
    assert MAX_CALL_LEGS == 4


@pytest.mark.parametrize("policy", list(Policy))
def test_every_policy_decides_something(policy: Policy) -> None:
    decision = decide(policy, 1.0, 0, MAX_CALL_LEGS)
    assert decision.final is not None or decision.provisional is not None


def test_only_offline_unregisters() -> None:
    assert [p for p in Policy if not p.registers] == [Policy.OFFLINE]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1001=busy", PolicySpec("1001", Policy.BUSY, DEFAULT_RING_TIME)),
        ("1001=answer:2.5", PolicySpec("1001", Policy.ANSWER, 2.5)),
        ("1002=ANSWER:0", PolicySpec("1002", Policy.ANSWER, 0.0)),
        (" 1003 = dnd", PolicySpec("1003", Policy.DND, DEFAULT_RING_TIME)),
        ("1004=offline", PolicySpec("1004", Policy.OFFLINE, DEFAULT_RING_TIME)),
    ],
)
def test_parse_policy_spec(text: str, expected: PolicySpec) -> None:
    assert parse_policy_spec(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1001", "EXT=POLICY"),
        ("=busy", "EXT=POLICY"),
        ("1001=", "EXT=POLICY"),
        ("1001=sleep", "unknown policy 'sleep'"),
        ("1001=answer:x", "not a number"),
        ("1001=answer:-1", "ring time"),
        ("1001=answer:nan", "ring time"),
        ("1001=answer:9999", "ring time"),
    ],
)
def test_parse_policy_spec_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_policy_spec(text)
