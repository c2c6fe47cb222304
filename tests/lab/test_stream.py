"""The event stream as a view uses it: numbered events, snapshot + subscribe(after=…) with no
miss and no duplicate while another thread publishes, and the gap marker of a trimmed history."""

from __future__ import annotations

import threading
import time

from labpbx.events import Event, GapEvent, RegistrationEvent, XlogEvent
from labpbx.lab.state import initial_state
from labpbx.lab.stream import EventStream

WAIT = 30.0  # generous: a busy machine; nothing here sleeps for correctness


def xlog(n: int) -> XlogEvent:
    return XlogEvent(time.time(), "proxy", 1, "L_ERR", str(n), "", "route", 1)


def numbers(events: list[Event]) -> list[int]:
    return [int(e.text) for e in events if isinstance(e, XlogEvent)]


def test_snapshot_pairs_the_folded_state_with_its_position() -> None:
    stream = EventStream("lab", initial=initial_state(["1001"]))
    assert stream.snapshot().position == 0
    stream.publish(RegistrationEvent(1.0, "phone-1001", "1001", True, 200, "OK", 300))
    stream.publish(xlog(1))
    state, position = stream.snapshot()
    assert position == 2 and state.position == 1  # the xlog line changed nothing
    assert state.extensions["1001"].registered
    assert [seq for seq, _e in stream.entries()] == [1, 2]


def test_a_late_subscriber_gets_the_replay_then_live_events_in_order() -> None:
    stream = EventStream("lab")
    for n in range(1, 6):
        stream.publish(xlog(n))
    seen: list[tuple[int, Event]] = []
    stream.subscribe_numbered(lambda seq, e: seen.append((seq, e)), after=2)
    stream.publish(xlog(6))
    assert [seq for seq, _e in seen] == [3, 4, 5, 6]
    assert numbers([e for _s, e in seen]) == [3, 4, 5, 6]
    from_now: list[Event] = []
    stream.subscribe(from_now.append)  # no ``after``: from now on, as before
    stream.publish(xlog(7))
    assert numbers(from_now) == [7]


def test_subscribing_while_another_thread_publishes_misses_and_doubles_nothing() -> None:
    stream = EventStream("lab", limit=1_000_000)
    started, views_open = threading.Event(), threading.Event()
    published: list[int] = []

    def publisher() -> None:
        # Publishes until every view is open, then some more: each view opens mid-flood.
        n = 0
        while not views_open.is_set() and n < 500_000:
            n += 1
            stream.publish(xlog(n))
            if n == 200:
                started.set()
        for more in range(n + 1, n + 501):
            stream.publish(xlog(more))
        published.append(n + 500)

    thread = threading.Thread(target=publisher)
    thread.start()
    views: list[tuple[int, list[tuple[int, Event]]]] = []
    try:
        assert started.wait(WAIT)
        for _ in range(5):  # several views open at different moments of the flood
            _state, position = stream.snapshot()
            seen: list[tuple[int, Event]] = []
            stream.subscribe_numbered(lambda seq, e, seen=seen: seen.append((seq, e)),
                                      after=position)
            views.append((position, seen))
    finally:
        views_open.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    # Every delivery is over: replays ran inside subscribe, live events inside publish.
    last = published[0]
    assert last == stream.mark()
    for position, seen in views:
        assert position < last
        assert [seq for seq, _e in seen] == list(range(position + 1, last + 1))
        assert numbers([e for _s, e in seen]) == list(range(position + 1, last + 1))


def test_a_subscriber_behind_a_trimmed_history_first_sees_a_gap() -> None:
    stream = EventStream("lab", limit=3)
    for n in range(1, 8):
        stream.publish(xlog(n))
    seen: list[tuple[int, Event]] = []
    stream.subscribe_numbered(lambda seq, e: seen.append((seq, e)), after=1)
    gap_seq, gap = seen[0]
    assert isinstance(gap, GapEvent)
    assert (gap.dropped, gap.first_missing, gap.last_missing, gap_seq) == (3, 2, 4, 4)
    assert [seq for seq, _e in seen[1:]] == [5, 6, 7]
    assert GapEvent.type not in {e.type for e in stream.events()}  # not in the history


def test_an_unsubscribed_view_gets_nothing_more() -> None:
    stream = EventStream("lab")
    seen: list[Event] = []
    unsubscribe = stream.subscribe(seen.append, after=0)
    stream.publish(xlog(1))
    unsubscribe()
    stream.publish(xlog(2))
    assert numbers(seen) == [1]
