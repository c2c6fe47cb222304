"""The proxy engine's shared state and primitives: configuration, the transaction layer, the
event reporting, replies through server transactions, branch timers and CANCEL.

Split from the engine by concern: ``ProxyCore`` (this), ``ReplyPath`` (labpbx.proxy.replies: the
response side, failure routes, timeouts), ``ScriptServices`` (labpbx.proxy.services: registrar,
loose routing, avpops) and ``Proxy`` (labpbx.proxy.engine: requests and the I/O-facing API).
Pure: no sockets, no clock reads."""

from __future__ import annotations

import heapq
import itertools
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from labpbx.errors import LocalProtocolError, ScriptRuntimeError, SipParseError
from labpbx.events import (
    EventSink,
    ProblemEvent,
    RouteDecisionEvent,
    SipMessageEvent,
    TransactionEvent,
    XlogEvent,
)
from labpbx.proxy import forwarding as fwd
from labpbx.proxy.config import ProxyConfig
from labpbx.proxy.context import ScriptContext
from labpbx.proxy.overload import IngressQueue
from labpbx.proxy.registrar import Binding, Location
from labpbx.proxy.tm import Branch, Cell
from labpbx.script.host import RouteKind
from labpbx.sip.message import (
    Request,
    Response,
    build_cancel,
    make_response,
    new_tag,
    parse_name_addr,
    parse_uri,
    parse_via,
)
from labpbx.sip.transaction import (
    TERMINATED,
    ServerTransaction,
    TimerConfig,
    Transaction,
    TransactionLayer,
)

Addr = tuple[str, int]

class Script(Protocol):
    """What the engine needs of a loaded script (labpbx.script.loader.Script)."""

    def run(self, kind: RouteKind, name: str | None, host: ScriptContext) -> object: ...
    def has_route(self, kind: RouteKind, name: str | None) -> bool: ...


class AvpRecord(Protocol):
    """One usr_preferences row as avp_db_load needs it (labpbx.store.records.AvpRow)."""

    @property
    def attribute(self) -> str: ...

    @property
    def typed_value(self) -> str | int | None:
        """The value converted to its declared type; None for a row that does not convert."""
        ...


class Preferences(Protocol):
    """usr_preferences access (labpbx.store.db.LabStore implements it)."""

    def avp_lookup(self, *, username: str | None, domain: str | None = None,
                   uuid: str | None = None, attribute: str | None = None,
                   table: str = "usr_preferences") -> Sequence[AvpRecord]: ...


class _CancelMarker:
    """user_data of a CANCEL client transaction: replies to it need no action."""

    __slots__ = ("branch",)

    def __init__(self, branch: Branch) -> None:
        self.branch = branch


LocationListener = Callable[[str, list[Binding]], None]


