"""Implementations of the script functions (signatures and help: labpbx.script.functions).

Each takes the ScriptContext, the evaluated arguments and the script line, and returns an OpenSIPS
return code (>0 true, <0 false, 0 stops the script). Functions that touch transactions delegate to the
engine (labpbx.proxy.engine.Proxy); the rest edit the context's message or R-URI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from labpbx.errors import LocalProtocolError, ScriptRuntimeError, SipParseError
from labpbx.script.host import FunctionArg, PVar, RouteKind, Value
from labpbx.sip.message import parse_name_addr, parse_uri

if TYPE_CHECKING:
    from labpbx.proxy.context import ScriptContext

Impl = Callable[["ScriptContext", Sequence[FunctionArg], int], int]

XLOG_LEVELS = {"L_ALERT": -3, "L_CRIT": -2, "L_ERR": -1, "L_WARN": 1, "L_NOTICE": 2, "L_INFO": 3,
               "L_DBG": 4}


def _s(args: Sequence[FunctionArg], i: int) -> str:
    value = args[i].value
    return "" if value is None else str(value)


def _i(args: Sequence[FunctionArg], i: int, line: int) -> int:
    value = args[i].value
    text = str(value).strip()
    try:
        return int(text, 16) if text[:2].lower() == "0x" else int(text)
    except ValueError as exc:
        raise ScriptRuntimeError(f"line {line}: {value!r} is not an integer") from exc


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# --- core ------------------------------------------------------------------------------------------
def xlog(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    if len(args) == 2:
        level_name, text = _s(args, 0), _s(args, 1)
    else:
        level_name, text = "L_ERR", _s(args, 0)
    ctx.proxy.xlog(ctx, XLOG_LEVELS.get(level_name, -1), level_name, text, line)
    return 1


def _rewrite(ctx: ScriptContext, line: int, action: str, change: Callable[[str], str]) -> int:
    try:
        new = change(ctx.ruri)
    except SipParseError as exc:
        raise ScriptRuntimeError(f"line {line}: {action}: R-URI {ctx.ruri!r}: {exc}") from exc
    ctx.set_ruri(new, line, action)
    return 1


def prefix(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    text = _s(args, 0)

    def change(ruri: str) -> str:
        uri = parse_uri(ruri)
        return str(uri.with_user(text + (uri.user or "")))

    return _rewrite(ctx, line, "prefix", change)


def strip(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    count = _i(args, 0, line)

    def change(ruri: str) -> str:
        uri = parse_uri(ruri)
        user = (uri.user or "")[count:]
        return str(uri.with_user(user or None))

    return _rewrite(ctx, line, "strip", change)


def revert_uri(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    before = ctx.ruri
    ctx.new_uri = None
    ctx.proxy.decision(ctx, line, "revert_uri", before, ctx.ruri)
    return 1


def _split_hostport(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return f"[{host}]", int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return text, None


def rewritehostport(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    host, port = _split_hostport(_s(args, 0))
    return _rewrite(ctx, line, "rewritehostport",
                    lambda r: str(parse_uri(r).with_host_port(host, port)))


def rewritehost(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    host = _s(args, 0)
    return _rewrite(ctx, line, "rewritehost",
                    lambda r: str(parse_uri(r).with_host_port(host, parse_uri(r).port)))


def rewriteuser(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    user = _s(args, 0)
    return _rewrite(ctx, line, "rewriteuser", lambda r: str(parse_uri(r).with_user(user or None)))


def append_branch(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    uri = _s(args, 0) if args else ctx.ruri
    try:
        parse_uri(uri)
    except SipParseError:
        return -1
    ctx.extra_branches.append((uri, ctx.dst_uri if not args else None))
    ctx.proxy.decision(ctx, line, "append_branch", "", uri)
    return 1


def force_rport(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1  # replies always go to the source address and port (symmetric UDP)


def setflag(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    ctx.flags |= 1 << _i(args, 0, line)
    if ctx.cell is not None:
        ctx.cell.flags = ctx.flags
    return 1


def resetflag(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    ctx.flags &= ~(1 << _i(args, 0, line))
    if ctx.cell is not None:
        ctx.cell.flags = ctx.flags
    return 1


def isflagset(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1 if ctx.flags & (1 << _i(args, 0, line)) else -1


# --- sipmsgops -------------------------------------------------------------------------------------
def is_method(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    if ctx.reply is not None:
        try:
            method = ctx.reply.cseq[1]
        except SipParseError:
            return -1
    else:
        method = ctx.msg.method
    return 1 if method in _s(args, 0).split("|") else -1


def has_totag(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    message = ctx.reply if ctx.reply is not None else ctx.msg
    try:
        return 1 if message.to_tag else -1
    except SipParseError:
        return -1


def append_hf(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    """OpenSIPS textops: the text may hold several CRLF-terminated headers; with a second argument
    they go after the first header of that name."""
    headers = ctx.msg.headers
    anchor = _s(args, 1) if len(args) == 2 else None
    lines = [piece for piece in _s(args, 0).replace("\r\n", "\n").split("\n") if piece.strip()]
    if not lines:
        raise ScriptRuntimeError(f"line {line}: append_hf needs 'Name: value\\r\\n'")
    for text in reversed(lines) if anchor else lines:
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise ScriptRuntimeError(f"line {line}: append_hf needs 'Name: value', got {text!r}")
        try:
            if anchor:
                headers.add_after(anchor, name.strip(), value.strip())
            else:
                headers.add(name.strip(), value.strip())
        except LocalProtocolError as exc:
            raise ScriptRuntimeError(f"line {line}: append_hf: {exc}") from exc
    return 1


def remove_hf(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1 if ctx.msg.headers.remove_all(_s(args, 0)) else -1


def is_present_hf(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    message = ctx.reply if ctx.reply is not None else ctx.msg
    return 1 if _s(args, 0) in message.headers else -1


# --- maxfwd ----------------------------------------------------------------------------------------
def mf_process_maxfwd_header(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    limit = _i(args, 0, line)
    headers = ctx.msg.headers
    raw = headers.get("Max-Forwards")
    ctx.maxfwd_done = True
    if raw is None:
        headers.add("Max-Forwards", str(limit))
        return 2
    try:
        value = int(raw.strip())
    except ValueError:
        return -2
    if value <= 0:
        return -1
    headers.set("Max-Forwards", str(value - 1))
    return 1


# --- rr --------------------------------------------------------------------------------------------
def record_route(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    if ctx.record_routed:
        return -1
    ctx.msg.headers.prepend("Record-Route", f"<{ctx.proxy.rr_uri}>")
    ctx.record_routed = True
    return 1


def loose_route(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return ctx.proxy.loose_route(ctx, line)


# --- sl / signaling / tm -----------------------------------------------------------------------------
def sl_send_reply(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return ctx.proxy.stateless_reply(ctx, _i(args, 0, line), _s(args, 1), line)


def sl_reply_error(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return ctx.proxy.stateless_reply(ctx, 500, "Server Internal Error", line)


def send_reply(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    if ctx.cell is not None or ctx.kind is RouteKind.FAILURE:
        return ctx.proxy.t_reply(ctx, _i(args, 0, line), _s(args, 1), line)
    return ctx.proxy.stateless_reply(ctx, _i(args, 0, line), _s(args, 1), line)


T_RELAY_NO_100 = 0x01  # OpenSIPS tm flag: do not send 100 Trying for this INVITE


def t_relay(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    flags = _i(args, 0, line) if args else 0
    return ctx.proxy.t_relay(ctx, line, no_100=bool(flags & T_RELAY_NO_100))


def t_newtran(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1 if ctx.proxy.t_newtran(ctx) is not None else -1


def t_reply(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return ctx.proxy.t_reply(ctx, _i(args, 0, line), _s(args, 1), line)


def t_check_trans(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return ctx.proxy.t_check_trans(ctx)


def _arm_route(kind: str) -> Impl:
    """t_on_failure / t_on_reply / t_on_branch: arm the named route on the cell, or on the cell the
    next t_relay() creates."""

    def arm(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
        name = _s(args, 0)
        if ctx.cell is not None:
            setattr(ctx.cell, f"on_{kind}", name)
        setattr(ctx, f"pending_on_{kind}", name)
        return 1

    return arm


t_on_failure = _arm_route("failure")
t_on_reply = _arm_route("reply")
t_on_branch = _arm_route("branch")


def _status_in_scope(ctx: ScriptContext) -> int:
    if ctx.reply is not None:
        return ctx.reply.status
    if ctx.kind is RouteKind.FAILURE:
        return ctx.reply_code
    return ctx.cell.last_sent_status if ctx.cell is not None else 0


def t_check_status(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    status = _status_in_scope(ctx)
    if not status:
        return -1
    try:
        pattern = _regex(_s(args, 0))
    except re.error as exc:
        raise ScriptRuntimeError(f"line {line}: bad regular expression {_s(args, 0)!r}: {exc}") from exc
    return 1 if pattern.search(str(status)) else -1


def t_was_cancelled(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1 if ctx.cell is not None and ctx.cell.cancelled else -1


def t_local_replied(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    cell = ctx.cell
    if cell is None:
        return -1
    which = _s(args, 0)
    if which == "all":
        done = [b for b in cell.branches if b.completed]
        return 1 if done and all(b.local for b in done) else -1
    branch = ctx.failed_branch or ctx.reply_branch
    return 1 if branch is not None and branch.local else -1


def t_branch_timeout(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1 if ctx.failed_branch is not None and ctx.failed_branch.timed_out else -1


def t_branch_replied(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    branch = ctx.failed_branch
    return 1 if branch is not None and branch.last_received > 0 else -1


def t_any_timeout(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1 if ctx.cell is not None and any(b.timed_out for b in ctx.cell.branches) else -1


def t_any_replied(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1 if ctx.cell is not None and any(b.last_received for b in ctx.cell.branches) else -1


# --- registrar -------------------------------------------------------------------------------------
def save(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return ctx.proxy.save_location(ctx, line)


def lookup(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    flags = _s(args, 1) if len(args) > 1 else ""
    return ctx.proxy.lookup_location(ctx, flags, line)


def registered(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    code, _ = ctx.proxy.location.lookup(ctx.ruri, "*", ctx.now)
    return 1 if code in (1, -2) else -1


# --- avpops ----------------------------------------------------------------------------------------
def _source(ctx: ScriptContext, arg: FunctionArg, line: int) -> tuple[str | None, str | None, str | None]:
    """(uuid, username, domain) selected by an avp_db_* source such as "$ru" or "$fu/domain"."""
    text = _s([arg], 0)
    pv = arg.pvar
    if pv is None:
        raise ScriptRuntimeError(f"line {line}: bad avp source {text!r}")
    suffix = text.rsplit("/", 1)[1] if "/" in text else ""
    value = ctx.pv_get(pv)
    if value is None:
        return None, None, None
    is_uri = pv.name in ("ru", "fu", "tu", "ou") or suffix in ("username", "domain", "uri")
    if not is_uri or suffix == "uuid":
        return str(value), None, None
    try:
        uri = parse_uri(str(value))
    except SipParseError:
        try:
            uri = parse_name_addr(str(value)).uri
        except SipParseError:
            return None, None, None
    if not uri.user or not uri.host:
        ctx.proxy.problem("warning", f"line {line}: incomplete uri {value!r}: missing user or host")
        return None, None, None
    use_domain = suffix in ("domain", "uri") or (suffix == "" and ctx.proxy.config.use_domain)
    return None, uri.user, uri.host if use_domain else None


def _avp_name(arg: FunctionArg) -> str:
    pv: PVar | None = arg.pvar
    return pv.key or "" if pv is not None else ""


def _table(args: Sequence[FunctionArg]) -> str:
    return _s(args, 2) if len(args) > 2 else "usr_preferences"


def avp_db_load(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    uuid, username, domain = _source(ctx, args[0], line)
    if uuid is None and username is None:
        return -1
    name = _avp_name(args[1])
    values = ctx.proxy.avp_load(uuid=uuid, username=username, domain=domain, attribute=name or None,
                                table=_table(args), line=line)
    if not values:
        return -1
    for attribute, value in values:
        ctx.avps.setdefault(name or attribute, []).insert(0, value)
    return 1


def avp_db_store(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    uuid, username, domain = _source(ctx, args[0], line)
    name = _avp_name(args[1])
    values: list[Value] = list(ctx.avps.get(name, []))
    if (uuid is None and username is None) or not values:
        return -1
    return ctx.proxy.avp_store(uuid=uuid, username=username, domain=domain, attribute=name,
                               values=values, table=_table(args), line=line)


def avp_db_delete(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    uuid, username, domain = _source(ctx, args[0], line)
    if uuid is None and username is None:
        return -1
    return ctx.proxy.avp_delete(uuid=uuid, username=username, domain=domain,
                                attribute=_avp_name(args[1]), table=_table(args), line=line)


def avp_delete(ctx: ScriptContext, args: Sequence[FunctionArg], line: int) -> int:
    return 1 if ctx.avps.pop(_avp_name(args[0]), None) is not None else -1


BUILTINS: dict[str, Impl] = {
    "xlog": xlog, "prefix": prefix, "strip": strip, "revert_uri": revert_uri,
    "rewritehostport": rewritehostport, "sethostport": rewritehostport, "rewritehost": rewritehost,
    "rewriteuser": rewriteuser, "setuser": rewriteuser, "append_branch": append_branch,
    "force_rport": force_rport, "setflag": setflag, "resetflag": resetflag, "isflagset": isflagset,
    "is_method": is_method, "has_totag": has_totag, "append_hf": append_hf, "remove_hf": remove_hf,
    "is_present_hf": is_present_hf, "mf_process_maxfwd_header": mf_process_maxfwd_header,
    "record_route": record_route, "loose_route": loose_route, "sl_send_reply": sl_send_reply,
    "sl_reply_error": sl_reply_error, "send_reply": send_reply, "t_relay": t_relay,
    "t_newtran": t_newtran, "t_reply": t_reply, "t_check_trans": t_check_trans,
    "t_on_failure": t_on_failure, "t_on_reply": t_on_reply, "t_on_branch": t_on_branch,
    "t_check_status": t_check_status, "t_was_cancelled": t_was_cancelled,
    "t_local_replied": t_local_replied, "t_branch_timeout": t_branch_timeout,
    "t_branch_replied": t_branch_replied, "t_any_timeout": t_any_timeout,
    "t_any_replied": t_any_replied, "save": save, "lookup": lookup, "registered": registered,
    "avp_db_load": avp_db_load, "avp_db_store": avp_db_store, "avp_db_delete": avp_db_delete,
    "avp_delete": avp_delete,
}
