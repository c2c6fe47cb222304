"""The transaction layer: owns the transactions, matches messages to them, keeps the timers.

See ``labpbx.sip.transaction`` for the rules (RFC 3261 §17, RFC 6026). This module adds only the
bookkeeping:

- Two dicts of live transactions keyed as in §17.1.3 (client) and §17.2.3 (server).
- One heap of deadlines ``(deadline, seq, transaction, is_lifetime, generation)``. Invalidation is
  lazy: a transaction bumps the generation of a timer slot when it cancels or re-arms it, and a
  terminated transaction's entries are skipped, so nothing is ever searched for or removed from
  the middle of the heap. ``get_timer`` drops dead entries from the top, so it is O(1) amortized;
  when dead entries pile up (more than 8 per live transaction) the heap is rebuilt.
- Output queues: datagrams ``(bytes, addr)`` in send order, events FIFO.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque

from labpbx.errors import LocalProtocolError, SipParseError
from labpbx.sip.events import Event, RequestReceived, ResponseReceived, Terminated, TimedOut
from labpbx.sip.message import Addr, Request, Response
from labpbx.sip.transaction import (
    TERMINATED,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    TimerConfig,
    Transaction,
    TxState,
)

__all__ = ["TransactionLayer"]

_HeapEntry = tuple[float, int, Transaction, bool, int]

_COMPACT_MIN = 1024     # never rebuild a heap smaller than this


def _server_key(request: Request) -> tuple[str, str, str]:
    """§17.2.3: (branch, sent-by, method), ACK folded onto INVITE."""
    via = request.top_via
    host, port = via.sent_by
    branch = via.branch
    if not branch:      # no branch at all: a stand-in so that unrelated requests do not collide
        branch = f"\x00{request.call_id}\x00{request.cseq[0]}"
    method = request.method
    if method == "ACK":
        method = "INVITE"
    return (branch, f"{host.lower()}:{port}", method)


class TransactionLayer:
    """RFC 3261 §17 transaction layer for UDP, sans-I/O."""

    __slots__ = ("_clients", "_datagrams", "_events", "_heap", "_seq", "_servers", "config")

    def __init__(self, config: TimerConfig = TimerConfig()) -> None:  # noqa: B008 (frozen)
        self.config = config
        self._clients: dict[tuple[str, ...], ClientTransaction] = {}
        self._servers: dict[tuple[str, ...], ServerTransaction] = {}
        self._heap: list[_HeapEntry] = []
        self._seq = itertools.count()
        self._datagrams: list[tuple[bytes, Addr]] = []
        self._events: deque[Event] = deque()

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)

    def __repr__(self) -> str:
        return (f"<TransactionLayer clients={len(self._clients)} servers={len(self._servers)} "
                f"timers={len(self._heap)}>")

    # -- input --------------------------------------------------------------------------------

    def receive(self, message: Request | Response, addr: Addr, now: float) -> None:
        """Feed one parsed message received from `addr`; queues events and datagrams.

        Raises SipParseError when the top Via or the CSeq needed for matching is unreadable.
        """
        if isinstance(message, Response):
            branch = message.top_via.branch
            ctx = self._clients.get((branch, message.cseq[1])) if branch else None
            if ctx is None:
                self._events.append(ResponseReceived(message, addr, None))    # stray (§18.1.2)
            else:
                ctx._on_response(message, addr, now)
            return
        key = _server_key(message)
        stx = self._servers.get(key)
        if stx is not None:
            stx._on_request(message, addr, now)        # retransmission or ACK
            return
        method = message.method
        if method == "ACK":                           # the ACK for a 2xx: not a transaction
            self._events.append(RequestReceived(message, addr, None))
            return
        if method == "INVITE":
            stx = ServerInviteTransaction(self, message, addr, key, TxState.PROCEEDING)
        else:
            stx = ServerNonInviteTransaction(self, message, addr, key, TxState.TRYING)
        self._servers[key] = stx
        self._events.append(RequestReceived(message, addr, stx))

    def send_request(self, request: Request, addr: Addr, now: float) -> ClientTransaction:
        """Start a client transaction (INVITE → ICT, others but ACK → NICT) and transmit."""
        method = request.method
        if method == "ACK":
            raise LocalProtocolError("ACK is not sent through a client transaction")
        try:
            branch = request.top_via.branch
        except SipParseError as exc:
            raise LocalProtocolError(f"request has no usable top Via: {exc}") from exc
        if not branch:
            raise LocalProtocolError("the top Via of a request to send has no branch")
        key = (branch, method)
        if key in self._clients:
            raise LocalProtocolError(f"a client transaction {key!r} already exists")
        tx: ClientInviteTransaction | ClientNonInviteTransaction
        if method == "INVITE":
            tx = ClientInviteTransaction(self, request, addr, key, TxState.CALLING)
        else:
            tx = ClientNonInviteTransaction(self, request, addr, key, TxState.TRYING)
        self._clients[key] = tx
        tx._start(now)
        return tx

    def send_response(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Send a response through a server transaction (LocalProtocolError when not allowed)."""
        if transaction.state is TERMINATED:
            raise LocalProtocolError(f"{transaction!r} is terminated")
        transaction._send_response(response, now)

    def send_stateless(self, message: Request | Response, addr: Addr) -> None:
        """Transmit without a transaction (ACK for 2xx, stateless forwards, replies to junk)."""
        self._datagrams.append((message.to_bytes(), addr))

    def send_stateless_bytes(self, data: bytes, addr: Addr) -> None:
        """Transmit bytes built elsewhere (labpbx.sip.quick) without a transaction."""
        self._datagrams.append((data, addr))

    def has_server(self, branch: str, sent_by: tuple[str, int], method: str) -> bool:
        """Whether a server transaction with this §17.2.3 key exists (ACK folds onto INVITE)."""
        host, port = sent_by
        return (branch, f"{host.lower()}:{port}", "INVITE" if method == "ACK" else method) \
            in self._servers

    def find_server(self, request: Request, addr: Addr | None = None) -> ServerTransaction | None:
        """The server transaction `request` would match (§17.2.3), without feeding it.

        `addr` is accepted for symmetry with ``receive``; §17.2.3 matches on the Via sent-by.
        """
        return self._servers.get(_server_key(request))

    def find_invite_for_cancel(self, cancel: Request) -> ServerInviteTransaction | None:
        """§9.2: the INVITE server transaction a CANCEL refers to (same branch and sent-by)."""
        branch, sent_by, _ = _server_key(cancel)
        tx = self._servers.get((branch, sent_by, "INVITE"))
        return tx if isinstance(tx, ServerInviteTransaction) else None

    def terminate(self, transaction: Transaction) -> None:
        """Forget a transaction now: no more retransmissions, timers or events."""
        self._forget(transaction)

    # -- timers -------------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Fire every deadline ≤ now, in deadline order."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, tx, lifetime, gen = heapq.heappop(heap)
            if tx.state is TERMINATED:
                continue
            if lifetime:
                if gen == tx._lgen:
                    tx._on_lifetime_timer(now)
            elif gen == tx._rgen:
                tx._on_retransmit_timer(deadline, now)

    def get_timer(self) -> float | None:
        """The earliest pending deadline, or None when no timer is pending."""
        heap = self._heap
        while heap:
            entry = heap[0]
            if self._live(entry):
                return entry[0]
            heapq.heappop(heap)
        return None

    # -- output -------------------------------------------------------------------------------

    def datagrams_to_send(self) -> list[tuple[bytes, Addr]]:
        """Drain the queued datagrams, in send order."""
        out = self._datagrams
        self._datagrams = []
        return out

    def next_event(self) -> Event | None:
        """Pop the next event (FIFO), None when there is none."""
        return self._events.popleft() if self._events else None

    # -- used by the transactions ---------------------------------------------------------------

    def _schedule(self, tx: Transaction, lifetime: bool, deadline: float) -> None:
        """Arm one of tx's two timer slots; any earlier entry for that slot becomes dead."""
        if lifetime:
            tx._lgen += 1
            gen = tx._lgen
        else:
            tx._rgen += 1
            gen = tx._rgen
        heap = self._heap
        heapq.heappush(heap, (deadline, next(self._seq), tx, lifetime, gen))
        size = len(heap)
        if size > _COMPACT_MIN and size > 8 * (len(self._clients) + len(self._servers)):
            heap[:] = [e for e in heap if self._live(e)]    # in place: handle_timer holds `heap`
            heapq.heapify(heap)

    @staticmethod
    def _live(entry: _HeapEntry) -> bool:
        tx = entry[2]
        if tx.state is TERMINATED:
            return False
        return entry[4] == (tx._lgen if entry[3] else tx._rgen)

    def _finish(self, tx: Transaction, timed_out: bool) -> None:
        self._forget(tx)
        if timed_out:
            self._events.append(TimedOut(tx))
        self._events.append(Terminated(tx))

    def _forget(self, tx: Transaction) -> None:
        tx.state = TERMINATED
        table: dict[tuple[str, ...], ClientTransaction] | dict[tuple[str, ...], ServerTransaction]
        table = self._clients if isinstance(tx, ClientTransaction) else self._servers
        if table.get(tx.key) is tx:
            del table[tx.key]
