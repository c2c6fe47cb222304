"""UDP adapter (aioquic style): datagrams in → sans-I/O engine → datagrams out, one timer re-armed.

The engine is anything with receive_datagram/handle_timer/get_timer/datagrams_to_send. The adapter
owns the socket and the single ``loop.call_at`` timer; it never interprets SIP.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Protocol, cast

from labpbx.errors import ConfigError

Addr = tuple[str, int]


class DatagramEngine(Protocol):
    def receive_datagram(self, data: bytes, addr: Addr, now: float) -> None: ...
    def handle_timer(self, now: float) -> None: ...
    def get_timer(self) -> float | None: ...
    def datagrams_to_send(self) -> list[tuple[bytes, Addr]]: ...


class UdpEndpoint(asyncio.DatagramProtocol):
    def __init__(self, engine: DatagramEngine, loop: asyncio.AbstractEventLoop,
                 on_error: Callable[[str, Exception], None] | None = None) -> None:
        self.engine = engine
        self.on_error = on_error
        self.loop = loop
        self.transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.send_errors = 0
        self.internal_errors = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector datagram transport does not subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            self.engine.receive_datagram(data, (str(addr[0]), int(str(addr[1]))), self.loop.time())
        except Exception as exc:  # a bug must cost one message, never the whole proxy
            self._report("receive", exc)
        self.flush()

    def _report(self, where: str, exc: Exception) -> None:
        self.internal_errors += 1
        if self.on_error is not None:
            self.on_error(where, exc)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors on an unconnected UDP socket (e.g. port unreachable): nothing to retry here;
        # the transaction timers decide what happens to the request.
        self.send_errors += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()

    def flush(self) -> None:
        transport = self.transport
        if transport is None:
            return
        for data, addr in self.engine.datagrams_to_send():
            try:
                transport.sendto(data, addr)
            except OSError:
                self.send_errors += 1
        self._rearm()

    def _rearm(self) -> None:
        at = self.engine.get_timer()
        if at == self._timer_at:
            return
        self._cancel_timer()
        if at is not None:
            self._timer_at = at
            self._timer = self.loop.call_at(at, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        try:
            self.engine.handle_timer(self.loop.time())
        except Exception as exc:
            self._report("timer", exc)
        self.flush()


async def open_udp(engine: DatagramEngine, listen: Addr,
                   on_error: Callable[[str, Exception], None] | None = None,
                   ) -> tuple[asyncio.DatagramTransport, UdpEndpoint]:
    """Bind ``listen`` (a clear ConfigError if the port is taken) and start serving ``engine``."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in listen[0] else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(listen)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on udp:{listen[0]}:{listen[1]}: {exc.strerror or exc}"
                          " (is another proxy already running there?)") from exc
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: UdpEndpoint(engine, loop, on_error), sock=sock)
    return transport, protocol
