"""Sends the box's message-waiting NOTIFYs to the proxy and reports how each one ended.

Rules of this module
  * Our own SIP stack, not pjsua2: each NOTIFY is a non-INVITE client transaction of
    ``labpbx.sip.transaction`` (retransmissions on Timer E, gives up on Timer F) over the
    notifier's own UDP socket, bound to 127.0.0.1:0 (loopback only; the proxy must be 127.x).
  * No thread of its own: the box's pump loop calls ``pump()`` between two pjsua2 pumps, and
    ``notify()`` is called on that same thread (from the event sink, when the box announces a
    mailbox's counts). The socket is non-blocking; ``pump(wait)`` may wait for it (tests).
  * Every NOTIFY ends in exactly one event (component "voicemail"):
      final 2xx      ComponentEvent(status="mwi", detail="NOTIFY 1001: 200 OK", extra=…)
      404 / 480      ProblemEvent warning: the extension is not registered, which is normal
      other 3xx-6xx  ProblemEvent error
      Timer F        ProblemEvent error: nobody answered
    ``extra`` (and a problem's ``detail``) say mailbox, counts, status and Call-ID.
  * SUBSCRIBEs for ``message-summary`` (a softphone asking for its light, RFC 3842; the
    default script routes them here) are kept in labpbx.voicemail.subscriptions: answered 200,
    then NOTIFYd at once with the mailbox's counts (``counts``), after each new count, and with
    ``terminated`` when they expire. A mailbox with subscribers gets in-dialog NOTIFYs only,
    not the unsolicited one. A 481 to an in-dialog NOTIFY ends that subscription.
  * Other requests that reach the socket are not ours to serve: answered 405.
    Datagrams that do not parse are dropped.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labpbx.errors import LabPbxError, SipParseError
from labpbx.events import ComponentEvent, EventSink, ProblemEvent
from labpbx.sip.events import RequestReceived, ResponseReceived, TimedOut
from labpbx.sip.message import Addr, Request, make_response, parse_message
from labpbx.sip.transaction import ServerTransaction, TimerConfig, TransactionLayer
from labpbx.voicemail.mwi import build_notify
from labpbx.voicemail.subscriptions import Subscription, Subscriptions, build_dialog_notify

BIND_HOST = "127.0.0.1"
NOT_REGISTERED = frozenset({404, 480})
_RECV_SIZE = 65535


@dataclass(frozen=True, slots=True)
class _Pending:
    mailbox: str
    new: int
    old: int
    call_id: str
    subscription: Subscription | None = None


def _no_counts(mailbox: str) -> tuple[int, int]:
    return (0, 0)


class MwiNotifier:
    """One UDP socket and one transaction layer for the box's NOTIFYs; see the module rules."""

    def __init__(self, proxy: Addr, sink: EventSink, *, component: str = "voicemail",
                 timers: TimerConfig = TimerConfig(),  # noqa: B008 (frozen)
                 clock: Callable[[], float] = time.monotonic,
                 counts: Callable[[str], tuple[int, int]] = _no_counts,
                 listen: Addr = (BIND_HOST, 0)) -> None:
        if not proxy[0].startswith("127."):
            raise ValueError(f"the proxy {proxy[0]} is not a loopback address")
        if not listen[0].startswith("127."):
            raise ValueError(f"the notifier must listen on loopback, not {listen[0]}")
        self._counts = counts
        self.subscriptions = Subscriptions()
        self.proxy = proxy
        self.box: Addr = (BIND_HOST, 0)  # the box's SIP address (From), set once it listens
        self._sink = sink
        self._component = component
        self._clock = clock
        self._layer = TransactionLayer(timers)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind(listen)
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise
        self.local: Addr = self._sock.getsockname()

    @property
    def pending(self) -> int:
        """NOTIFYs still waiting for their final answer (or their retransmissions to end)."""
        return len(self._layer)

    def notify(self, mailbox: str, new: int, old: int) -> None:
        """Start the NOTIFY(s) for ``mailbox``: one per subscription, else one unsolicited; each
        outcome is reported by a later ``pump()``."""
        subscribed = self.subscriptions.for_mailbox(mailbox)
        if subscribed:
            for sub in subscribed:
                self._notify_dialog(sub, new, old)
            return
        request = build_notify(mailbox, new, old, proxy=self.proxy, box=self.box,
                               local=self.local)
        tx = self._layer.send_request(request, self.proxy, self._clock())
        tx.user_data = _Pending(mailbox, new, old, request.call_id)
        self._flush()

    def _notify_dialog(self, sub: Subscription, new: int, old: int,
                       terminated: bool = False) -> None:
        try:
            request, hop = build_dialog_notify(sub, new, old, now=self._clock(), local=self.local,
                                               account_host=self.proxy[0], terminated=terminated)
        except (SipParseError, ValueError) as exc:
            self.subscriptions.remove(sub)
            self._emit(ProblemEvent(time.time(), self._component, "warning",
                                    f"subscription of mailbox {sub.mailbox} dropped: {exc}"))
            return
        if not hop[0].startswith("127."):
            self.subscriptions.remove(sub)  # the lab never sends off loopback
            self._emit(ProblemEvent(time.time(), self._component, "warning",
                                    f"subscription of mailbox {sub.mailbox} dropped: its next "
                                    f"hop {hop[0]} is not a loopback address"))
            return
        tx = self._layer.send_request(request, hop, self._clock())
        tx.user_data = _Pending(sub.mailbox, new, old, sub.call_id, sub)
        self._flush()

    def pump(self, wait: float = 0.0) -> None:
        """Read answers, run due timers, send what is queued and report finished NOTIFYs."""
        if wait > 0:
            due = self._layer.get_timer()
            if due is not None:
                wait = max(0.0, min(wait, due - self._clock()))
            with contextlib.suppress(OSError, ValueError):
                select.select([self._sock], [], [], wait)
        self._receive()
        for sub in self.subscriptions.expired(self._clock()):
            self._notify_dialog(sub, *self._mailbox_counts(sub.mailbox), terminated=True)
        self._layer.handle_timer(self._clock())
        self._flush()
        self._report()

    def close(self) -> None:
        """Close the socket; NOTIFYs still in flight are abandoned (the box is stopping)."""
        self._sock.close()

    # --- internals ------------------------------------------------------------------------------

    def _receive(self) -> None:
        while True:
            try:
                data, addr = self._sock.recvfrom(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. an ICMP error queued on the socket: try the next datagram
                continue
            try:
                self._layer.receive(parse_message(data), addr[:2], self._clock())
            except (SipParseError, LabPbxError):
                continue  # not a SIP message we can match: nothing to answer it with

    def _flush(self) -> None:
        for data, addr in self._layer.datagrams_to_send():
            # A lost datagram is what the transaction's retransmissions are for.
            with contextlib.suppress(OSError):
                self._sock.sendto(data, addr)

    def _report(self) -> None:
        while (event := self._layer.next_event()) is not None:
            if isinstance(event, ResponseReceived):
                tx = event.transaction
                if tx is not None and event.response.status >= 200:
                    self._outcome(tx.user_data, event.response.status, event.response.reason)
            elif isinstance(event, TimedOut):
                self._outcome(event.transaction.user_data, 0, "no answer (Timer F)")
            elif isinstance(event, RequestReceived) and event.transaction is not None:
                if event.request.method == "SUBSCRIBE":
                    self._subscribe(event.request, event.transaction)
                    continue
                refused = make_response(event.request, 405)
                refused.headers.add("Allow", "SUBSCRIBE")
                self._layer.send_response(event.transaction, refused, self._clock())
                self._flush()

    def _subscribe(self, request: Request, transaction: ServerTransaction) -> None:
        contact = f"sip:voicemail@{self.local[0]}:{self.local[1]}"
        outcome = self.subscriptions.on_subscribe(request, self._clock(), contact)
        self._layer.send_response(transaction, outcome.response, self._clock())
        self._flush()
        sub = outcome.subscription
        if sub is None:
            return
        self._emit(ComponentEvent(time.time(), self._component, status="subscription",
                                  detail=(f"message-summary of {sub.mailbox} "
                                          + ("ended" if outcome.terminated else
                                             f"for {sub.remaining(self._clock())} s")),
                                  extra={"mailbox": sub.mailbox, "call_id": sub.call_id,
                                         "subscriber": sub.remote_target}))
        self._notify_dialog(sub, *self._mailbox_counts(sub.mailbox), terminated=outcome.terminated)

    def _mailbox_counts(self, mailbox: str) -> tuple[int, int]:
        """(new, old) from the message index; (0, 0) with a warning when it cannot be read, so
        a broken index never stops the box's loop."""
        try:
            return self._counts(mailbox)
        except (LabPbxError, OSError, ValueError) as exc:
            self._emit(ProblemEvent(time.time(), self._component, "warning",
                                    f"message counts of mailbox {mailbox} unreadable: {exc}"))
            return (0, 0)

    def _outcome(self, pending: Any, status: int, reason: str) -> None:
        if not isinstance(pending, _Pending):
            return
        if pending.subscription is not None and status in (0, 481):
            # RFC 6665 §4.2.2: a 481 (or no answer at all) ends the subscription
            self.subscriptions.remove(pending.subscription)
        what = f"NOTIFY {pending.mailbox}: " + (f"{status} {reason}" if status else reason)
        extra = {"mailbox": pending.mailbox, "new_messages": pending.new,
                 "old_messages": pending.old, "status": status, "call_id": pending.call_id,
                 "proxy": f"{self.proxy[0]}:{self.proxy[1]}"}
        if 200 <= status < 300:
            self._emit(ComponentEvent(time.time(), self._component, status="mwi", detail=what,
                                      extra=extra))
        elif status in NOT_REGISTERED:
            self._emit(ProblemEvent(time.time(), self._component, "warning",
                                    f"{what} (extension {pending.mailbox} is not registered: "
                                    "no message-waiting light)", detail=str(extra)))
        else:
            self._emit(ProblemEvent(time.time(), self._component, "error",
                                    f"{what}: the message-waiting NOTIFY failed",
                                    detail=str(extra)))

    def _emit(self, event: Any) -> None:
        self._sink(event)
