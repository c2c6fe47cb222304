"""Compiles a checked script ONCE into nested Python closures; running a route calls them.

Rules of this module (OpenSIPS 2.4 semantics, SEMANTICS.md §3.2 and §8):
  * No tree walking per message: every node becomes a closure at load, operator and constant
    choices are made at load, and the only run-time work is the script's own work. Expressions
    compile two ways: to a value (``_Fn``) and, where used as a condition, to a bool (``_Cond``).
  * Return codes: a function or ``route()`` result > 0 is true, < 0 false, and 0 STOPS the whole
    run like ``exit`` (even inside a condition). ``exit`` stops everything, ``drop`` stops and marks
    the run dropped, ``return(n)`` leaves the current route block with n (in a top-level block it
    ends the run), falling off the end of a block returns 1. ``$rc``/``$retcode`` are answered here:
    the last function or route return code.
  * Control flow that crosses closures uses the signals of labpbx.script.runtime (Stop, Return,
    Break); the host only sees pv_get / pv_set / call / is_myself / route_entered.
  * Guards: a while loop may run MAX_LOOP_ITERATIONS times and route() may nest MAX_ROUTE_DEPTH
    deep; beyond that, and on data errors (NULL arithmetic, a bad regex from a variable), the run
    raises ScriptRuntimeError naming the script line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from labpbx.errors import ScriptRuntimeError
from labpbx.script import ast
from labpbx.script.checker import Checked, FmtArg
from labpbx.script.host import FunctionArg, PVar, RouteKind, Value
from labpbx.script.runtime import (
    MAX_LOOP_ITERATIONS,
    MAX_ROUTE_DEPTH,
    Break,
    Ctx,
    Entry,
    Program,
    Return,
    RouteCell,
    Stop,
)
from labpbx.script.values import (
    arith,
    as_int,
    compare,
    dynamic_regex,
    equals,
    to_text,
    truth,
    unary,
)

_Fn = Callable[[Ctx], Value]
_Cond = Callable[[Ctx], bool]
_Exec = Callable[[Ctx], object]


def _noop(ctx: Ctx) -> None:
    return None


def _const(value: Value) -> _Fn:
    def constant(ctx: Ctx) -> Value:
        return value

    return constant


def _literal_piece(text: str) -> Callable[[Ctx], str]:
    return lambda ctx: text


def _pvar_piece(get: _Fn) -> Callable[[Ctx], str]:
    return lambda ctx: to_text(get(ctx))


def compile_script(checked: Checked) -> Program:
    return _Compiler(checked).program()


class _Compiler:
    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        self.defines = checked.decls.define_values
        named = checked.decls.routes[RouteKind.REQUEST]
        self.cells = {name: RouteCell() for name in named if name is not None}
        self._values: dict[type[Any], Callable[[Any], _Fn]] = {
            ast.StrLit: lambda e: _const(e.value), ast.IntLit: lambda e: _const(e.value),
            ast.NullLit: lambda e: _const(None),
            ast.NameRef: lambda e: _const(self.defines[e.name]),
            ast.PVarRef: lambda e: self._pv_getter(e.pv), ast.Call: self._call_value,
            ast.RouteCall: self._route_call, ast.BinOp: self._binop,
            ast.Unary: self._unary,
        }

    def program(self) -> Program:
        entries: dict[tuple[RouteKind, str | None], Entry] = {}
        for kind, table in self.checked.decls.routes.items():
            for name, block in table.items():
                body = self._stmt(block.body) or _noop
                entries[(kind, name)] = Entry(body, block.line)
                if kind is RouteKind.REQUEST and name is not None:
                    self.cells[name].body = body
        return Program(entries)

    # --- statements -----------------------------------------------------------------------------

    def _stmt(self, s: ast.Stmt) -> _Exec | None:
        """The closure for a statement, or None when it does nothing (empty block, directive)."""
        if isinstance(s, ast.Block):
            return self._block(s.body)
        if isinstance(s, ast.If):
            return self._if(s)
        if isinstance(s, ast.While):
            return self._while(s)
        if isinstance(s, ast.Switch):
            return self._switch(s)
        if isinstance(s, ast.Assign):
            return self._assign(s)
        if isinstance(s, ast.CallStmt):
            return self._value(s.call)
        if isinstance(s, ast.Return):
            return self._return(s)
        if isinstance(s, ast.Exit | ast.Drop):
            dropped = isinstance(s, ast.Drop)

            def stop(ctx: Ctx) -> None:
                raise Stop(dropped)

            return stop
        if isinstance(s, ast.Break):

            def brk(ctx: Ctx) -> None:
                raise Break

            return brk
        return None  # Directive: handled at load

    def _block(self, stmts: Sequence[ast.Stmt]) -> _Exec | None:
        fns = [f for f in map(self._stmt, stmts) if f is not None]
        if not fns:
            return None
        if len(fns) == 1:
            return fns[0]
        if len(fns) == 2:
            first, second = fns

            def pair(ctx: Ctx) -> None:
                first(ctx)
                second(ctx)

            return pair
        seq = tuple(fns)

        def sequence(ctx: Ctx) -> None:
            for fn in seq:
                fn(ctx)

        return sequence

    def _if(self, s: ast.If) -> _Exec:
        cond = self._cond(s.cond)
        then = self._stmt(s.then) or _noop
        orelse = self._stmt(s.orelse) if s.orelse is not None else None
        if orelse is None:

            def if_(ctx: Ctx) -> None:
                if cond(ctx):
                    then(ctx)

            return if_
        other = orelse

        def if_else(ctx: Ctx) -> None:
            if cond(ctx):
                then(ctx)
            else:
                other(ctx)

        return if_else

    def _while(self, s: ast.While) -> _Exec:
        cond = self._cond(s.cond)
        body = self._stmt(s.body) or _noop
        line = s.line

        def while_(ctx: Ctx) -> None:
            count = 0
            try:
                while cond(ctx):
                    count += 1
                    if count > MAX_LOOP_ITERATIONS:
                        raise ScriptRuntimeError(
                            f"line {line}: while loop ran more than {MAX_LOOP_ITERATIONS} times"
                        )
                    body(ctx)
            except Break:
                pass

        return while_

    def _switch(self, s: ast.Switch) -> _Exec:
        subject = self._value(s.subject)
        flat: list[_Exec] = []
        labels: list[tuple[Value, int]] = []
        default: int | None = None
        for case in s.cases:
            if case.value is None:
                default = len(flat)
            else:
                labels.append((case.value.value, len(flat)))
            flat.extend(f for f in map(self._stmt, case.body) if f is not None)
        body, cases, end = tuple(flat), tuple(labels), len(flat)

        def switch(ctx: Ctx) -> None:
            value = subject(ctx)
            start = default
            for label, index in cases:
                if equals(value, label):
                    start = index
                    break
            if start is None:
                return
            try:
                for i in range(start, end):  # C-style fall-through until break
                    body[i](ctx)
            except Break:
                pass

        return switch

    def _assign(self, s: ast.Assign) -> _Exec:
        pv, op, line = s.target.pv, s.op, s.line
        value = self._value(s.value)

        def assign(ctx: Ctx) -> None:
            ctx.host.pv_set(pv, value(ctx), op, line)

        return assign

    def _return(self, s: ast.Return) -> _Exec:
        if s.value is None or isinstance(s.value, ast.IntLit | ast.NameRef):
            # The checker only lets integer defines through.
            code: Value = 1 if s.value is None else (
                s.value.value if isinstance(s.value, ast.IntLit) else self.defines[s.value.name])
            fixed = code if isinstance(code, int) else 1

            def return_const(ctx: Ctx) -> None:
                raise Return(fixed)

            return return_const
        get, line = self._value(s.value), s.line

        def return_var(ctx: Ctx) -> None:
            value = get(ctx)
            number = as_int(value)
            if number is None:
                raise ScriptRuntimeError(f"line {line}: return needs an integer, got {value!r}")
            raise Return(number)

        return return_var

    # --- values ---------------------------------------------------------------------------------

    def _value(self, e: ast.Expr) -> _Fn:
        maker = self._values.get(type(e))
        if maker is not None:
            return maker(e)
        cond = self._cond(e)  # comparisons and logic used as values give 1 / 0

        def as_number(ctx: Ctx) -> Value:
            return 1 if cond(ctx) else 0

        return as_number

    def _pv_getter(self, pv: PVar) -> _Fn:
        if pv.name in ("rc", "retcode"):

            def retcode(ctx: Ctx) -> Value:
                return ctx.rc

            return retcode

        def pv_get(ctx: Ctx) -> Value:
            return ctx.host.pv_get(pv)

        return pv_get

    def _binop(self, e: ast.BinOp) -> _Fn:
        left, right, op, line = self._value(e.left), self._value(e.right), e.op, e.line

        def binop(ctx: Ctx) -> Value:
            return arith(op, left(ctx), right(ctx), line)

        return binop

    def _unary(self, e: ast.Unary) -> _Fn:
        operand, op, line = self._value(e.operand), e.op, e.line

        def unop(ctx: Ctx) -> Value:
            return unary(op, operand(ctx), line)

        return unop

    def _args_of(self, e: ast.Call) -> Callable[[Ctx], Sequence[FunctionArg]]:
        plans = self.checked.arg_plans[id(e)]
        static = tuple(p for p in plans if isinstance(p, FunctionArg))
        if len(static) == len(plans):
            return lambda ctx: static
        builders = tuple(self._arg_builder(p) for p in plans)
        return lambda ctx: [build(ctx) for build in builders]

    def _call_value(self, e: ast.Call) -> _Fn:
        name, line, args_of = e.name, e.line, self._args_of(e)

        def call(ctx: Ctx) -> Value:
            code = ctx.host.call(name, args_of(ctx), line)
            ctx.rc = code
            if code == 0:
                raise Stop(False)
            return code

        return call

    def _call_cond(self, e: ast.Call) -> _Cond:
        # Same as _call_value, duplicated to save a frame on the hottest path (if (f(...))).
        name, line, args_of = e.name, e.line, self._args_of(e)

        def call_cond(ctx: Ctx) -> bool:
            code = ctx.host.call(name, args_of(ctx), line)
            ctx.rc = code
            if code == 0:
                raise Stop(False)
            return code > 0

        return call_cond

    def _arg_builder(self, plan: FunctionArg | FmtArg) -> Callable[[Ctx], FunctionArg]:
        if isinstance(plan, FunctionArg):
            return lambda ctx: plan
        expand = self._format(plan.parts)
        return lambda ctx: FunctionArg(value=expand(ctx))

    def _format(self, parts: tuple[str | PVar, ...]) -> Callable[[Ctx], str]:
        frozen = tuple(
            _literal_piece(part) if isinstance(part, str) else _pvar_piece(self._pv_getter(part))
            for part in parts
        )

        def expand(ctx: Ctx) -> str:
            return "".join([piece(ctx) for piece in frozen])

        return expand

    def _route_call(self, e: ast.RouteCall) -> Callable[[Ctx], int]:
        cell, name, line = self.cells[e.name], e.name, e.line
        request = RouteKind.REQUEST

        def run_route(ctx: Ctx) -> int:
            if ctx.depth >= MAX_ROUTE_DEPTH:
                raise ScriptRuntimeError(
                    f"line {line}: route({name}) nested more than {MAX_ROUTE_DEPTH} deep"
                )
            ctx.host.route_entered(request, name, line)
            ctx.depth += 1
            try:
                cell.body(ctx)
                code = 1
            except Return as ret:
                code = ret.code
            finally:
                ctx.depth -= 1
            ctx.rc = code
            if code == 0:
                raise Stop(False)
            return code

        return run_route

    # --- conditions -----------------------------------------------------------------------------

    def _cond(self, e: ast.Expr) -> _Cond:
        if isinstance(e, ast.Call):
            return self._call_cond(e)
        if isinstance(e, ast.RouteCall):
            run_route = self._route_call(e)
            return lambda ctx: run_route(ctx) > 0
        if isinstance(e, ast.Not):
            inner = self._cond(e.operand)
            return lambda ctx: not inner(ctx)
        if isinstance(e, ast.Logical):
            left, right = self._cond(e.left), self._cond(e.right)
            if e.op == "&&":
                return lambda ctx: left(ctx) and right(ctx)
            return lambda ctx: left(ctx) or right(ctx)
        if isinstance(e, ast.Compare):
            return self._compare(e)
        if isinstance(e, ast.Match):
            return self._match(e)
        if isinstance(e, ast.Myself):
            return self._myself(e)
        value = self._value(e)
        return lambda ctx: truth(value(ctx))

    def _compare(self, e: ast.Compare) -> _Cond:
        left, op = self._value(e.left), e.op
        if isinstance(e.right, ast.NullLit) and op in ("==", "!="):
            if op == "==":
                return lambda ctx: left(ctx) is None
            return lambda ctx: left(ctx) is not None
        right = self._value(e.right)
        if op == "==":
            return lambda ctx: equals(left(ctx), right(ctx))
        if op == "!=":
            return lambda ctx: not equals(left(ctx), right(ctx))
        return lambda ctx: compare(op, left(ctx), right(ctx))

    def _match(self, e: ast.Match) -> _Cond:
        left, negate, line = self._value(e.left), e.negate, e.line
        static = self.checked.regexes.get(id(e))
        if static is not None:
            search = static.search

            def match_static(ctx: Ctx) -> bool:
                value = left(ctx)
                found = value is not None and search(to_text(value)) is not None
                return found != negate

            return match_static
        pattern = self._value(e.right)

        def match_dynamic(ctx: Ctx) -> bool:
            value, regex = left(ctx), pattern(ctx)
            found = (value is not None and regex is not None
                     and dynamic_regex(to_text(regex), line).search(to_text(value)) is not None)
            return found != negate

        return match_dynamic

    def _myself(self, e: ast.Myself) -> _Cond:
        operand, negate = self._value(e.operand), e.negate

        def myself(ctx: Ctx) -> bool:
            value = operand(ctx)
            mine = value is not None and ctx.host.is_myself(to_text(value))
            return mine != negate

        return myself
