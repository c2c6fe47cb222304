"""The lab proxy's event writer: the event loop never waits for the pipe; lines keep their
order; a full queue drops SIP trace events only, and says how many; close() writes the rest."""

from __future__ import annotations

import io
import json
import threading
import time

from labpbx.events import ComponentEvent, SipMessageEvent
from labpbx.lab.proxy_child import _Out

WAIT = 10.0


def sip(n: int) -> SipMessageEvent:
    return SipMessageEvent(float(n), "proxy", "in", "127.0.0.1:5070", "127.0.0.1:5060",
                           f"call-{n}", "INVITE sip:1001@127.0.0.1 SIP/2.0", "")


def status(n: int) -> ComponentEvent:
    return ComponentEvent(float(n), "proxy", status=f"s{n}")


class BlockedPipe(io.StringIO):
    """A stream whose write waits until released, like a pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def write(self, text: str) -> int:
        self.entered.set()
        assert self.release.wait(WAIT), "never released"
        return super().write(text)


def lines_of(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_are_written_in_order_and_close_writes_the_rest() -> None:
    stream = io.StringIO()
    out = _Out(stream)
    for n in range(500):
        out(sip(n) if n % 2 else status(n))
    out.close()
    times = [line["time"] for line in lines_of(stream)]
    assert times == [float(n) for n in range(500)]


def test_a_blocked_pipe_does_not_block_the_caller_and_drops_only_sip_trace() -> None:
    stream = BlockedPipe()
    out = _Out(stream, max_pending=100)
    out(status(0))
    assert stream.entered.wait(WAIT)  # the writer is stuck in write() from now on
    started = time.monotonic()
    for n in range(1, 1001):
        out(sip(n))
    out(status(1001))  # a status event is kept even with the queue full
    took = time.monotonic() - started
    stream.release.set()
    out.close()
    lines = lines_of(stream)
    kinds = [line["type"] for line in lines]
    assert kinds.count("sip") == 100
    assert [line["status"] for line in lines if line["type"] == "component"] == ["s0", "s1001"]
    [problem] = [line for line in lines if line["type"] == "problem"]
    assert "900 SIP trace events were not reported" in str(problem["message"])
    assert took < WAIT  # it returned while the pipe was blocked (else release never came)


def test_a_closed_pipe_ends_the_writer_quietly() -> None:
    stream = io.StringIO()
    stream.close()
    out = _Out(stream)
    out(status(1))
    out.close(timeout=WAIT)
    out(status(2))  # queued into nothing, no exception