class ProxyCore:
    config: ProxyConfig
    pid: int
    location: Location
    rr_uri: str

    def __init__(self, config: ProxyConfig, script: Script, *,
                 preferences: Preferences | None = None,
                 sink: EventSink | None = None,
                 trace_sip: bool = False,
                 trace_decisions: bool = True,
                 location_listener: LocationListener | None = None,
                 wall_clock: Callable[[], float] = time.time,
                 component: str = "proxy") -> None:
        self.config = config
        self.script = script
        self.preferences = preferences
        self.sink = sink
        self.trace_sip = trace_sip and sink is not None
        # decisions and transaction steps cost an event object each: only build them for a listener
        self.trace_decisions = trace_decisions and sink is not None
        self.location_listener = location_listener
        self.wall_clock = wall_clock
        self.component = component
        self.pid = os.getpid()
        self.layer = TransactionLayer(TimerConfig(t1=config.t1, t2=config.t2, t4=config.t4))
        self.location = Location(
            use_domain=config.use_domain, default_expires=config.default_expires,
            min_expires=config.min_expires, max_expires=config.max_expires,
            max_contacts=config.max_contacts)
        self.me: set[Addr] = {config.listen, *config.aliases}
        host, port = config.listen
        self.rr_uri = f"sip:{host}:{port};lr"
        self._timers: list[tuple[float, int, Branch, int]] = []
        self._abandoned: dict[str, Branch] = {}
        self._abandoned_order: deque[tuple[float, str]] = deque()
        self._seq = itertools.count()
        self.stats = {"received": 0, "bad": 0, "script_errors": 0, "cells": 0, "refused": 0}
        # To-tags of the 503s refusing new calls under overload start with this (their ACKs are
        # recognised in the receive queue without a parse)
        self.overload_tag_prefix = "ovl" + new_tag()[:8]
        self._refusals = itertools.count(1)
        self._overload_noted: float | None = None
        self.ingress = IngressQueue(config.overload, self.overload_tag_prefix.encode())

    # ==== events ==================================================================================
    def _trace(self, direction: str, src: Addr, dst: Addr, msg: Request | Response,
               data: bytes) -> None:
        assert self.sink is not None
        try:
            call_id = msg.call_id
        except SipParseError:
            call_id = ""
        summary = (f"{msg.method} {msg.uri}" if isinstance(msg, Request)
                   else f"{msg.status} {msg.reason}")
        self.sink(SipMessageEvent(
            time=self.wall_clock(), component=self.component, direction=direction,
            src=f"{src[0]}:{src[1]}", dst=f"{dst[0]}:{dst[1]}", call_id=call_id, summary=summary,
            raw=data.decode("utf-8", "replace")))

    def problem(self, severity: str, message: str, detail: str = "") -> None:
        if self.sink is not None:
            self.sink(ProblemEvent(time=self.wall_clock(), component=self.component,
                                   severity=severity, message=message, detail=detail))

    def decision(self, ctx: ScriptContext, line: int, action: str, before: str, after: str,
                 reason: str = "") -> None:
        if self.trace_decisions and self.sink is not None:
            self.sink(RouteDecisionEvent(
                time=self.wall_clock(), component=self.component, call_id=ctx.call_id,
                route=ctx.route_label, line=line, action=action, before=before, after=after,
                reason=reason))

    def xlog(self, ctx: ScriptContext, level: int, level_name: str, text: str, line: int) -> None:
        if level > self.config.log_level or self.sink is None:
            return
        self.sink(XlogEvent(time=self.wall_clock(), component=self.component, level=level,
                            level_name=level_name, text=text, call_id=ctx.call_id,
                            route=ctx.route_label, line=line))

    def _tx_event(self, cell: Cell, state: str, branch: int = -1, detail: str = "") -> None:
        if self.trace_decisions and self.sink is not None:
            try:
                call_id = cell.request.call_id
            except SipParseError:
                call_id = ""
            self.sink(TransactionEvent(time=self.wall_clock(), component=self.component,
                                       call_id=call_id, tid=cell.tid, state=state, branch=branch,
                                       detail=detail))

    def is_myself(self, value: str) -> bool:
        """The script's ``myself``: a SIP URI, host:port or host naming this proxy (its listen
        address, an IP alias, or an ``alias=`` name). Without a port, any of our ports matches,
        as OpenSIPS' check_self does for a URI that does not name one."""
        text = value.strip()
        try:
            if text.lower().startswith(("sip:", "sips:")):
                uri = parse_uri(text)
                host, port = uri.host, uri.port
            elif text.count(":") == 1:
                h, _, p = text.partition(":")
                host, port = h, int(p)
            else:
                host, port = text, None
        except (SipParseError, ValueError):
            return False
        for alias_host, alias_port in self.config.alias_names:
            if host.lower() == alias_host and (port is None or alias_port in (None, port)):
                return True
        ip = fwd.resolve_host(host)
        if ip is None:
            return False
        if port is None:
            return any(ip == h for h, _ in self.me)
        return (ip, port) in self.me

    def _send_response(self, server: ServerTransaction, response: Response, now: float) -> bool:
        try:
            self.layer.send_response(server, response, now)
        except LocalProtocolError as exc:
            self.problem("warning", f"reply {response.status} not sent: {exc}")
            return False
        return True

    def _reply_cell(self, cell: Cell, code: int, reason: str, now: float) -> bool:
        if cell.final_status >= 200:
            return False
        response = make_response(cell.request, code, reason or None,
                                 to_tag=cell.to_tag if code > 100 else None)
        if not self._send_response(cell.server, response, now):
            return False
        cell.last_sent_status = code
        if code >= 200:
            cell.final_status = code
            self._tx_event(cell, "replied", detail=f"{code} {response.reason} (local)")
            self._cancel_pending(cell, now, reason_hdr=None)
        return True

    def _fr(self, cell: Cell, *, invite: bool) -> float:
        if invite:
            return cell.fr_inv_timeout if cell.fr_inv_timeout is not None \
                else self.config.fr_inv_timeout
        return cell.fr_timeout if cell.fr_timeout is not None else self.config.fr_timeout

    def _arm(self, branch: Branch, deadline: float) -> None:
        branch.timer_gen += 1
        branch.deadline = deadline
        heapq.heappush(self._timers, (deadline, next(self._seq), branch, branch.timer_gen))

    def _disarm(self, branch: Branch) -> None:
        branch.timer_gen += 1
        branch.deadline = None

    def _cancel_cell(self, cell: Cell, now: float, reason_hdr: str | None) -> None:
        if cell.cancelled:
            return
        cell.cancelled = True
        self._tx_event(cell, "cancelled", detail="CANCEL from upstream")
        if cell.final_status >= 200:
            return
        self._cancel_pending(cell, now, reason_hdr)

    def _cancel_pending(self, cell: Cell, now: float, reason_hdr: str | None) -> None:
        if not cell.is_invite:
            return
        for branch in cell.pending_branches():
            self._cancel_branch(branch, now, reason_hdr)

    def _cancel_branch(self, branch: Branch, now: float, reason_hdr: str | None) -> None:
        if branch.cancel_sent or branch.completed:
            return
        if branch.last_received < 100:
            branch.cancel_pending = True  # RFC 3261 §9.1: wait for a provisional first
            branch.cancel_reason = reason_hdr
            return
        cancel = build_cancel(branch.request)
        if reason_hdr:
            cancel.headers.add("Reason", reason_hdr)
        try:
            txn = self.layer.send_request(cancel, branch.dst, now)
        except LocalProtocolError as exc:
            self.problem("warning", f"CANCEL not sent: {exc}")
            return
        txn.user_data = _CancelMarker(branch)
        branch.cancel_sent = True
        branch.cancel_pending = False
        self._tx_event(branch.cell, "cancel sent", branch.index, reason_hdr or "")
        # wait for the 487 at most fr_timeout more (OpenSIPS keeps the branch timer running)
        if branch.deadline is None or branch.deadline > now + self._fr(branch.cell, invite=False):
            self._arm(branch, now + self._fr(branch.cell, invite=False))

    # ==== end of a transaction ====================================================================
    def _terminate(self, txn: Transaction) -> None:
        """End ``txn`` at once (no event from the layer) and let go of what it pointed at."""
        self.layer.terminate(txn)
        self._released(txn)

    def _released(self, txn: Transaction) -> None:
        """``txn`` has ended (a ``Terminated`` event, or ``_terminate``): break its links.

        A call's records point at each other: the cell and its server transaction (``cell.server``
        / ``user_data``), a branch and its client transaction (``branch.transaction`` /
        ``user_data``), the cell and its branches (``cell.branches`` / ``branch.cell``). Left as
        cycles, a finished call is garbage that only the cyclic collector can free, and a
        collection of the oldest generation walks every live call — at a few hundred calls/s
        with 32-s transaction windows, a stall of 100-400 ms (docs/BENCHMARKS.md, tail latency).
        So every ended transaction forgets its ``user_data``, and once the server transaction
        and every branch's transaction of a cell have ended, the cell drops its branch list:
        reference counting then frees the call as soon as the last timer entry lets go of it.
        Nothing reads ``cell.branches`` after that point: no message can match the cell any
        more, and the late-reply paths (abandoned branches, CANCEL replies) only follow
        ``branch.cell`` upwards."""
        data = txn.user_data
        txn.user_data = None
        if isinstance(data, Cell):
            cell = data
        elif isinstance(data, Branch):
            cell = data.cell
        else:
            return  # a CANCEL's marker, or nothing: no cycle through it
        if cell.server.state is not TERMINATED:
            return
        for branch in cell.branches:
            other = branch.transaction
            if other is not None and other.state is not TERMINATED:
                return
        cell.branches = []

    def _run_route(self, ctx: ScriptContext, kind: RouteKind, name: str) -> object | None:
        try:
            ctx.route_entered(kind, name, 0)
            return self.script.run(kind, name, ctx)
        except (ScriptRuntimeError, SipParseError) as exc:
            self.stats["script_errors"] += 1
            self.problem("error", f"script error in {kind.value}[{name}]: {exc}")
            return None


