"""The phone's bookkeeping of extensions and legs (pure): ids, state reports, dropping."""

from __future__ import annotations

import pytest

from labpbx.phones.commands import PhoneError
from labpbx.phones.legs import Book
from labpbx.phones.policy import DEFAULT_RING_TIME, Policy


def _book() -> Book:
    return Book(["1000", "1001"], {"1001": (Policy.OFFLINE, 0.0)})


def test_extensions_default_to_answer() -> None:
    book = _book()
    assert book.exts["1000"].policy is Policy.ANSWER
    assert book.exts["1000"].ring_time == DEFAULT_RING_TIME
    with pytest.raises(PhoneError, match="no extension '1009'"):
        book.ext("1009")


def test_leg_ids_are_unique_and_never_reused() -> None:
    book = _book()
    first = book.add_leg("1000", "outgoing")
    book.forget(first.id)
    second = book.add_leg("1000", "outgoing")
    third = book.add_leg("1001", "incoming")
    assert (first.id, second.id, third.id) == ("1000-1", "1000-2", "1001-3")


def test_repeated_reports_are_not_events() -> None:
    book = _book()
    leg = book.add_leg("1000", "incoming")
    leg.call = object()
    assert book.transition(leg, "incoming", 0)
    assert not book.transition(leg, "incoming", 100)  # pjsua's second INCOMING (100 Trying)
    assert book.transition(leg, "early", 180)
    assert not book.transition(leg, "early", 180)
    assert book.transition(leg, "early", 183)  # a new status is news
    assert book.transition(leg, "disconnected", 487)
    assert not book.transition(leg, "confirmed", 200)  # nothing after the end
    with pytest.raises(ValueError):
        book.transition(book.add_leg("1000", "outgoing"), "ringing", 180)


def test_disconnected_legs_are_dropped_only_by_drop_dead() -> None:
    book = _book()
    leg = book.add_leg("1000", "outgoing")
    leg.call, leg.player = object(), object()
    book.transition(leg, "calling", 0)
    assert book.active() == 1 and book.live_legs("1000") == [leg]
    book.transition(leg, "disconnected", 200)
    assert book.active() == 0 and leg.id in book.legs  # still referenced inside the callback
    book.drop_dead()
    assert leg.id not in book.legs and leg.call is None and leg.player is None
    with pytest.raises(PhoneError, match="no call leg"):
        book.leg(leg.id)


def test_only_a_ringing_incoming_leg_can_be_answered() -> None:
    book = _book()
    out = book.add_leg("1000", "outgoing")
    out.call = object()
    book.transition(out, "early", 180)
    with pytest.raises(PhoneError, match="outgoing leg"):
        book.unanswered(out.id, "answer")
    inc = book.add_leg("1000", "incoming")
    inc.call = object()
    book.transition(inc, "early", 180)
    assert book.unanswered(inc.id, "answer") is inc
    book.transition(inc, "confirmed", 200)
    with pytest.raises(PhoneError, match="state 'confirmed'"):
        book.unanswered(inc.id, "reject")


def test_ready_when_every_registering_extension_started() -> None:
    book = _book()
    assert not book.all_started()
    book.exts["1000"].reg_started = True
    assert book.all_started()  # 1001 is OFFLINE: it sends no REGISTER


def test_snapshot_lists_live_legs() -> None:
    book = _book()
    leg = book.add_leg("1000", "outgoing")
    leg.call = object()
    book.transition(leg, "calling", 0)
    snap = book.snapshot()
    assert snap["exts"]["1001"] == {"policy": "offline", "ring_time": 0.0, "registered": False}
    assert [item["leg"] for item in snap["legs"]] == ["1000-1"]
    book.clear()
    assert book.snapshot()["legs"] == []
