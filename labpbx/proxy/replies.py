"""The response side of the proxy: provisional/final replies per branch, the winning reply, the
failure route (serial forking), the final reply upstream, branch timeouts and late replies
(RFC 3261 §16.7, §16.8; OpenSIPS tm, SEMANTICS.md §2). Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from labpbx.errors import LocalProtocolError, SipParseError
from labpbx.proxy import forwarding as fwd
from labpbx.proxy.context import ScriptContext
from labpbx.proxy.core import ProxyCore, _CancelMarker, _response_target
from labpbx.proxy.tm import Branch, BranchState, Cell, pick_branch
from labpbx.script.host import RouteKind
from labpbx.sip.message import (
    Response,
    build_ack_for_non2xx,
    build_cancel,
)
from labpbx.sip.transaction import (
    ClientTransaction,
    Transaction,
)

if TYPE_CHECKING:
    from labpbx.proxy.engine import Proxy

Addr = tuple[str, int]


class ReplyPath(ProxyCore):
    def _as_proxy(self) -> Proxy:
        # Script contexts call request-side functions (t_relay …) defined on Proxy, which is the
        # only concrete class built from these parts.
        return cast("Proxy", self)

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
        if cell.on_reply:
            self._run_onreply(cell, branch, response, now)  # a final reply cannot be dropped
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
        ctx = ScriptContext(self._as_proxy(), RouteKind.ONREPLY, branch.request, branch.dst, now,
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
            self._send_by_via(upstream)

    def _remember_abandoned(self, branch: Branch, now: float) -> None:
        """Keep a branch given up without any reply for 64·T1: a late 1xx must still be CANCELled
        (OpenSIPS T_UAC_TO_CANCEL) and a late negative reply ACKed, though its transaction is gone."""
        key = branch.request.top_via.branch or ""
        self._abandoned[key] = branch
        self._abandoned_order.append((now + 64 * self.config.t1, key))
        self._expire_abandoned(now)

    def _expire_abandoned(self, now: float) -> None:
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
        if upstream is not None:
            self._send_by_via(upstream)

    def _send_by_via(self, upstream: Response) -> None:
        """Statelessly to where the (remaining) top Via says (§18.2.2)."""
        target = _response_target(upstream.headers.first_value("Via"))
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
        ctx = ScriptContext(self._as_proxy(), RouteKind.FAILURE, base.copy(), cell.server.addr, now,
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
        elif reply.status in (401, 407):
            reply = _with_all_challenges(reply, cell, winner)
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
            self._terminate(branch.transaction)  # no reply at all: stop retransmitting
            self._remember_abandoned(branch, now)
        self._disarm(branch)
        branch.state = BranchState.COMPLETED
        branch.status = 408
        branch.local = True
        branch.timed_out = True
        seconds = self._fr(cell, invite=kind == "fr_inv_timeout")
        self._tx_event(cell, "timeout", branch.index, f"{kind} expired after {seconds:g} s: local 408")
        self._leg_maybe_done(cell, now)

    def _on_timed_out(self, txn: Transaction, now: float) -> None:
        branch = txn.user_data
        if isinstance(branch, Branch) and not branch.completed:
            # Timer B/F before fr_timeout: same outcome as fr_timeout with no reply
            self._branch_timeout(branch, now)


_CHALLENGES = ("WWW-Authenticate", "Proxy-Authenticate")


def _with_all_challenges(reply: Response, cell: Cell, winner: Branch) -> Response:
    """§16.7 step 7: a 401/407 sent upstream carries the challenges of every other 401/407
    received in this transaction, unchanged (several devices of one user may each challenge)."""
    extra = [(name, value) for branch in cell.branches
             if branch is not winner and branch.reply is not None
             and branch.reply.status in (401, 407)
             for name in _CHALLENGES for value in branch.reply.headers.get_all(name)]
    if not extra:
        return reply
    merged = reply.copy()
    for name, value in extra:
        merged.headers.add(name, value)
    return merged
