"""Semantic checks of route bodies, and the load-time plans the interpreter compiles from.

Rules of this module:
  * Everything that can be known before a message arrives is checked here, so that a running
    script only fails on data (a NULL in arithmetic, a bad regex read from a variable ...):
    function names, argument counts and kinds (functions.py), the route types a function may run
    in, loaded modules, route names, pseudo-variable names, writability, #!define names, static
    regexes, ``break`` placement and ``return`` values.
  * A ``route[name]`` block runs in the route type of whoever calls it: its functions are checked
    against every type it is reachable from (``t_relay()`` in a ``route[x]`` called from an
    ``onreply_route`` is refused). A block nobody calls is checked as a request route.
  * Module rule: only when the script has at least one loadmodule line must a function's module
    (or one of its MODULE_ALIASES) be loaded; "core" functions never need one.
  * ``return`` takes an integer, a pseudo-variable or a define holding an integer (OpenSIPS 2.4
    accepts ``return``, ``return(n)`` and ``return($var)``). ``drop`` is allowed everywhere; what it
    means per route type is the proxy's business. ``$x := NULL`` is only for AVPs, as in OpenSIPS.
  * Output: per call node, the argument plan (static FunctionArgs, or a parsed format string), and
    per ``=~`` node with a constant pattern, the compiled regex. Nodes are keyed by ``id()``; the
    plans are only used while the same tree is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labpbx.script import ast
from labpbx.script.declarations import Declarations, route_label
from labpbx.script.functions import (
    CORE_MODULES,
    FUNCTIONS,
    MODULE_ALIASES,
    XLOG_LEVELS,
    FunctionSpec,
)
from labpbx.script.host import FunctionArg, PVar, RouteKind, Value
from labpbx.script.pvars import (
    PVarError,
    check_pvar,
    is_writable,
    parse_avp_source,
    parse_checked,
    parse_format,
)
from labpbx.script.report import Reporter, suggest
from labpbx.script.values import as_int, compile_regex

_ROUTE_ARG_KINDS = {
    "route": RouteKind.REQUEST, "failure_route": RouteKind.FAILURE,
    "onreply_route": RouteKind.ONREPLY, "branch_route": RouteKind.BRANCH,
}


_HEX = re.compile(r"0[xX][0-9a-fA-F]+")


@dataclass(frozen=True, slots=True)
class FmtArg:
    """A format-string argument: literal text and pseudo-variables, expanded per call."""

    parts: tuple[str | PVar, ...]


ArgPlan = FunctionArg | FmtArg


@dataclass(frozen=True, slots=True)
class Checked:
    decls: Declarations
    arg_plans: dict[int, tuple[ArgPlan, ...]]
    regexes: dict[int, re.Pattern[str]]


@dataclass(frozen=True, slots=True)
class _Scope:
    label: str                      # the block being checked, for messages
    kinds: dict[RouteKind, str]     # route types it runs in -> the entry block that leads there
    breakable: bool = False


def check(decls: Declarations, rep: Reporter) -> Checked:
    return _Checker(decls, rep).run()


class _Checker:
    def __init__(self, decls: Declarations, rep: Reporter) -> None:
        self.decls = decls
        self.rep = rep
        self.plans: dict[int, tuple[ArgPlan, ...]] = {}
        self.regexes: dict[int, re.Pattern[str]] = {}
        self._expr_checks: dict[type[Any], Callable[[Any, _Scope], None]] = {
            ast.StrLit: self._nothing, ast.IntLit: self._nothing, ast.NullLit: self._nothing,
            ast.PVarRef: self._pvar_ref, ast.NameRef: self._name_ref, ast.Call: self._call,
            ast.RouteCall: self._route_call, ast.Not: self._not, ast.Logical: self._binary,
            ast.Compare: self._binary, ast.BinOp: self._binary, ast.Match: self._match,
            ast.Myself: self._myself, ast.Unary: self._unary,
        }

    def run(self) -> Checked:
        reach = self._reachability()
        blocks = [b for table in self.decls.routes.values() for b in table.values()]
        for block in sorted(blocks, key=lambda b: (b.line, b.column)):
            label = route_label(block.kind, block.name)
            if block.kind is RouteKind.REQUEST and block.name is not None:
                kinds = reach.get(block.name) or {RouteKind.REQUEST: label}
            else:
                kinds = {block.kind: label}
            self._stmt(block.body, _Scope(label, kinds))
        return Checked(self.decls, self.plans, self.regexes)

    def _reachability(self) -> dict[str, dict[RouteKind, str]]:
        """route[name] -> {route type it can run in: the entry block it is reached from}."""
        named = self.decls.routes[RouteKind.REQUEST]
        callees = {
            id(b): [n.name for n in ast.iter_nodes(b) if isinstance(n, ast.RouteCall)]
            for table in self.decls.routes.values() for b in table.values()
        }
        reach: dict[str, dict[RouteKind, str]] = {}
        for table in self.decls.routes.values():
            for name, entry in table.items():
                if entry.kind is RouteKind.REQUEST and name is not None:
                    continue
                stack = list(callees[id(entry)])
                while stack:
                    callee = stack.pop()
                    target = named.get(callee)
                    if target is None or entry.kind in reach.setdefault(callee, {}):
                        continue
                    reach[callee][entry.kind] = route_label(entry.kind, entry.name)
                    stack.extend(callees[id(target)])
        return reach

    # --- statements -----------------------------------------------------------------------------

    def _stmt(self, s: ast.Stmt, scope: _Scope) -> None:
        if isinstance(s, ast.Block):
            for inner in s.body:
                self._stmt(inner, scope)
        elif isinstance(s, ast.If):
            self._expr(s.cond, scope)
            self._stmt(s.then, scope)
            if s.orelse is not None:
                self._stmt(s.orelse, scope)
        elif isinstance(s, ast.While):
            self._expr(s.cond, scope)
            self._stmt(s.body, _Scope(scope.label, scope.kinds, breakable=True))
        elif isinstance(s, ast.Switch):
            self._switch(s, scope)
        elif isinstance(s, ast.Assign):
            self._assign(s, scope)
        elif isinstance(s, ast.CallStmt):
            self._expr(s.call, scope)
        elif isinstance(s, ast.Return):
            self._return(s, scope)
        elif isinstance(s, ast.Break) and not scope.breakable:
            raise self.rep.error(s, "'break' outside a switch or while", "break")

    def _switch(self, s: ast.Switch, scope: _Scope) -> None:
        self._expr(s.subject, scope)
        seen: dict[Value, int] = {}
        inner = _Scope(scope.label, scope.kinds, breakable=True)
        for case in s.cases:
            key: Value = None if case.value is None else case.value.value
            if isinstance(key, str) and as_int(key) is not None:
                key = as_int(key)
            what = "default" if case.value is None else f"case {case.value.value!r}"
            if key in seen:
                raise self.rep.error(
                    case, f"duplicate {what} in switch (first at line {seen[key]})", what
                )
            seen[key] = case.line
            for stmt in case.body:
                self._stmt(stmt, inner)

    def _assign(self, s: ast.Assign, scope: _Scope) -> None:
        pv = s.target.pv
        self._pvar_ref(s.target, scope)
        if not is_writable(pv):
            raise self.rep.error(s.target, f"{pv.text} is read-only", pv.text)
        if s.op == ":=" and isinstance(s.value, ast.NullLit) and pv.name != "avp":
            raise self.rep.error(s, f"only AVPs can be deleted with ':= NULL' ({pv.text})", pv.text)
        self._expr(s.value, scope)

    def _return(self, s: ast.Return, scope: _Scope) -> None:
        v = s.value
        if v is None or isinstance(v, ast.IntLit):
            return
        if isinstance(v, ast.PVarRef):
            self._pvar_ref(v, scope)
            return
        if isinstance(v, ast.NameRef) and isinstance(self.decls.define_values.get(v.name), int):
            return
        raise self.rep.error(
            v, "return takes an integer or a pseudo-variable, e.g. return(-1) or return($var(rc))"
        )

    # --- expressions ----------------------------------------------------------------------------

    def _expr(self, e: ast.Expr, scope: _Scope) -> None:
        self._expr_checks[type(e)](e, scope)

    def _nothing(self, e: ast.Expr, scope: _Scope) -> None:
        pass

    def _not(self, e: ast.Not, scope: _Scope) -> None:
        self._expr(e.operand, scope)

    def _unary(self, e: ast.Unary, scope: _Scope) -> None:
        self._expr(e.operand, scope)

    def _myself(self, e: ast.Myself, scope: _Scope) -> None:
        self._expr(e.operand, scope)

    def _binary(
        self, e: ast.Logical | ast.Compare | ast.BinOp | ast.Match, scope: _Scope
    ) -> None:
        self._expr(e.left, scope)
        self._expr(e.right, scope)

    def _pvar_ref(self, e: ast.PVarRef, scope: _Scope) -> None:
        try:
            check_pvar(e.pv)
        except PVarError as err:
            raise self.rep.error(e, str(err), e.pv.text) from None

    def _name_ref(self, e: ast.NameRef, scope: _Scope) -> None:
        if e.name not in self.decls.define_values:
            hint = f" (to call the function write {e.name}())" if e.name in FUNCTIONS else (
                " (not a #!define; quote it if it is text)")
            raise self.rep.error(e, f"undefined name {e.name!r}{hint}", e.name)

    def _match(self, e: ast.Match, scope: _Scope) -> None:
        self._binary(e, scope)
        pattern = self._constant(e.right)
        if pattern is None:
            return
        try:
            self.regexes[id(e)] = compile_regex(str(pattern))
        except re.error as err:
            raise self.rep.error(
                e.right, f"invalid regular expression {pattern!r}: {err}", str(pattern)
            ) from None

    def _constant(self, e: ast.Expr) -> Value:
        if isinstance(e, ast.StrLit | ast.IntLit):
            return e.value
        if isinstance(e, ast.NameRef):
            return self.decls.define_values.get(e.name)
        return None

    def _route_call(self, e: ast.RouteCall, scope: _Scope) -> None:
        named = self.decls.routes[RouteKind.REQUEST]
        if e.name in named and e.name is not None:
            return
        others = [k.value for k in RouteKind if k is not RouteKind.REQUEST
                  and e.name in self.decls.routes[k]]
        hint = (f" ({others[0]}[{e.name}] exists, but route() runs route[...] blocks)" if others
                else suggest(e.name, [n for n in named if n is not None]))
        raise self.rep.error(e, f"unknown route {e.name!r}: there is no route[{e.name}]{hint}",
                             e.name)

    def _call(self, e: ast.Call, scope: _Scope) -> None:
        spec = FUNCTIONS.get(e.name)
        if spec is None:
            raise self.rep.error(e, f"unknown function {e.name}()" + suggest(
                e.name, FUNCTIONS, " (did you mean {}()?)"), e.name)
        self._check_route_kind(e, spec, scope)
        loaded = self.decls.modules
        if loaded and spec.module not in CORE_MODULES:
            needed = MODULE_ALIASES.get(spec.module, frozenset({spec.module}))
            if not needed & set(loaded):
                raise self.rep.error(
                    e, f"{e.name}() comes from module {spec.module!r}, which is not loaded "
                    f"(add loadmodule \"{spec.module}.so\")", e.name,
                )
        signatures = [sig for sig in spec.args if len(sig) == len(e.args)]
        if not signatures:
            counts = sorted({len(sig) for sig in spec.args})
            words = " or ".join(str(c) for c in counts)
            noun = "argument" if counts == [1] else "arguments"
            takes = "no arguments" if counts == [0] else f"{words} {noun}"
            raise self.rep.error(
                e, f"wrong number of arguments: {e.name}() takes {takes}, got {len(e.args)} "
                f"(usage: {spec.signature})", e.name,
            )
        self.plans[id(e)] = tuple(
            self._arg(e, i, arg, kind) for i, (arg, kind) in enumerate(zip(e.args, signatures[0],
                                                                           strict=True))
        )

    def _check_route_kind(self, e: ast.Call, spec: FunctionSpec, scope: _Scope) -> None:
        for kind, entry in scope.kinds.items():
            if kind in spec.routes:
                continue
            allowed = ", ".join(k.value for k in RouteKind if k in spec.routes)
            via = "" if entry == scope.label else f" ({scope.label} is called from {entry})"
            raise self.rep.error(
                e, f"{e.name}() cannot be used in {kind.value}{via}; allowed in: {allowed}", e.name
            )

    # --- arguments ------------------------------------------------------------------------------

    def _arg(self, call: ast.Call, index: int, arg: ast.Arg, kind: str) -> ArgPlan:
        where = f"argument {index + 1} of {call.name}()"
        bare: str | None = None
        value: Value
        if isinstance(arg, ast.NameRef):
            if arg.name in self.decls.define_values:
                value = self.decls.define_values[arg.name]
            else:
                bare, value = arg.name, arg.name
        else:
            value = arg.value
        if kind in _ROUTE_ARG_KINDS:
            return self._route_arg(arg, where, str(value), _ROUTE_ARG_KINDS[kind])
        if kind == "level":
            if str(value) not in XLOG_LEVELS:
                raise self.rep.error(arg, f"{where}: unknown log level {value!r}"
                                     + suggest(str(value), XLOG_LEVELS), str(value))
            return FunctionArg(value=str(value))
        if bare is not None:
            raise self.rep.error(arg, f"{where}: undefined name {bare!r} (quote it if it is text)",
                                 bare)
        if kind == "int":
            number = as_int(value)
            if number is None and isinstance(value, str) and _HEX.fullmatch(value.strip()):
                number = int(value.strip(), 16)  # OpenSIPS flags are often written "0x01"
            if number is None:
                raise self.rep.error(arg, f"{where} must be an integer, got {value!r}", str(value))
            return FunctionArg(value=number)
        text = str(value)
        try:
            if kind == "fmt":
                parts = parse_format(text)
                if all(isinstance(p, str) for p in parts):
                    return FunctionArg(value=text)
                return FmtArg(parts)
            if kind == "pvar":
                return FunctionArg(value=text, pvar=parse_checked(text))
            if kind == "avpsrc":
                return FunctionArg(value=text, pvar=parse_avp_source(text)[0])
        except PVarError as err:
            raise self.rep.error(arg, f"{where}: {err}", text) from None
        return FunctionArg(value=text)  # "str" and "raw": the literal text

    def _route_arg(self, arg: ast.Arg, where: str, name: str, kind: RouteKind) -> FunctionArg:
        table = self.decls.routes[kind]
        if name not in table:
            known = [n for n in table if n is not None]
            raise self.rep.error(arg, f"{where}: there is no {kind.value}[{name}]"
                                 + suggest(name, known), name)
        return FunctionArg(value=name)
