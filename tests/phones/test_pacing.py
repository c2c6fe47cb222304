"""The pump loop's deadline list and the call pacer (pure, time passed in)."""

from __future__ import annotations

from labpbx.phones.pacing import Deadlines, Pacer


class TestDeadlines:
    def test_due_in_deadline_order_then_insertion_order(self) -> None:
        timers = Deadlines()
        fired: list[str] = []
        timers.add(12.0, lambda: fired.append("b"))
        timers.add(11.0, lambda: fired.append("a"))
        timers.add(12.0, lambda: fired.append("c"))
        timers.add(20.0, lambda: fired.append("late"))
        for action in timers.due(12.0):
            action()
        assert fired == ["a", "b", "c"]
        assert len(timers) == 1 and timers.next_at() == 20.0

    def test_wait_is_cut_short_by_the_next_deadline(self) -> None:
        timers = Deadlines()
        assert timers.wait_ms(100.0, 10) == 10
        timers.add(100.004, lambda: None)
        assert timers.wait_ms(100.0, 10) == 5  # rounded up: never wake before it is due
        assert timers.wait_ms(100.5, 10) == 0  # overdue: do not block at all
        timers.clear()
        assert timers.next_at() is None and timers.due(1e9) == []


class TestPacer:
    def test_limits_new_legs_per_window(self) -> None:
        pacer = Pacer(limit=3, window=0.5)
        for t in (0.0, 0.1, 0.2):
            assert pacer.allows(t)
            pacer.record(t)
        assert not pacer.allows(0.3)
        assert not pacer.allows(0.49)
        assert pacer.allows(0.5)  # the first start has left the window
