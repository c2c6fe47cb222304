"""Top-level declarations of a script: #!define, globals, loadmodule, modparam and the route table.

Rules of this module:
  * ``#!define NAME value`` and ``#!trydef`` are global wherever they appear (the lab has no
    conditional preprocessing); a second ``#!define`` of one name is an error. The caller's
    ``defines`` mapping (the proxy's --media option ...) overrides or adds names. Other ``#!``
    directives (ifdef, substdef ...) are refused rather than silently ignored.
  * A define's value is the rest of its line: a quoted string becomes that string, a decimal
    integer an int, anything else the text as written.
  * ``loadmodule`` must name a module in MODULES; ``modparam`` a (module, param) in MODPARAMS with
    a value of the declared type (OpenSIPS refuses "10" for an int parameter, so do we). When the
    script loads any module, a modparam's module must be loaded too. Later modparams win.
  * Route table: one block per (kind, name); ``route[0]`` is the main ``route``. failure_route and
    branch_route need a name; local_route, error_route and startup_route take none. A main
    ``route {}`` is required.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from labpbx.script import ast
from labpbx.script.functions import MODPARAMS, MODULES
from labpbx.script.host import RouteKind, Value
from labpbx.script.report import Reporter, suggest
from labpbx.script.transform import unescape

_INT_RE = re.compile(r"[+-]?[0-9]+")
_QUOTED_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_NEEDS_NAME = frozenset({RouteKind.FAILURE, RouteKind.BRANCH})
_NO_NAME = frozenset({RouteKind.LOCAL, RouteKind.ERROR, RouteKind.STARTUP})


@dataclass(frozen=True, slots=True)
class Declarations:
    defines: dict[str, str]
    define_values: dict[str, Value]
    globals: dict[str, Value]
    modules: tuple[str, ...]
    modparams: dict[tuple[str, str], Value]
    routes: dict[RouteKind, dict[str | None, ast.RouteBlock]]


def route_label(kind: RouteKind, name: str | None) -> str:
    """How a route block is named in messages: ``route``, ``failure_route[missed_call]`` ..."""
    return kind.value if name is None else f"{kind.value}[{name}]"


def define_value(raw: str) -> Value:
    raw = raw.strip()
    if _QUOTED_RE.fullmatch(raw):
        return unescape(raw)
    if _INT_RE.fullmatch(raw):
        return int(raw)
    return raw


def module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base[:-3] if base.endswith(".so") else base


def declare(
    tree: ast.ScriptAst, rep: Reporter, overrides: Mapping[str, str] | None
) -> Declarations:
    defines = _collect_defines(tree, rep)
    defines.update({str(k): str(v) for k, v in (overrides or {}).items()})
    globals_: dict[str, Value] = {}
    modules: list[str] = []
    params: list[ast.ModParam] = []
    routes: dict[RouteKind, dict[str | None, ast.RouteBlock]] = {kind: {} for kind in RouteKind}
    for item in tree.items:
        if isinstance(item, ast.GlobalParam):
            globals_[item.name] = item.value
        elif isinstance(item, ast.LoadModule):
            name = module_name(item.path)
            if name not in MODULES:
                message = f"unknown module {name!r}" + suggest(name, MODULES)
                raise rep.error(item, message, item.path)
            if name not in modules:
                modules.append(name)
        elif isinstance(item, ast.ModParam):
            params.append(item)
        elif isinstance(item, ast.RouteBlock):
            _add_route(routes, item, rep)
    values = {name: define_value(raw) for name, raw in defines.items()}
    modparams = {(p.module, p.param): _modparam_value(p, modules, values, rep) for p in params}
    if None not in routes[RouteKind.REQUEST]:
        raise rep.error(tree, "the script has no main 'route { ... }' block")
    return Declarations(defines, values, globals_, tuple(modules), modparams, routes)


def _collect_defines(tree: ast.ScriptAst, rep: Reporter) -> dict[str, str]:
    directives = sorted(
        (n for n in ast.iter_nodes(tree) if isinstance(n, ast.Directive)),
        key=lambda d: (d.line, d.column),
    )
    defines: dict[str, str] = {}
    where: dict[str, int] = {}
    for d in directives:
        if d.name not in ("define", "trydef"):
            raise rep.error(
                d, f"unsupported preprocessor directive '#!{d.name}' (only #!define and "
                "#!trydef are supported)", f"#!{d.name}",
            )
        if not d.symbol:
            raise rep.error(d, f"#!{d.name} needs a name, e.g. #!define MEDIA_SERVER \"...\"")
        if d.symbol in defines:
            if d.name == "trydef":
                continue
            raise rep.error(
                d, f"{d.symbol!r} is already defined at line {where[d.symbol]}", d.symbol
            )
        defines[d.symbol] = d.value
        where[d.symbol] = d.line
    return defines


def _add_route(
    routes: dict[RouteKind, dict[str | None, ast.RouteBlock]], block: ast.RouteBlock, rep: Reporter
) -> None:
    label = route_label(block.kind, block.name)
    if block.kind in _NEEDS_NAME and block.name is None:
        raise rep.error(block, f"{block.kind.value} needs a name, e.g. {block.kind.value}[name]")
    if block.kind in _NO_NAME and block.name is not None:
        raise rep.error(block, f"{block.kind.value} takes no name", label)
    table = routes[block.kind]
    if block.name in table:
        first = table[block.name]
        raise rep.error(block, f"duplicate {label}: already defined at line {first.line}", label)
    table[block.name] = block


def _modparam_value(
    p: ast.ModParam, modules: list[str], defines: dict[str, Value], rep: Reporter
) -> Value:
    if p.module not in MODULES:
        raise rep.error(p, f"modparam for unknown module {p.module!r}" + suggest(p.module, MODULES),
                        p.module)
    kind = MODPARAMS.get((p.module, p.param))
    if kind is None:
        known = [param for (mod, param) in MODPARAMS if mod == p.module]
        raise rep.error(
            p, f"unknown parameter {p.param!r} of module {p.module}" + suggest(p.param, known),
            p.param,
        )
    if modules and p.module not in modules:
        raise rep.error(
            p, f"modparam for module {p.module!r}, which is not loaded "
            f"(add loadmodule \"{p.module}.so\")", p.module,
        )
    value: Value
    if isinstance(p.value, ast.NameRef):
        if p.value.name not in defines:
            raise rep.error(p.value, f"undefined name {p.value.name!r}", p.value.name)
        value = defines[p.value.name]
    else:
        value = p.value.value
    if kind == "int" and not isinstance(value, int):
        raise rep.error(
            p.value, f"modparam {p.module}.{p.param} needs an integer (write {value}, unquoted)",
            str(value),
        )
    if kind == "str" and not isinstance(value, str):
        raise rep.error(p.value, f"modparam {p.module}.{p.param} needs a quoted string", str(value))
    return value
