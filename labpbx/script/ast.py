"""The typed syntax tree of a routing script, as built by labpbx.script.parser.

Rules of this module:
  * Nodes are frozen, slotted dataclasses; every node carries the 1-based ``line`` and ``column``
    of its first character so that the checker can point at it.
  * The tree is purely syntactic. Names (functions, routes, defines, pseudo-variable classes) are
    NOT resolved here: the checker (labpbx.script.checker) validates them and the interpreter
    (labpbx.script.interpreter) compiles the checked tree. Only the shape of a pseudo-variable is
    parsed by the parser (into a PVar), because a malformed one is a syntax error.
  * Core keywords (``uri``, ``method``, ``status`` ...) arrive here already rewritten as the
    pseudo-variables they stand for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import TypeAlias

from labpbx.script.host import PVar, RouteKind, Value


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    line: int
    column: int


# --- expressions ---


@dataclass(frozen=True, slots=True, kw_only=True)
class StrLit(Node):
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IntLit(Node):
    value: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NullLit(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PVarRef(Node):
    pv: PVar


@dataclass(frozen=True, slots=True, kw_only=True)
class NameRef(Node):
    """A bare identifier: a #!define name in expressions, or a route/level name as an argument."""

    name: str


Arg: TypeAlias = StrLit | IntLit | NameRef


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Node):
    name: str
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteCall(Node):
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Logical(Node):
    op: str  # "&&" or "||"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Compare(Node):
    op: str  # "==" "!=" "<" ">" "<=" ">="
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Match(Node):
    negate: bool  # "!~"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Myself(Node):
    negate: bool  # "!= myself"
    operand: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class BinOp(Node):
    op: str  # + - * / % | & ^
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Unary(Node):
    op: str  # "-" or "~"
    operand: Expr


Expr: TypeAlias = (
    StrLit | IntLit | NullLit | PVarRef | NameRef | Call | RouteCall | Not | Logical | Compare
    | Match | Myself | BinOp | Unary
)


# --- statements ---


@dataclass(frozen=True, slots=True, kw_only=True)
class Block(Node):
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class If(Node):
    cond: Expr
    then: Stmt
    orelse: Stmt | None


@dataclass(frozen=True, slots=True, kw_only=True)
class While(Node):
    cond: Expr
    body: Block


@dataclass(frozen=True, slots=True, kw_only=True)
class Case(Node):
    """One ``case value:`` (value set) or ``default:`` (value None) clause with its statements."""

    value: StrLit | IntLit | None
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Switch(Node):
    subject: Expr
    cases: tuple[Case, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Assign(Node):
    target: PVarRef
    op: str  # "=" or ":="
    value: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStmt(Node):
    call: Call | RouteCall


@dataclass(frozen=True, slots=True, kw_only=True)
class Return(Node):
    value: Expr | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Exit(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Drop(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Break(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Directive(Node):
    """A ``#!name ...`` preprocessor line; ``name`` is "define", "trydef", "ifdef" ..."""

    name: str
    symbol: str
    value: str


Stmt: TypeAlias = (
    Block | If | While | Switch | Assign | CallStmt | Return | Exit | Drop | Break | Directive
)


# --- top level ---


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalParam(Node):
    name: str
    value: Value


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadModule(Node):
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ModParam(Node):
    module: str
    param: str
    value: StrLit | IntLit | NameRef


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteBlock(Node):
    kind: RouteKind
    name: str | None  # None for an unnamed block; "route[0]" is normalised to None
    body: Block


TopItem: TypeAlias = GlobalParam | LoadModule | ModParam | RouteBlock | Directive


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptAst(Node):
    items: tuple[TopItem, ...]


def iter_nodes(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, depth first (load-time helper; not for the hot path)."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        for f in fields(current):
            value = getattr(current, f.name)
            if isinstance(value, Node):
                stack.append(value)
            elif isinstance(value, tuple):
                stack.extend(reversed([v for v in value if isinstance(v, Node)]))
