"""The collector policy of the proxy process (labpbx.proxy.collector) and the buffered console."""

from __future__ import annotations

import asyncio
import gc
import io

from labpbx.events import XlogEvent
from labpbx.proxy.collector import CollectorPolicy, IdleCollector
from labpbx.proxy.service import ConsolePrinter


class TestIdleCollector:
    def test_collects_once_after_a_busy_period_goes_quiet(self) -> None:
        c = IdleCollector(idle_seconds=1.0, max_interval=600.0)
        assert not c.due(0.0, 0)  # nothing received yet
        assert not c.due(1.0, 50)  # traffic
        assert not c.due(2.0, 120)
        assert c.due(3.0, 120)  # a whole second without a datagram
        c.collected(3.0)
        assert not c.due(4.0, 120)  # still quiet: nothing new to collect
        assert not c.due(5.0, 121)
        assert c.due(6.0, 121)

    def test_uninterrupted_traffic_collects_at_the_maximum_interval(self) -> None:
        c = IdleCollector(idle_seconds=1.0, max_interval=10.0)
        received = 0
        due_at = []
        for second in range(31):
            received += 100
            if c.due(float(second), received):
                due_at.append(second)
                c.collected(float(second))
        assert due_at == [10, 20, 30]


class TestCollectorPolicy:
    def test_apply_switches_off_automatic_full_collections_and_restore_undoes_it(self) -> None:
        before = gc.get_threshold()
        policy = CollectorPolicy()
        policy.apply()
        try:
            young, middle, oldest = gc.get_threshold()
            assert (young, middle) == before[:2]
            assert oldest > 10**6
            assert gc.get_freeze_count() > 0
        finally:
            policy.restore()
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0


def _xlog(text: str) -> XlogEvent:
    return XlogEvent(time=0.0, component="proxy", level=1, level_name="L_ERR", text=text,
                     call_id="c", route="route", line=1)


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


class TestBufferedConsole:
    def test_lines_of_one_loop_iteration_go_out_in_one_write(self) -> None:
        out = _CountingStream()
        printer = ConsolePrinter(out, None, pid=7, buffered=True)

        async def main() -> None:
            for n in range(3):
                printer(_xlog(f"line {n}"))
            assert out.getvalue() == ""  # not yet: at the end of this iteration
            # callbacks run in FIFO order: this one runs after the printer's flush
            after_flush = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(after_flush.set_result, None)
            await after_flush
            assert out.writes == 1

        asyncio.run(main())
        assert out.getvalue().splitlines()[-1].endswith("[7] line 2")
        assert len(out.getvalue().splitlines()) == 3

    def test_flush_writes_what_is_pending(self) -> None:
        out = io.StringIO()
        printer = ConsolePrinter(out, None, pid=7, buffered=True)

        async def main() -> None:
            printer(_xlog("last words\n"))
            printer.flush()
            assert out.getvalue().endswith("[7] last words\n")

        asyncio.run(main())

    def test_outside_a_loop_or_unbuffered_every_line_goes_out_at_once(self) -> None:
        for buffered in (True, False):
            out = io.StringIO()
            ConsolePrinter(out, None, pid=7, buffered=buffered)(_xlog("x"))
            assert out.getvalue().endswith("[7] x\n")
