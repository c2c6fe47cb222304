"""One script run: the ScriptHost the interpreter talks to, for a request, failure, branch or reply route.

The context never mutates ``msg.uri``: the rewritten Request-URI lives in ``new_uri`` (OpenSIPS'
``new_uri``), so revert_uri() and $ou always see the Request-URI as received, and a failure route can
start from the failed branch's URI (OpenSIPS 2.x, SEMANTICS.md §3.1). Header edits (append_hf,
record_route, Max-Forwards) change ``msg`` itself, which is this run's own copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from labpbx.errors import ScriptRuntimeError, SipParseError
from labpbx.script.host import FunctionArg, PVar, RouteKind, Value
from labpbx.sip.message import Request, Response, parse_uri
from labpbx.sip.transaction import ServerTransaction

if TYPE_CHECKING:
    from labpbx.proxy.engine import Proxy
    from labpbx.proxy.tm import Branch, Cell

Addr = tuple[str, int]


class ScriptContext:
    """State of one message going through the script (implements labpbx.script.host.ScriptHost)."""

    proxy: Proxy
    kind: RouteKind
    msg: Request
    reply: Response | None
    source: Addr
    now: float
    server: ServerTransaction | None
    cell: Cell | None

    def __init__(self, proxy: Proxy, kind: RouteKind, msg: Request, source: Addr, now: float, *,
                 server: ServerTransaction | None = None, cell: Cell | None = None,
                 reply: Response | None = None) -> None:
        self.proxy = proxy
        self.kind = kind
        self.msg = msg
        self.reply = reply
        self.source = source
        self.now = now
        self.server = server
        self.cell = cell
        self.new_uri: str | None = None
        self.dst_uri: str | None = None
        self.extra_branches: list[tuple[str, str | None]] = []
        self.vars: dict[str, Value] = {}
        self.avps: dict[str, list[Value]] = cell.avps if cell is not None else {}
        self.flags = cell.flags if cell is not None else 0
        self.maxfwd_done = False
        self.record_routed = False
        self.replied = False
        self.relayed = False
        self.route_label = kind.value
        self.failed_branch: Branch | None = None  # failure route: the winning (picked) branch
        self.reply_branch: Branch | None = None  # onreply route: the branch the reply came on
        self.reply_code = 0  # $T_reply_code
        self.pending_on_failure: str | None = None
        self.pending_on_reply: str | None = None
        self.pending_on_branch: str | None = None
        self.fr_timeout: float | None = None
        self.fr_inv_timeout: float | None = None

    # --- R-URI helpers -------------------------------------------------------------------------
    @property
    def ruri(self) -> str:
        return self.new_uri if self.new_uri is not None else self.msg.uri

    def set_ruri(self, value: str, line: int, action: str) -> None:
        try:
            parse_uri(value)
        except SipParseError as exc:
            raise ScriptRuntimeError(f"line {line}: {action}: invalid R-URI {value!r}: {exc}") from exc
        before = self.ruri
        self.new_uri = value
        self.proxy.decision(self, line, action, before, value)

    @property
    def call_id(self) -> str:
        message = self.reply if self.reply is not None else self.msg
        try:
            return message.call_id
        except SipParseError:
            return ""

    # --- ScriptHost ----------------------------------------------------------------------------
    def pv_get(self, pv: PVar) -> Value:
        return _pv_get(self, pv)

    def pv_set(self, pv: PVar, value: Value, op: str, line: int) -> None:
        _pv_set(self, pv, value, op, line)

    def call(self, name: str, args: Sequence[FunctionArg], line: int) -> int:
        impl = BUILTINS.get(name)
        if impl is None:
            raise ScriptRuntimeError(f"line {line}: {name}() is not available in the lab proxy")
        return impl(self, args, line)

    def is_myself(self, value: str) -> bool:
        return self.proxy.is_myself(value)

    def route_entered(self, kind: RouteKind, name: str | None, line: int) -> None:
        self.route_label = f"{kind.value}[{name}]" if name else kind.value


# Bound after the class: pvars and builtins refer to ScriptContext for typing only.
from labpbx.proxy.builtins import BUILTINS  # noqa: E402
from labpbx.proxy.pvars import pv_get as _pv_get  # noqa: E402
from labpbx.proxy.pvars import pv_set as _pv_set  # noqa: E402
