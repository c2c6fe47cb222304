"""Pseudo-variables of the lab proxy (OpenSIPS 2.4 names; SEMANTICS.md §3.2). Pure.

Reads return None (NULL) for anything absent. Writes are allowed only for $ru $rU $rd $rp $du,
$avp(…), $var(…), $T_fr_timeout and $T_fr_inv_timeout (the loader already refused other writes).

AVPs are a stack per name, newest first, as in OpenSIPS: ``$avp(n) = v`` pushes, ``$avp(n) := v``
replaces every value, ``$avp(n) = NULL`` deletes the top value and ``$(avp(n)[*]) = NULL`` all of them,
``$(avp(n)[append]) = v`` adds at the bottom. ``$(avp(n)[i])`` indexes from the top.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from labpbx.errors import ScriptRuntimeError, SipParseError
from labpbx.script.host import PVar, Value
from labpbx.sip.message import Request, Response, parse_name_addr, parse_uri

if TYPE_CHECKING:
    from labpbx.proxy.context import ScriptContext

Getter = Callable[["ScriptContext", PVar], Value]


def _message(ctx: ScriptContext) -> Request | Response:
    return ctx.reply if ctx.reply is not None else ctx.msg


def _safe(fn: Callable[[], Value]) -> Value:
    try:
        return fn()
    except (SipParseError, ValueError, IndexError):
        return None


def _uri_part(text: str | None, part: str) -> Value:
    if text is None:
        return None

    def get() -> Value:
        uri = parse_uri(text)
        if part == "user":
            return uri.user
        if part == "host":
            return uri.host
        return uri.port if uri.port is not None else 5060

    return _safe(get)


def _header_addr(ctx: ScriptContext, name: str, part: str) -> Value:
    value = _message(ctx).headers.get(name)
    if value is None:
        return None

    def get() -> Value:
        addr = parse_name_addr(value)
        if part == "uri":
            return str(addr.uri)
        if part == "user":
            return addr.uri.user
        if part == "host":
            return addr.uri.host
        if part == "name":
            return addr.display_name
        return addr.tag

    return _safe(get)


def _cseq(ctx: ScriptContext, which: int) -> Value:
    def get() -> Value:
        return _message(ctx).cseq[which]

    return _safe(get)


def _method(ctx: ScriptContext, _pv: PVar) -> Value:
    if ctx.reply is not None:
        return _cseq(ctx, 1)
    return ctx.msg.method


def _header(ctx: ScriptContext, pv: PVar) -> Value:
    name = pv.key or ""
    headers = _message(ctx).headers
    if pv.index is None:
        return headers.get(name)
    values = headers.get_all(name)
    if pv.index == "*":
        return ", ".join(values) if values else None
    if isinstance(pv.index, int) and -len(values) <= pv.index < len(values):
        return values[pv.index]
    return None


def _avp(ctx: ScriptContext, pv: PVar) -> Value:
    values = ctx.avps.get(pv.key or "")
    if not values:
        return None
    if pv.index is None:
        return values[0]
    if pv.index == "*":
        return values[0]
    if isinstance(pv.index, int) and -len(values) <= pv.index < len(values):
        return values[pv.index]
    return None


def _reply_code(ctx: ScriptContext, _pv: PVar) -> Value:
    if ctx.reply is not None:
        return ctx.reply.status
    if ctx.reply_code:
        return ctx.reply_code
    return ctx.cell.last_sent_status if ctx.cell is not None else 0


def _branch_idx(ctx: ScriptContext, _pv: PVar) -> Value:
    if ctx.failed_branch is not None:
        return ctx.failed_branch.index
    if ctx.reply_branch is not None:
        return ctx.reply_branch.index
    return None


def _fr(ctx: ScriptContext, inv: bool) -> Value:
    value = ctx.fr_inv_timeout if inv else ctx.fr_timeout
    if value is None and ctx.cell is not None:
        value = ctx.cell.fr_inv_timeout if inv else ctx.cell.fr_timeout
    if value is None:
        value = ctx.proxy.config.fr_inv_timeout if inv else ctx.proxy.config.fr_timeout
    return int(value)


GETTERS: dict[str, Getter] = {
    "ru": lambda c, p: c.ruri,
    "rU": lambda c, p: _uri_part(c.ruri, "user"),
    "rd": lambda c, p: _uri_part(c.ruri, "host"),
    "rp": lambda c, p: _uri_part(c.ruri, "port"),
    "du": lambda c, p: c.dst_uri,
    "ou": lambda c, p: c.msg.uri,
    "oU": lambda c, p: _uri_part(c.msg.uri, "user"),
    "fu": lambda c, p: _header_addr(c, "From", "uri"),
    "fU": lambda c, p: _header_addr(c, "From", "user"),
    "fd": lambda c, p: _header_addr(c, "From", "host"),
    "fn": lambda c, p: _header_addr(c, "From", "name"),
    "ft": lambda c, p: _header_addr(c, "From", "tag"),
    "tu": lambda c, p: _header_addr(c, "To", "uri"),
    "tU": lambda c, p: _header_addr(c, "To", "user"),
    "td": lambda c, p: _header_addr(c, "To", "host"),
    "tn": lambda c, p: _header_addr(c, "To", "name"),
    "tt": lambda c, p: _header_addr(c, "To", "tag"),
    "ci": lambda c, p: _message(c).headers.get("Call-ID"),
    "cs": lambda c, p: _cseq(c, 0),
    "rm": _method,
    "rs": lambda c, p: c.reply.status if c.reply is not None else None,
    "rr": lambda c, p: c.reply.reason if c.reply is not None else None,
    "si": lambda c, p: c.source[0],
    "sp": lambda c, p: c.source[1],
    "Ri": lambda c, p: c.proxy.config.listen[0],
    "Rp": lambda c, p: c.proxy.config.listen[1],
    "pr": lambda c, p: "udp",
    "proto": lambda c, p: "udp",
    "ua": lambda c, p: _message(c).headers.get("User-Agent"),
    "ct": lambda c, p: _message(c).headers.get("Contact"),
    "mb": lambda c, p: _message(c).to_bytes().decode("utf-8", "replace"),
    "ml": lambda c, p: len(_message(c).to_bytes()),
    "Ts": lambda c, p: int(time.time()),
    "Tf": lambda c, p: time.strftime("%a %b %d %H:%M:%S %Y"),
    "pp": lambda c, p: c.proxy.pid,
    "T_reply_code": _reply_code,
    "T_branch_idx": _branch_idx,
    "T_fr_timeout": lambda c, p: _fr(c, False),
    "T_fr_inv_timeout": lambda c, p: _fr(c, True),
    "T_id": lambda c, p: c.cell.tid if c.cell is not None else None,
    "avp": _avp,
    "var": lambda c, p: c.vars.get(p.key or ""),
    "hdr": _header,
}


def pv_get(ctx: ScriptContext, pv: PVar) -> Value:
    getter = GETTERS.get(pv.name)
    if getter is None:
        raise ScriptRuntimeError(f"{pv.text or pv.name}: not available in the lab proxy")
    return getter(ctx, pv)


def _set_uri_part(ctx: ScriptContext, part: str, value: Value, line: int) -> None:
    try:
        uri = parse_uri(ctx.ruri)
    except SipParseError as exc:
        raise ScriptRuntimeError(f"line {line}: R-URI {ctx.ruri!r} is not a SIP URI") from exc
    if part == "user":
        new = uri.with_user(None if value is None or value == "" else str(value))
        action = "set $rU"
    elif part == "host":
        if value is None:
            raise ScriptRuntimeError(f"line {line}: $rd cannot be NULL")
        new = uri.with_host_port(str(value), uri.port)
        action = "set $rd"
    else:
        port = None if value is None or value == "" else int(str(value))
        new = uri.with_host_port(uri.host, port)
        action = "set $rp"
    ctx.set_ruri(str(new), line, action)


def _set_avp(ctx: ScriptContext, pv: PVar, value: Value, op: str) -> None:
    name = pv.key or ""
    stack = ctx.avps.setdefault(name, [])
    if value is None:
        if pv.index == "*" or op == ":=":
            stack.clear()
        elif stack:
            index = pv.index if isinstance(pv.index, int) else 0
            if -len(stack) <= index < len(stack):
                del stack[index]
    elif op == ":=" or pv.index == "*":
        stack[:] = [value]
    elif pv.index == "append":
        stack.append(value)
    elif isinstance(pv.index, int):
        if -len(stack) <= pv.index < len(stack):
            stack[pv.index] = value
        else:
            raise ScriptRuntimeError(f"{pv.text}: no value at index {pv.index}")
    else:
        stack.insert(0, value)
    if not stack:
        del ctx.avps[name]


def pv_set(ctx: ScriptContext, pv: PVar, value: Value, op: str, line: int) -> None:
    name = pv.name
    if name == "ru":
        if value is None:
            raise ScriptRuntimeError(f"line {line}: $ru cannot be NULL")
        ctx.set_ruri(str(value), line, "set $ru")
    elif name == "rU":
        _set_uri_part(ctx, "user", value, line)
    elif name == "rd":
        _set_uri_part(ctx, "host", value, line)
    elif name == "rp":
        _set_uri_part(ctx, "port", value, line)
    elif name == "du":
        before = ctx.dst_uri or ""
        if value is None or value == "":
            ctx.dst_uri = None
        else:
            try:
                parse_uri(str(value))
            except SipParseError as exc:
                raise ScriptRuntimeError(f"line {line}: invalid $du {value!r}: {exc}") from exc
            ctx.dst_uri = str(value)
        ctx.proxy.decision(ctx, line, "set $du", before, ctx.dst_uri or "")
    elif name == "avp":
        _set_avp(ctx, pv, value, op)
    elif name == "var":
        ctx.vars[pv.key or ""] = value
    elif name in ("T_fr_timeout", "T_fr_inv_timeout"):
        seconds = None if value is None else float(int(str(value)))
        if name == "T_fr_timeout":
            ctx.fr_timeout = seconds
        else:
            ctx.fr_inv_timeout = seconds
        if ctx.cell is not None:
            if name == "T_fr_timeout":
                ctx.cell.fr_timeout = seconds
            else:
                ctx.cell.fr_inv_timeout = seconds
    else:
        raise ScriptRuntimeError(f"line {line}: {pv.text or '$' + name} is read-only")
