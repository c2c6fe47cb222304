"""The lark parse tree -> the typed AST of labpbx.script.ast.

Rules of this module:
  * One method per grammar rule (or alias); each returns an AST node positioned at the rule's first
    token (lark's propagate_positions meta, which counts the filtered keywords too).
  * Literal decoding happens here: string escapes, decimal/hex integers, ``-`` folded into integer
    literals, core keywords (``uri``, ``method`` ...) rewritten to their pseudo-variables, ``$null``
    to NULL, ``route[0]`` to the unnamed main route.
  * A malformed pseudo-variable is a syntax error raised from here (ScriptSyntaxError with the
    token's position); the parser module adds the file name and source context.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Transformer_NonRecursive, v_args
from lark.tree import Meta

from labpbx.errors import ScriptSyntaxError
from labpbx.script import ast
from labpbx.script.host import PVar, RouteKind, Value
from labpbx.script.pvars import PVarError, parse_pvar

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(.)")
_DIRECTIVE_RE = re.compile(r"#!([a-z]+)[ \t]*([A-Za-z_][A-Za-z0-9_]*)?[ \t]*(.*)")

_ROUTE_KINDS = {kind.value: kind for kind in RouteKind}
# OpenSIPS core keywords that read a message field (Script-CoreParameters "Core Keywords").
CORE_KEYWORD_PVARS = {
    "uri": "ru", "method": "rm", "status": "rs", "from_uri": "fu", "to_uri": "tu",
    "src_ip": "si", "src_port": "sp",
}
_BOOL_WORDS: dict[str, Value] = {"yes": 1, "true": 1, "on": 1, "no": 0, "false": 0, "off": 0}


def unescape(literal: str) -> str:
    """Decode a quoted literal; unknown escapes keep their backslash (so regexes survive)."""
    body = literal[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


def parse_int(text: str) -> int:
    return int(text, 16) if text[:2] in ("0x", "0X") else int(text)


def directive_value(raw: str) -> str:
    """The value part of a ``#!define`` line: a quoted string kept whole, else up to a comment."""
    raw = raw.strip()
    if raw[:1] in ('"', "'"):
        m = re.match(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', raw)
        if m:
            return m.group(0)
    return raw.split("#", 1)[0].strip()


def _pos(meta: Meta) -> dict[str, int]:
    return {"line": getattr(meta, "line", 1), "column": getattr(meta, "column", 1)}


def _tpos(tok: Token) -> dict[str, int]:
    return {"line": tok.line or 1, "column": tok.column or 1}


@v_args(meta=True)
class ToAst(Transformer_NonRecursive[Token, Any]):
    """Builds ast nodes; lark calls the method named after each rule or alias."""

    # --- top level ------------------------------------------------------------------------------

    def start(self, meta: Meta, items: list[Any]) -> ast.ScriptAst:
        return ast.ScriptAst(line=1, column=1, items=tuple(i for i in items if i is not None))

    def directive(self, meta: Meta, children: list[Token]) -> ast.Directive:
        tok = children[0]
        m = _DIRECTIVE_RE.match(str(tok))
        assert m is not None  # the DIRECTIVE terminal guarantees "#!" + lowercase name
        value = directive_value(m.group(3))
        return ast.Directive(**_tpos(tok), name=m.group(1), symbol=m.group(2) or "", value=value)

    def global_param(self, meta: Meta, children: list[Token]) -> ast.GlobalParam:
        name, _eq, raw = children
        value: Value
        if raw.type == "STRING":
            value = unescape(str(raw))
        else:
            text = str(raw).strip()
            is_int = re.fullmatch(r"-?[0-9]+", text) is not None
            value = int(text) if is_int else _BOOL_WORDS.get(text.lower(), text)
        return ast.GlobalParam(**_pos(meta), name=str(name), value=value)

    def loadmodule(self, meta: Meta, children: list[Token]) -> ast.LoadModule:
        return ast.LoadModule(**_pos(meta), path=unescape(str(children[0])))

    def modparam(self, meta: Meta, children: list[Any]) -> ast.ModParam:
        module, param, value = children
        return ast.ModParam(
            **_pos(meta), module=unescape(str(module)), param=unescape(str(param)), value=value
        )

    def route_block(self, meta: Meta, children: list[Any]) -> ast.RouteBlock:
        kind = _ROUTE_KINDS[str(children[0])]
        name: str | None = children[1] if len(children) == 3 else None
        if kind is RouteKind.REQUEST and name == "0":
            name = None  # route[0] is the main route in OpenSIPS
        return ast.RouteBlock(**_pos(meta), kind=kind, name=name, body=children[-1])

    def route_label(self, meta: Meta, children: list[Token]) -> str:
        return _label(children[0])

    # --- statements -----------------------------------------------------------------------------

    def block(self, meta: Meta, children: list[Any]) -> ast.Block:
        return ast.Block(**_pos(meta), body=tuple(children))

    def if_stmt(self, meta: Meta, children: list[Any]) -> ast.If:
        orelse = children[2] if len(children) > 2 else None
        return ast.If(**_pos(meta), cond=children[0], then=children[1], orelse=orelse)

    def while_stmt(self, meta: Meta, children: list[Any]) -> ast.While:
        return ast.While(**_pos(meta), cond=children[0], body=children[1])

    def switch_stmt(self, meta: Meta, children: list[Any]) -> ast.Switch:
        return ast.Switch(**_pos(meta), subject=children[0], cases=tuple(children[1:]))

    def case_clause(self, meta: Meta, children: list[Any]) -> ast.Case:
        return ast.Case(**_pos(meta), value=children[0], body=tuple(children[1:]))

    def default_clause(self, meta: Meta, children: list[Any]) -> ast.Case:
        return ast.Case(**_pos(meta), value=None, body=tuple(children))

    def assign_stmt(self, meta: Meta, children: list[Any]) -> ast.Assign:
        target, op, value = children
        return ast.Assign(**_pos(meta), target=target, op=str(op), value=value)

    def call_stmt(self, meta: Meta, children: list[Any]) -> ast.CallStmt:
        return ast.CallStmt(**_pos(meta), call=children[0])

    def return_stmt(self, meta: Meta, children: list[Any]) -> ast.Return:
        return ast.Return(**_pos(meta), value=children[0] if children else None)

    def exit_stmt(self, meta: Meta, children: list[Any]) -> ast.Exit:
        return ast.Exit(**_pos(meta))

    def drop_stmt(self, meta: Meta, children: list[Any]) -> ast.Drop:
        return ast.Drop(**_pos(meta))

    def break_stmt(self, meta: Meta, children: list[Any]) -> ast.Break:
        return ast.Break(**_pos(meta))

    def empty_stmt(self, meta: Meta, children: list[Any]) -> ast.Block:
        return ast.Block(**_pos(meta), body=())

    # --- expressions ----------------------------------------------------------------------------

    def or_expr(self, meta: Meta, children: list[Any]) -> ast.Logical:
        return ast.Logical(**_pos(meta), op="||", left=children[0], right=children[1])

    def and_expr(self, meta: Meta, children: list[Any]) -> ast.Logical:
        return ast.Logical(**_pos(meta), op="&&", left=children[0], right=children[1])

    def not_expr(self, meta: Meta, children: list[Any]) -> ast.Not:
        return ast.Not(**_pos(meta), operand=children[0])

    def compare(self, meta: Meta, children: list[Any]) -> ast.Compare:
        left, op, right = children
        return ast.Compare(**_pos(meta), op=str(op), left=left, right=right)

    def match(self, meta: Meta, children: list[Any]) -> ast.Match:
        left, op, right = children
        return ast.Match(**_pos(meta), negate=str(op) == "!~", left=left, right=right)

    def myself(self, meta: Meta, children: list[Any]) -> ast.Myself:
        left, op = children
        return ast.Myself(**_pos(meta), negate=str(op) == "!=", operand=left)

    def binop(self, meta: Meta, children: list[Any]) -> ast.BinOp:
        left, op, right = children
        return ast.BinOp(**_pos(meta), op=str(op), left=left, right=right)

    def unary(self, meta: Meta, children: list[Any]) -> ast.Expr:
        op, operand = children
        if str(op) == "-" and isinstance(operand, ast.IntLit):
            return ast.IntLit(**_pos(meta), value=-operand.value)
        return ast.Unary(**_pos(meta), op=str(op), operand=operand)

    def string(self, meta: Meta, children: list[Token]) -> ast.StrLit:
        return ast.StrLit(**_pos(meta), value=unescape(str(children[0])))

    def int_lit(self, meta: Meta, children: list[Token]) -> ast.IntLit:
        value = parse_int(str(children[-1]))
        return ast.IntLit(**_pos(meta), value=-value if len(children) == 2 else value)

    def null(self, meta: Meta, children: list[Token]) -> ast.NullLit:
        return ast.NullLit(**_pos(meta))

    def name_ref(self, meta: Meta, children: list[Token]) -> ast.NameRef:
        return ast.NameRef(**_pos(meta), name=str(children[0]))

    def pvar(self, meta: Meta, children: list[Token]) -> ast.PVarRef | ast.NullLit:
        tok = children[0]
        if str(tok) == "$null":  # Kamailio spelling of NULL
            return ast.NullLit(**_tpos(tok))
        try:
            pv = parse_pvar(str(tok))
        except PVarError as err:
            raise ScriptSyntaxError(
                str(err), line=tok.line or 1, column=tok.column or 1, text=str(tok)
            ) from None
        return ast.PVarRef(**_tpos(tok), pv=pv)

    def core_var(self, meta: Meta, children: list[Token]) -> ast.PVarRef:
        tok = children[0]
        pv = PVar(name=CORE_KEYWORD_PVARS[str(tok)], text=str(tok))
        return ast.PVarRef(**_tpos(tok), pv=pv)

    def call(self, meta: Meta, children: list[Any]) -> ast.Call:
        name, args = children
        return ast.Call(**_pos(meta), name=str(name), args=tuple(args or ()))

    def args(self, meta: Meta, children: list[Any]) -> list[Any]:
        return children

    def route_call(self, meta: Meta, children: list[Token]) -> ast.RouteCall:
        return ast.RouteCall(**_pos(meta), name=_label(children[1]))


def _label(tok: Token) -> str:
    """A route name written as NAME, number or quoted string."""
    return unescape(str(tok)) if tok.type == "STRING" else str(tok)