def _invalid_request(request: Request) -> tuple[int, str] | None:
    """§16.3 step 1–2: the parts every route relies on must parse; (status, reason) if not."""
    try:
        for name in ("From", "To"):
            parse_name_addr(request.headers.get(name) or "")
        if request.method != "ACK" or request.uri.lower().startswith(("sip:", "sips:")):
            parse_uri(request.uri)
    except SipParseError as exc:
        if exc.status_hint == 416:
            return 416, "Unsupported URI Scheme"
        return 400, f"Bad Request: {exc}"
    if request.method != "ACK" and request.uri[:5].lower() == "sips:":
        return 416, "Unsupported URI Scheme: sips needs TLS, which the lab proxy does not offer"
    return None


def _response_target(via: str | None) -> Addr | None:
    if via is None:
        return None
    try:
        return fwd.response_address(parse_via(via))
    except SipParseError:
        return None


def _decrement_max_forwards(request: Request) -> None:
    """§16.6 step 3, for scripts that did not call mf_process_maxfwd_header()."""
    raw = request.headers.get("Max-Forwards")
    if raw is None:
        request.headers.add("Max-Forwards", "70")
        return
    try:
        value = int(raw.strip())
    except ValueError:
        request.headers.set("Max-Forwards", "70")
        return
    request.headers.set("Max-Forwards", str(max(0, value - 1)))


def _remove_last_route(request: Request) -> None:
    routes = request.headers.get_all("Route")
    request.headers.remove_all("Route")
    for value in routes[:-1]:
        request.headers.add("Route", value)
