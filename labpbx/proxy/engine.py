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

from labpbx.errors import LocalProtocolError, ScriptRuntimeError, SipParseError
from labpbx.proxy import forwarding as fwd
from labpbx.proxy.context import ScriptContext
from labpbx.proxy.core import (
    Preferences,
    ProxyCore,
    Script,
    _decrement_max_forwards,
    _invalid_request,
)
from labpbx.proxy.overload import Action
from labpbx.proxy.replies import ReplyPath
from labpbx.proxy.services import ScriptServices
from labpbx.proxy.tm import Branch, Cell
from labpbx.script.host import RouteKind
from labpbx.sip.events import RequestReceived, ResponseReceived, Terminated, TimedOut
from labpbx.sip.message import (
    Request,
    Response,
    make_response,
    new_tag,
    parse_message,
)
from labpbx.sip.quick import quick_request, quick_response
from labpbx.sip.transaction import (
    ServerTransaction,
)

Addr = tuple[str, int]

__all__ = ["Preferences", "Proxy", "ProxyCore", "Script"]


class Proxy(ReplyPath, ScriptServices):
    """The stateful proxy; see the module docstring for what happens to a request."""

    # ==== I/O-facing API ==========================================================================
    def receive_datagram(self, data: bytes, addr: Addr, now: float) -> None:
        """Feed one UDP datagram received from ``addr``. Never raises for bad input."""
        self.stats["received"] += 1
        message = self._parse(data, addr)
        if message is not None:
            self._receive_message(message, data, addr, now)

    def _parse(self, data: bytes, addr: Addr) -> Request | Response | None:
        if not data.strip(b"\r\n"):
            return None  # keep-alive CRLFs (RFC 5626 §3.5.1)
        try:
            return parse_message(data)
        except SipParseError as exc:
            self.stats["bad"] += 1
            self.problem("warning", f"dropped a malformed datagram from {addr[0]}:{addr[1]}: {exc}",
                         data[:2000].decode("utf-8", "replace"))
            return None

    def _receive_message(self, message: Request | Response, data: bytes, addr: Addr,
                         now: float) -> None:
        if self.trace_sip:
            self._trace("in", addr, self.config.listen, message, data)
        if isinstance(message, Request):
            fwd.stamp_received(message, addr)
        try:
            self.layer.receive(message, addr, now)
        except SipParseError as exc:
            self.stats["bad"] += 1
            self.problem("warning", f"dropped a message from {addr[0]}:{addr[1]}: {exc}")
            return
        self._drain(now)

    # ---- the receive queue and overload control (labpbx.proxy.overload) ----------------------
    def queue_datagram(self, data: bytes, addr: Addr, now: float) -> None:
        """Put a datagram read at ``now`` in the prioritised receive queue (cheap: no parse)."""
        self.ingress.push(data, addr, now)

    def process_queued(self, now: float, limit: int) -> int:
        """Handle up to ``limit`` queued datagrams, urgent ones first; returns how many wait."""
        ingress = self.ingress
        for _ in range(limit):
            item = ingress.pop(now)
            if item is None:
                break
            data, addr, action = item
            if action is Action.REFUSE:
                self.refuse_new_call(data, addr, now)
            else:
                self.receive_datagram(data, addr, now)
        return len(ingress)

    def refuse_new_call(self, data: bytes, addr: Addr, now: float) -> None:
        """A new INVITE that waited too long: a stateless ``503 Service Unavailable`` with
        ``Retry-After`` (RFC 3261 §21.5.4), without a transaction or the script. Its To-tag carries
        ``overload_tag_prefix`` so the receive queue absorbs the caller's ACK unparsed. The reply
        is built from the raw bytes (labpbx.sip.quick, a fraction of a parse); anything that turns
        out not to be a new call (an INVITE retransmission of an admitted call, a To-tag the raw
        look missed, an odd message) takes the normal, parsing path."""
        self.stats["received"] += 1
        quick = quick_request(data, addr)
        if quick is None or quick.method != b"INVITE" or not quick.branch \
                or self.layer.has_server(quick.branch, quick.top_via.sent_by, "INVITE"):
            message = self._parse(data, addr)
            if message is not None:
                self._receive_message(message, data, addr, now)
            return
        if self.trace_sip:
            message = self._parse(data, addr)
            if message is not None:
                self._trace("in", addr, self.config.listen, message, data)
        overload = self.config.overload
        response = quick_response(
            quick, 503, "Service Unavailable",
            f"{self.overload_tag_prefix}.{next(self._refusals):x}",
            (("Retry-After", str(overload.retry_after)),))
        self.layer.send_stateless_bytes(response, quick.reply_to)
        self.stats["refused"] += 1
        if self._overload_noted is None or now - self._overload_noted >= 10.0:
            self._overload_noted = now
            self.problem("warning", "overloaded: new calls waited more than "
                         f"{overload.max_delay * 1000:.0f} ms to be served; refusing them with "
                         f"503 (Retry-After {overload.retry_after} s), {self.stats['refused']} "
                         "so far")

    def handle_timer(self, now: float) -> None:
        self.layer.handle_timer(now)
        self._expire_abandoned(now)
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
            elif isinstance(event, Terminated):
                self._released(event.transaction)

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
        unsupported = _unsupported_proxy_require(request)
        if unsupported and server is not None:
            # §16.3 step 5: we understand no proxy extension; say which ones in Unsupported
            response = make_response(request, 420, "Bad Extension", to_tag=new_tag())
            response.headers.add("Unsupported", ", ".join(unsupported))
            self._send_response(server, response, now)
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
            self._terminate(server)

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

    def t_relay(self, ctx: ScriptContext, line: int, *, no_100: bool = False) -> int:
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
        if cell.is_invite and ctx.kind is RouteKind.REQUEST and not cell.branches \
                and self.config.auto_100trying and not no_100 and cell.last_sent_status == 0:
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
                self._terminate(ctx.server)
                ctx.server = None
            return self._forward_stateless(ctx, line)
        if ctx.server is not None:
            self._send_response(ctx.server, make_response(ctx.msg, 200, "OK",
                                                          to_tag=cell.to_tag), ctx.now)
            ctx.replied = True
        self._cancel_cell(cell, ctx.now, ctx.msg.headers.get("Reason"))
        self.decision(ctx, line, "cancel", "", f"{cell.tid} cancelled")
        return 1


def _unsupported_proxy_require(request: Request) -> list[str]:
    """Option tags in Proxy-Require (this proxy supports none; ACK and CANCEL are exempt, §16.3)."""
    if request.method in ("ACK", "CANCEL"):
        return []
    return [tag for tag in request.headers.get_all("Proxy-Require") if tag]
