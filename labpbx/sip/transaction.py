"""RFC 3261 §17 transactions (with RFC 6026's Accepted state) as sans-I/O state machines.

This module holds the timer values, the states and the four transaction state machines;
``TransactionLayer`` (in ``labpbx.sip.layer``, re-exported here) owns them, matches messages to
them and keeps one heap of deadlines. The layer is driven from outside: ``receive()`` for each
parsed message, ``send_request()`` / ``send_response()`` for the TU, ``handle_timer(now)`` when
``get_timer()`` says so; it answers through ``datagrams_to_send()`` and ``next_event()``.

Rules of this module
- Pure: no sockets, no asyncio, no threads, no clock reads. Time comes in as ``now: float``
  (seconds, monotonic) on every entry point.
- UDP only (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2 "unreliable transport" values): every
  retransmission timer is active and D = 32 s, I = T4, J = 64·T1, K = T4. Defaults T1 = 500 ms,
  T2 = 4 s, T4 = 5 s (§17.1.1.1, Table 4 of §A).
- Timers (Table 4): A ICT retransmit, T1 doubling without cap; B ICT timeout 64·T1 (Calling only;
  once a provisional arrived the ICT waits for the TU, whose Timer C is §16.6 business);
  D 32 s in Completed; E NICT retransmit, T1 doubling capped at T2, T2 once in Proceeding;
  F NICT timeout 64·T1; G IST retransmit of a non-2xx final, T1 doubling capped at T2; H IST wait
  for ACK 64·T1; I = T4 in Confirmed; J = 64·T1 NIST Completed; K = T4 NICT Completed;
  L and M = 64·T1 in Accepted (RFC 6026 §8.6, §8.7). A retransmission is scheduled from the
  previous deadline, so the schedule is exact (A: +0.5, +1.5, +3.5, +7.5 … after the send) as
  long as ``handle_timer`` is called on time; when it is called later than a whole interval the
  next deadline is counted from ``now`` instead (no burst of catch-up retransmissions).
- Every transaction has at most two pending timers, a retransmission timer (A/E/G) and a
  lifetime timer (B/D/F/H/I/J/K/L/M). A lifetime timer always ends the transaction; it raises a
  ``TimedOut`` event first when it is B, F or H (the transaction is still waiting for an answer).
- Matching (§17.1.3 client, §17.2.3 server): the client key is (top Via branch, CSeq method); the
  server key is (top Via branch, sent-by "host:port" with the host lower-cased and 5060 for a
  missing port, method) where ACK matches the INVITE transaction and CANCEL has its own key
  (method CANCEL). Branches without the "z9hG4bK" magic cookie are matched the same way: there is
  no RFC 2543 fallback (§17.2.3's older procedure). Only a Via with no branch at all gets a
  stand-in branch made of Call-ID and CSeq number, so that such requests do not collide.
- RFC 6026: the ICT goes to Accepted on a 2xx (Timer M) and hands every 2xx, first and
  retransmitted, to the TU (§8.4); the IST goes to Accepted when the TU sends a 2xx (Timer L),
  absorbs INVITE retransmissions there, sends the further 2xx the TU gives it and passes an ACK
  that matches it to the TU like any ACK for a 2xx (``RequestReceived(transaction=None)``).
- The ICT builds the ACK for a 3xx-6xx itself (§17.1.1.3, ``message.build_ack_for_non2xx``),
  sends it to the transaction's address and re-sends the same bytes for every retransmitted final
  while Completed (Timer D). These finals are not passed to the TU again.
- The IST retransmits its non-2xx final on Timer G until the ACK arrives (→ Confirmed, Timer I) or
  Timer H fires (``TimedOut``). That ACK is absorbed, never delivered to the TU (§17.2.1).
- A retransmitted request that matches a server transaction is absorbed and the TU is not told
  (§17.2.1, §17.2.2): in Proceeding the last provisional and in Completed the final response is
  sent again (none if nothing was sent yet); in Confirmed and Accepted nothing is sent.
- The layer does not generate 100 Trying on its own (§17.2.1 allows the TU to send the
  provisional within 200 ms; a proxy does so by §16.2).
- A response that matches no client transaction is delivered as ``ResponseReceived(transaction
  =None)`` (a proxy forwards it statelessly, §16.7 / §18.1.2). An ACK that matches no server
  transaction (the ACK for a 2xx, §13.2.2.4) is delivered as ``RequestReceived(transaction=None)``.
- 100-199 responses are passed to the TU, 100 included (a proxy does not forward 100, §16.7).
- Responses sent by a server transaction go to the address the request came from; a client
  transaction sends to the address given to ``send_request``. Each message is serialized once:
  retransmissions reuse the same bytes, so the TU must not expect later edits of a message it
  handed to the layer to be seen.
- Misuse (ACK through ``send_request``, a duplicate branch, a response after a final other than a
  further 2xx in Accepted, a status outside 100-699) raises ``LocalProtocolError``; ``receive``
  raises ``SipParseError`` when the top Via or CSeq needed for matching cannot be read.

Events (``labpbx.sip.events``): RequestReceived, ResponseReceived, TimedOut (always followed by
Terminated for the same transaction), Terminated (a transaction ended on its own;
``TransactionLayer.terminate`` ends one silently).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from labpbx.errors import LocalProtocolError
from labpbx.sip.events import RequestReceived, ResponseReceived
from labpbx.sip.message import Addr, Request, Response, build_ack_for_non2xx

if TYPE_CHECKING:
    from labpbx.sip.layer import TransactionLayer

__all__ = [
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "ServerTransaction",
    "TimerConfig",
    "Transaction",
    "TransactionLayer",
    "TxState",
]


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1, T2, T4 (RFC 3261 §17.1.1.1, Table 4) and the timers derived from them for UDP."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    def __post_init__(self) -> None:
        if not (self.t1 > 0 and self.t2 >= self.t1 and self.t4 > 0):
            raise ValueError(f"invalid SIP timers: T1={self.t1} T2={self.t2} T4={self.t4}")

    @property
    def timer_b(self) -> float:
        return 64 * self.t1

    timer_f = timer_h = timer_j = timer_l = timer_m = timer_b

    @property
    def timer_d(self) -> float:
        return 32.0

    @property
    def timer_i(self) -> float:
        return self.t4

    timer_k = timer_i


class TxState(enum.Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


CALLING = TxState.CALLING
TRYING = TxState.TRYING
PROCEEDING = TxState.PROCEEDING
COMPLETED = TxState.COMPLETED
CONFIRMED = TxState.CONFIRMED
ACCEPTED = TxState.ACCEPTED
TERMINATED = TxState.TERMINATED

# Response classes used as the second half of the transition-table keys.
PROVISIONAL, SUCCESS, FINAL_FAILURE = 1, 2, 3


def response_class(status: int) -> int:
    """1 for 1xx, 2 for 2xx, 3 for 3xx-6xx."""
    return PROVISIONAL if status < 200 else SUCCESS if status < 300 else FINAL_FAILURE


_Handler = Callable[..., None]


class Transaction:
    """State common to the four machines. Only the layer creates transactions."""

    __slots__ = (
        "_cfg", "_interval", "_layer", "_lgen", "_out", "_rgen",
        "addr", "key", "last_response", "request", "state", "user_data",
    )

    _INVITE: ClassVar[bool] = False
    # States in which the lifetime timer means "no answer": B, F, H → TimedOut before Terminated.
    _TIMEOUT_STATES: ClassVar[frozenset[TxState]] = frozenset()

    request: Request
    addr: Addr
    state: TxState
    last_response: Response | None
    user_data: object
    key: tuple[str, ...]

    def __init__(
        self, layer: TransactionLayer, request: Request, addr: Addr, key: tuple[str, ...],
        state: TxState,
    ) -> None:
        self._layer = layer
        self._cfg = layer.config
        self.request = request
        self.addr = addr
        self.key = key
        self.state = state
        self.last_response = None
        self.user_data = None
        self._out: bytes | None = None   # re-sent by A/E/G and on a request retransmission
        self._interval = 0.0             # current retransmission interval (A, E, G)
        self._rgen = 0                   # generation of the retransmission timer
        self._lgen = 0                   # generation of the lifetime timer

    @property
    def is_invite(self) -> bool:
        return self._INVITE

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r} {self.state.value}>"

    # -- helpers for the machines -------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        self._layer._datagrams.append((data, self.addr))

    def _enter(
        self, state: TxState, now: float, lifetime: float | None = None,
        retransmit: float | None = None,
    ) -> None:
        """Go to `state`, cancel both timers and start the ones given (durations from `now`)."""
        self.state = state
        self._rgen += 1
        self._lgen += 1
        if retransmit is not None:
            self._interval = retransmit
            self._layer._schedule(self, False, now + retransmit)
        if lifetime is not None:
            self._layer._schedule(self, True, now + lifetime)

    def _next_interval(self) -> float:
        raise NotImplementedError

    def _on_retransmit_timer(self, deadline: float, now: float) -> None:
        """Timer A, E or G: send the stored bytes again and re-arm."""
        if self._out is not None:
            self._send(self._out)
        interval = self._interval = self._next_interval()
        nxt = deadline + interval
        if nxt <= now:
            nxt = now + interval
        self._layer._schedule(self, False, nxt)

    def _on_lifetime_timer(self, now: float) -> None:
        """Timer B, D, F, H, I, J, K, L or M: the transaction ends."""
        self._layer._finish(self, self.state in self._TIMEOUT_STATES)


class ClientTransaction(Transaction):
    """§17.1: created by ``send_request``; `last_response` is the last response passed to the TU."""

    __slots__ = ()
    _ON_RESPONSE: ClassVar[dict[tuple[TxState, int], _Handler]] = {}

    def _on_response(self, response: Response, addr: Addr, now: float) -> None:
        handler = self._ON_RESPONSE.get((self.state, response_class(response.status)))
        if handler is not None:        # anything not in the table is absorbed
            handler(self, response, addr, now)

    def _pass(self, response: Response, addr: Addr, now: float) -> None:
        self.last_response = response
        self._layer._events.append(ResponseReceived(response, addr, self))


class ClientInviteTransaction(ClientTransaction):
    """§17.1.1 (Figure 5) as amended by RFC 6026 §7.2 (Accepted state, Timer M)."""

    __slots__ = ("_ack",)
    _INVITE = True
    _TIMEOUT_STATES = frozenset({CALLING})

    def _start(self, now: float) -> None:
        self._ack: bytes | None = None
        self._out = self.request.to_bytes()
        self._send(self._out)
        self._enter(CALLING, now, lifetime=self._cfg.timer_b, retransmit=self._cfg.t1)

    def _next_interval(self) -> float:
        return 2 * self._interval                       # Timer A: no cap

    def _to_proceeding(self, response: Response, addr: Addr, now: float) -> None:
        self._enter(PROCEEDING, now)                    # stop A and B
        self._pass(response, addr, now)

    def _to_accepted(self, response: Response, addr: Addr, now: float) -> None:
        self._enter(ACCEPTED, now, lifetime=self._cfg.timer_m)
        self._pass(response, addr, now)

    def _to_completed(self, response: Response, addr: Addr, now: float) -> None:
        self._ack = build_ack_for_non2xx(self.request, response).to_bytes()
        self._send(self._ack)
        self._enter(COMPLETED, now, lifetime=self._cfg.timer_d)
        self._pass(response, addr, now)

    def _resend_ack(self, response: Response, addr: Addr, now: float) -> None:
        if self._ack is not None:
            self._send(self._ack)

    _ON_RESPONSE = {
        (CALLING, PROVISIONAL): _to_proceeding,
        (PROCEEDING, PROVISIONAL): ClientTransaction._pass,
        (CALLING, SUCCESS): _to_accepted,
        (PROCEEDING, SUCCESS): _to_accepted,
        (ACCEPTED, SUCCESS): ClientTransaction._pass,        # RFC 6026: every 2xx to the TU
        (CALLING, FINAL_FAILURE): _to_completed,
        (PROCEEDING, FINAL_FAILURE): _to_completed,
        (COMPLETED, FINAL_FAILURE): _resend_ack,             # retransmitted final: ACK again
    }


class ClientNonInviteTransaction(ClientTransaction):
    """§17.1.2 (Figure 6)."""

    __slots__ = ()
    _TIMEOUT_STATES = frozenset({TRYING, PROCEEDING})

    def _start(self, now: float) -> None:
        self._out = self.request.to_bytes()
        self._send(self._out)
        self._enter(TRYING, now, lifetime=self._cfg.timer_f, retransmit=self._cfg.t1)

    def _next_interval(self) -> float:
        t2 = self._cfg.t2
        if self.state is PROCEEDING:
            return t2
        return min(2 * self._interval, t2)

    def _to_proceeding(self, response: Response, addr: Addr, now: float) -> None:
        self.state = PROCEEDING                          # E and F keep running
        self._pass(response, addr, now)

    def _to_completed(self, response: Response, addr: Addr, now: float) -> None:
        self._enter(COMPLETED, now, lifetime=self._cfg.timer_k)
        self._pass(response, addr, now)

    _ON_RESPONSE = {
        (TRYING, PROVISIONAL): _to_proceeding,
        (PROCEEDING, PROVISIONAL): ClientTransaction._pass,
        (TRYING, SUCCESS): _to_completed,
        (TRYING, FINAL_FAILURE): _to_completed,
        (PROCEEDING, SUCCESS): _to_completed,
        (PROCEEDING, FINAL_FAILURE): _to_completed,
    }


class ServerTransaction(Transaction):
    """§17.2: created by ``receive``; `last_response` is the last response sent."""

    __slots__ = ()
    # (state, request is an ACK) → handler(self, request, addr, now); missing: absorb silently.
    _ON_REQUEST: ClassVar[dict[tuple[TxState, bool], _Handler]] = {}
    # (state, response class) → handler(self, now) run after the response was sent; missing: error.
    _ON_SEND: ClassVar[dict[tuple[TxState, int], _Handler]] = {}

    def _on_request(self, request: Request, addr: Addr, now: float) -> None:
        handler = self._ON_REQUEST.get((self.state, request.method == "ACK"))
        if handler is not None:
            handler(self, request, addr, now)

    def _send_response(self, response: Response, now: float) -> None:
        status = response.status
        if not 100 <= status <= 699:
            raise LocalProtocolError(f"invalid response status {status}")
        handler = self._ON_SEND.get((self.state, response_class(status)))
        if handler is None:
            raise LocalProtocolError(
                f"cannot send {status} in state {self.state.value} of {self!r}"
            )
        self._out = data = response.to_bytes()
        self.last_response = response
        self._send(data)
        handler(self, now)

    def _resend(self, request: Request, addr: Addr, now: float) -> None:
        if self._out is not None:
            self._send(self._out)

    def _stay(self, now: float) -> None:
        pass


class ServerInviteTransaction(ServerTransaction):
    """§17.2.1 (Figure 7) as amended by RFC 6026 §7.1 (Accepted state, Timer L)."""

    __slots__ = ()
    _INVITE = True
    _TIMEOUT_STATES = frozenset({COMPLETED})

    def _next_interval(self) -> float:
        return min(2 * self._interval, self._cfg.t2)    # Timer G

    def _to_accepted(self, now: float) -> None:
        self._enter(ACCEPTED, now, lifetime=self._cfg.timer_l)

    def _to_completed(self, now: float) -> None:
        cfg = self._cfg
        self._enter(COMPLETED, now, lifetime=cfg.timer_h, retransmit=cfg.t1)

    def _to_confirmed(self, request: Request, addr: Addr, now: float) -> None:
        self._enter(CONFIRMED, now, lifetime=self._cfg.timer_i)     # the ACK is absorbed

    def _ack_to_tu(self, request: Request, addr: Addr, now: float) -> None:
        self._layer._events.append(RequestReceived(request, addr, None))

    _ON_SEND = {
        (PROCEEDING, PROVISIONAL): ServerTransaction._stay,
        (PROCEEDING, SUCCESS): _to_accepted,
        (PROCEEDING, FINAL_FAILURE): _to_completed,
        (ACCEPTED, SUCCESS): ServerTransaction._stay,        # RFC 6026: 2xx retransmits from the TU
    }
    _ON_REQUEST = {
        (PROCEEDING, False): ServerTransaction._resend,      # INVITE again: last provisional
        (COMPLETED, False): ServerTransaction._resend,       # INVITE again: the final
        (COMPLETED, True): _to_confirmed,
        (ACCEPTED, True): _ack_to_tu,
    }


class ServerNonInviteTransaction(ServerTransaction):
    """§17.2.2 (Figure 8)."""

    __slots__ = ()

    def _to_proceeding(self, now: float) -> None:
        self.state = PROCEEDING

    def _to_completed(self, now: float) -> None:
        self._enter(COMPLETED, now, lifetime=self._cfg.timer_j)

    _ON_SEND = {
        (TRYING, PROVISIONAL): _to_proceeding,
        (PROCEEDING, PROVISIONAL): _to_proceeding,
        (TRYING, SUCCESS): _to_completed,
        (TRYING, FINAL_FAILURE): _to_completed,
        (PROCEEDING, SUCCESS): _to_completed,
        (PROCEEDING, FINAL_FAILURE): _to_completed,
    }
    _ON_REQUEST = {
        (PROCEEDING, False): ServerTransaction._resend,
        (COMPLETED, False): ServerTransaction._resend,
    }


def __getattr__(name: str) -> Any:
    # TransactionLayer lives in layer.py, which imports this module; re-export it lazily so that
    # either module can be imported first.
    if name == "TransactionLayer":
        from labpbx.sip.layer import TransactionLayer

        return TransactionLayer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
