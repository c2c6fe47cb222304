"""RFC 3261 §17 transactions (with RFC 6026's Accepted state) as sans-I/O state machines.

CONTRACT (implemented by the transaction helper; the proxy is written against it):

Rules of this module
- Pure: no sockets, no asyncio, no clock reads. Time comes in as `now: float` (seconds, monotonic).
- Transport is UDP only: every retransmission timer (A, E, G) is active; D = 32 s, I = T4, J = 64·T1, K = T4.
- Four FSM classes (ClientInviteTransaction, ClientNonInviteTransaction, ServerInviteTransaction,
  ServerNonInviteTransaction), each with its transitions written as a table where practical, each
  small. A `TransactionLayer` owns them, matches messages to them and keeps one heap of deadlines.
- Matching (RFC 3261 §17.1.3 client, §17.2.3 server): client key = (top Via branch, CSeq method);
  server key = (top Via branch, sent-by host:port, method) where ACK matches the INVITE transaction
  and CANCEL has its own key (method CANCEL). Branches without the "z9hG4bK" cookie are matched the
  same way (no RFC 2543 fallback); document that in the docstring.
- RFC 6026: the client INVITE transaction goes to Accepted on a 2xx (Timer M = 64·T1) and hands every 2xx
  (first and retransmitted) to the TU; the server INVITE transaction goes to Accepted when the TU sends
  a 2xx (Timer L = 64·T1), absorbs INVITE retransmissions there, and sends further 2xx the TU gives it.
- The client INVITE transaction generates the ACK for a 3xx–6xx itself (message.build_ack_for_non2xx),
  sends it to the same address, and re-sends it for every retransmitted final (Completed, Timer D).
- The server INVITE transaction retransmits its last non-2xx final on Timer G (T1 doubling, capped at T2)
  until the ACK arrives (→ Confirmed, Timer I) or Timer H (64·T1) fires (→ TimedOut event). The ACK is
  absorbed: it is NOT delivered to the TU.
- A retransmitted request that matches a server transaction is absorbed: the last response sent (if any)
  is sent again; the TU is not told.
- A response that matches no client transaction is delivered as ResponseReceived(transaction=None)
  (the proxy forwards it statelessly, §16.7 / §18.1.2). An ACK that matches no server transaction
  (the ACK for a 2xx) is delivered as RequestReceived(transaction=None).
- 100–199 responses: passed to the TU (including 100; the proxy decides not to forward 100).

Public API (fixed):

    @dataclass(frozen=True, slots=True)
    class TimerConfig:
        t1: float = 0.5; t2: float = 4.0; t4: float = 5.0
        # derived properties: timer_b = timer_f = timer_h = timer_j = timer_l = timer_m = 64·t1,
        # timer_d = 32.0, timer_i = timer_k = t4

    class TxState(enum.Enum): CALLING, TRYING, PROCEEDING, COMPLETED, CONFIRMED, ACCEPTED, TERMINATED

    class Transaction:                      common base
        request: Request                    the request that created it (client: as sent; server: as received)
        addr: Addr                          client: destination; server: where responses go (source of the request)
        state: TxState
        last_response: Response | None      client: last received; server: last sent
        user_data: object                   free slot for the TU (the proxy puts its branch/cell object here)
        key: tuple[str, ...]
        is_invite (property) -> bool

    class ClientTransaction(Transaction)   (ClientInviteTransaction / ClientNonInviteTransaction)
    class ServerTransaction(Transaction)   (ServerInviteTransaction / ServerNonInviteTransaction)

    class TransactionLayer:
        def __init__(self, config: TimerConfig = TimerConfig()) -> None
        def receive(self, message: Request | Response, addr: Addr, now: float) -> None
            Feed one parsed message received from `addr`. Queues events and datagrams.
        def send_request(self, request: Request, addr: Addr, now: float) -> ClientTransaction
            Start a client transaction (INVITE → ICT, other methods except ACK → NICT) and transmit.
            The request must already carry its top Via with a unique branch. Raises LocalProtocolError
            for ACK or for a duplicate key.
        def send_response(self, transaction: ServerTransaction, response: Response, now: float) -> None
            Send a response through a server transaction (RFC rules: nothing after a final except further
            2xx on an INVITE in Accepted; else LocalProtocolError).
        def send_stateless(self, message: Request | Response, addr: Addr) -> None
            Transmit without a transaction (ACK for 2xx, stateless forwards, replies to unparseable requests).
        def find_server(self, request: Request, addr: Addr | None = None) -> ServerTransaction | None
            Server transaction this request would match (§17.2.3), without feeding it.
        def find_invite_for_cancel(self, cancel: Request) -> ServerInviteTransaction | None
            §9.2: the INVITE server transaction a CANCEL refers to (same branch + sent-by, method INVITE).
        def terminate(self, transaction: Transaction) -> None
            Forget a transaction now (stop its timers, no more retransmissions, no events). The proxy uses it
            when a branch is given up without a reply (OpenSIPS: "retransmissions simply stop"), and to drop a
            server transaction the script never answered.
        def handle_timer(self, now: float) -> None      Fire every deadline ≤ now.
        def get_timer(self) -> float | None             Earliest pending deadline, or None.
        def datagrams_to_send(self) -> list[tuple[bytes, Addr]]   Drain queued datagrams (in order).
        def next_event(self) -> Event | None            Pop the next event (FIFO), None when empty.
        def __len__(self) -> int                        Number of live transactions (for tests/leak checks).

    Events (labpbx/sip/events.py, frozen dataclasses with slots):
        RequestReceived(request, addr, transaction: ServerTransaction | None)
        ResponseReceived(response, addr, transaction: ClientTransaction | None)
        TimedOut(transaction)       ICT Timer B, NICT Timer F, IST Timer H (no ACK)
        Terminated(transaction)     a transaction reached TERMINATED and was removed
"""

from __future__ import annotations
