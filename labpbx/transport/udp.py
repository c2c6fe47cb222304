"""UDP adapter (aioquic style): datagrams in → sans-I/O engine → datagrams out, one timer re-armed.

The engine is anything with queue_datagram/process_queued/handle_timer/get_timer/
datagrams_to_send. The adapter owns the socket and the single ``loop.call_at`` timer; it never
interprets SIP.

Receiving is split in two so that the engine can put urgent traffic first and keep its backlog
bounded (labpbx.proxy.overload): whenever the socket is readable the adapter drains it — up to
``READ_BURST`` datagrams per wake-up, each stamped with the time it was read — into the engine's
queue (``queue_datagram``, cheap), then lets the engine work through its queue in slices of at most
``SLICE_SECONDS`` (``process_queued``), yielding to the event loop between slices so that reads and
timers keep running while a backlog is worked off. The socket is read with ``add_reader`` and
``recvfrom`` instead of an asyncio datagram transport, because a transport hands datagrams over
one by one and leaves the rest in the kernel, where nothing can be prioritised or measured.

Time is ``time.monotonic()`` read when it is needed, for the engine (``now``) as for the read
stamps and the slices: uvloop's ``loop.time()`` is the time at the start of the loop iteration
(libuv caches it, in milliseconds), which would make a long slice look instantaneous and hide
exactly the queueing delay overload control measures. The engine's deadlines are therefore
armed with ``call_later(deadline - now)``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Protocol

from labpbx.errors import ConfigError

Addr = tuple[str, int]

READ_BURST = 2048  # datagrams read per wake-up at most (then the loop runs timers and work)
SLICE_SECONDS = 0.005  # engine work between two looks at the socket and the timers
SLICE_ITEMS = 8  # datagrams handled between two clock reads
RCVBUF = 4 * 1024 * 1024
_clock = time.monotonic


class DatagramEngine(Protocol):
    def queue_datagram(self, data: bytes, addr: Addr, now: float) -> None: ...
    def process_queued(self, now: float, limit: int) -> int: ...
    def handle_timer(self, now: float) -> None: ...
    def get_timer(self) -> float | None: ...
    def datagrams_to_send(self) -> list[tuple[bytes, Addr]]: ...


class UdpEndpoint:
    def __init__(self, engine: DatagramEngine, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 on_error: Callable[[str, Exception], None] | None = None) -> None:
        self.engine = engine
        self.on_error = on_error
        self.loop = loop
        self.sock: socket.socket | None = sock
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._work: asyncio.Handle | None = None
        self.send_errors = 0
        self.receive_errors = 0
        self.internal_errors = 0
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._on_readable)

    def close(self) -> None:
        sock = self.sock
        if sock is None:
            return
        self.sock = None
        self.loop.remove_reader(sock.fileno())
        sock.close()
        self._cancel_timer()
        if self._work is not None:
            self._work.cancel()
            self._work = None

    # -- receive ----------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        sock = self.sock
        if sock is None:
            return
        now = _clock()
        engine = self.engine
        for _ in range(READ_BURST):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # an ICMP error reported on the socket (e.g. port unreachable): nothing to retry
                # here; the transaction timers decide what happens to the request
                self.receive_errors += 1
                continue
            try:
                engine.queue_datagram(data, (str(addr[0]), int(addr[1])), now)
            except Exception as exc:  # a bug must cost one message, never the whole proxy
                self._report("receive", exc)
        if self._work is None:
            self._work = self.loop.call_soon(self._process)

    def _process(self) -> None:
        self._work = None
        start = now = _clock()
        waiting = 1
        while waiting:
            try:
                waiting = self.engine.process_queued(now, SLICE_ITEMS)
            except Exception as exc:
                self._report("receive", exc)
            now = _clock()
            if now - start >= SLICE_SECONDS:
                break
        self.flush()
        if waiting and self.sock is not None:
            self._work = self.loop.call_soon(self._process)

    def _report(self, where: str, exc: Exception) -> None:
        self.internal_errors += 1
        if self.on_error is not None:
            self.on_error(where, exc)

    # -- send and timer -------------------------------------------------------------------------
    def flush(self) -> None:
        sock = self.sock
        if sock is None:
            return
        for data, addr in self.engine.datagrams_to_send():
            try:
                sock.sendto(data, addr)
            except OSError:  # full send buffer or an ICMP error: like a loss, SIP retransmits
                self.send_errors += 1
        self._rearm()

    def _rearm(self) -> None:
        at = self.engine.get_timer()
        if at == self._timer_at:
            return
        self._cancel_timer()
        if at is not None:
            self._timer_at = at
            self._timer = self.loop.call_later(max(0.0, at - _clock()), self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        try:
            self.engine.handle_timer(_clock())
        except Exception as exc:
            self._report("timer", exc)
        self.flush()


async def open_udp(engine: DatagramEngine, listen: Addr,
                   on_error: Callable[[str, Exception], None] | None = None) -> UdpEndpoint:
    """Bind ``listen`` (a clear ConfigError if the port is taken) and start serving ``engine``."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in listen[0] else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(listen)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on udp:{listen[0]}:{listen[1]}: {exc.strerror or exc}"
                          " (is another proxy already running there?)") from exc
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    return UdpEndpoint(engine, loop, sock, on_error)
