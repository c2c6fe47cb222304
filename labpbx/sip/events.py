"""Events the transaction layer hands to its user (the TU), RFC 3261 §17.

They are popped one at a time with ``TransactionLayer.next_event()`` (FIFO). All are frozen
dataclasses with slots: cheap to make, safe to keep.

- ``RequestReceived``: a new request created a server transaction (``transaction`` set), or an ACK
  for a 2xx arrived (``transaction=None``; a proxy forwards it statelessly, §16.7): an ACK that
  matches no server transaction, or one that matches an INVITE server transaction in Accepted
  (RFC 6026 §8.7). Retransmissions and the ACK for a non-2xx final are absorbed, never delivered.
- ``ResponseReceived``: a response a client transaction passes up (1xx, the final, every 2xx in
  Accepted), or a stray response that matches no client transaction (``transaction=None``).
- ``TimedOut``: ICT Timer B, NICT Timer F or IST Timer H fired. A ``Terminated`` for the same
  transaction always follows it.
- ``Terminated``: the transaction reached TERMINATED by itself (a timer) and was removed.
  ``TransactionLayer.terminate()`` produces no event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from labpbx.sip.message import Addr, Request, Response
    from labpbx.sip.transaction import ClientTransaction, ServerTransaction, Transaction

__all__ = ["Event", "RequestReceived", "ResponseReceived", "Terminated", "TimedOut"]


@dataclass(frozen=True, slots=True)
class RequestReceived:
    request: Request
    addr: Addr
    transaction: ServerTransaction | None


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    response: Response
    addr: Addr
    transaction: ClientTransaction | None


@dataclass(frozen=True, slots=True)
class TimedOut:
    transaction: Transaction


@dataclass(frozen=True, slots=True)
class Terminated:
    transaction: Transaction


Event: TypeAlias = RequestReceived | ResponseReceived | TimedOut | Terminated
