"""The stateful proxy engine: RFC 3261 §16 + OpenSIPS tm semantics, sans-I/O.

Feed it datagrams with ``receive_datagram(data, addr, now)`` and deadlines with ``handle_timer(now)``;
collect ``datagrams_to_send()`` and re-arm one timer at ``get_timer()`` (aioquic style). It never reads
a clock, opens a socket or sleeps; the asyncio adapter in labpbx.proxy.service does that.

What happens to a request (OpenSIPS order):
1. parse (bad bytes → ProblemEvent, dropped); transaction layer: retransmissions absorbed there;
2. loop check (§16.3 step 4) → 482; the request route runs; its functions act at once — t_relay()
   creates the cell (sends 100 Trying for INVITE), builds one branch per destination and starts
   fr_timeout per branch;
3. replies: 100 is never forwarded; 101–199 forwarded and (INVITE) switch the branch to
   fr_inv_timeout; 2xx forwarded at once, other branches CANCELled; ≥300 stored on the branch;
4. when every branch of the current leg is final, the winning reply is picked (OpenSIPS branch_prio);
   the armed failure_route (disarmed as it runs) may t_relay() a new leg — serial forking — or reply;
   otherwise the winning reply goes upstream (a lone 503 becomes 500, §16.7 step 6);
5. fr/fr_inv expiry: CANCEL the branch if it got a provisional (Reason: SIP;cause=480;text="NO_ANSWER"),
   otherwise stop retransmitting; the branch gets a local 408 (SEMANTICS.md §2.3);
6. CANCEL from upstream: 200 to the CANCEL, CANCEL each branch that has a provisional (the others are
   cancelled when one arrives), the failure route runs with t_was_cancelled() true, 487 goes upstream.
"""

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
from labpbx.proxy.registrar import Binding, Location, contact_header_values
from labpbx.proxy.tm import Branch, BranchState, Cell, pick_branch
from labpbx.script.host import RouteKind, Value
from labpbx.sip.events import RequestReceived, ResponseReceived, TimedOut
from labpbx.sip.message import (
    Request,
    Response,
    build_ack_for_non2xx,
    build_cancel,
    make_response,
    new_tag,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
)
from labpbx.sip.transaction import (
    ClientTransaction,
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


class Preferences(Protocol):
    """usr_preferences access (labpbx.store.db.LabStore implements it)."""

    def avp_lookup(self, *, username: str | None, domain: str | None = None,
                   uuid: str | None = None, attribute: str | None = None,
                   table: str = "usr_preferences") -> Sequence[object]: ...


class _CancelMarker:
    """user_data of a CANCEL client transaction: replies to it need no action."""

    __slots__ = ("branch",)

    def __init__(self, branch: Branch) -> None:
        self.branch = branch


LocationListener = Callable[[str, list[Binding]], None]


class Proxy:
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
        self.stats = {"received": 0, "bad": 0, "script_errors": 0, "cells": 0}

    # ==== I/O-facing API ==========================================================================
    def receive_datagram(self, data: bytes, addr: Addr, now: float) -> None:
        """Feed one UDP datagram received from ``addr``. Never raises for bad input."""
        self.stats["received"] += 1
        if not data.strip(b"\r\n"):
            return  # keep-alive CRLFs (RFC 5626 §3.5.1)
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self.stats["bad"] += 1
            self.problem("warning", f"dropped a malformed datagram from {addr[0]}:{addr[1]}: {exc}",
                         data[:2000].decode("utf-8", "replace"))
            return
        if self.trace_sip:
            self._trace("in", addr, self.config.listen, message, data)
        try:
            self.layer.receive(message, addr, now)
        except SipParseError as exc:
            self.stats["bad"] += 1
            self.problem("warning", f"dropped a message from {addr[0]}:{addr[1]}: {exc}")
            return
        self._drain(now)

    def handle_timer(self, now: float) -> None:
        self.layer.handle_timer(now)
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, branch, gen = heapq.heappop(timers)
            if gen == branch.timer_gen and not branch.completed:
                self._branch_timeout(branch, now)
        self._drain(now)

    def get_timer(self) -> float | None:
        layer_t = self.layer.get_timer()
        timers = self._timers
        while timers and (timers[0][2].timer_gen != timers[0][3] or timers[0][2].completed):
            heapq.heappop(timers)
        own = timers[0][0] if timers else None
        if layer_t is None:
            return own
        return layer_t if own is None else min(layer_t, own)

    def datagrams_to_send(self) -> list[tuple[bytes, Addr]]:
        out = self.layer.datagrams_to_send()
        if not out:
            return out
        allowed: list[tuple[bytes, Addr]] = []
        for data, addr in out:
            if not self.config.allow_non_loopback and not fwd.is_loopback(addr[0]):
                self.problem("error", f"refused to send to {addr[0]}:{addr[1]}: the lab only talks "
                             "to loopback (127.0.0.0/8) unless allow_non_loopback is set")
                continue
            allowed.append((data, addr))
            if self.trace_sip:
                try:
                    msg = parse_message(data)
                except SipParseError:
                    continue
                self._trace("out", self.config.listen, addr, msg, data)
        return allowed

    # ==== events ==================================================================================
    def _emit_base(self) -> dict[str, object]:
        return {"time": self.wall_clock(), "component": self.component}

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

    # ==== dispatch ================================================================================
    def _drain(self, now: float) -> None:
        layer = self.layer
        while (event := layer.next_event()) is not None:
            if isinstance(event, RequestReceived):
                self._on_request(event.request, event.addr, event.transaction, now)
            elif isinstance(event, ResponseReceived):
                self._on_response(event.response, event.addr, event.transaction, now)
            elif isinstance(event, TimedOut):
                self._on_timed_out(event.transaction, now)

    def is_myself(self, value: str) -> bool:
        text = value.strip()
        try:
            if ":" in text and not text.startswith("["):
                if text.lower().startswith(("sip:", "sips:")):
                    uri = parse_uri(text)
                    host, port = uri.host, uri.port or 5060
                else:
                    h, _, p = text.rpartition(":")
                    host, port = h, int(p)
            else:
                host, port = text, 5060
        except (SipParseError, ValueError):
            return False
        ip = fwd.resolve_host(host)
        if ip is None:
            return False
        if (ip, port) in self.me:
            return True
        # OpenSIPS' myself ignores the port when the URI has none and we listen elsewhere
        return port == 5060 and ":" not in text.split("@")[-1] and any(ip == h for h, _ in self.me)

    # ==== requests ================================================================================
    def _on_request(self, request: Request, addr: Addr, server: ServerTransaction | None,
                    now: float) -> None:
        if request.method not in ("ACK", "CANCEL") and fwd.is_looped(request, self.me):
            if server is not None:
                self._send_response(server, make_response(request, 482, "Loop Detected",
                                                          to_tag=new_tag()), now)
            return
        problem = _invalid_request(request)
        if problem is not None:
            status, why = problem
            self.stats["bad"] += 1
            self.problem("warning", f"{request.method} from {addr[0]}:{addr[1]} refused: {status} {why}")
            if server is not None:
                self._send_response(server, make_response(request, status, why.split(":")[0],
                                                          to_tag=new_tag()), now)
            return
        ctx = ScriptContext(self, RouteKind.REQUEST, request, addr, now, server=server)
        if server is not None and isinstance(server.user_data, Cell):
            ctx.cell = server.user_data
        try:
            self.script.run(RouteKind.REQUEST, None, ctx)
        except (ScriptRuntimeError, SipParseError) as exc:
            self.stats["script_errors"] += 1
            self.problem("error", f"script error for {request.method} {request.uri}: {exc}")
            if server is not None and not ctx.replied and (ctx.cell is None
                                                           or ctx.cell.final_status == 0):
                self._reply_from_ctx(ctx, 500, "Server Internal Error")
            return
        if server is not None and ctx.cell is None and not ctx.replied:
            # nothing created a transaction: forget it, as OpenSIPS would (a retransmission
            # runs the script again)
            self.layer.terminate(server)

    def _reply_from_ctx(self, ctx: ScriptContext, code: int, reason: str) -> None:
        if ctx.cell is not None:
            self._reply_cell(ctx.cell, code, reason, ctx.now)
        elif ctx.server is not None:
            self.stateless_reply(ctx, code, reason, 0)

    def stateless_reply(self, ctx: ScriptContext, code: int, reason: str, line: int) -> int:
        server = ctx.server
        if server is None or ctx.msg.method == "ACK" or ctx.replied:
            return -1
        if ctx.cell is not None:
            return self.t_reply(ctx, code, reason, line)
        response = make_response(ctx.msg, code, reason or None,
                                 to_tag=new_tag() if code > 100 else None)
        if not self._send_response(server, response, ctx.now):
            return -1
        if code >= 200:
            ctx.replied = True
        self.decision(ctx, line, "reply", "", f"{code} {response.reason}")
        return 1

    def _send_response(self, server: ServerTransaction, response: Response, now: float) -> bool:
        try:
            self.layer.send_response(server, response, now)
        except LocalProtocolError as exc:
            self.problem("warning", f"reply {response.status} not sent: {exc}")
            return False
        return True

    # ---- tm functions ---------------------------------------------------------------------------
    def t_newtran(self, ctx: ScriptContext) -> Cell | None:
        if ctx.cell is not None:
            return ctx.cell
        server = ctx.server
        if server is None or ctx.msg.method in ("ACK", "CANCEL"):
            return None
        cell = Cell(server=server, request=ctx.msg, avps=ctx.avps, flags=ctx.flags,
                    to_tag=new_tag())
        cell.on_failure = ctx.pending_on_failure
        cell.on_reply = ctx.pending_on_reply
        cell.on_branch = ctx.pending_on_branch
        cell.fr_timeout = ctx.fr_timeout
        cell.fr_inv_timeout = ctx.fr_inv_timeout
        server.user_data = cell
        ctx.cell = cell
        self.stats["cells"] += 1
        self._tx_event(cell, "created", detail=f"{ctx.msg.method} {ctx.msg.uri}")
        return cell

    def t_check_trans(self, ctx: ScriptContext) -> int:
        if ctx.msg.method == "CANCEL":
            invite = self.layer.find_invite_for_cancel(ctx.msg)
            return 1 if invite is not None and isinstance(invite.user_data, Cell) else -1
        # Retransmissions and the ACK of a negative reply never reach the script: the transaction
        # layer absorbs them (OpenSIPS' t_check_trans would stop the script for them).
        return -1

    def t_reply(self, ctx: ScriptContext, code: int, reason: str, line: int) -> int:
        cell = ctx.cell if ctx.cell is not None else self.t_newtran(ctx)
        if cell is None:
            return -1
        if cell.final_status >= 200:
            return -1
        ok = self._reply_cell(cell, code, reason, ctx.now)
        if ok and code >= 200:
            ctx.replied = True
        self.decision(ctx, line, "t_reply", "", f"{code} {reason}")
        return 1 if ok else -1

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

    def t_relay(self, ctx: ScriptContext, line: int) -> int:
        method = ctx.msg.method
        if ctx.kind is RouteKind.REQUEST:
            if method == "ACK":
                return self._forward_stateless(ctx, line)
            if method == "CANCEL":
                return self._relay_cancel(ctx, line)
        cell = ctx.cell if ctx.cell is not None else self.t_newtran(ctx)
        if cell is None:
            return self._forward_stateless(ctx, line)
        if cell.cancelled:
            return -3
        if cell.final_status >= 200:
            return -1
        if ctx.kind is RouteKind.FAILURE and cell.saw_6xx:
            return -1
        if ctx.pending_on_failure is not None:
            cell.on_failure = ctx.pending_on_failure
        if ctx.pending_on_reply is not None:
            cell.on_reply = ctx.pending_on_reply
        if ctx.pending_on_branch is not None:
            cell.on_branch = ctx.pending_on_branch
        if cell.is_invite and ctx.kind is RouteKind.REQUEST and not cell.branches \
                and self.config.auto_100trying and cell.last_sent_status == 0:
            self._send_response(cell.server, make_response(cell.request, 100, "Trying"), ctx.now)
            cell.last_sent_status = 100
        if cell.relay_base is None or ctx.kind is RouteKind.REQUEST:
            cell.relay_base = ctx.msg
        targets = [(ctx.ruri, ctx.dst_uri), *ctx.extra_branches]
        new_leg_start = len(cell.branches)
        sent = 0
        for uri, dst in targets:
            if self._start_branch(cell, ctx, uri, dst, line, opens_leg=sent == 0,
                                  leg_start=new_leg_start):
                sent += 1
        ctx.extra_branches.clear()
        if sent == 0:
            return -1
        ctx.relayed = True
        return 1

    def _start_branch(self, cell: Cell, ctx: ScriptContext, uri: str, dst: str | None, line: int,
                      *, opens_leg: bool, leg_start: int) -> bool:
        request = ctx.msg.copy()
        request.uri = uri
        if not ctx.maxfwd_done:
            _decrement_max_forwards(request)
        try:
            hop = fwd.next_hop(request, uri, dst)
        except SipParseError as exc:
            self.problem("error", f"t_relay: cannot route to {dst or uri}: {exc}")
            return False
        if hop is None:
            self.problem("error", f"t_relay: cannot resolve {dst or uri} (the lab resolves only IP "
                         "addresses and localhost)")
            return False
        if not self.config.allow_non_loopback and not fwd.is_loopback(hop[0]):
            self.problem("error", f"t_relay: refused {hop[0]}:{hop[1]}: not a loopback address")
            return False
        if cell.on_branch and self.script.has_route(RouteKind.BRANCH, cell.on_branch):
            bctx = ScriptContext(self, RouteKind.BRANCH, request, ctx.source, ctx.now,
                                 server=cell.server, cell=cell)
            bctx.new_uri = uri
            bctx.dst_uri = dst
            result = self._run_route(bctx, RouteKind.BRANCH, cell.on_branch)
            if result is None or getattr(result, "dropped", False):
                self.decision(ctx, line, "branch dropped", uri, "")
                return False
            uri, dst = bctx.ruri, bctx.dst_uri
            request.uri = uri
            hop = fwd.next_hop(request, uri, dst) or hop
        if opens_leg:
            cell.first_branch = leg_start
        index = len(cell.branches)
        if not cell.loop_hash:
            cell.loop_hash = fwd.loop_hash(cell.request)
        branch_param = fwd.branch_id(cell.loop_hash, cell.id, index)
        request.headers.prepend("Via", fwd.via_value(self.config.listen, branch_param))
        branch = Branch(cell=cell, index=index, uri=uri, dst=hop, request=request)
        try:
            txn = self.layer.send_request(request, hop, ctx.now)
        except LocalProtocolError as exc:
            self.problem("error", f"t_relay: {exc}")
            return False
        txn.user_data = branch
        branch.transaction = txn
        cell.branches.append(branch)
        self._arm(branch, ctx.now + self._fr(cell, invite=False))
        self.decision(ctx, line, "t_relay", "", f"{uri} via {hop[0]}:{hop[1]}",
                      reason=f"branch {index}")
        self._tx_event(cell, "branch", index, f"{request.method} {uri} → {hop[0]}:{hop[1]}")
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

    def _forward_stateless(self, ctx: ScriptContext, line: int) -> int:
        request = ctx.msg
        request.uri = ctx.ruri
        if not ctx.maxfwd_done:
            _decrement_max_forwards(request)
        try:
            hop = fwd.next_hop(request, request.uri, ctx.dst_uri)
        except SipParseError:
            hop = None
        if hop is None or (not self.config.allow_non_loopback and not fwd.is_loopback(hop[0])):
            self.problem("warning", f"cannot forward {request.method} to {ctx.dst_uri or request.uri}")
            return -1
        request.headers.prepend("Via", fwd.via_value(self.config.listen,
                                                     fwd.stateless_branch(request)))
        self.layer.send_stateless(request, hop)
        ctx.relayed = True
        self.decision(ctx, line, "forward (stateless)", "", f"{request.uri} via {hop[0]}:{hop[1]}")
        return 1

    def _relay_cancel(self, ctx: ScriptContext, line: int) -> int:
        invite = self.layer.find_invite_for_cancel(ctx.msg)
        cell = invite.user_data if invite is not None else None
        if not isinstance(cell, Cell):
            # §16.10: no matching transaction: forward statelessly; our CANCEL transaction is dropped
            if ctx.server is not None:
                self.layer.terminate(ctx.server)
                ctx.server = None
            return self._forward_stateless(ctx, line)
        if ctx.server is not None:
            self._send_response(ctx.server, make_response(ctx.msg, 200, "OK",
                                                          to_tag=cell.to_tag), ctx.now)
            ctx.replied = True
        self._cancel_cell(cell, ctx.now, ctx.msg.headers.get("Reason"))
        self.decision(ctx, line, "cancel", "", f"{cell.tid} cancelled")
        return 1

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

    # ---- responses --------------------------------------------------------------------------------
    def _on_response(self, response: Response, addr: Addr, txn: ClientTransaction | None,
                     now: float) -> None:
        if txn is None:
            abandoned = self._abandoned_branch(response)
            if abandoned is not None:
                self._late_reply_on_abandoned(abandoned, response, now)
            else:
                self._forward_stray(response)
            return
        branch = txn.user_data
        if not isinstance(branch, Branch):
            return  # a reply to our CANCEL, or to a transaction we no longer care about
        cell = branch.cell
        status = response.status
        if branch.completed:
            if 200 <= status < 300 and cell.is_invite:
                self._relay_2xx_late(cell, branch, response, now)
            return
        if status < 200:
            self._on_provisional(cell, branch, response, now)
            return
        self._disarm(branch)
        branch.state = BranchState.COMPLETED
        branch.status = status
        branch.reply = response
        branch.last_received = status
        self._tx_event(cell, "reply", branch.index, f"{status} {response.reason}")
        if cell.on_reply and not self._run_onreply(cell, branch, response, now):
            pass  # final replies cannot be dropped in a tm onreply route
        if status < 300:
            self._relay_up(cell, response, now)
            if cell.final_status == 0:
                cell.final_status = status
            if cell.is_invite:
                self._cancel_pending(cell, now, 'SIP;cause=200;text="Call completed elsewhere"')
            return
        if status >= 600:
            cell.saw_6xx = True
            self._cancel_pending(cell, now, None)
        self._leg_maybe_done(cell, now)

    def _on_provisional(self, cell: Cell, branch: Branch, response: Response, now: float) -> None:
        status = response.status
        last = branch.last_received
        branch.last_received = status
        branch.state = BranchState.PROCEEDING
        if cell.is_invite and not branch.cancel_sent and (
                self.config.restart_fr_on_each_reply or last == 0
                or (last < status and status >= 180)):
            self._arm(branch, now + self._fr(cell, invite=True))
        if branch.cancel_pending:
            self._cancel_branch(branch, now, branch.cancel_reason)
        if cell.on_reply and not self._run_onreply(cell, branch, response, now):
            return  # dropped by the onreply route
        if status == 100 or cell.final_status >= 200 or cell.cancelled:
            return  # §16.7 step 5: 100 is never forwarded
        self._relay_up(cell, response, now)

    def _run_onreply(self, cell: Cell, branch: Branch, response: Response, now: float) -> bool:
        """Run the armed onreply route; False if it dropped the (provisional) reply."""
        assert cell.on_reply is not None
        ctx = ScriptContext(self, RouteKind.ONREPLY, branch.request, branch.dst, now,
                            server=cell.server, cell=cell, reply=response)
        ctx.reply_branch = branch
        result = self._run_route(ctx, RouteKind.ONREPLY, cell.on_reply)
        return not (result is not None and getattr(result, "dropped", False)
                    and response.status < 200)

    def _relay_up(self, cell: Cell, response: Response, now: float) -> None:
        upstream = fwd.strip_own_via(response, self.me)
        if upstream is None:
            self.problem("warning", f"reply {response.status} has no Via to go back on; dropped")
            return
        if self._send_response(cell.server, upstream, now):
            cell.last_sent_status = response.status

    def _relay_2xx_late(self, cell: Cell, branch: Branch, response: Response, now: float) -> None:
        """A 2xx after we gave up on the branch (timeout/CANCEL race, OpenSIPS issue #4257).
        RFC 3261 §16.7 step 5 says a 2xx is always forwarded; the caller's UA sees a second dialog
        and ends it itself (§13.2.2.4)."""
        self._tx_event(cell, "late 2xx", branch.index, f"{response.status} after the branch ended")
        upstream = fwd.strip_own_via(response, self.me)
        if upstream is None:
            return
        try:
            self.layer.send_response(cell.server, upstream, now)
        except LocalProtocolError:
            via = upstream.headers.first_value("Via")
            target = _response_target(via)
            if target is not None:
                self.layer.send_stateless(upstream, target)

    def _remember_abandoned(self, branch: Branch, now: float) -> None:
        """Keep a branch given up without any reply for 64·T1: a late 1xx must still be CANCELled
        (OpenSIPS T_UAC_TO_CANCEL) and a late negative reply ACKed, though its transaction is gone."""
        key = branch.request.top_via.branch or ""
        self._abandoned[key] = branch
        self._abandoned_order.append((now + 64 * self.config.t1, key))
        while self._abandoned_order and self._abandoned_order[0][0] <= now:
            _, old = self._abandoned_order.popleft()
            self._abandoned.pop(old, None)

    def _abandoned_branch(self, response: Response) -> Branch | None:
        if not self._abandoned:
            return None
        try:
            return self._abandoned.get(response.top_via.branch or "")
        except SipParseError:
            return None

    def _late_reply_on_abandoned(self, branch: Branch, response: Response, now: float) -> None:
        status = response.status
        self._tx_event(branch.cell, "late reply", branch.index, f"{status} after fr_timeout")
        if status < 200:
            if not branch.cancel_sent:
                branch.cancel_sent = True
                cancel = build_cancel(branch.request)
                cancel.headers.add("Reason", 'SIP;cause=480;text="NO_ANSWER"')
                try:
                    self.layer.send_request(cancel, branch.dst, now).user_data = _CancelMarker(branch)
                except LocalProtocolError as exc:
                    self.problem("warning", f"CANCEL not sent: {exc}")
        elif status >= 300:
            # the hop-by-hop ACK its (terminated) transaction would have sent (§17.1.1.3)
            self.layer.send_stateless(build_ack_for_non2xx(branch.request, response), branch.dst)
        elif branch.cell.is_invite:
            self._relay_2xx_late(branch.cell, branch, response, now)

    def _forward_stray(self, response: Response) -> None:
        """§16.7/§16.11: a response with no client transaction: forward a 2xx to INVITE statelessly."""
        try:
            method = response.cseq[1]
        except SipParseError:
            return
        if not (200 <= response.status < 300 and method == "INVITE"):
            return
        upstream = fwd.strip_own_via(response, self.me)
        if upstream is None:
            return
        via = upstream.headers.first_value("Via")
        target = _response_target(via)
        if target is not None:
            self.layer.send_stateless(upstream, target)

    # ---- completion, failure route, final reply -------------------------------------------------
    def _leg_maybe_done(self, cell: Cell, now: float) -> None:
        while cell.final_status < 200 and cell.leg_completed():
            winner = pick_branch(cell)
            if winner is None:
                return
            if cell.on_failure and not cell.in_failure_route:
                route = cell.on_failure
                cell.on_failure = None  # consumed when it fires (OpenSIPS t_reply.c)
                before = len(cell.branches)
                self._run_failure_route(cell, winner, route, now)
                if cell.final_status >= 200:
                    return
                if len(cell.branches) > before:
                    continue  # a new serial leg: loop in case it is already complete
            self._send_winner(cell, winner, now)
            return

    def _run_failure_route(self, cell: Cell, winner: Branch, route: str, now: float) -> None:
        base = cell.relay_base if cell.relay_base is not None else cell.request
        ctx = ScriptContext(self, RouteKind.FAILURE, base.copy(), cell.server.addr, now,
                            server=cell.server, cell=cell)
        ctx.new_uri = winner.uri  # OpenSIPS 2.x: $ru starts as the failed branch's URI
        ctx.failed_branch = winner
        ctx.reply_code = winner.status
        ctx.maxfwd_done = True  # Max-Forwards was already handled for this request
        self._tx_event(cell, "failure_route", winner.index,
                       f"{route}: winning reply {winner.status}{' (local)' if winner.local else ''}")
        cell.in_failure_route = True
        try:
            self._run_route(ctx, RouteKind.FAILURE, route)
        finally:
            cell.in_failure_route = False

    def _run_route(self, ctx: ScriptContext, kind: RouteKind, name: str) -> object | None:
        try:
            ctx.route_entered(kind, name, 0)
            return self.script.run(kind, name, ctx)
        except (ScriptRuntimeError, SipParseError) as exc:
            self.stats["script_errors"] += 1
            self.problem("error", f"script error in {kind.value}[{name}]: {exc}")
            return None

    def _send_winner(self, cell: Cell, winner: Branch, now: float) -> None:
        if cell.cancelled:
            if winner.status == 487 and winner.reply is not None:
                self._relay_final(cell, winner.reply, now)
            else:
                self._reply_cell(cell, 487, "Request Terminated", now)
            return
        if winner.local or winner.reply is None:
            self._reply_cell(cell, winner.status, "Request Timeout" if winner.status == 408
                             else "Service Unavailable", now)
            return
        reply = winner.reply
        if reply.status == 503 and all(b.status == 503 for b in cell.current_leg()):
            reply = reply.copy()
            reply.status, reply.reason = 500, "Server Internal Error"  # §16.7 step 6
        self._relay_final(cell, reply, now)

    def _relay_final(self, cell: Cell, reply: Response, now: float) -> None:
        upstream = fwd.strip_own_via(reply, self.me)
        if upstream is None:
            self._reply_cell(cell, 500, "Server Internal Error", now)
            return
        if self._send_response(cell.server, upstream, now):
            cell.final_status = cell.last_sent_status = reply.status
            self._tx_event(cell, "replied", detail=f"{reply.status} {reply.reason} (relayed)")

    # ---- timers ---------------------------------------------------------------------------------
    def _branch_timeout(self, branch: Branch, now: float) -> None:
        cell = branch.cell
        kind = "fr_inv_timeout" if branch.last_received >= 100 else "fr_timeout"
        if cell.is_invite and branch.last_received >= 100 and not branch.cancel_sent:
            self._cancel_branch(branch, now, 'SIP;cause=480;text="NO_ANSWER"')
        elif not branch.cancel_sent and branch.transaction is not None:
            self.layer.terminate(branch.transaction)  # no reply at all: stop retransmitting
            self._remember_abandoned(branch, now)
        self._disarm(branch)
        branch.state = BranchState.COMPLETED
        branch.status = 408
        branch.local = True
        branch.timed_out = True
        self._tx_event(cell, "timeout", branch.index, f"{kind} expired: local 408")
        self._leg_maybe_done(cell, now)

    def _on_timed_out(self, txn: Transaction, now: float) -> None:
        branch = txn.user_data
        if isinstance(branch, Branch) and not branch.completed:
            # Timer B/F before fr_timeout: same outcome as fr_timeout with no reply
            self._branch_timeout(branch, now)

    # ---- routing helpers used by builtins --------------------------------------------------------
    def loose_route(self, ctx: ScriptContext, line: int) -> int:
        headers = ctx.msg.headers
        routes = headers.get_all("Route")
        if not routes:
            return -1
        try:
            ruri_is_me = self.is_myself(ctx.ruri) and parse_uri(ctx.ruri).user is None
            if ruri_is_me:
                # §16.4: the previous hop was a strict router; the last Route is the real target
                last = parse_name_addr(routes[-1]).uri
                _remove_last_route(ctx.msg)
                ctx.set_ruri(str(last), line, "loose_route (strict router)")
                return 1
            top = parse_name_addr(routes[0]).uri
        except SipParseError:
            return -1
        if self.is_myself(str(top.with_params(()))):
            headers.remove_first_value("Route")
            self.decision(ctx, line, "loose_route", str(top), "removed our Route")
            nxt = headers.first_value("Route")
            if nxt is None:
                return 1
            try:
                next_uri = parse_name_addr(nxt).uri
            except SipParseError:
                return -1
            if not next_uri.has_param("lr"):
                # next hop is a strict router: it goes in the R-URI, the R-URI goes last (§16.6 step 6)
                headers.remove_first_value("Route")
                headers.add("Route", f"<{ctx.ruri}>")
                ctx.set_ruri(str(next_uri), line, "loose_route (to strict router)")
            return 1
        return 1  # a preloaded Route to someone else: follow it (next_hop reads it)

    def save_location(self, ctx: ScriptContext, line: int) -> int:
        request = ctx.msg
        if request.method != "REGISTER" or ctx.server is None:
            return -1
        result = self.location.save(request, ctx.source, ctx.now)
        response = make_response(request, result.status, result.reason, to_tag=new_tag())
        if result.status == 200:
            for value in contact_header_values(result.bindings, ctx.now):
                response.headers.add("Contact", value)
        self._send_response(ctx.server, response, ctx.now)
        ctx.replied = True
        to_value = request.headers.get("To") or ""
        self.decision(ctx, line, "save", to_value, f"{result.status} {len(result.bindings)} contact(s)")
        if result.changed and self.location_listener is not None:
            aor = self.location.aor_of(str(parse_name_addr(to_value).uri)) or ""
            self.location_listener(aor, list(result.bindings))
        return 1 if result.status == 200 else -1

    def lookup_location(self, ctx: ScriptContext, flags: str, line: int) -> int:
        code, bindings = self.location.lookup(ctx.ruri, ctx.msg.method if "m" in flags else "*",
                                              ctx.now)
        if code == 1:
            before = ctx.ruri
            ctx.new_uri = bindings[0].contact
            if "b" not in flags:
                ctx.extra_branches.extend((b.contact, None) for b in bindings[1:])
            self.decision(ctx, line, "lookup", before, ctx.new_uri,
                          reason=f"{len(bindings)} contact(s)")
        else:
            self.decision(ctx, line, "lookup", ctx.ruri, "", reason=f"returned {code}")
        return code

    def avp_load(self, *, uuid: str | None, username: str | None, domain: str | None,
                 attribute: str | None, table: str, line: int) -> list[tuple[str, Value]]:
        if self.preferences is None:
            return []
        try:
            rows = self.preferences.avp_lookup(username=username, domain=domain, uuid=uuid,
                                               attribute=attribute, table=table)
        except Exception as exc:  # a database problem must not stop the proxy
            self.problem("error", f"line {line}: avp_db_load: {exc}")
            return []
        out: list[tuple[str, Value]] = []
        for row in rows:
            typed = getattr(row, "typed_value", None)
            value = typed() if callable(typed) else getattr(row, "value", None)
            if value is None:
                continue
            out.append((str(getattr(row, "attribute", attribute or "")), value))
        return out

    def avp_store(self, *, uuid: str | None, username: str | None, domain: str | None,
                  attribute: str, values: list[Value], table: str, line: int) -> int:
        store = getattr(self.preferences, "avp_store", None)
        if store is None:
            return -1
        try:
            store(uuid=uuid, username=username, domain=domain, attribute=attribute,
                  values=values, table=table)
        except Exception as exc:
            self.problem("error", f"line {line}: avp_db_store: {exc}")
            return -1
        return 1

    def avp_delete(self, *, uuid: str | None, username: str | None, domain: str | None,
                   attribute: str, table: str, line: int) -> int:
        delete = getattr(self.preferences, "avp_delete", None)
        if delete is None:
            return -1
        try:
            count = delete(uuid=uuid, username=username, domain=domain, attribute=attribute,
                           table=table)
        except Exception as exc:
            self.problem("error", f"line {line}: avp_db_delete: {exc}")
            return -1
        return 1 if count else -1


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
