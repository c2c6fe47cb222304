"""The views' models without a lab: the routing log is bounded with an "older events dropped"
row and filters by call, level and text; the calls model updates in place (qtmodeltester)."""

from __future__ import annotations

from typing import Any

from labpbx.events import CallStateEvent, RouteDecisionEvent, XlogEvent
from labpbx.lab.state import initial_state, reduce
from ui.calls_view import CallsModel
from ui.log_view import DECISIONS, WARNINGS, LogFilter, LogModel


def decision(seq: int, call: str) -> tuple[int, RouteDecisionEvent]:
    return seq, RouteDecisionEvent(float(seq), "proxy", call, "failure_route[missed_call]", 182,
                                   "prefix", "sip:1001@127.0.0.1", "sip:b1001@127.0.0.1")


def xlog(seq: int, call: str, text: str, level: int = -1) -> tuple[int, XlogEvent]:
    return seq, XlogEvent(float(seq), "proxy", level, "L_ERR" if level < 0 else "L_INFO", text,
                          call, "failure_route[missed_call]", 183)


def test_the_log_is_bounded_and_says_so(qtmodeltester: Any) -> None:
    model = LogModel(limit=5)
    model.add_events([decision(i, "a") for i in range(1, 4)])
    assert model.rowCount() == 3 and model.dropped == 0
    model.add_events([xlog(i, "b", f"line {i}") for i in range(4, 9)])
    assert model.dropped == 3
    assert model.rowCount() == 6  # the marker and the 5 newest
    assert "3 older events dropped" in model.data(model.index(0, 4))
    assert model.data(model.index(5, 4)) == "line 8"
    model.add_events([xlog(9, "b", "line 9")])
    assert "4 older events dropped" in model.data(model.index(0, 4))
    qtmodeltester.check(model)


def test_the_log_filters_by_call_level_and_text() -> None:
    model = LogModel()
    model.add_events([decision(1, "a"), xlog(2, "a", "> 486 ruri=<sip:b1001@…>"),
                      xlog(3, "b", "forwarded to: sip:2345678@…", level=3), decision(4, "b")])
    proxy = LogFilter()
    proxy.setSourceModel(model)
    assert proxy.rowCount() == 4
    proxy.set_filter("a", "all", "")
    assert proxy.rowCount() == 2
    proxy.set_filter("", DECISIONS, "")
    assert proxy.rowCount() == 2
    proxy.set_filter("", WARNINGS, "")
    assert [proxy.index(i, 4).data() for i in range(proxy.rowCount())] == [
        "> 486 ruri=<sip:b1001@…>"]
    proxy.set_filter("", "all", "FORWARDED")
    assert proxy.rowCount() == 1


def test_the_calls_model_appends_and_updates_in_place(qtmodeltester: Any) -> None:
    state = initial_state(["1000", "1001"])
    model = CallsModel()
    events = [CallStateEvent(10.0, "phone-1000-1001", "1000", "1000-1", "c1", "outgoing",
                             "calling", "sip:1001@127.0.0.1"),
              CallStateEvent(11.0, "phone-1000-1001", "1000", "1000-1", "c1", "outgoing",
                             "confirmed", "sip:1001@127.0.0.1")]
    inserted: list[int] = []
    model.rowsInserted.connect(lambda _p, first, _last: inserted.append(first))
    for seq, event in enumerate(events, 1):
        state = reduce(state, seq, event)
        model.set_calls(state.calls)
    assert inserted == [0]  # one insert, then an update of the same row
    assert model.rowCount() == 1
    assert [model.data(model.index(0, c)) for c in (0, 1, 2, 5)] == ["1", "1000", "1001",
                                                                   "in call"]
    qtmodeltester.check(model)


def test_a_burst_of_events_reaches_the_views_in_one_batch(qtbot: Any, tmp_path: Any) -> None:
    """What a load generator's traffic costs the GUI thread: one fold, one signal, one insert
    per tick, however many events arrived (no lab needed: events are handed to the bridge as
    the lab's dispatcher thread would)."""
    import time

    from labpbx.lab import LabConfig
    from ui.bridge import LabBridge
    from ui.main_window import MainWindow

    bridge = LabBridge(LabConfig(data_dir=tmp_path / "lab"))
    win = MainWindow(bridge)
    qtbot.addWidget(win)
    batches: list[int] = []
    bridge.events_added.connect(lambda batch: batches.append(len(batch)))
    for seq in range(1, 10_001):
        bridge._enqueue(*xlog(seq, f"call-{seq // 50}", f"line {seq}", level=3))
    began = time.monotonic()
    bridge.drain()
    spent = time.monotonic() - began
    assert batches == [10_000]
    log = win.log.model
    assert log.dropped == 10_000 - log.limit
    assert "older events dropped" in log.data(log.index(0, 4))
    assert spent < 2.0, f"one tick of 10 000 events took {spent:.2f} s"
    print(f"10 000 events in one tick: {spent:.3f} s")
